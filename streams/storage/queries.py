"""Parameterized reads: one query text per read, run unchanged on both engines.

User input only ever travels as parameters (``%(name)s``, escaped as literals
by the backend); optional filters are ``(%(x)s = '' OR col = %(x)s)``. Every
query reads deduplicated data (FINAL, or merged id sets), and selects only
portable types (exact microseconds as Int64, amounts as text) so both engines
return the same Python values.

Withdrawn alerts (rules.md §1.4) are left out unless asked for (``withdrawn=True``),
and then come with their withdrawal and the late events behind it.

- :func:`timeline` a case's events and alerts, in event-time order.
- :func:`alerts`   alerts filtered by rule, level, dept, process, period.
- :func:`events`   events filtered by dept, process, action, party, period (audits).
- :func:`performance` department performance (绩效测评) for a period, ranked.
- :func:`case_events` the stored events of given cases (the live service's corrections,
  rules.md §1.4), each case read through the sort key.
- :func:`workflow` a 督办 workflow with its alerts, case timeline and action history.
- :func:`inbox`    open workflows by scope and state, overdue first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import orjson

from streams.storage.backends import Backend

MAX_US = 2**63 - 1
MAX_ROWS = 2**62  # no limit

EVENT_COLUMNS = """event_id, case_id, process, action, occurred_at_us, occurred_at_text, dept, actor,
       party, toString(amount) AS amount_text, attrs, reported_at_us, reported_at_text,
       arrived_at_us"""
ALERT_COLUMNS = """alert_id, rule, level, case_id, process, dept, raised_at_us, evidence, message, details,
       config_version, ifNull(toUInt32(withdrawn_at), 0) AS withdrawn_s, withdrawn_reason,
       withdrawn_by"""
# Which alerts a read shows: only those not withdrawn (the default), or only withdrawn ones.
_SHOWN = "isNull(withdrawn_at) = %(current)s"

TIMELINE_EVENTS_SQL = f"""
SELECT {EVENT_COLUMNS}
FROM events FINAL
WHERE case_id = %(case_id)s AND (%(process)s = '' OR process = %(process)s)
ORDER BY occurred_at_us, event_id
"""

TIMELINE_ALERTS_SQL = f"""
SELECT {ALERT_COLUMNS}
FROM alerts FINAL
WHERE case_id = %(case_id)s AND (%(process)s = '' OR process = %(process)s)
  AND (%(all)s = 1 OR isNull(withdrawn_at))
ORDER BY raised_at_us, alert_id
"""

ALERTS_SQL = f"""
SELECT {ALERT_COLUMNS}
FROM alerts FINAL
WHERE {_SHOWN}
  AND (%(rule)s = '' OR rule = %(rule)s)
  AND (%(level)s = '' OR level = %(level)s)
  AND (%(dept)s = '' OR dept = %(dept)s)
  AND (%(process)s = '' OR process = %(process)s)
  AND raised_at >= toDateTime(%(since_s)s) AND raised_at <= toDateTime(%(until_s)s)
  AND raised_at_us >= %(since_us)s AND raised_at_us < %(until_us)s
ORDER BY raised_at_us, alert_id
LIMIT %(limit)s
"""

EVENTS_SQL = f"""
SELECT {EVENT_COLUMNS}
FROM events_by_dept FINAL
WHERE (%(dept)s = '' OR dept = %(dept)s)
  AND (%(process)s = '' OR process = %(process)s)
  AND (%(action)s = '' OR action = %(action)s)
  AND (%(party)s = '' OR party = %(party)s)
  AND occurred_at >= toDateTime(%(since_s)s) AND occurred_at <= toDateTime(%(until_s)s)
  AND occurred_at_us >= %(since_us)s AND occurred_at_us < %(until_us)s
ORDER BY occurred_at_us, event_id
LIMIT %(limit)s
"""

PERFORMANCE_SQL = """
SELECT dept,
       sum(accepted) AS accepted,
       sum(completed) AS completed,
       sum(completed_on_time) AS completed_on_time,
       sum(completed_late) AS completed_late,
       sum(overdue) AS overdue,
       sum(notices) AS notices,
       sum(yellow_cards) AS yellow_cards,
       sum(red_cards) AS red_cards
