"""Bounded case state (issue #13, audit F11, F17, F18): format versions, a hot case, retention."""

from __future__ import annotations

import time

import orjson
import pytest

from streams.engine import Engine, EventValidator, Fact, load_config
from streams.engine.cases import MAX_IDS, CaseEngine
from streams.engine.model import FormatTooNew
from streams.engine.state import STATE_FIELDS, CaseState
from streams.engine.timeutil import DAY_US, parse_instant
from tests.engine.harness import ev

CONFIG = load_config()
VALIDATOR = EventValidator()


def event(event_id: str, case_id: str, process: str, action: str, at: str, **attrs: object):
    if action == "register":
        attrs.setdefault("enterprise_id", "ENT1")
    return VALIDATOR.from_document(ev(event_id, case_id, process, action, at, **attrs))


def _hot_case(n: int) -> tuple[CaseEngine, float]:
    """``n`` events of one placeholder case id through the live-mode case engine."""
    cases = CaseEngine(CONFIG)  # live mode: remembers event ids, tracks changes
    base = parse_instant("2026-03-02T09:00:00+08:00")
    events = [
        VALIDATOR.from_document(
            {
                "event_id": f"E{i:07d}",
                "case_id": "PLACEHOLDER",
                "process": "penalty",
                "action": "register" if i == 0 else "investigate",
                "occurred_at": "2026-03-02T09:00:00+08:00",
                "dept": "D01",
                **({"attrs": {"enterprise_id": "ENT1"}} if i == 0 else {}),
            }
        )
        for i in range(n)
    ]
    for i, e in enumerate(events):
        e.occurred_at = base + i * 1_000_000
    started = time.perf_counter()
    for e in events:
        cases.process(e)
    return cases, time.perf_counter() - started


def test_a_case_with_60000_events_keeps_a_bounded_state_in_linear_time() -> None:
    small, t_small = _hot_case(15_000)
    big, t_big = _hot_case(60_000)
    state = big.states["penalty|PLACEHOLDER"]
    blob = state.to_bytes()
    assert len(blob) < 32 * 1024  # was 16 bytes per event: 960 KB here, past 1 MB at ~62k
    assert state.events == 60_000 and len(state.ids) == 8 * MAX_IDS
    # 4x the events: linear is ~4x the time, the old quadratic id check ~16x
    assert t_big < 8 * t_small + 0.5, (t_small, t_big)
    # flagged once, when it passed the configured count
    assert big.hot == [("penalty|PLACEHOLDER", CONFIG.hot_case_events + 1)]
    # a repeat of a recent event is still ignored
    again = big.duplicate_count
    last = VALIDATOR.from_document(
        ev("E0059999", "PLACEHOLDER", "penalty", "investigate", "2026-03-03T09:00:00")
    )
    big.process(last)
    assert big.duplicate_count == again + 1
    assert CaseState.from_bytes(blob).to_bytes() == blob


def test_case_state_records_carry_a_format_version_and_old_ones_read() -> None:
    cases = CaseEngine(CONFIG)
    for i in range(MAX_IDS + 500):
        cases.process(
            event(
                f"E{i}",
                "C1",
                "penalty",
                "register" if i == 0 else "investigate",
                "2026-03-02T09:00:00",
            )
        )
    state = cases.states["penalty|C1"]
    values = orjson.loads(state.to_bytes())
    assert values[0] == 2 and len(values) == 1 + len(STATE_FIELDS)
    # The unversioned form of main before this change: no version, no "evaluated_to" and
    # "events" (the last two fields), every id kept.
    old = values[1:-2]
    ids_at = STATE_FIELDS.index("ids")
    all_ids = b"".join(
        __import__("streams.engine.state", fromlist=["event_hash"]).event_hash(f"E{i}")
        for i in range(MAX_IDS + 500)
    )
    old[ids_at] = all_ids.hex()
    read = CaseState.from_bytes(orjson.dumps(old))
    assert read.events == MAX_IDS + 500
    assert read.ids == all_ids[-8 * MAX_IDS :] == state.ids
    assert read.process == "penalty" and read.seen == state.seen


def test_a_newer_case_state_or_fact_format_is_refused_clearly() -> None:
    cases = CaseEngine(CONFIG)
    cases.process(event("E1", "C1", "penalty", "register", "2026-03-02T09:00:00"))
    values = orjson.loads(cases.states["penalty|C1"].to_bytes())
    values[0] = 3
    with pytest.raises(FormatTooNew, match="case state format version 3 is newer"):
        CaseState.from_bytes(orjson.dumps(values))
    fact = Fact("dup|P|X|1.00", 5, "disburse", {"amount": "1.00"}, "E1", "C1", "D01")
    blob = fact.to_bytes()
    assert orjson.loads(blob)[0] == 3
    assert Fact.from_bytes(blob) == fact
    assert Fact.from_bytes(orjson.dumps([2, *orjson.loads(blob)[1:]])) == fact  # version 2
    assert Fact.from_bytes(orjson.dumps(orjson.loads(blob)[1:])) == fact  # version 1
    late = Fact("dup|P|X|1.00", 5, "disburse", {"amount": "1.00"}, "E1", "C1", "D01",
                arrived_at=9, reported_at=7)
    assert Fact.from_bytes(late.to_bytes()) == late  # version 3: with the event's reported_at
    newer = orjson.loads(blob)
    newer[0] = 4
    with pytest.raises(FormatTooNew, match="fact format version 4"):
        Fact.from_bytes(orjson.dumps(newer))


