"""Engine state survives serialization: what the live service keeps in its tables."""

from __future__ import annotations

import random

from streams.engine import Engine, EventValidator, alert_to_dict, load_config
from streams.engine.cases import STATE_FIELDS, CaseState
from streams.replay import ReplaySummary, read_events
from streams.workload import GenerateConfig, generate_events

CONFIG = load_config()


def workload() -> list:
    import orjson

    lines = [
        orjson.dumps(e) for e in generate_events(GenerateConfig(cases=600, seed=11, open_share=0.2))
    ]
    events = read_events(lines, EventValidator(), ReplaySummary(), lambda r: None)
    events.sort(key=lambda e: e.occurred_at)
    return events


def run_through(events: list, restart_every: int | None) -> list[dict]:
    engine = Engine(CONFIG)
    alerts = []
    for index, event in enumerate(events):
        alerts += engine.feed(event)
        if restart_every and index % restart_every == restart_every - 1:
            # a restart: a new engine rebuilt only from the exported states
            cases = engine.cases.export_dirty()
            cross = engine.cross.export_dirty()
            saved_cases = getattr(run_through, "_cases", {})
            saved_cross = getattr(run_through, "_cross", {})
            saved_cases.update(cases)
            saved_cross.update(cross)
            run_through._cases, run_through._cross = saved_cases, saved_cross  # type: ignore[attr-defined]
            raised = engine._raised
            engine = Engine(CONFIG)
            engine._raised = raised
            for key, blob in saved_cases.items():
                engine.cases.load(key, blob)
            for key, blob in saved_cross.items():
                engine.cross.load(key, blob)
    alerts += engine.advance(events[-1].occurred_at)
    return sorted((a.alert_id, a.raised_at) for a in alerts)


def test_restarts_from_exported_state_give_the_same_alerts() -> None:
    events = workload()
    assert len(events) > 1500
    run_through._cases, run_through._cross = {}, {}  # type: ignore[attr-defined]
    baseline = run_through(events, None)
    run_through._cases, run_through._cross = {}, {}  # type: ignore[attr-defined]
    restarted = run_through(events, restart_every=997)
    assert baseline and restarted == baseline


def test_case_state_round_trip() -> None:
    state = CaseState("approval", "D01")
    state.last, state.facts, state.ids = 739000, {"bids": {"A": [1, 2, "E"]}}, b"\x01" * 16
    copy = CaseState.from_bytes(state.to_bytes())
    assert [getattr(copy, s) for s in STATE_FIELDS] == [getattr(state, s) for s in STATE_FIELDS]


def test_reprocessed_events_are_ignored_by_the_engine() -> None:
    events = workload()[:500]
    engine = Engine(CONFIG)
    first = [alert_to_dict(a, CONFIG.local) for e in events for a in engine.feed(e)]
    again = [a for e in random.Random(3).sample(events, 200) for a in engine.cases.process(e)[0]]
    assert first and again == []


def test_advance_case_fires_only_that_case() -> None:
    from tests.engine.harness import ev

    engine = Engine(CONFIG)
    validator = EventValidator()
    import orjson

    for case in ("A", "B"):
        engine.feed(
            validator.parse(
                orjson.dumps(
                    ev(
                        f"{case}-0",
                        case,
                        "approval",
                        "accept",
                        "2026-03-02T10:00:00",
                        time_limit_days=1,
                    )
                )
            )
        )
    fired = engine.cases.advance_case(
        "approval|A",
        validator.parse(
            orjson.dumps(ev("x", "A", "approval", "review", "2026-03-04T00:00:00"))
        ).occurred_at,
    )
    assert [(a.case_id, a.level) for a in fired] == [("A", "notice"), ("A", "yellow")]
    rest = engine.advance(fired[-1].raised_at)
    assert [(a.case_id, a.level) for a in rest] == [("B", "notice"), ("B", "yellow")]


def test_open_case_and_timer_counts_match_a_scan() -> None:
    engine = Engine(CONFIG)
    events = workload()
    for index, event in enumerate(events):
        engine.feed(event)
        if index % 400 == 0:
            states = engine.cases.states.values()
            assert engine.cases.open_cases() == sum(not s.terminal for s in states)
            assert engine.cases.pending_timers() == sum(s.next_at is not None for s in states)
    restored = Engine(CONFIG)
    for key, blob in engine.cases.export_dirty().items():
        restored.cases.load(key, blob)
    assert restored.cases.open_cases() == engine.cases.open_cases() > 0
    assert restored.cases.pending_timers() == engine.cases.pending_timers()


def test_an_error_while_firing_keeps_the_other_cases_of_that_instant_indexed() -> None:
    """A's stored state names a step clock its template does not have (a broken record):
    firing it fails. B, due at the same instant, stays in the deadline index."""
    import orjson
    import pytest

    from streams.engine import Engine, EventValidator, load_config
    from streams.engine.state import STATE_FIELDS
    from streams.engine.timeutil import parse_instant
    from tests.engine.harness import ev

    engine = Engine(load_config())
    validator = EventValidator()
    for case in ("A", "B"):
        accept = ev(
            f"{case}-0", case, "approval", "accept", "2026-03-02T09:00:00", time_limit_days=2
        )
        engine.feed(validator.from_document(accept))
    notice = parse_instant("2026-03-04T00:00:00+08:00")
    broken = orjson.loads(engine.cases.states["approval|A"].to_bytes())
    broken[1 + STATE_FIELDS.index("steps")] = [[7, notice, "D01", "A-0"]]  # after the version
    engine.cases.load("approval|A", orjson.dumps(broken))
    with pytest.raises(IndexError):
        engine.advance(notice)
    assert engine.cases.next_timer() == notice


def test_a_state_replaced_or_dropped_by_load_leaves_no_live_index_entry() -> None:
    """The deadline index holds states: one that load() replaced or dropped must not fire."""
    from streams.engine.timeutil import parse_instant
    from tests.engine.harness import ev

    engine = Engine(CONFIG)
    validator = EventValidator()
    for case in ("A", "B"):
        accept = ev(
            f"{case}-0", case, "approval", "accept", "2026-03-02T09:00:00", time_limit_days=2
        )
        engine.feed(validator.from_document(accept))
    saved = engine.cases.export_dirty()
    key_a, key_b = sorted(saved)
    engine.cases.load(key_a, saved[key_a])  # replaced by an equal state
    engine.cases.load(key_b, None)  # dropped (e.g. the partition moved away)
    assert engine.cases.pending_timers() == 1
    alerts = engine.advance(parse_instant("2026-03-31T00:00:00+08:00"))
    assert [(a.case_id, a.level) for a in alerts] == [
        ("A", "notice"),
        ("A", "yellow"),
        ("A", "red"),
    ]
    assert engine.cases.next_timer() is None
