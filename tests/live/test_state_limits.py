"""Bounded state in the live service (issue #13, audit F11, F17, F18): a hot case, a crash
re-read of it, stored records of a newer format version, terminal-case eviction."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from streams.engine import CaseEngine, Fact
from streams.engine.facts import FACT_FORMAT
from streams.engine.timeutil import DAY_US, parse_instant
from streams.live import evaluate
from streams.live.horizon import encode_fact
from streams.live.processor import CasePartition, Message, Output
from streams.live.state import case_table_key, next_offset_key, pack_case, unpack_case
from tests.live.core import CONFIG, TOPICS
from tests.live.fakes import TP, Port, Store
from tests.live.test_quarantine import as_messages, new_service, run
from tests.live.workload import workload


@pytest.fixture(autouse=True)
def no_death(monkeypatch: pytest.MonkeyPatch) -> None:
    def die(reason: str) -> None:
        raise AssertionError(f"the worker died: {reason}")

    monkeypatch.setattr(evaluate, "die", die)


def hot_events(n: int, case_id: str = "PLACEHOLDER") -> list[dict[str, Any]]:
    """``n`` events of one case id, a second apart (an upstream bug: a placeholder id)."""
    base = datetime(2026, 3, 2, 9, tzinfo=timezone(timedelta(hours=8)))
    return [
        {
            "event_id": f"E{i:07d}",
            "case_id": case_id,
            "process": "penalty",
            "action": "register" if i == 0 else "investigate",
            "occurred_at": (base + timedelta(seconds=i)).isoformat(),
            "dept": "D01",
            **({"attrs": {"enterprise_id": "ENT1"}} if i == 0 else {}),
        }
        for i in range(n)
    ]


def test_a_hot_case_is_flagged_and_its_crash_re_read_is_exact() -> None:
    """3,000 events of one case in one batch, then a restart from before the batch (its state
    written, its offsets not committed): nothing is applied or stored again, although the
    case remembers only its last 1,024 ids."""
    events = hot_events(3000)
    msgs = as_messages(events)
    port, store = Port(TOPICS.partitions, log_end=10_000), Store()
    service = new_service(port, store)
    hot = dataclasses.replace(CONFIG, hot_case_events=2500)
    service.partitions.config = hot
    run(service, msgs)
    assert len(store.events) == 3000
    registry = service.persister.metrics.registry
    labels = {"topic": msgs[0].topic}
    assert registry.get_sample_value("supervision_hot_cases_total", labels) == 1

    table = dict(service.partitions.case_table.data)
    table.pop(next_offset_key(0, msgs[0].topic))  # the crash: the batch is read again
    again = Store()
    restarted = new_service(Port(TOPICS.partitions, log_end=10_000), again)
    restarted.partitions.config = hot
    restarted.partitions.case_table.data.update(table)
    run(restarted, msgs)
    assert again.events == [] and again.alerts == []
    (part,) = restarted.partitions.cases.values()
    assert part.cases.duplicate_count == 3000
    state = part.cases.states["penalty|PLACEHOLDER"]
    assert state.events == 3000


def test_a_case_state_of_a_newer_format_quarantines_its_case_without_a_restart_loop() -> None:
    events = workload(40, seed=5)
    msgs = as_messages(events)
    port, store = Port(TOPICS.partitions, log_end=10_000), Store()
    service = new_service(port, store)
    run(service, msgs)
    table = dict(service.partitions.case_table.data)
    last = events[-1]
    topic = TOPICS.for_process(last["process"])
    assert topic
    key = case_table_key(0, topic, f"{last['process']}|{last['case_id']}")
    offset, blob = unpack_case(table[key])
    values = orjson.loads(blob)
    values[0] = 99  # written by a newer release
    newer = pack_case(offset, orjson.dumps(values))
    table[key] = newer

    again = Store()
    restarted = new_service(Port(TOPICS.partitions, log_end=10_000), again)
    restarted.partitions.case_table.data.update(table)
    later = dict(last, event_id="e-later")
    end = max(m.offset for m in msgs if m.topic == topic)
    value = orjson.dumps(later)
    run(restarted, [Message(topic, 0, end + 1, later["case_id"].encode(), value, TP(topic, 0))])
    assert [e.event_id for e in again.events] == ["e-later"]  # stored, never lost
    (letter,) = again.letters
    assert letter.reason.startswith("case quarantined: state_format: case state format version 99")
    assert restarted.partitions.case_table.data[key] == newer  # left for a newer worker
    registry = restarted.persister.metrics.registry
    labels = {"table": topic, "reason": "format_too_new"}
    assert registry.get_sample_value("supervision_state_records_unreadable_total", labels) == 1


def test_a_fact_of_a_newer_format_is_dead_lettered_not_a_restart_loop() -> None:
    port, store = Port(TOPICS.partitions, log_end=10_000), Store()
    service = new_service(port, store)
    facts = TP(TOPICS.facts, 0)
    port.assigned = {facts}
    values = orjson.loads(Fact("dup|P|X|1.00", 5, "disburse", {}, "E1", "C1", "D01").to_bytes())
    values[0] = 7
    value = encode_fact(orjson.dumps(values))
    step = service.evaluator.facts([Message(facts.topic, 0, 0, b"k", value, facts)])
    (letter,) = step.out.dead_letters
    assert letter.kind == "state_format" and "fact format version 7 is newer" in letter.reason
    assert letter.raw == value


def test_a_terminal_case_leaves_the_live_state_after_the_retention() -> None:
    part = CasePartition(TOPICS.approval, 0, CaseEngine(CONFIG))
    from streams.engine import EventValidator
    from tests.engine.harness import ev

    validator = EventValidator()
    out = Output()
    closed = "2026-03-03T09:00:00"
    for i, (action, at) in enumerate([("register", "2026-03-02T09:00:00"), ("complete", closed)]):
        attrs = {"enterprise_id": "ENT1"} if action == "register" else {}
        event = validator.from_document(ev(f"A{i}", "A", "penalty", action, at, **attrs))
        part.process(event, i, out)
    part.collect(out, case_table_key)
    retention = CONFIG.terminal_retention_days * DAY_US
    end = parse_instant(closed + "+08:00") + retention
    assert part.next_timer() == end
    out = Output()
    part.advance(end + 1, out)
    part.collect(out, case_table_key)
    assert [(k, v) for _, k, v, _ in out.case_states] == [
        (case_table_key(0, TOPICS.approval, "penalty|A"), None)
    ]
    assert part.cases.states == {} and part.next_timer() is None


def test_the_worker_survives_a_facts_batch_with_a_newer_fact_among_good_ones() -> None:
    port, store = Port(TOPICS.partitions, log_end=10_000), Store()
    service = new_service(port, store)
    facts = TP(TOPICS.facts, 0)
    port.assigned = {facts}
    good = encode_fact(Fact("dup|P|X|1.00", 5, "disburse", {}, "E1", "C1", "D01").to_bytes())
    values = orjson.loads(good[1:])
    values[0] = FACT_FORMAT + 1  # a format newer than this worker reads
    newer = encode_fact(orjson.dumps(values))
    msgs = [Message(facts.topic, 0, i, b"k", v, facts) for i, v in enumerate([good, newer])]

    async def go() -> Any:
        return service.evaluator.facts(msgs)

    step = asyncio.run(go())
    assert len(step.out.dead_letters) == 1
    (part,) = service.partitions.facts.values()
    assert part.gate.lowest_offset() == 0  # the good fact is held for its horizon
