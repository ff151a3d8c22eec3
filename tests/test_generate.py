"""The workload generator (``streams.generate``): deterministic, valid, realistic, and each
deliberate violation raises exactly the rule it is meant to raise in the real engine."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import date
from functools import cache
from typing import Any

import orjson
import pytest

from streams.engine import EventValidator, alert_to_dict, load_config
from streams.engine.timeutil import parse_instant
from streams.generate import (
    BAD_KINDS,
    VIOLATION_KINDS,
    GenerateConfig,
    WorkingCalendar,
    WorkloadGenerator,
    encode_lines,
    generate_events,
    topic_for,
)
from streams.replay import replay

PROCESSES = {
    "approval",
    "leader_assignment",
    "complaint",
    "penalty",
    "fund_disbursement",
    "tender",
    "inspection_plan",
    "inspection",
}
TERMINAL = {
    "approval": {"complete", "reject", "withdraw"},
    "leader_assignment": {"complete"},
    "complaint": {"complete"},
    "penalty": {"complete"},
    "fund_disbursement": {"publicize"},
    "tender": {"contract"},
    "inspection_plan": {"revoke"},
    "inspection": {"finish"},
}
OVERDUE_ALL = {"OVERDUE:notice", "OVERDUE:yellow", "OVERDUE:red"}
UNAUTH = "UNAUTHORIZED_INSPECTION:"

# What the engine must raise for each case-id tag: exactly these alerts...
EXACT: dict[str, set[str]] = {
    "OK": set(),
    "OVERDUE_N": {"OVERDUE:notice"},
    "OVERDUE_Y": {"OVERDUE:notice", "OVERDUE:yellow"},
    "OVERDUE_R": OVERDUE_ALL,
    "STEP": {"STEP_OVERDUE"},
    "SKIP": {"SKIPPED_STEP"},
    "LATEEXT": {"OVERDUE:notice", "OVERDUE:yellow", "LATE_EXTENSION"},
    "NOREASON": {"REFUSAL_WITHOUT_REASON"},
    "RESUPP": {"REPEATED_SUPPLEMENT"},
    "OVERPAY": {"OVER_DISBURSEMENT"},
    "PAYEE": {"PAYEE_MISMATCH"},
    "SHORTBID": {"SHORT_TENDER_PERIOD"},
    "FEWBIDS": {"TOO_FEW_BIDS"},
    "LATEBID": {"LATE_BID_AWARDED"},
    "OVERCONTRACT": {"CONTRACT_EXCEEDS_AWARD"},
    "SUPPLIER": {"CONTRACT_SUPPLIER_MISMATCH"},
    "QUIET": {"QUIET_DAY_INSPECTION"},
    "UNAUTH_NOPLAN": {UNAUTH + "no_plan_reference"},
    "UNAUTH_NOTAPPROVED": {UNAUTH + "plan_not_approved"},
    "UNAUTH_REVOKED": {UNAUTH + "plan_revoked"},
    "UNAUTH_DEPT": {UNAUTH + "dept_mismatch"},
    "UNAUTH_ENT": {UNAUTH + "enterprise_not_in_plan"},
    "UNAUTH_WINDOW": {UNAUTH + "outside_window"},
}
# ...or, for groups of cases where only some members raise, at most these.
AT_MOST: dict[str, set[str]] = {
    "DUPPAY": {"DUPLICATE_DISBURSEMENT"},
    "SPLIT": {"SPLIT_PURCHASE"},
    "FREQ": {"FREQUENT_INSPECTION"},
    # an open case never reaches its terminal action (or its timed step)
    "OPEN": OVERDUE_ALL | {"STEP_OVERDUE"},
}


def tag_of(case_id: str) -> str:
    return case_id.split("-")[1]


def alert_key(alert: dict[str, Any]) -> str:
    if alert["rule"] == "OVERDUE":
        return f"OVERDUE:{alert['level']}"
    if alert["rule"] == "UNAUTHORIZED_INSPECTION":
        return UNAUTH + alert["details"]["reason"]
    return str(alert["rule"])


def lines_of(config: GenerateConfig, bad_rate: float = 0.0) -> list[bytes]:
    return [
        line.value
        for line in encode_lines(generate_events(config), bad_rate=bad_rate, seed=config.seed)
    ]


def run_replay(lines: list[bytes], as_of: str | None = None) -> tuple[list[dict[str, Any]], int]:
    alerts: list[dict[str, Any]] = []
    rejects: list[object] = []
    config = load_config(None)
    replay(
        lines,
        config,
        lambda a: alerts.append(alert_to_dict(a, config.local)),
        rejects.append,
        as_of=parse_instant(as_of) if as_of else None,
    )
    return alerts, len(rejects)


@cache
def moderate() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A moderate generation (about 27,000 events) and its alerts as of the end of 2026."""
    config = GenerateConfig(cases=7_000, seed=2026)
    events = list(generate_events(config))
    alerts, rejected = run_replay([orjson.dumps(e) for e in events], "2026-12-31T00:00:00+08:00")
    assert rejected == 0
    return events, alerts


