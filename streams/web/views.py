"""What the pages show, read from ClickHouse and decided by the workflow's own policy.

``offered(user_id, config, workflow, now_us)``: the actions this user may take on the
workflow now. Each action type is put to ``policy.refusal`` as the form would send it
(text, reason, conclusion and dates filled in; no approver): offered when the policy lets
it go ahead, or when it asks only for the second person (``missing_approver``), with the
users the policy accepts in that place (the form names one, who confirms in their own
session). The same checks decide the worker's answer, so the page never offers what the
worker refuses for role, scope, state or the drafter's own approval.

A deadline is an instant, usually ``end(d)`` (24:00 of its last day d, rules.md): its
day is the local date of the instant just before it (``deadline_day``), and it shows as
``d 24:00`` (``deadline_text``). ``days_left(due_us, now_us, config)``: the working days
after today up to and including that day (holidays and adjusted working weekends from the
configuration's calendar); once the deadline passed, minus the working days after that
day up to and including today; None without a deadline or calendar data.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from streams.engine.calendar import CalendarYearMissing
from streams.workflow.model import ACTION_TYPES, MISSING_APPROVER, Action, Actor
from streams.workflow.policy import DEPARTMENT, refusal
from streams.workflow.state import Workflow, workflow_from_dict

_PROBE_FIELDS: dict[str, dict[str, Any]] = {
    "dismiss": {"reason_code": "other"},
    "close": {"conclusion": "confirmed_rectified"},
    "extend": {"due_working_days": 1},
}


def actor_dept(user: Any, office_dept: str) -> str:
    """The department an action is sent from: a department user's own, else the office."""
    if user.role == DEPARTMENT and user.departments:
        return str(sorted(user.departments)[0])
    return office_dept


def offered(user_id: str, config: Any, wf: Workflow, now_us: int) -> dict[str, list[str] | None]:
    """Action type -> None (the user acts alone) or the users the policy accepts as the
    second person (a two-person step), for every action this user may take now."""
    user = config.users.get(user_id)
    if user is None:
        return {}
    dept = actor_dept(user, config.workflow.office_dept)
    today = config.local.date_of(now_us)
    found: dict[str, list[str] | None] = {}
    for kind in ACTION_TYPES:
        extra = _PROBE_FIELDS.get(kind, {})
        probe = Action(
            action_id="probe",
            workflow_id=wf.workflow_id,
            case_id=wf.case_id,
            type=kind,
            actor=Actor(user_id, user.role, dept),
            acted_at=now_us,
            expected_version=wf.version,
            document={"attachments": []},
            text="probe",
            plan_date=today if kind == "accept_plan" else None,
            **extra,
        )
        why = refusal(probe, config.users, wf)
        if why is None:
            found[kind] = None
        elif why[0] == MISSING_APPROVER:
            found[kind] = [
                other
                for other in sorted(config.users)
                if refusal(dataclasses.replace(probe, approver=other), config.users, wf) is None
            ]
    return found


def deadline_day(due_us: int, config: Any) -> int:
    """The local date a deadline falls on: that of the instant just before it."""
    return int(config.local.date_of(due_us - 1))


def deadline_text(due_us: int | None, config: Any) -> str:
    if due_us is None:
        return ""
    day = deadline_day(due_us, config)
    if config.local.end_of(day) == due_us:
        return f"{date.fromordinal(day).isoformat()} 24:00"
    return local_text(due_us, config)


def days_left(due_us: int | None, now_us: int, config: Any) -> int | None:
    if due_us is None:
        return None
    today = config.local.date_of(now_us)
    day = deadline_day(due_us, config)
    try:
        if due_us > now_us:
            return int(config.calendar.count_workdays(today + 1, day + 1))
        return -int(config.calendar.count_workdays(day + 1, today + 1))
    except CalendarYearMissing:
        return None


def workflow_state(document: dict[str, Any]) -> Workflow:
    return workflow_from_dict(dict(document))


def local_text(instant_us: int | None, config: Any) -> str:
    if instant_us is None:
        return ""
    text: str = config.local.format(instant_us)
    return text[:16].replace("T", " ")
