"""Calendar years without data (rules.md §1.5).

A case whose timed decisions need a year the calendar does not cover is
pending for them; everything else goes on. Once the year is added (a calendar
file and a restart: the states are loaded into an engine whose calendar has
it), the pending decisions are made and the result equals replay with that
calendar, with the true ``raised_at``.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.engine import Alert, Engine, EventValidator, SupervisionConfig, alert_to_dict
from streams.engine.config import load_config
from streams.engine.state import STATE_FIELDS, CaseState
from streams.engine.timeutil import parse_instant
from tests.engine.harness import brief, config_with, ev, run

DEFAULT = load_config()

# TEST DATA, made up for these tests: a plausible 2027, not the State Council's schedule.
TEST_YEAR_2027 = """
# Test data only: a made-up 2027 schedule for tests/engine/test_calendar_gaps.py.
[years.2027]
holidays = ["2027-01-01", "2027-02-05", "2027-02-08", "2027-02-09", "2027-02-10",
            "2027-02-11", "2027-02-12"]
workdays = ["2027-01-02", "2027-02-20"]
"""

AS_OF = "2027-03-01T00:00:00"


@pytest.fixture(scope="module")
def with_2027(tmp_path_factory: pytest.TempPathFactory) -> SupervisionConfig:
    tmp_path = tmp_path_factory.mktemp("cal2027")
    (tmp_path / "test-2027.toml").write_text(TEST_YEAR_2027, encoding="utf-8")
    return config_with(tmp_path, {"files = []": 'files = ["test-2027.toml"]'})


def accept(event_id: str, case: str, at: str, days: int, process: str = "approval") -> dict:
    return ev(event_id, case, process, "accept", at, time_limit_days=days)


# One table of cases, each with what it shows; times are +08:00.
EVENTS: list[dict[str, Any]] = [
    # A: 20 working days from 2026-12-04: its last day is in 2027. SKIPPED_STEP still fires.
    accept("A1", "A", "2026-12-04T10:00:00", 20),
    ev("A2", "A", "approval", "decide", "2026-12-10T10:00:00", decision="approve"),
    # B: 5 working days, all in 2026: unaffected.
    accept("B1", "B", "2026-12-04T10:00:00", 5),
    # C: paused across the new year, resumed in 2027, extended in time, then late.
    accept("C1", "C", "2026-12-10T10:00:00", 10),
    ev("C2", "C", "approval", "suspend", "2026-12-15T10:00:00", reason="hearing"),
    ev("C3", "C", "approval", "resume", "2027-01-06T10:00:00"),
    ev("C4", "C", "approval", "extend", "2027-01-08T10:00:00", extension_days=3, approver="L1"),
    ev("C5", "C", "approval", "extend", "2027-02-22T10:00:00", extension_days=2, approver="L2"),
    # E: an extension judged against a 2027 deadline: late (LATE_EXTENSION).
    accept("E1", "E", "2026-12-04T10:00:00", 20),
    ev("E2", "E", "approval", "extend", "2027-01-25T10:00:00", extension_days=5, approver="L3"),
    # F: last day 2026-12-30, so notice and yellow come in 2026; the red card needs 2027.
    accept("F1", "F", "2026-12-14T10:00:00", 12),
    # G: completed in 2027 after its 2027 deadline: the cards before completion, then nothing.
    accept("G1", "G", "2026-12-07T10:00:00", 20),
    ev("G2", "G", "approval", "complete", "2027-01-12T10:00:00"),
    # H: a complaint: its case clock needs 2027, its step clock (assign within 1 working
    # day of 2026-12-30) does not and fires; K: a step clock into 2027 (accept 12-31).
    ev("H1", "H", "complaint", "accept", "2026-12-30T10:00:00", category="simple"),
    ev("K1", "K", "complaint", "accept", "2026-12-31T10:00:00", category="simple"),
    # P, Q: no case clock; approved 2026-12-24, the disbursement is due in 2027. P pays late,
    # Q in time.
    *[
        ev(f"{case}{i}", case, "fund_disbursement", action, at, "CZJ", **attrs)
        for case, paid in (("P", "2027-01-20T10:00:00"), ("Q", "2026-12-28T10:00:00"))
        for i, (action, at, attrs) in enumerate(
            [
                ("apply", "2026-12-20T09:00:00", {"amount": "100", "payee": "X", "program": "p"}),
                ("review", "2026-12-21T10:00:00", {}),
                ("approve", "2026-12-24T11:00:00", {"approved_amount": "100", "payee": "X"}),
                ("disburse", paid, {"amount": "100", "payee": "X"}),
            ]
        )
    ],
]


def events_of(events: list[dict[str, Any]]) -> list[Any]:
    """Validated events in evaluation order (rules.md §1.3)."""
    rejected: list[Any] = []
    validated, _ = EventValidator().read_lines(
        [orjson.dumps(e) for e in events], lambda *r: rejected.append(r)
    )
    assert not rejected, rejected
    return sorted(validated, key=lambda e: e.occurred_at)


def comparable(alerts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Alerts as replay gives them, without the configuration version (the calendar is in it)."""
    return sorted(
        (
            a["alert_id"],
            a["rule"],
            a["level"],
            a["case_id"],
            a["raised_at"],
            orjson.dumps(a["details"], option=orjson.OPT_SORT_KEYS),
            tuple(a["evidence"]),
        )
        for a in alerts
    )


