"""Late events corrected by the live service (rules.md §1.4), in process: real steps, fake edges.

A completion published after the case's deadline instants had passed: its case's stored
events are read before the batch is evaluated, the case is evaluated again with it in
place, and the cards it disproves are withdrawn, stored after the alerts in the same
write and published with the alert's key, before the offsets are committed. The events of
a batch not stored yet (``PIPELINE_DEPTH``) count as the case's too.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from streams.engine.model import WITHDRAWN_LATE_INPUT
from streams.live.processor import Message
from streams.live.service import LiveService
from tests.engine.harness import ev
from tests.live.core import TOPICS
from tests.live.fakes import TP, Port, Store, build_service

APPROVAL = TP(TOPICS.approval, 0)
ARRIVED = 1_800_000_000_123_000  # the late completion's Kafka timestamp (µs)


def on_time() -> list[dict[str, Any]]:
    return [
        ev("a1", "AP1", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=3),
        ev("a2", "AP1", "approval", "review", "2026-03-03T09:00:00"),
        ev("a3", "AP1", "approval", "decide", "2026-03-03T15:00:00", decision="approve"),
        # another case moves the partition's time well past AP1's red card
        ev("b1", "AP2", "approval", "accept", "2026-03-20T09:00:00", time_limit_days=5),
    ]


def completion() -> dict[str, Any]:
    late = ev("a4", "AP1", "approval", "complete", "2026-03-04T10:00:00")
    late["reported_at"] = "2026-03-12T10:00:00+08:00"  # recorded eight days later
    return late


def batch(events: list[dict[str, Any]], first: int, arrived: int | None = None) -> list[Message]:
    return [
        Message(
            APPROVAL.topic, 0, first + i, e["case_id"].encode(), orjson.dumps(e), APPROVAL, arrived
        )
        for i, e in enumerate(events)
    ]


async def flush(service: LiveService, msgs: list[Message]) -> None:
    service.intake.events.messages = list(msgs)
    await service.flush()


async def persisted(service: LiveService) -> None:
    await asyncio.wait_for(service.persister.persisted.wait(), 10)
    for _ in range(3):
        await asyncio.sleep(0)


def run(stored_between: bool) -> tuple[Port, Store, LiveService]:
    port, store = Port(partitions=TOPICS.partitions, log_end=5), Store()
    store.journal = port.journal
    port.assigned = {APPROVAL}
    service = build_service(port, store)

    async def go() -> None:
        task = asyncio.ensure_future(service.persister.run()) if stored_between else None
        await flush(service, batch(on_time(), 0))
        if task is not None:
            await persisted(service)
        late = asyncio.ensure_future(flush(service, batch([completion()], 4, ARRIVED)))
        await asyncio.sleep(0.2)  # read (nothing stored yet without the persister), evaluated
        if task is None:
            task = asyncio.ensure_future(service.persister.run())
        await late
        await persisted(service)
        task.cancel()

    asyncio.run(go())
    return port, store, service


def check(port: Port, store: Store) -> None:
    overdue = {a.alert_id: a for a in store.alerts if a.case_id == "AP1" and a.rule == "OVERDUE"}
    assert sorted(a.level for a in overdue.values()) == ["notice", "red", "yellow"]
    assert {w.alert_id for w in store.withdrawals} == set(overdue)
    for w in store.withdrawals:
        assert w.reason == WITHDRAWN_LATE_INPUT and w.alert == overdue[w.alert_id]
        assert [(e.event_id, e.arrived_at) for e in w.withdrawn_by] == [("a4", ARRIVED)]
        assert w.withdrawn_at % 1_000_000 == 0  # whole seconds, as stored
    late_reported = [a for a in store.alerts if a.rule == "LATE_REPORTED"]
    assert [a.case_id for a in late_reported] == ["AP1"]
    # published after the alerts, with the alert's key, before the last commit
    records = port.aiokafka.sent[TOPICS.alerts]
    withdrawn = [
        (key, orjson.loads(value)) for key, value in records if b"withdrawn_at" in (value or b"")
    ]
    assert {key.decode() for key, _ in withdrawn if key} == set(overdue)
    assert all(r["withdrawn_by"][0]["event_id"] == "a4" for _, r in withdrawn)
    keys = [key for key, _ in records]
    for key, _ in withdrawn:
        assert keys.index(key) < len(keys) - 1 - keys[::-1].index(key)  # the alert came first
    assert port.journal[-1] == "commit"
    assert port.committed[-1] == {APPROVAL: 5}


def test_a_late_completion_withdraws_the_cards_it_disproves() -> None:
    port, store, service = run(stored_between=True)
    check(port, store)
    assert store.reads == [[("approval", "AP1")]]  # the late case only
    metrics = service.evaluator.metrics
    assert metrics.corrections.labels(TOPICS.approval, "corrected")._value.get() == 1
    assert metrics.alerts_withdrawn.labels("OVERDUE")._value.get() == 3


def test_events_of_a_batch_not_stored_yet_count_as_the_case_s() -> None:
    port, store, _ = run(stored_between=False)
    assert store.read_stored == [0]  # the case's first events were not stored when it was read
    check(port, store)


def test_the_case_s_events_are_read_before_the_event_lock_is_taken() -> None:
    """The storage round trip of a late case's read does not hold the event lock: ticks and
    other batches are evaluated meanwhile; the correction is the same."""
    import threading

    port, store = Port(partitions=TOPICS.partitions, log_end=5), Store()
    store.journal = port.journal
    port.assigned = {APPROVAL}
    service = build_service(port, store)
    reading, release = threading.Event(), threading.Event()
    read = store.case_events

    def slow_read(cases: Any) -> Any:
        rows = read(cases)
        reading.set()
        release.wait(10)  # a slow ClickHouse
        return rows

    store.case_events = slow_read  # type: ignore[method-assign]

    async def go() -> None:
        task = asyncio.ensure_future(service.persister.run())
        await flush(service, batch(on_time(), 0))
        await persisted(service)
        late = asyncio.ensure_future(flush(service, batch([completion()], 4, ARRIVED)))
        while not reading.is_set():
            await asyncio.sleep(0.01)
        assert not service.lock.locked()
        await asyncio.wait_for(service.lock.acquire(), 1)  # a tick could run now
        service.lock.release()
        release.set()
        await late
        await persisted(service)
        task.cancel()

    asyncio.run(go())
    check(port, store)
    assert store.reads == [[("approval", "AP1")]]


def late_events_over(events: list[dict[str, Any]]) -> tuple[Any, list[Message]]:
    """``LateEvents`` over a partition that evaluated ``events`` (its horizon past them),
    reading from ``rows``; and the messages of ``events``."""
    from streams.engine import EventValidator
    from streams.live.corrections import LateEvents
    from streams.live.processor import Output
    from tests.live.core import pipeline

    parts: dict = {}
    msgs = batch(events, 0)
    for m in msgs:
        m.event = EventValidator().parse(m.value)
    for part in pipeline(parts).run(msgs, Output()):
        part.advance(part.clock.event_horizon() or 0, Output())
    return (lambda read: LateEvents(lambda t, p: parts[(t, p)], EventValidator(), read)), msgs


def stored_row(event: Any) -> dict[str, Any]:
    return {
        "event_id": event.event_id, "case_id": event.case_id, "process": event.process,
        "action": event.action, "occurred_at_text": event.occurred_at_text, "dept": event.dept,
        "actor": event.actor, "reported_at_text": event.reported_at_text, "attrs": event.attrs,
        "arrived_at_us": event.arrived_at,
    }


def test_a_batch_evaluated_and_stored_during_the_read_ahead_counts_for_its_case() -> None:
    """Batches evaluated while the read-ahead waits for storage, stored after the read saw
    storage and before the lock is taken: neither the read nor the unstored batches have
    their events, the read-ahead's watch does."""
    from streams.live.processor import Output, StoredEvent

    events = on_time()
    make, msgs = late_events_over(events)
    parsed = [m.event for m in msgs]
    meanwhile = Output()
    meanwhile.events = [StoredEvent(parsed[2], APPROVAL.topic, 0, 2)]  # a3, of AP1

    async def read(cases: list[tuple[str, str]]) -> list[dict[str, Any]]:
        rows = [stored_row(e) for e in parsed[:2]]  # a1, a2: what storage had
        late.unstored.add(meanwhile)  # another batch evaluated meanwhile...
        meanwhile.rows_stored = True  # ...and stored before the lock
        return rows

    late = make(read)
    waiting = batch([completion()], 4, ARRIVED)
    ahead = asyncio.run(late.read_ahead(waiting))
    assert ahead is not None and list(ahead.late) == ["approval|AP1"]
    history = asyncio.run(late.prepare(waiting, 0, ahead))
    assert history is not None
    assert sorted(history.pool["approval|AP1"]) == ["a1", "a2", "a3"]
    assert late.unstored.watchers == []


