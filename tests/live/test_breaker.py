"""The rejection breaker stops only the source partition that is broken (issue #13, F15),
and an operator's decision lets the tripped range through, also after a restart."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.live import evaluate
from streams.live.breaker import Breakers, SkipDecision
from streams.live.processor import Message
from streams.live.service import LiveService
from tests.live.core import TOPICS, messages
from tests.live.fakes import TP, Port, Store, build_service
from tests.live.test_service_component import persist_all
from tests.live.workload import workload

APPROVAL, TRADE = TP(TOPICS.approval, 0), TP(TOPICS.trade, 0)
FLOOD = 60  # garbage in a row on approval[0]; the fakes' limit trips at 50


@pytest.fixture(autouse=True)
def no_death(monkeypatch: pytest.MonkeyPatch) -> None:
    def die(reason: str) -> None:
        raise AssertionError(f"the worker died: {reason}")

    monkeypatch.setattr(evaluate, "die", die)


def batch() -> list[Message]:
    """A flood of garbage on approval[0], then valid events; valid events on trade[0]."""
    events = [e for e in workload(80, seed=5) if e["process"] in ("approval", "tender")]
    valid = [
        Message(m.topic, m.partition, m.offset, m.key, m.value, TP(m.topic, m.partition))
        for m in messages(events)
    ]
    garbage = [Message(APPROVAL.topic, 0, o, b"k", b"{garbage", APPROVAL) for o in range(FLOOD)]
    shifted = [
        Message(m.topic, 0, m.offset + FLOOD, m.key, m.value, m.tp) if m.tp == APPROVAL else m
        for m in valid
    ]
    assert {m.tp for m in shifted} == {APPROVAL, TRADE}
    return garbage + shifted


def start(port: Port, store: Store, data: dict[Any, Any] | None = None) -> LiveService:
    port.assigned = {TP(t, 0) for t in TOPICS.domain}
    service = build_service(port, store)
    if data:
        service.partitions.case_table.data.update(data)
    return service


async def run(service: LiveService, msgs: list[Message]) -> None:
    service.intake.events.messages = list(msgs)
    await service.flush()
    await persist_all(service)


async def tick(service: LiveService) -> None:
    task = asyncio.ensure_future(service.persister.run())
    try:
        await service.tick()
        await asyncio.wait_for(service.persister.persisted.wait(), 10)
    finally:
        task.cancel()


def tripped(service: LiveService, tp: TP) -> float | None:
    return service.persister.metrics.registry.get_sample_value(
        "supervision_deadletter_breaker_tripped", {"topic": tp.topic, "partition": "0"}
    )


def decision(until: int) -> tuple[bytes, bytes]:
    d = SkipDecision(APPROVAL.topic, 0, until, "ops-1", "2026-12-04T20:00:00+08:00")
    return d.key, d.to_bytes()


def test_a_flood_on_one_partition_stops_that_partition_only_until_the_operator_decides() -> None:
    asyncio.run(flood_scenario())


async def flood_scenario() -> None:
    msgs = batch()
    approval = [m for m in msgs if m.tp == APPROVAL]
    ends = {tp: max(m.offset for m in msgs if m.tp == tp) + 1 for tp in (APPROVAL, TRADE)}
    port, store = Port(TOPICS.partitions, log_end=10_000), Store()
    service = start(port, store)
    await run(service, msgs)
    # trade[0] goes on; of approval[0], only the dead letters up to the trip are stored.
    assert {_topic(e) for e in store.events} == {TRADE.topic}
    assert [d.offset for d in store.letters] == list(range(50))
    assert port.committed == [{TRADE: ends[TRADE]}]
    assert tripped(service, APPROVAL) == 1
    # More of approval[0] is not read while it is stopped.
    await run(service, approval)
    assert len(store.letters) == 50 and len(port.committed) == 1

    # A restart without a decision trips again: the partition stays stopped.
    data = dict(service.partitions.case_table.data)
    again = start(Port(TOPICS.partitions, log_end=10_000), Store(), data)
    await run(again, approval)
    assert tripped(again, APPROVAL) == 1

    # The operator lets the flood through: the next tick resumes the partition, which is
    # read again from its restart position; the flood is dead-lettered, the events stored.
    port.decisions = [decision(ends[APPROVAL])]
    service.evaluator.breakers.polled_at = -1e9
    await tick(service)
    assert tripped(service, APPROVAL) == 0
    assert (APPROVAL, 0) in port.seeks  # re-read from where its state was stored (nothing)
    await run(service, approval)
    assert [d.offset for d in store.letters[50:]] == list(range(FLOOD))
    assert {_topic(e) for e in store.events} == {TRADE.topic, APPROVAL.topic}
    assert port.committed[-1] == {APPROVAL: ends[APPROVAL]}

    # A restart reads the decision before its first batch: no trip on the same flood.
    restarted_port, restarted_store = Port(TOPICS.partitions, log_end=10_000), Store()
    restarted_port.decisions = [decision(ends[APPROVAL])]
    restarted = start(restarted_port, restarted_store)
    await run(restarted, msgs)
    assert tripped(restarted, APPROVAL) is None
    assert len(restarted_store.letters) == FLOOD
    assert restarted_port.committed == [ends]


def _topic(event: Any) -> str:
    topic = TOPICS.for_process(event.process)
    assert topic
    return topic


def test_a_decision_counts_only_below_its_offset() -> None:
    breakers = Breakers(window=100, max_ratio=1.0, max_consecutive=3)
    key, value = decision(5)
    parsed = SkipDecision.from_record(key, value)
    assert parsed is not None and parsed.until_offset == 5
    breakers.apply([parsed])
    limit = breakers.limit(APPROVAL.topic, 0)
    from streams.contract import DeadLetter

    for offset in range(5):  # let through: not counted
        limit.rejected(DeadLetter(b"x", "bad", topic=APPROVAL.topic, partition=0, offset=offset))
    limit.rejected(DeadLetter(b"x", "bad", topic=APPROVAL.topic, partition=0, offset=5))
    limit.rejected(DeadLetter(b"x", "bad", topic=APPROVAL.topic, partition=0, offset=6))
    with pytest.raises(evaluate.RejectionLimitExceeded):
        limit.rejected(DeadLetter(b"x", "bad", topic=APPROVAL.topic, partition=0, offset=7))
    assert SkipDecision.from_record(b"other", value) is None
    assert SkipDecision.from_record(key, b"{") is None