def as_dicts(alerts: list[Alert], config: SupervisionConfig) -> list[dict[str, Any]]:
    return [alert_to_dict(a, config.local) for a in alerts]


def live_then_restart(
    events: list[dict[str, Any]],
    restart_at: str,
    before: SupervisionConfig,
    after: SupervisionConfig,
) -> tuple[list[dict[str, Any]], Engine]:
    """The live service's way: run with ``before`` up to ``restart_at``, keep the case
    states as bytes (the changelog), restart with ``after``, run on to AS_OF."""
    cut = parse_instant(restart_at + "+08:00")
    ordered = events_of(events)
    first = Engine(before)
    raised: list[Alert] = []
    for event in ordered:
        if event.occurred_at <= cut:
            raised.extend(first.feed(event))
    raised.extend(first.advance(cut))
    changelog = first.cases.export_dirty()
    cross_changelog = first.cross.export_dirty()
    second = Engine(after)
    for key, blob in changelog.items():
        second.cases.load(key, blob)
    for key, blob in cross_changelog.items():
        second.cross.load(key, blob)
    out = as_dicts(raised, before)
    later: list[Alert] = []
    for event in ordered:
        if event.occurred_at > cut:
            later.extend(second.feed(event))
    later.extend(second.advance(parse_instant(AS_OF + "+08:00")))
    return out + as_dicts(later, after), second


def test_without_the_year_only_the_decisions_that_need_it_wait() -> None:
    alerts = brief(run(EVENTS, as_of=AS_OF))
    assert [a for a in alerts if a[2] in ("A", "C", "E", "G", "K")] == [
        ("SKIPPED_STEP", "red", "A", "2026-12-10T10:00:00"),
        ("SKIPPED_STEP", "red", "G", "2027-01-12T10:00:00"),  # terminal handling goes on
    ]
    assert [a for a in alerts if a[2] in ("B", "F", "H")] == [
        ("OVERDUE", "notice", "B", "2026-12-11T00:00:00"),
        ("OVERDUE", "notice", "F", "2026-12-30T00:00:00"),
        ("OVERDUE", "red", "B", "2026-12-17T00:00:00"),
        ("OVERDUE", "yellow", "B", "2026-12-12T00:00:00"),
        ("OVERDUE", "yellow", "F", "2026-12-31T00:00:00"),
        ("STEP_OVERDUE", "yellow", "H", "2027-01-01T00:00:00"),
    ]