FROM dept_daily_v
WHERE day >= toDate(%(since)s) AND day <= toDate(%(until)s)
  AND (%(dept)s = '' OR dept = %(dept)s)
  AND (%(process)s = '' OR process = %(process)s)
GROUP BY dept
ORDER BY dept
"""


# One process's cases, through the sort key (process, case_id, ...): the set of case ids is
# built first, so both engines select by the primary key. Without FINAL: an event stored
# twice (a replay after a restart, not merged yet) is two rows with the same content and
# arrival (the record's timestamp), and ``case_events`` keeps one; FINAL made this read, the
# corrections' on every late case, 4-5 times slower on a growing table (README: Soak).
CASE_EVENTS_SQL = f"""
SELECT {EVENT_COLUMNS}
FROM events
WHERE process = %(process)s AND case_id IN (SELECT arrayJoin(%(cases)s))
"""
CASE_EVENTS_CHUNK = 500  # case ids per query (far below max_query_size)

WITHDRAWN_BY_SQL = """
SELECT event_id, occurred_at_us, reported_at_us, arrived_at_us
FROM events FINAL
WHERE has(%(ids)s, event_id)
"""


@dataclass(slots=True)
class Timeline:
    events: list[dict[str, Any]]
    alerts: list[dict[str, Any]]


def _event(row: dict[str, Any]) -> dict[str, Any]:
    text = row.pop("amount_text")
    row["amount"] = None if text is None else Decimal(text).quantize(Decimal("0.01"))
    row["attrs"] = orjson.loads(row["attrs"])
    return row


def _alert(row: dict[str, Any]) -> dict[str, Any]:
    row["details"] = orjson.loads(row["details"])
    row["evidence"] = list(row["evidence"])
    withdrawn_s = row.pop("withdrawn_s")
    row["withdrawn_at_us"] = withdrawn_s * 1_000_000 if withdrawn_s else None
    row["withdrawn_by"] = list(row["withdrawn_by"])
    return row


def _with_late_events(backend: Backend, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``withdrawn_by`` of withdrawn alerts as the late events: {event_id, occurred_at_us,
    reported_at_us, arrived_at_us} (None where unknown, e.g. not stored)."""
    ids = sorted({i for row in rows for i in row["withdrawn_by"]})
    known: dict[str, dict[str, Any]] = {}
    if ids:
        found = backend.query(WITHDRAWN_BY_SQL, {"ids": ids}).dicts()
        known = {r["event_id"]: r for r in found}
    blank = {"occurred_at_us": None, "reported_at_us": None, "arrived_at_us": None}
    for row in rows:
        row["withdrawn_by"] = [known.get(i, {"event_id": i, **blank}) for i in row["withdrawn_by"]]
    return rows


def timeline(
    backend: Backend, case_id: str, process: str = "", *, withdrawn: bool = False
) -> Timeline:
    """A case's full event timeline (attrs decoded) and its alerts (with ``withdrawn``, the
    withdrawn ones too, with their withdrawal)."""
    params = {"case_id": case_id, "process": process, "all": int(withdrawn)}
    events = [_event(r) for r in backend.query(TIMELINE_EVENTS_SQL, params).dicts()]
    found = [_alert(r) for r in backend.query(TIMELINE_ALERTS_SQL, params).dicts()]
    return Timeline(events, _with_late_events(backend, found) if withdrawn else found)


def alerts(
    backend: Backend,
    *,
    rule: str = "",
    level: str = "",
    dept: str = "",
    process: str = "",
    since_us: int = 0,
    until_us: int = MAX_US,
    limit: int = 10_000,
    withdrawn: bool = False,
) -> list[dict[str, Any]]:
    """Alerts matching every given filter, raised in [since_us, until_us), oldest first: those
    not withdrawn, or with ``withdrawn`` the withdrawn ones, with the late events behind it."""
    params = {
        "current": int(not withdrawn),
        "rule": rule,
        "level": level,
        "dept": dept,
        "process": process,
        "since_us": since_us,
        "until_us": until_us,
        **_second_bounds(since_us, until_us),
        "limit": int(limit),
    }
    found = [_alert(r) for r in backend.query(ALERTS_SQL, params).dicts()]
    return _with_late_events(backend, found) if withdrawn else found


