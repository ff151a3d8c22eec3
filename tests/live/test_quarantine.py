"""A valid event the engine fails on quarantines its case, not its partition (issue #13).

The engine is made to fail by a monkeypatched rule step on one case: its events are stored
and dead-lettered as ``engine_error``, the other cases go on, and the quarantine is read
back from the state table after a restart.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import orjson
import pytest

from streams.live import evaluate
from streams.live.processor import CasePartition, Message
from streams.live.service import LiveService
from tests.live.core import TOPICS, messages
from tests.live.fakes import TP, Port, Store, build_service
from tests.live.test_service_component import persist_all
from tests.live.workload import workload


def as_messages(events: list[dict[str, Any]]) -> list[Message]:
    return [
        Message(m.topic, m.partition, m.offset, m.key, m.value, TP(m.topic, m.partition))
        for m in messages(events)
    ]


def run(service: LiveService, msgs: list[Message]) -> None:
    async def go() -> None:
        service.intake.events.messages = list(msgs)
        await service.flush()
        await persist_all(service)

    asyncio.run(go())


def max_offset(msgs: list[Message], topic: str) -> int:
    return max(m.offset for m in msgs if m.topic == topic)


def new_service(port: Port, store: Store) -> LiveService:
    port.assigned = {TP(t, 0) for t in TOPICS.domain}
    # One partition per topic: every case's home is the partition its messages are on here.
    return build_service(port, store, topic_partitions=1)


def bad_case(events: list[dict[str, Any]]) -> str:
    per_case = Counter(e["case_id"] for e in events)
    return next(case for case, n in per_case.items() if n >= 3)


def break_case(monkeypatch: pytest.MonkeyPatch, case_id: str) -> None:
    """A rule that raises on ``case_id``'s events, after the engine changed its state (the
    engine itself may be compiled: the failure is injected around its call)."""
    real = CasePartition.process

    def process(
        self: CasePartition, event: Any, offset: int, out: Any, arrived_at: Any = None
    ) -> bool:
        stored = real(
            self, event, offset, out, arrived_at
        )  # False: the case held it (not stored again)
        if event.case_id == case_id:
            raise RuntimeError("rule exploded on amount=12.5")
        return stored

    monkeypatch.setattr(CasePartition, "process", process)

    def die(reason: str) -> None:
        raise AssertionError(f"the worker died: {reason}")

    monkeypatch.setattr(evaluate, "die", die)


def test_an_engine_error_quarantines_the_case_and_the_other_cases_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = workload(60, seed=4)
    bad = bad_case(events)
    msgs = as_messages(events)

    reference_port, reference = Port(TOPICS.partitions, log_end=10_000), Store()
    run(new_service(reference_port, reference), msgs)

    break_case(monkeypatch, bad)
    port, store = Port(TOPICS.partitions, log_end=10_000), Store()
    service = new_service(port, store)
    run(service, msgs)

    # Every event is stored, the bad case's too; its events are dead-lettered, in order.
    assert {e.event_id for e in store.events} == {e["event_id"] for e in events}
    bad_ids = [e["event_id"] for e in events if e["case_id"] == bad]
    letters = store.letters
    assert [orjson.loads(d.raw)["event_id"] for d in letters] == bad_ids
    assert {d.kind for d in letters} == {"engine_error"}
    assert letters[0].reason == "engine_error: RuntimeError: rule exploded on amount=12.5"
    assert all(d.reason.startswith("case quarantined: engine_error:") for d in letters[1:])
    published = port.aiokafka.sent[TOPICS.deadletter]
    assert [value for _, value in published] == [d.raw for d in letters]
    # The other cases are evaluated as if nothing happened; the bad one raises nothing more.
    others = {a.alert_id for a in reference.alerts if a.case_id != bad}
    assert {a.alert_id for a in store.alerts if a.case_id != bad} == others
    assert [a for a in store.alerts if a.case_id == bad] == []  # failed on its first event
    assert port.committed == reference_port.committed  # nothing held back
    registry = service.persister.metrics.registry
    topic = letters[0].topic
    assert registry.get_sample_value("supervision_cases_quarantined_total", {"topic": topic}) == 1
    assert registry.get_sample_value("supervision_quarantined_cases") == 1
    rejected = {"topic": topic, "reason": "engine_error"}
    assert registry.get_sample_value("supervision_events_rejected_total", rejected) == len(bad_ids)

    # A restart reads the quarantine back from the state table: the engine works again,
    # yet a later event of the case is still dead-lettered, not evaluated.
    monkeypatch.undo()
    restarted_store = Store()
    restarted = new_service(Port(TOPICS.partitions, log_end=10_000), restarted_store)
    restarted.partitions.case_table.data.update(service.partitions.case_table.data)
    later = dict(next(e for e in reversed(events) if e["case_id"] == bad), event_id="e-later")
    [last] = [m for m in msgs if orjson.loads(m.value)["event_id"] == bad_ids[-1]]
    value = orjson.dumps(later)
    run(
        restarted,
        [Message(last.topic, 0, max_offset(msgs, last.topic) + 1, last.key, value, last.tp)],
    )
    assert [e.event_id for e in restarted_store.events] == ["e-later"]
    assert [d.reason for d in restarted_store.letters] == [f"case quarantined: {letters[0].reason}"]
    assert restarted_store.alerts == []
