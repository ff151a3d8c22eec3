"""A moderate generated workload, replayed through the real engine, shared by the tests here.

What each case carries comes from the planted-case record the generator keeps
beside its output (``PlantedCase``), never from the case ids.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

from streams.engine import alert_to_dict, load_config
from streams.engine.timeutil import parse_instant
from streams.replay import replay
from streams.workload import GenerateConfig, PlantedCase, encode_lines, generate_workload

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

# What the engine must raise for each planted tag: exactly these alerts...
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


def alert_key(alert: dict[str, Any]) -> str:
    if alert["rule"] == "OVERDUE":
        return f"OVERDUE:{alert['level']}"
    if alert["rule"] == "UNAUTHORIZED_INSPECTION":
        return UNAUTH + alert["details"]["reason"]
    return str(alert["rule"])


def lines_of(config: GenerateConfig, bad_rate: float = 0.0) -> list[bytes]:
    events, _ = generate_workload(config)
    return [line.value for line in encode_lines(events, bad_rate=bad_rate, seed=config.seed)]


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
def moderate() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, PlantedCase]]:
    """A moderate generation (about 25,000 events), its alerts as of the end of 2026, and
    the planted record by case id."""
    events, planted = generate_workload(GenerateConfig(cases=7_000, seed=2026))
    alerts, rejected = run_replay([orjson.dumps(e) for e in events], "2026-12-31T00:00:00+08:00")
    assert rejected == 0
    return events, alerts, {case.case_id: case for case in planted}