def test_the_engine_names_the_pending_cases_and_years() -> None:
    engine = Engine(DEFAULT, track_changes=False, event_ids=False)
    for event in events_of(EVENTS):
        engine.feed(event)
    engine.advance(parse_instant(AS_OF + "+08:00"))
    pending = {(p.process, p.case_id): (p.waits, p.years) for p in engine.pending_cases()}
    assert pending == {
        ("approval", "A"): (("case clock",), (2027,)),
        ("approval", "C"): (("case clock", "LATE_EXTENSION"), (2027,)),
        ("approval", "E"): (("case clock", "LATE_EXTENSION"), (2027,)),
        ("approval", "F"): (("case clock",), (2027,)),
        ("approval", "G"): (("case clock",), (2027,)),
        ("complaint", "H"): (("case clock",), (2027,)),
        ("complaint", "K"): (("case clock", "step clock accept → assign"), (2027,)),
        ("fund_disbursement", "P"): (("step clock approve → disburse",), (2027,)),
        ("fund_disbursement", "Q"): (("step clock approve → disburse",), (2027,)),
    }
    assert engine.pending_calendar() == {2027: 9}


def test_with_the_year_the_pending_cases_raise_their_alerts(with_2027: SupervisionConfig) -> None:
    alerts = brief(run(EVENTS, as_of=AS_OF, config=with_2027))
    # The test year's 2027-01-02 is a worked Saturday: A's 20th working day.
    assert ("OVERDUE", "yellow", "A", "2027-01-03T00:00:00") in alerts
    assert ("OVERDUE", "red", "F", "2027-01-05T00:00:00") in alerts
    assert ("STEP_OVERDUE", "yellow", "K", "2027-01-03T00:00:00") in alerts
    steps = [a for a in alerts if a[0] == "STEP_OVERDUE" and a[2] in "PQ"]
    assert steps == [("STEP_OVERDUE", "yellow", "P", "2027-01-08T00:00:00")]
    late = [a for a in alerts if a[0] == "LATE_EXTENSION"]
    assert late == [
        ("LATE_EXTENSION", "yellow", "C", "2027-02-22T10:00:00"),
        ("LATE_EXTENSION", "yellow", "E", "2027-01-25T10:00:00"),
    ]
    # G completed on 2027-01-12, after its red card.
    assert [a for a in alerts if a[2] == "G"] == [
        ("OVERDUE", "notice", "G", "2027-01-04T00:00:00"),
        ("OVERDUE", "red", "G", "2027-01-08T00:00:00"),
        ("OVERDUE", "yellow", "G", "2027-01-05T00:00:00"),
        ("SKIPPED_STEP", "red", "G", "2027-01-12T10:00:00"),
    ]


def test_nothing_is_guessed(with_2027: SupervisionConfig) -> None:
    """Every alert raised without the year is one that replay with the year raises too."""
    without = comparable(run(EVENTS, as_of=AS_OF))
    full = comparable(run(EVENTS, as_of=AS_OF, config=with_2027))
    assert set(without) < set(full)


@pytest.mark.parametrize(
    "restart_at",
    ["2026-12-20T00:00:00", "2027-01-07T12:00:00", "2027-01-26T00:00:00", "2027-02-28T00:00:00"],
)
def test_adding_the_year_and_restarting_equals_replay_with_it(
    with_2027: SupervisionConfig, restart_at: str
) -> None:
    """States serialized without the year, restored into an engine with it: replay's alerts,
    with their true raised_at (the next advance raises those already due)."""
    alerts, engine = live_then_restart(EVENTS, restart_at, DEFAULT, with_2027)
    assert comparable(alerts) == comparable(run(EVENTS, as_of=AS_OF, config=with_2027))
    assert engine.pending_cases() == [] and engine.pending_calendar() == {}


def test_restored_without_the_year_the_cases_stay_pending() -> None:
    alerts, engine = live_then_restart(EVENTS, "2027-01-07T12:00:00", DEFAULT, DEFAULT)
    assert comparable(alerts) == comparable(run(EVENTS, as_of=AS_OF))
    assert engine.pending_calendar() == {2027: 9}