# ---------------------------------------------------------------- determinism


def test_same_seed_same_bytes() -> None:
    config = GenerateConfig(cases=800, seed=42, open_share=0.2, duplicate_rate=0.02)
    first = lines_of(config, bad_rate=0.03)
    assert first == lines_of(config, bad_rate=0.03)
    assert first != lines_of(
        GenerateConfig(cases=800, seed=43, open_share=0.2, duplicate_rate=0.02), 0.03
    )


@pytest.mark.parametrize("order", ["sorted", "feed", "shuffled"])
def test_event_ids_unique_and_deterministic(order: str) -> None:
    config = GenerateConfig(cases=1_500, seed=5, order=order)
    events = list(generate_events(config))
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids))
    assert ids == [e["event_id"] for e in generate_events(config)]
    assert all(i.startswith("E5-") for i in ids)


def test_bad_lines_and_duplicates_leave_the_valid_events_alone() -> None:
    config = GenerateConfig(cases=600, seed=8)
    plain = lines_of(config)
    noisy = lines_of(GenerateConfig(cases=600, seed=8, duplicate_rate=0.05), bad_rate=0.1)
    validator = EventValidator()
    valid = []
    for raw in noisy:
        try:
            validator.check(orjson.loads(raw))
        except Exception:
            continue
        valid.append(raw)
    assert list(dict.fromkeys(valid)) == plain  # re-sent copies are byte-identical


# ---------------------------------------------------------------- contract


def test_every_event_is_valid_per_the_contract() -> None:
    events, _ = moderate()
    validator = EventValidator()
    for event in events:
        validator.check(event)
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
    events, _ = moderate()
    kinds = Counter()
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
    events, _ = moderate()
    by_process = Counter(e["process"] for e in events)
    assert set(by_process) == PROCESSES
    actions = {(e["process"], e["action"]) for e in events}
    for expected in [
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
    ]:
        assert expected in actions
    depts = {e["dept"] for e in events}
    assert {"D01", "D20", "SCJ", "ZJJ", "CZJ", "JTJ", "YJJ", "HBJ", "RXZX", "SFJ"} <= depts
    assert any("许可" in e.get("attrs", {}).get("item_name", "") for e in events)


def test_times_are_office_hours_and_holidays_are_crossed() -> None:
    events, _ = moderate()
    calendar = WorkingCalendar()
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
    events = list(generate_events(config))
    for event in events:
        assert event["occurred_at"].startswith("2026-")
        attrs = event.get("attrs", {})
        for key in ("bid_deadline", "valid_from", "valid_to"):
            if key in attrs:
                assert attrs[key].startswith("2026-")
    # single cases start in the window (a group's later members, e.g. SPLIT, may start later)
    starts = [e["occurred_at"][:10] for e in events if e["action"] in ("accept", "register")]
    assert min(starts) >= "2026-10-26" and max(starts) <= "2026-11-30"
    # every deadline and red-card instant the engine computes is in 2026: it needs no 2027 data
    alerts, _ = run_replay([orjson.dumps(e) for e in events], "2026-12-31T00:00:00+08:00")
    assert alerts and all(a["raised_at"].startswith("2026-") for a in alerts)


def test_plans_are_approved_before_the_inspections_that_follow_them() -> None:
    events, _ = moderate()
    approved = {
        e["case_id"]: e["occurred_at"]
        for e in events
        if e["action"] == "approve" and e["process"] == "inspection_plan"
    }
    for e in events:
        plan = e.get("attrs", {}).get("plan_id")
        if plan and tag_of(e["case_id"]) != "UNAUTH_NOTAPPROVED":
            assert parse_instant(approved[plan]) < parse_instant(e["occurred_at"])


# ---------------------------------------------------------------- violations


def test_each_violation_kind_is_present_and_most_cases_are_compliant() -> None:
    events, _ = moderate()
    tags = Counter(tag_of(c) for c in {e["case_id"] for e in events})
    every_kind = set(itertools.chain.from_iterable(VIOLATION_KINDS.values()))
    assert every_kind <= set(tags)
    assert tags["OK"] > 0.8 * sum(tags.values())


def test_each_violation_raises_its_rule_and_compliant_cases_raise_nothing() -> None:
    events, alerts = moderate()
    raised: dict[str, set[str]] = defaultdict(set)
    for alert in alerts:
        raised[alert["case_id"]].add(alert_key(alert))
    wrong = {}
    for case_id in {e["case_id"] for e in events}:
        tag = tag_of(case_id)
        got = raised.get(case_id, set())
        ok = got == EXACT[tag] if tag in EXACT else got <= AT_MOST[tag]
        if not ok:
            wrong[case_id] = sorted(got)
    assert not wrong, dict(itertools.islice(wrong.items(), 10))
    # every rule of rules.md §3 (and every UNAUTHORIZED_INSPECTION reason) is exercised
    every = set().union(*EXACT.values(), *AT_MOST.values())
    assert every <= set(itertools.chain.from_iterable(raised.values()))


