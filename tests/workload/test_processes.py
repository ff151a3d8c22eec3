"""The process builders (``streams/workload/processes/``): valid events, realistic mix and
times, and each planted violation raises exactly the rule it is meant to raise in the real
engine (read from the planted-case record, not from the ids)."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import date

import orjson

from streams.engine import EventValidator
from streams.engine.timeutil import parse_instant
from streams.workload import VIOLATION_KINDS, GenerateConfig, WorkdayIndex, generate_workload
from tests.workload.corpus import (
    AT_MOST,
    ENGINE_PROCESSES,
    ISSUE_19,
    PROCESSES,
    SCHEMA_PROCESSES,
    alert_key,
    engine_events,
    expected,
    moderate,
    run_replay,
    violating,
)


def test_every_event_is_valid_per_the_contract() -> None:
    events, _, _ = moderate()
    validator = EventValidator()
    for event in events:  # issue #19's by hand too: test_supervision_systems.py
        if event["process"] in SCHEMA_PROCESSES:
            validator.check(event)
    for event in events:
        assert set(event) <= {
            "event_id",
            "case_id",
            "process",
            "action",
            "occurred_at",
            "dept",
            "actor",
            "attrs",
        }
        assert event["occurred_at"].endswith("+08:00")


def test_amounts_are_decimal_strings_or_numbers_with_two_decimals_at_most() -> None:
    events, _, _ = moderate()
    kinds: Counter[str] = Counter()
    for event in events:
        for key in ("amount", "approved_amount", "budget"):
            value = event.get("attrs", {}).get(key)
            if value is None:
                continue
            kinds[type(value).__name__] += 1
            text = repr(value) if isinstance(value, float) else str(value)
            whole, _, fraction = text.partition(".")
            assert (
                whole.isdigit() and len(fraction) <= 2 and (not fraction or fraction.isdigit())
            ), value
    assert kinds["str"] and kinds["int"] and kinds["float"]


def test_every_process_and_action_mix_is_present() -> None:
    events, _, _ = moderate()
    by_process = Counter(e["process"] for e in events)
    assert set(by_process) == PROCESSES
    actions = {(e["process"], e["action"]) for e in events}
    for pair in [
        ("approval", "supplement_request"),
        ("approval", "suspend"),
        ("approval", "resume"),
        ("approval", "extend"),
        ("approval", "reject"),
        ("approval", "withdraw"),
        ("leader_assignment", "extend"),
        ("complaint", "assign"),
        ("penalty", "legal_review"),
        ("fund_disbursement", "publicize"),
        ("tender", "bid"),
        ("inspection_plan", "revoke"),
        ("key_task", "progress"),
        ("key_task", "risk_report"),
        ("key_task", "extend"),
        ("proposal", "progress"),
        ("proposal", "reply"),
        ("meeting_item", "extend"),
    ]:
        assert pair in actions
    depts = {e["dept"] for e in events}
    assert {"D01", "D20", "SCJ", "ZJJ", "CZJ", "JTJ", "YJJ", "HBJ", "RXZX", "SFJ"} <= depts
    assert any("许可" in e.get("attrs", {}).get("item_name", "") for e in events)


def test_times_are_office_hours_and_holidays_are_crossed() -> None:
    events, _, _ = moderate()
    calendar = WorkdayIndex()
    officials = [e for e in events if e["process"] in ("approval", "penalty", "inspection_plan")]
    assert all("08:00" <= e["occurred_at"][11:16] <= "21:00" for e in officials)
    days = {date.fromisoformat(e["occurred_at"][:10]).toordinal() for e in officials}
    assert all(calendar.is_workday(d) for d in days)
    # adjusted working Saturdays / Sundays are used, holidays are not
    assert date(2026, 2, 14).toordinal() in days and date(2026, 10, 10).toordinal() in days
    assert date(2026, 2, 17).toordinal() not in days and date(2026, 10, 5).toordinal() not in days
    # cases accepted before a long holiday finish after it
    accepted = {e["case_id"]: e["occurred_at"][:10] for e in events if e["action"] == "accept"}
    finished = {e["case_id"]: e["occurred_at"][:10] for e in events if e["action"] == "complete"}
    for before, after in (("2026-02-1", "2026-02-2"), ("2026-09-3", "2026-10-0")):
        assert any(
            accepted[c].startswith(before) and finished.get(c, "").startswith(after)
            for c in accepted
        )


def test_everything_stays_within_2026() -> None:
    config = GenerateConfig(cases=3_000, seed=77, start=date(2026, 10, 26), open_share=0.4)
    events, _ = generate_workload(config)
    for event in events:
        assert event["occurred_at"].startswith("2026-")
        attrs = event.get("attrs", {})
        for key in ("bid_deadline", "valid_from", "valid_to", "due_date", "proposed_due_date"):
            if key in attrs:
                assert attrs[key].startswith("2026-")
    # single cases start in the window (a group's later members, e.g. SPLIT, may start later)
    start_actions = {"accept", "register"} | {f"{p}.assign" for p in ISSUE_19}
    starts = [
        e["occurred_at"][:10]
        for e in events
        if e["action"] in start_actions or f"{e['process']}.{e['action']}" in start_actions
    ]
    assert min(starts) >= "2026-10-26" and max(starts) <= "2026-11-30"
    # every deadline and red-card instant the engine computes is in 2026: it needs no 2027 data
    alerts, _ = run_replay(
        [orjson.dumps(e) for e in engine_events(events)], "2026-12-31T00:00:00+08:00"
    )
    assert alerts and all(a["raised_at"].startswith("2026-") for a in alerts)


def test_plans_are_approved_before_the_inspections_that_follow_them() -> None:
    events, _, planted = moderate()
    approved = {
        e["case_id"]: e["occurred_at"]
        for e in events
        if e["action"] == "approve" and e["process"] == "inspection_plan"
    }
    cited = 0
    for e in events:
        plan = e.get("attrs", {}).get("plan_id")
        if plan and planted[e["case_id"]].tag != "UNAUTH_NOTAPPROVED":
            assert parse_instant(approved[plan]) < parse_instant(e["occurred_at"])
            cited += 1
        elif plan:  # a plan number of the right form that no approval carries
            assert plan not in approved and plan.startswith("JCJH-")
    assert cited > 100


# ---------------------------------------------------------------- violations


def test_each_violation_kind_is_planted_and_most_cases_are_compliant() -> None:
    events, _, planted = moderate()
    assert set(planted) == {e["case_id"] for e in events}
    tags = Counter(case.tag for case in planted.values())
    assert tags["OK"] > 0.8 * sum(tags.values())
    for case in planted.values():
        assert set(case.planted) <= set(VIOLATION_KINDS.get(case.process, ()))
    # every kind of every process, in a generation where most cases violate
    _, record = violating()
    kinds = {(case.process, case.tag) for case in record.values()}
    for process, process_kinds in VIOLATION_KINDS.items():
        assert {(process, kind) for kind in process_kinds} <= kinds


def test_each_violation_raises_its_rule_and_compliant_cases_raise_nothing() -> None:
    events, alerts, planted = moderate()
    raised: dict[str, set[str]] = defaultdict(set)
    for alert in alerts:
        raised[alert["case_id"]].add(alert_key(alert))
    wrong = {}
    exercised: set[str] = set()
    for case_id, case in planted.items():
        if case.process not in ENGINE_PROCESSES:
            continue
        tag = case.tag
        got = raised.get(case_id, set())
        exact = expected(case.process, tag)
        ok = got == exact if exact is not None else got <= AT_MOST[tag]
        if not ok:
            wrong[case_id] = (case.process, tag, sorted(got))
        exercised |= exact or set()
    assert not wrong, dict(itertools.islice(wrong.items(), 10))
    # every rule the expectations name (and every UNAUTHORIZED_INSPECTION reason) is raised
    assert exercised <= set(itertools.chain.from_iterable(raised.values()))
    assert "UNAUTHORIZED_INSPECTION:outside_window" in exercised


def test_the_schema_and_the_engine_know_every_generated_process() -> None:
    """The checks above that filter by the schema's processes filter nothing out."""
    assert PROCESSES == SCHEMA_PROCESSES == ENGINE_PROCESSES