def test_resolved_alerts_come_with_the_next_advance(with_2027: SupervisionConfig) -> None:
    first = Engine(DEFAULT)
    for event in events_of(EVENTS[:2]):  # case A
        first.feed(event)
    first.advance(parse_instant("2027-02-01T00:00:00+08:00"))
    (blob,) = [s.to_bytes() for s in first.cases.states.values()]
    second = Engine(with_2027)
    second.cases.load("approval|A", blob)
    assert second.next_timer() == parse_instant("2027-01-02T00:00:00+08:00")  # already due
    assert brief(
        as_dicts(second.advance(parse_instant("2027-02-01T00:00:00+08:00")), with_2027)
    ) == [
        ("OVERDUE", "notice", "A", "2027-01-02T00:00:00"),
        ("OVERDUE", "red", "A", "2027-01-07T00:00:00"),
        ("OVERDUE", "yellow", "A", "2027-01-03T00:00:00"),
    ]
    state = second.cases.states["approval|A"]
    assert state.pending is None and state.card == "red"
    assert len(orjson.loads(state.to_bytes())) == 1 + len(STATE_FIELDS)  # the format version first


def test_state_format_other_cases_keep_their_bytes() -> None:
    """Only a pending case's record grows (one element at the end); old records still load."""
    engine = Engine(DEFAULT)
    for event in events_of(EVENTS):
        engine.feed(event)
    b = engine.cases.states["approval|B"].to_bytes()
    a = engine.cases.states["approval|A"].to_bytes()
    assert len(orjson.loads(b)) == 1 + len(STATE_FIELDS)
    assert len(orjson.loads(a)) == 1 + len(STATE_FIELDS) + 1
    assert CaseState.from_bytes(b).to_bytes() == b
    assert CaseState.from_bytes(a).to_bytes() == a
    assert CaseState.from_bytes(b).pending is None


def test_state_round_trip_of_a_pending_case(tmp_path: Path, with_2027: SupervisionConfig) -> None:
    """rules.md §1.5 through the changelog: bytes of a pending case, restored with the year."""
    first = Engine(DEFAULT)
    for event in events_of(EVENTS):
        if event.case_id == "E":
            first.feed(event)
    first.advance(parse_instant(AS_OF + "+08:00"))
    blob = first.cases.states["approval|E"].to_bytes()
    (tmp_path / "state.bin").write_bytes(blob)
    second = Engine(with_2027)
    second.cases.load("approval|E", (tmp_path / "state.bin").read_bytes())
    restored = as_dicts(second.advance(parse_instant(AS_OF + "+08:00")), with_2027)
    expected = [a for a in run(EVENTS, as_of=AS_OF, config=with_2027) if a["case_id"] == "E"]
    assert comparable(restored) == comparable(expected)
    assert {a["rule"] for a in restored} == {"OVERDUE", "LATE_EXTENSION"}


# A complaint's step clock of 15 working days (a configuration of its own): its case
# clock (7 days) runs in 2026 while the step clock waits for 2027, so the cards come live.
LONG_STEP = {'within = 1, unit = "working_days"': 'within = 15, unit = "working_days"'}
LONG_STEP_EVENTS = [
    ev("S1", "S", "complaint", "accept", "2026-12-14T10:00:00", category="simple"),
    ev("T1", "T", "complaint", "accept", "2026-12-14T10:00:00", category="simple"),
    ev("T2", "T", "complaint", "assign", "2027-01-04T10:00:00", assignee_dept="D02"),
    ev("T3", "T", "complaint", "complete", "2027-01-20T10:00:00"),
]


@pytest.mark.parametrize("restart_at", ["2026-12-15T00:00:00", "2027-01-10T00:00:00"])
def test_a_waiting_step_clock_leaves_the_case_clock_running(
    tmp_path: Path, restart_at: str
) -> None:
    before = config_with(tmp_path, LONG_STEP)
    (tmp_path / "test-2027.toml").write_text(TEST_YEAR_2027, encoding="utf-8")
    after = config_with(tmp_path, {**LONG_STEP, "files = []": 'files = ["test-2027.toml"]'})
    live = brief(run(LONG_STEP_EVENTS, as_of=AS_OF, config=before))
    assert [a for a in live if a[2] == "S"] == [
        ("OVERDUE", "notice", "S", "2026-12-23T00:00:00"),
        ("OVERDUE", "red", "S", "2026-12-29T00:00:00"),
        ("OVERDUE", "yellow", "S", "2026-12-24T00:00:00"),
    ]
    alerts, engine = live_then_restart(LONG_STEP_EVENTS, restart_at, before, after)
    full = run(LONG_STEP_EVENTS, as_of=AS_OF, config=after)
    assert ("STEP_OVERDUE", "yellow", "S", "2027-01-05T00:00:00") in brief(full)
    assert comparable(alerts) == comparable(full)
    assert engine.pending_calendar() == {}