def test_a_case_the_read_ahead_did_not_cover_is_read_under_the_lock() -> None:
    events = on_time()
    make, msgs = late_events_over(events)
    reads: list[list[tuple[str, str]]] = []

    async def read(cases: list[tuple[str, str]]) -> list[dict[str, Any]]:
        reads.append(cases)
        return [stored_row(m.event) for m in msgs if (m.event.process, m.event.case_id) in cases]

    late = make(read)
    assert asyncio.run(late.read_ahead([])) is None  # the late completion came after it
    history = asyncio.run(late.prepare(batch([completion()], 4, ARRIVED), 0, None))
    assert history is not None and reads == [[("approval", "AP1")]]
    assert sorted(history.pool["approval|AP1"]) == ["a1", "a2", "a3"]
    # a rebalance between the read-ahead and the lock: the read-ahead is not used
    ahead = asyncio.run(late.read_ahead(batch([completion()], 4, ARRIVED)))
    late.forget()
    asyncio.run(late.prepare(batch([completion()], 4, ARRIVED), 0, ahead))
    assert len(reads) == 3


def test_a_card_withdrawn_and_raised_again_in_one_batch_is_read_raised() -> None:
    """A late pause moves AP1's notice card past the instant the case had been evaluated to,
    so the correction withdraws it; later in the same batch another case moves the time past
    the card's new instant and it is raised again, with the same id (one notice per case).
    Storage keeps the row stored last, and a write stores its withdrawals after its alerts:
    the raise again supersedes the withdrawal, or users would read the card withdrawn while
    replay has it (found by the soak: one OVERDUE notice of 78,516 alerts)."""
    port, store = Port(partitions=TOPICS.partitions, log_end=5), Store()
    store.journal = port.journal
    port.assigned = {APPROVAL}
    service = build_service(port, store)
    first = [
        ev("a1", "AP1", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=3),
        ev("a3", "AP1", "approval", "supplement_received", "2026-03-03T10:00:00"),
        ev("b1", "AP2", "approval", "accept", "2026-03-05T12:00:00", time_limit_days=20),
    ]
    late = [
        ev("a2", "AP1", "approval", "supplement_request", "2026-03-02T10:00:00"),  # the pause
        ev("b2", "AP3", "approval", "accept", "2026-03-06T12:00:00", time_limit_days=20),
    ]

    async def go() -> None:
        task = asyncio.ensure_future(service.persister.run())
        await flush(service, batch(first, 0))
        await persisted(service)
        service.persister.persisted.clear()
        await flush(service, batch(late, 3, ARRIVED))
        await persisted(service)
        task.cancel()

    asyncio.run(go())
    notices = [a for a in store.alerts if a.case_id == "AP1" and a.level == "notice"]
    assert [a.raised_at for a in notices] == [1772640000000000, 1772726400000000]  # 03-05, 03-06
    state, record = store.current[notices[0].alert_id]
    assert state == "raised" and record == notices[-1]
    # nor is a withdrawal published after the card raised again
    records = [orjson.loads(v) for k, v in port.aiokafka.sent[TOPICS.alerts] if v]
    assert [r.get("withdrawn_at") is not None for r in records if r["alert_id"] == notices[0].alert_id][-1] is False
