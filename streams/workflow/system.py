"""The engine's own records: its dismissals as actor ``system``, results, and the details of
the ``SUP_*`` alerts its clocks raise."""

from __future__ import annotations

import hashlib
from typing import Any

from streams.engine.timeutil import LocalTime, format_date
from streams.workflow.model import ACCEPTED, SYSTEM_ROLE, Action, Actor, Result
from streams.workflow.state import Timer, Workflow


def system_action(
    wf: Workflow, reason_code: str, text: str, at: int, cause: str, local: LocalTime, dept: str
) -> Action:
    """The engine's dismissal of ``wf`` (``cause``: what made it, for a deterministic id)."""
    digest = hashlib.blake2b(
        "\x1f".join((wf.workflow_id, "dismiss", reason_code, cause)).encode("utf-8"),
        digest_size=12,
    ).hexdigest()
    actor = Actor("system", SYSTEM_ROLE, dept)
    document: dict[str, Any] = {
        "action_id": f"system-{digest}",
        "workflow_id": wf.workflow_id,
        "case_id": wf.case_id,
        "type": "dismiss",
        "actor": {"user_id": actor.user_id, "role": actor.role, "dept": actor.dept},
        "acted_at": local.format(at),
        "expected_version": wf.version,
        "reason_code": reason_code,
        "text": text,
    }
    return Action(
        action_id=document["action_id"],
        workflow_id=wf.workflow_id,
        case_id=wf.case_id,
        type="dismiss",
        actor=actor,
        acted_at=at,
        expected_version=wf.version,
        document=document,
        reason_code=reason_code,
        text=text,
    )


def make_result(
    action: Action, wf: Workflow | None, status: str, reason: str, detail: str
) -> Result:
    return Result(
        action_id=action.action_id,
        workflow_id=action.workflow_id,
        case_id=action.case_id,
        type=action.type,
        user_id=action.actor.user_id,
        acted_at=action.acted_at,
        status=status,
        reason=reason if status != ACCEPTED else "",
        detail=detail,
        version=wf.version if wf is not None else 0,
        state=wf.state if wf is not None else "",
        due=wf.due() if wf is not None else (),
    )


def timer_details(
    wf: Workflow, name: str, timer: Timer, local: LocalTime, reply_red_after: int
) -> dict[str, Any]:
    """What a ``SUP_*`` alert of the clock ``name`` says: when it ran out, from when
    (``days``: the clock's working days; for the red reply clock, those after the deadline)."""
    assert timer.at is not None  # only resolved clocks fire
    details: dict[str, Any] = {
        "clock": name,
        "due": local.format(timer.at),
        "since": format_date(timer.base_day),
        "days": timer.wd,
    }
    if name == "reply_red":
        details["days"] = reply_red_after
    if name == "rectify" and wf.plan_date is not None:
        details["plan_date"] = format_date(wf.plan_date)
    if wf.approved_at is not None:
        details["approved_at"] = local.format(wf.approved_at)
    return details