def test_a_case_that_needs_a_later_year_still_waits_for_that_one(
    with_2027: SupervisionConfig,
) -> None:
    """Restored with 2027, a case of 300 working days waits on, now for 2028 only."""
    events = [accept("L1", "L", "2026-12-04T10:00:00", 300)]
    first = Engine(DEFAULT)
    for event in events_of(events):
        first.feed(event)
    assert first.pending_calendar() == {2027: 1}
    second = Engine(with_2027)
    for key, blob in first.cases.export_dirty().items():
        second.cases.load(key, blob)
    assert second.pending_calendar() == {2028: 1}
    assert [p.years for p in second.pending_cases()] == [(2028,)]
    assert second.advance(parse_instant(AS_OF + "+08:00")) == []


def _random_case(rng: random.Random, i: int) -> list[dict[str, Any]]:
    """A case around the new year: clocks, pauses, extensions, steps, terminal or not."""
    start = datetime(2026, 12, 1, 8)
    times = sorted(
        (start + timedelta(minutes=rng.randrange(50 * 24 * 60))).strftime("%Y-%m-%dT%H:%M:%S")
        for _ in range(6)
    )
    case = f"R{i}"
    process = rng.choice(["approval", "approval", "complaint", "fund_disbursement"])
    plan: list[tuple[str, dict[str, Any]]] = []
    if process == "approval":
        plan.append(("accept", {"time_limit_days": rng.choice([3, 10, 15, 20, 25])}))
        for _ in times[1:]:
            plan.append(
                rng.choice(
                    [
                        ("suspend", {"reason": "hearing"}),
                        ("resume", {}),
                        ("supplement_request", {}),
                        ("supplement_received", {}),
                        ("extend", {"extension_days": rng.choice([2, 5, 10]), "approver": "L"}),
                        ("review", {}),
                        ("decide", {"decision": "approve"}),
                        ("complete", {}),
                    ]
                )
            )
    elif process == "complaint":
        plan.append(("accept", {"category": rng.choice(["simple", "heavy"])}))
        plan += rng.sample(
            [("assign", {"assignee_dept": "D2"}), ("reply", {}), ("complete", {})], 2
        )
    else:
        payee = {"payee": f"X{i}"}
        plan += [
            ("apply", {"amount": "100", "program": "p", **payee}),
            ("review", {}),
            ("approve", {"approved_amount": "100", **payee}),
        ]
        if rng.random() < 0.6:
            plan.append(("disburse", {"amount": "100", **payee}))
    return [
        ev(f"{case}-{n}", case, process, action, at, **attrs)
        for n, ((action, attrs), at) in enumerate(zip(plan, times, strict=False))
    ]