def events(
    backend: Backend,
    *,
    dept: str = "",
    process: str = "",
    action: str = "",
    party: str = "",
    since_us: int = 0,
    until_us: int = MAX_US,
    limit: int = 10_000,
) -> list[dict[str, Any]]:
    """Bulk audit of events (by department, process, action, party -- payee, supplier,
    winner, bidder or enterprise -- and period), oldest first."""
    params = {
        "dept": dept,
        "process": process,
        "action": action,
        "party": party,
        "since_us": since_us,
        "until_us": until_us,
        **_second_bounds(since_us, until_us),
        "limit": int(limit),
    }
    return [_event(r) for r in backend.query(EVENTS_SQL, params).dicts()]


def case_events(backend: Backend, cases: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """The stored events of the cases ``(process, case_id)``, as :func:`events` rows, one per
    event id; a query per process and ``CASE_EVENTS_CHUNK`` cases, each bounded to its cases
    by the sort key."""
    by_process: dict[str, list[str]] = {}
    for process, case_id in cases:
        by_process.setdefault(process, []).append(case_id)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for process, ids in sorted(by_process.items()):
        ids = sorted(set(ids))
        for start in range(0, len(ids), CASE_EVENTS_CHUNK):
            params = {"process": process, "cases": ids[start : start + CASE_EVENTS_CHUNK]}
            for row in backend.query(CASE_EVENTS_SQL, params).dicts():
                if row["event_id"] not in seen:  # an event stored twice: one row
                    seen.add(row["event_id"])
                    out.append(_event(row))
    return out


def contract_event(row: dict[str, Any]) -> dict[str, Any]:
    """A row of :func:`events` as the event contract's JSON object, as upstream sent it
    (``occurred_at``, ``reported_at`` as written): what ``supervise replay`` reads."""
    event: dict[str, Any] = {
        "event_id": row["event_id"],
        "case_id": row["case_id"],
        "process": row["process"],
        "action": row["action"],
        "occurred_at": row["occurred_at_text"],
        "dept": row["dept"],
    }
    if row["actor"] is not None:
        event["actor"] = row["actor"]
    if row["reported_at_text"] is not None:
        event["reported_at"] = row["reported_at_text"]
    if row["attrs"]:
        event["attrs"] = row["attrs"]
    return event


def _second_bounds(since_us: int, until_us: int) -> dict[str, int]:
    """DateTime bounds that only prune partitions; the exact *_us bounds decide."""
    return {
        "since_s": max(0, min(since_us // 1_000_000, 2**32 - 1)),
        "until_s": max(0, min(until_us // 1_000_000, 2**32 - 1)),
    }


def performance(
    backend: Backend, since: date, until: date, *, dept: str = "", process: str = ""
) -> list[dict[str, Any]]:
    """Per department over local days [since, until]: counts, on-time rate and rank.

    On-time rate: of the completed cases that had a deadline, the share completed
    on time; cases without a case clock count as completed only.

    Rank: higher on-time rate first (departments with nothing completed last),
    then fewer red cards, then fewer yellow cards, then dept code.
    """
    params = {"since": since, "until": until, "dept": dept, "process": process}
    rows = backend.query(PERFORMANCE_SQL, params).dicts()
    for row in rows:
        # Only cases with a deadline (a case clock) are on time or late.
        due = row["completed_on_time"] + row["completed_late"]
        row["on_time_rate"] = None if not due else round(row["completed_on_time"] / due, 4)
    rows.sort(
        key=lambda r: (
            r["on_time_rate"] is None,
            -(r["on_time_rate"] or 0.0),
            r["red_cards"],
            r["yellow_cards"],
            r["dept"],
        )
    )
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


# --------------------------------------------------------------------------- workflows
WORKFLOW_SQL = """
SELECT workflow_id, version, state, level, rule, process, case_id, dept, due_at_us, overdue,
       document
FROM workflows_current
WHERE workflow_id = %(workflow_id)s
"""

WORKFLOW_ACTIONS_SQL = """
SELECT action_id, type, user_id, role, actor_dept, acted_at_us, expected_version, document,
       status, reason, detail, version, state, due
FROM workflow_actions FINAL
WHERE workflow_id = %(workflow_id)s
ORDER BY acted_at_us, action_id
"""

WORKFLOW_ALERTS_SQL = f"""
SELECT {ALERT_COLUMNS}
FROM alerts FINAL
WHERE case_id = %(case_id)s
  AND (has(%(alert_ids)s, alert_id)
       OR (process = 'supervision'
           AND visitParamExtractString(details, 'workflow_id') = %(workflow_id)s))
ORDER BY raised_at_us, alert_id
"""

INBOX_SQL = """
SELECT workflow_id, version, state, level, rule, process, case_id, dept, created_at_us,
       updated_at_us, claimed_by, drafter, due_at_us, overdue, fired
FROM workflows_current
WHERE state NOT IN ('dismissed', 'closed')
  AND (%(any_dept)s = 1 OR has(%(depts)s, dept))
  AND (%(any_state)s = 1 OR has(%(states)s, state))
  AND (%(overdue_only)s = 0 OR overdue = 1 OR (isNotNull(due_at_us) AND due_at_us < %(now_us)s))
ORDER BY (overdue = 1 OR (isNotNull(due_at_us) AND due_at_us < %(now_us)s)) DESC,
         isNull(due_at_us), due_at_us,
         multiIf(level = 'red', 0, level = 'yellow', 1, 2), created_at_us, workflow_id
LIMIT %(limit)s
"""

DUTIES: dict[str, tuple[str, ...]] = {
    "inspector": ("new", "triage", "replied"),
    "approver": ("draft",),
    "department": ("dispatched", "received", "rectifying"),
}
"""The states in which a workflow waits for a role's step (workflow.md § Who may do what):
triage and review for inspectors, a draft's approval for the office lead, receipt and
reply for the department."""


def workflow(backend: Backend, workflow_id: str) -> dict[str, Any] | None:
    """A workflow's current version (its stored form under ``document``), its alerts (the
    cards and its ``SUP_*`` alerts), its case timeline and every action with its result."""
    rows = backend.query(WORKFLOW_SQL, {"workflow_id": workflow_id}).dicts()
    if not rows:
        return None
    found = rows[0]
    found["document"] = orjson.loads(found["document"])
    cards = [c["alert_id"] for c in found["document"]["cards"]]
    params = {"workflow_id": workflow_id, "case_id": found["case_id"], "alert_ids": cards}
    found["alerts"] = [_alert(r) for r in backend.query(WORKFLOW_ALERTS_SQL, params).dicts()]
    found["timeline"] = timeline(backend, found["case_id"], found["process"]).events
    actions = backend.query(WORKFLOW_ACTIONS_SQL, {"workflow_id": workflow_id}).dicts()
    for action in actions:
        action["document"] = orjson.loads(action["document"])
        action["due"] = orjson.loads(action["due"])
    found["actions"] = actions
    return found


def inbox(
    backend: Backend,
    *,
    now_us: int,
    departments: list[str] | None = None,
    states: list[str] | None = None,
    overdue_only: bool = False,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Open workflows (not dismissed or closed) in ``departments`` (None: all) and ``states``
    (None: all), overdue first (a ``SUP_*`` alert fired for the step it is at, or its
    next deadline before ``now_us``), then by deadline, level (red first) and age."""
    params = {
        "any_dept": int(departments is None),
        # never an empty array literal: 18.16 types it Array(Nothing)
        "depts": list(departments or [""]),
        "any_state": int(states is None),
        "states": list(states or [""]),
        "overdue_only": int(overdue_only),
        "now_us": int(now_us),
        "limit": int(limit),
    }
    rows = backend.query(INBOX_SQL, params).dicts()
    for row in rows:
        row["fired"] = list(row["fired"])
        due = row["due_at_us"]
        row["overdue"] = bool(row["overdue"]) or (due is not None and due < now_us)
    return rows