def test_terminal_cases_leave_the_state_after_the_retention() -> None:
    engine = Engine(CONFIG)
    retention = CONFIG.terminal_retention_days * DAY_US
    engine.feed(event("A1", "A", "penalty", "register", "2026-03-02T09:00:00"))
    engine.feed(event("A2", "A", "penalty", "complete", "2026-03-03T09:00:00"))
    engine.feed(event("B1", "B", "penalty", "register", "2026-03-02T09:00:00"))
    closed = parse_instant("2026-03-03T09:00:00+08:00")
    engine.cases.export_dirty()
    engine.advance(closed + retention - DAY_US)
    assert "penalty|A" in engine.cases.states
    engine.advance(closed + retention + 2 * DAY_US)  # the daily expiry
    assert "penalty|A" not in engine.cases.states and "penalty|B" in engine.cases.states
    assert engine.cases.export_dirty() == {"penalty|A": None}  # its stored state is deleted
    assert engine.cases.evicted_count == 1


def test_a_late_event_after_the_retention_starts_a_new_case_in_both_paths() -> None:
    """Whether or not the bulk eviction ran first, an event of the case after its retention
    meets no state (replay and live agree): it is a new case."""
    late = "2026-07-01T09:00:00"  # > 90 days after the close
    events = [
        event("A1", "A", "penalty", "register", "2026-03-02T09:00:00"),
        event("A2", "A", "penalty", "complete", "2026-03-03T09:00:00"),
        event("A3", "A", "penalty", "execute", late, measure="warning"),
    ]
    cases = CaseEngine(CONFIG)  # no bulk eviction in between
    raised = []
    for e in events:
        raised += cases.process(e)[0]
    engine = Engine(CONFIG, track_changes=False, event_ids=False)  # replay's engine
    replayed = []
    for e in events:
        replayed += engine.feed(e)
    assert [a.alert_id for a in raised] == [a.alert_id for a in replayed]
    assert [a.rule for a in raised] == ["SKIPPED_STEP"]  # a new case starting at execute
    assert cases.states["penalty|A"].terminal is False


def test_a_case_waiting_for_something_is_not_evicted() -> None:
    cases = CaseEngine(CONFIG)
    cases.process(event("A1", "A", "penalty", "register", "2026-03-02T09:00:00"))
    cases.process(event("A2", "A", "penalty", "complete", "2026-03-03T09:00:00"))
    state = cases.states["penalty|A"]
    state.pending = {"years": [2027]}  # a pending calendar decision (rules.md §1.5)
    later = parse_instant("2026-12-01T00:00:00+08:00")
    assert cases.evict(later) == 0 and "penalty|A" in cases.states
    assert cases.next_eviction() == later + DAY_US  # looked at again a day later


def test_a_case_closed_and_evicted_before_its_status_is_taken_keeps_its_last_status() -> None:
    """A batch that closes a case and moves the horizon past its retention (a backlog read
    again after a restart) evicts it before the batch's statuses are taken: its last status
    row is still given (it was lost, leaving the case open in ``case_status``)."""
    cases = CaseEngine(CONFIG)
    cases.process(event("A1", "A", "penalty", "register", "2026-03-02T09:00:00"))
    assert [s.version for s in cases.take_status()] == [1]
    cases.process(event("A2", "A", "penalty", "complete", "2026-03-03T09:00:00"))
    assert cases.evict(parse_instant("2026-12-01T00:00:00+08:00")) == 1
    taken = cases.take_status()
    assert [(s.case_id, s.terminal, s.version) for s in taken] == [("A", True, 2)]
    assert cases.take_status() == []


def test_a_terminal_case_installed_twice_is_evicted_once() -> None:
    """A terminal case whose state is installed again (a correction's ``replace``, a reload)
    has two entries in the retention heap; the eviction took its key twice and the second
    ``pop`` raised KeyError, which stopped the live worker (found by ``make soak``)."""
    cases = CaseEngine(CONFIG)
    cases.process(event("A1", "A", "penalty", "register", "2026-03-02T09:00:00"))
    cases.process(event("A2", "A", "penalty", "complete", "2026-03-03T09:00:00"))
    key = "penalty|A"
    cases.replace(key, CaseState.from_bytes(cases.states[key].to_bytes()))
    cases.load(key, cases.states[key].to_bytes())
    assert cases.evict(parse_instant("2026-12-01T00:00:00+08:00")) == 1
    assert key not in cases.states and cases.evicted_count == 1
    assert cases.next_eviction() is None