@pytest.mark.parametrize("seed", range(12))
def test_random_cases_restarted_with_the_year_equal_replay_with_it(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    extra = rng.choice([{}, LONG_STEP])
    (tmp_path / "test-2027.toml").write_text(TEST_YEAR_2027, encoding="utf-8")
    before = config_with(tmp_path, extra)
    after = config_with(tmp_path, {**extra, "files = []": 'files = ["test-2027.toml"]'})
    events = [e for i in range(8) for e in _random_case(rng, i)]
    full = comparable(run(events, as_of=AS_OF, config=after))
    assert set(comparable(run(events, as_of=AS_OF, config=before))) <= set(full)
    for _ in range(3):
        restart = datetime(2026, 12, 1) + timedelta(minutes=rng.randrange(60 * 24 * 60))
        alerts, _ = live_then_restart(events, restart.strftime("%Y-%m-%dT%H:%M:%S"), before, after)
        assert comparable(alerts) == full, restart


# The seeds' own systems (rules.md §3.6) across the gap: monthly reports and the risk check
# need no working day and go on; the cards and extension notices that need 2027 wait.
SEEDS_EVENTS: list[dict[str, Any]] = [
    # A key task due 2026-12-29: notice, yellow and RISK_NOT_REPORTED in 2026; its red card
    # (3 working days after 12-29) needs 2027. November's report is missing.
    ev("KT1", "KT", "key_task", "assign", "2026-10-12T10:00:00", "FGW", due_date="2026-12-29"),
    ev("KT2", "KT", "key_task", "progress", "2026-12-03T10:00:00", "FGW"),
    # A proposal of 60 working days from 2026-11-02 (last day in 2027); no report in December.
    ev("PR1", "PR", "proposal", "assign", "2026-11-02T10:00:00", "JYJ", time_limit_days=60),
    ev("PR2", "PR", "proposal", "progress", "2026-11-20T10:00:00", "JYJ"),
    ev("PR3", "PR", "proposal", "progress", "2027-01-15T10:00:00", "JYJ"),
    # A meeting item whose last day is in 2027, extended 2 working days ahead: late (notice 3).
    ev("MI1", "MI", "meeting_item", "assign", "2026-12-14T10:00:00", "ZJJ", time_limit_days=20),
    ev(
        "MI2",
        "MI",
        "meeting_item",
        "extend",
        "2027-01-08T10:00:00",
        "ZJJ",
        extension_days=5,
        approver="L9",
    ),
]


def test_the_seeds_systems_without_the_year() -> None:
    rules = sorted(a[:3] for a in brief(run(SEEDS_EVENTS, as_of=AS_OF)))
    assert ("REPORT_MISSING", "yellow", "KT") in rules  # November: no progress
    assert ("REPORT_MISSING", "yellow", "PR") in rules  # December: no progress
    assert ("RISK_NOT_REPORTED", "red", "KT") in rules
    assert ("OVERDUE", "red", "KT") not in rules  # needs 2027
    assert not [r for r in rules if r[2] == "MI"]  # its last day, so its notice, is in 2027


@pytest.mark.parametrize(
    "restart_at",
    ["2026-12-20T00:00:00", "2027-01-05T00:00:00", "2027-01-20T00:00:00", "2027-02-28T00:00:00"],
)
def test_the_seeds_systems_restarted_with_the_year_equal_replay_with_it(
    with_2027: SupervisionConfig, restart_at: str
) -> None:
    alerts, engine = live_then_restart(SEEDS_EVENTS, restart_at, DEFAULT, with_2027)
    replayed = run(SEEDS_EVENTS, as_of=AS_OF, config=with_2027)
    assert comparable(alerts) == comparable(replayed)
    assert {"LATE_EXTENSION", "REPORT_MISSING", "RISK_NOT_REPORTED"} <= {
        a["rule"] for a in replayed
    }
    assert engine.pending_calendar() == {}


def test_the_seeds_systems_guess_nothing(with_2027: SupervisionConfig) -> None:
    without = comparable(run(SEEDS_EVENTS, as_of=AS_OF))
    full = comparable(run(SEEDS_EVENTS, as_of=AS_OF, config=with_2027))
    assert set(without) < set(full)


# A key task extended into 2027 in time: its D (so its risk check) waits for the year; a
# meeting item whose red card waits is extended after D: LATE_EXTENSION needs no 2027.
SEEDS_MORE: list[dict[str, Any]] = [
    ev("KX1", "KX", "key_task", "assign", "2026-11-02T10:00:00", "FGW", due_date="2026-12-28"),
    ev(
        "KX2",
        "KX",
        "key_task",
        "extend",
        "2026-12-10T10:00:00",
        "FGW",
        extension_days=10,
        approver="L1",
    ),
    ev("KY1", "KY", "key_task", "assign", "2026-11-02T10:00:00", "FGW", due_date="2026-12-28"),
    ev("KY2", "KY", "key_task", "risk_report", "2026-12-01T10:00:00", "FGW"),
    ev(
        "KY3",
        "KY",
        "key_task",
        "extend",
        "2026-12-10T10:00:00",
        "FGW",
        extension_days=10,
        approver="L1",
    ),
    ev("MX1", "MX", "meeting_item", "assign", "2026-12-14T10:00:00", "ZJJ", time_limit_days=12),
    ev(
        "MX2",
        "MX",
        "meeting_item",
        "extend",
        "2027-01-04T10:00:00",
        "ZJJ",
        extension_days=2,
        approver="L2",
    ),
]


def test_without_the_year_what_needs_no_working_day_goes_on(
    with_2027: SupervisionConfig,
) -> None:
    alerts = brief(run(SEEDS_MORE, as_of=AS_OF))
    assert not [a for a in alerts if a[0] in ("RISK_NOT_REPORTED", "OVERDUE") and a[2] < "M"]
    assert ("LATE_EXTENSION", "yellow", "MX", "2027-01-04T10:00:00") in alerts  # after D
    assert ("OVERDUE", "red", "MX") not in [a[:3] for a in alerts]
    full = brief(run(SEEDS_MORE, as_of=AS_OF, config=with_2027))
    risk = [a[2] for a in full if a[0] == "RISK_NOT_REPORTED"]
    assert risk == ["KX"]  # KY reported in time
    assert set(comparable(run(SEEDS_MORE, as_of=AS_OF))) < set(
        comparable(run(SEEDS_MORE, as_of=AS_OF, config=with_2027))
    )


@pytest.mark.parametrize(
    "restart_at",
    ["2026-12-20T00:00:00", "2027-01-04T12:00:00", "2027-01-20T00:00:00", "2027-02-28T00:00:00"],
)
def test_the_seeds_systems_more_restarted_with_the_year_equal_replay_with_it(
    with_2027: SupervisionConfig, restart_at: str
) -> None:
    alerts, engine = live_then_restart(SEEDS_MORE, restart_at, DEFAULT, with_2027)
    assert comparable(alerts) == comparable(run(SEEDS_MORE, as_of=AS_OF, config=with_2027))
    assert engine.pending_calendar() == {}


def _random_seed_case(rng: random.Random, i: int) -> list[dict[str, Any]]:
    """A key task, proposal or meeting item around the new year."""
    start = datetime(2026, 10, 20, 8)
    times = sorted(
        (start + timedelta(minutes=rng.randrange(110 * 24 * 60))).strftime("%Y-%m-%dT%H:%M:%S")
        for _ in range(6)
    )
    case = f"S{i}"
    process = rng.choice(["key_task", "proposal", "meeting_item"])
    extend = ("extend", {"extension_days": rng.choice([2, 5, 10]), "approver": "L"})
    if process == "key_task":
        due = datetime(2026, 11, 15) + timedelta(days=rng.randrange(80))
        first: tuple[str, dict[str, Any]] = ("assign", {"due_date": due.strftime("%Y-%m-%d")})
        more = [("progress", {}), ("progress", {}), ("risk_report", {}), extend, ("complete", {})]
    elif process == "proposal":
        first = ("assign", {"time_limit_days": rng.choice([10, 30, 60])})
        more = [("progress", {}), ("progress", {}), ("reply", {}), ("complete", {})]
    else:
        first = ("assign", {"time_limit_days": rng.choice([5, 12, 20])})
        more = [extend, extend, ("complete", {})]
    plan = [first] + [rng.choice(more) for _ in times[1:]]
    return [
        ev(f"{case}-{n}", case, process, action, at, **attrs)
        for n, ((action, attrs), at) in enumerate(zip(plan, times, strict=True))
    ]


@pytest.mark.parametrize("seed", range(12))
def test_random_seed_cases_restarted_with_the_year_equal_replay_with_it(
    with_2027: SupervisionConfig, seed: int
) -> None:
    rng = random.Random(seed)
    events = [e for i in range(8) for e in _random_seed_case(rng, i)]
    full = comparable(run(events, as_of=AS_OF, config=with_2027))
    assert set(comparable(run(events, as_of=AS_OF))) <= set(full)
    for _ in range(3):
        restart = datetime(2026, 11, 1) + timedelta(minutes=rng.randrange(110 * 24 * 60))
        at = restart.strftime("%Y-%m-%dT%H:%M:%S")
        alerts, engine = live_then_restart(events, at, DEFAULT, with_2027)
        assert comparable(alerts) == full, at
        assert engine.pending_calendar() == {}