def test_open_cases_have_no_terminal_event() -> None:
    generator = WorkloadGenerator(GenerateConfig(cases=2_000, seed=3, open_share=0.5))
    events = list(generator.events())
    by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_case[event["case_id"]].append(event)
    open_cases = [c for c in by_case if tag_of(c) == "OPEN"]
    assert len(open_cases) == generator.stats.open_cases
    assert 0.4 * 2_000 < len(open_cases) < 0.6 * 2_000
    for case_id in open_cases:
        assert not any(e["action"] in TERMINAL[e["process"]] for e in by_case[case_id])


def test_case_count_is_exact() -> None:
    for cases in (1, 9, 500):
        generator = WorkloadGenerator(GenerateConfig(cases=cases, seed=cases))
        events = list(generator.events())
        assert len({e["case_id"] for e in events}) == cases == generator.stats.cases


# ---------------------------------------------------------------- order, noise, memory


def test_sorted_feed_and_shuffled_orders() -> None:
    config = dict(cases=1_000, seed=12)
    ordered = list(generate_events(GenerateConfig(order="sorted", **config)))
    keys = [parse_instant(e["occurred_at"]) for e in ordered]
    assert keys == sorted(keys)

    feed = list(generate_events(GenerateConfig(order="feed", max_delay=600, **config)))
    assert sorted(e["event_id"] for e in feed) == sorted(e["event_id"] for e in ordered)
    assert [parse_instant(e["occurred_at"]) for e in feed] != keys  # locally out of order...
    last_seen: dict[str, int] = {}
    for event in feed:  # ...but each case's own events keep their order
        t = parse_instant(event["occurred_at"])
        assert t >= last_seen.get(event["case_id"], t)
        last_seen[event["case_id"]] = t

    shuffled = list(generate_events(GenerateConfig(order="shuffled", shuffle_window=50, **config)))
    assert shuffled != ordered
    assert sorted(e["event_id"] for e in shuffled) == sorted(e["event_id"] for e in ordered)


def test_malformed_lines_cover_every_kind_and_are_all_rejected() -> None:
    config = GenerateConfig(cases=1_000, seed=4)
    lines = list(encode_lines(generate_events(config), bad_rate=0.1, seed=4))
    bad = [line for line in lines if not line.valid]
    assert len(bad) > 5 * len(BAD_KINDS)
    _, rejected = run_replay([line.value for line in lines])
    assert rejected == len(bad)
    texts = b"\n".join(line.value for line in bad)
    assert b'"extra":1' in texts or b'"source_system":1' in texts or b'"ts":1' in texts
    assert b'"launch"' in texts or b'"archive"' in texts or b'"close"' in texts


def test_duplicates_are_resent_events() -> None:
    generator = WorkloadGenerator(GenerateConfig(cases=1_000, seed=6, duplicate_rate=0.05))
    events = list(generator.events())
    counts = Counter(e["event_id"] for e in events)
    resent = sum(n - 1 for n in counts.values())
    assert resent == generator.stats.duplicates > 100
    _, rejected = run_replay([orjson.dumps(e) for e in events])
    assert rejected == 0


def test_output_streams_with_bounded_memory() -> None:
    generator = WorkloadGenerator(GenerateConfig(cases=20_000, seed=1))
    peak = 0
    total = 0
    for _ in generator.events():
        total += 1
        peak = max(peak, len(generator._heap))
    assert peak < total / 5


def test_topics_follow_the_contract() -> None:
    assert topic_for("complaint") == "supervision.approval"
    assert topic_for("fund_disbursement", "x") == "x.fund"
    assert topic_for("tender") == "supervision.trade"
    assert topic_for("inspection_plan") == "supervision.inspection"


def test_working_calendar_matches_the_state_council_schedule() -> None:
    calendar = WorkingCalendar()
    d = date.toordinal
    assert date.fromordinal(calendar.wd_after(d(date(2026, 9, 30)), 3)) == date(2026, 10, 10)
    assert date.fromordinal(calendar.wd_after(d(date(2026, 2, 13)), 2)) == date(2026, 2, 24)
    assert calendar.is_workday(d(date(2026, 2, 28)))  # 调休上班


@pytest.mark.parametrize(
    "bad",
    [
        dict(start=date(2025, 12, 1)),
        dict(start=date(2026, 12, 1)),
        dict(until=date(2026, 12, 15)),
        dict(order="random"),
        dict(open_share=1.5),
        dict(cases=-1),
    ],
)
def test_config_rejects_what_cannot_be_generated(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        GenerateConfig(**bad)
