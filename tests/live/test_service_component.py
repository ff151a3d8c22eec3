"""The live service in process: real steps, a fake Kafka port and row store (no broker).

What the end-to-end tests (``test_service.py``) show with real Tansu and ClickHouse,
shown here step by step: a batch is stored, then published, then its state is written,
and only then are its offsets committed; facts take the same way out.
"""

from __future__ import annotations

import asyncio

from streams.live.horizon import encode_horizons
from streams.live.processor import Message
from streams.live.service import LiveService
from tests.live.core import TOPICS, messages
from tests.live.fakes import TP, Port, Store, build_service
from tests.live.workload import workload


async def persist_all(service: LiveService) -> None:
    """Run the persister until everything handed to it is persisted and committed."""
    task = asyncio.ensure_future(service.persister.run())
    try:
        await asyncio.wait_for(service.persister.persisted.wait(), 10)
        await asyncio.sleep(0)  # the commit after the last step
        await asyncio.sleep(0)
    finally:
        task.cancel()


def offsets_by_topic(msgs: list[Message]) -> dict[TP, int]:
    ends: dict[TP, int] = {}
    for m in msgs:
        ends[TP(m.topic, m.partition)] = m.offset + 1
    return ends


def test_a_batch_is_stored_published_and_saved_before_its_offsets_are_committed() -> None:
    events = workload(60, seed=4)
    msgs = [
        Message(m.topic, m.partition, m.offset, m.key, m.value, TP(m.topic, m.partition))
        for m in messages(events)
    ]
    port, store = Port(partitions=TOPICS.partitions, log_end=10_000), Store()
    store.journal = port.journal
    store.down = 2  # an outage: retried, nothing committed meanwhile
    port.assigned = {TP(t, 0) for t in TOPICS.domain}
    service = build_service(port, store)

    async def run() -> None:
        service.intake.events.messages = list(msgs)
        await service.flush()
        await persist_all(service)

    asyncio.run(run())
    assert {e.event_id for e in store.events} == {e["event_id"] for e in events}
    published = {key for key, _ in port.aiokafka.sent[TOPICS.alerts]}
    assert store.alerts and published == {a.alert_id.encode() for a in store.alerts}
    assert port.committed == [offsets_by_topic(msgs)]
    journal = [s for s in port.journal if s != f"publish {TOPICS.facts}"]
    # one line per topic (a record batch per partition)
    journal = [
        s for i, s in enumerate(journal) if not (s.startswith("publish") and s == journal[i - 1])
    ]
    assert journal == [
        "store failed",
        "store failed",
        "store",
        f"publish {TOPICS.alerts}",
        "publish case-changelog",
        "commit",
    ]
    # The next offset of each partition is written with its states, last, before the commit.
    changelog = port.aiokafka.sent["case-changelog"]
    next_offsets = [(k, v) for k, v in changelog if b"|@next|" in (k or b"")]
    assert {k for k, _ in next_offsets} == {f"0|@next|{t}".encode() for t in TOPICS.domain}
    assert changelog[-len(next_offsets) :] == next_offsets


def test_facts_go_out_through_the_same_persister_and_commit() -> None:
    port, store = Port(partitions=TOPICS.partitions), Store()
    facts = TP(TOPICS.facts, 0)
    port.assigned = {facts}
    service = build_service(port, store)
    horizons = encode_horizons({f"{TOPICS.approval}:0": 5})

    async def run() -> None:
        service.intake.facts.messages = [Message(facts.topic, 0, 0, None, horizons, facts)]
        flushing = asyncio.ensure_future(service.flush_facts())
        await asyncio.sleep(0.05)
        assert not flushing.done()  # the facts agent waits for its batch to be persisted
        assert port.committed == []  # and nothing is committed before the persister wrote it
        await persist_all(service)
        await asyncio.wait_for(flushing, 5)

    asyncio.run(run())
    assert port.committed == [{facts: 1}]
    assert port.aiokafka.sent["cross-changelog"] == [(f"0|@next|{TOPICS.facts}".encode(), b"1")]
    assert port.journal == ["publish cross-changelog", "commit"]
