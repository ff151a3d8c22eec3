"""A moderate generated workload, replayed through the real engine, shared by the tests here.

What each case carries comes from the planted-case record the generator keeps
beside its output (``PlantedCase``), never from the case ids.

The engine replays the events of the processes this checkout's event schema
and rule templates know (``ENGINE_PROCESSES``): issue #19's processes
(``key_task``, ``proposal``, ``meeting_item``) join the replay as soon as the
schema and engine changes of that issue are in the same tree, and the
expectations below then cover them too. Their events are checked against
events.md by hand (``test_supervision_systems.py``) and their violations by construction
(``oracle.py``) whatever the engine knows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any

import orjson

from streams.engine import alert_to_dict, load_config
from streams.engine.config import SCHEMAS_DIR
from streams.engine.timeutil import parse_instant
from streams.replay import replay
from streams.workload import GenerateConfig, PlantedCase, encode_lines, generate_workload

ISSUE_19 = {"key_task", "proposal", "meeting_item"}
PROCESSES = {
    "approval",
    "leader_assignment",
    "complaint",
    "penalty",
    "fund_disbursement",
    "tender",
    "inspection_plan",
    "inspection",
} | ISSUE_19
_SCHEMA = json.loads((SCHEMAS_DIR / "event.schema.json").read_bytes())
SCHEMA_PROCESSES = frozenset(_SCHEMA["properties"]["process"]["enum"])
"""Processes the event schema of this checkout accepts."""
ENGINE_PROCESSES = SCHEMA_PROCESSES & set(load_config(None).templates)
"""Processes the event schema accepts and the default configuration has templates for."""
ENGINE_HAS_ISSUE_19 = ISSUE_19 <= ENGINE_PROCESSES
"""Whether the engine applies issue #19 (notice periods of extensions, rules.md §3.6)."""
TERMINAL = {
    "approval": {"complete", "reject", "withdraw"},
    "leader_assignment": {"complete"},
    "complaint": {"complete"},
    "penalty": {"complete"},
    "fund_disbursement": {"publicize"},
    "tender": {"contract"},
    "inspection_plan": {"revoke"},
    "inspection": {"finish"},
    "key_task": {"complete"},
    "proposal": {"complete"},
    "meeting_item": {"complete"},
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
    # rules.md §3.6 under the default configuration: 超时默许 off, an empty item catalogue
    "DEEMED": {"OVERDUE:notice", "OVERDUE:yellow"},
    "DEEMEDDENY": {"OVERDUE:notice", "OVERDUE:yellow"},
    "UNCOMPRESSED": set(),
    "NOREPORT": {"REPORT_MISSING"},
    "NORISK": {"OVERDUE:notice", "OVERDUE:yellow", "RISK_NOT_REPORTED"},
    "LATENOTICE": {"LATE_EXTENSION"},
}
# ...where a process differs from its tag's row: a joint leader assignment's LATENOTICE
# extension comes on its last day, after the notice card
LEADER_LATENOTICE = {"OVERDUE:notice", "LATE_EXTENSION"}
# ...or, for groups of cases where only some members raise, at most these.
AT_MOST: dict[str, set[str]] = {
    "DUPPAY": {"DUPLICATE_DISBURSEMENT"},
    "SPLIT": {"SPLIT_PURCHASE"},
    "FREQ": {"FREQUENT_INSPECTION"},
    # an open case never reaches its terminal action (or its timed step, or its reports)
    "OPEN": OVERDUE_ALL | {"STEP_OVERDUE", "REPORT_MISSING", "RISK_NOT_REPORTED"},
}


def expected(process: str, tag: str, issue_19: bool = ENGINE_HAS_ISSUE_19) -> set[str] | None:
    """Exactly the alerts a case of ``tag`` raises (None: at most ``AT_MOST[tag]``).

    ``issue_19``: whether extensions have notice periods (rules.md §2); without them a
    LATENOTICE extension is in time.
    """
    if (process, tag) == ("leader_assignment", "LATENOTICE"):
        return LEADER_LATENOTICE if issue_19 else {"OVERDUE:notice"}
    return EXACT.get(tag)


def engine_events(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events the engine of this checkout knows the process of."""
    return [event for event in events if event["process"] in ENGINE_PROCESSES]


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
    the planted record by case id. Alerts are those of ``ENGINE_PROCESSES``."""
    events, planted = generate_workload(GenerateConfig(cases=7_000, seed=2026))
    replayed = [orjson.dumps(e) for e in engine_events(events)]
    alerts, rejected = run_replay(replayed, "2026-12-31T00:00:00+08:00")
    assert rejected == 0
    return events, alerts, {case.case_id: case for case in planted}


@cache
def violating() -> tuple[list[dict[str, Any]], dict[str, PlantedCase]]:
    """A generation where most cases violate (issue #19's rare processes carry every kind)."""
    events, planted = generate_workload(GenerateConfig(cases=8_000, seed=19, violation_rate=0.6))
    return events, {case.case_id: case for case in planted}
