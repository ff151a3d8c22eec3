"""What each accepted action does to its workflow (workflow.md § States and actions).

``timing_refusal`` holds the checks that need the calendar (an extension asked
before the reply deadline, a rectification date within
``max_rectify_working_days``); ``apply`` moves the workflow: its state, its
clocks, its new version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from streams.engine.calendar import CalendarYearMissing
from streams.workflow.clocks import Clocks
from streams.workflow.model import (
    CALENDAR_MISSING,
    CLOSED,
    DISMISSED,
    DISPATCHED,
    DRAFT,
    INVALID_VALUE,
    LIMIT_REACHED,
    RECEIVED,
    RECTIFYING,
    REPLIED,
    TOO_LATE,
    TRIAGE,
    Action,
)
from streams.workflow.policy import Refusal
from streams.workflow.state import Workflow

ALL_CLOCKS: Final = ("triage", "receipt", "reply", "rectify", "conclusion")


def timing_refusal(action: Action, wf: Workflow, clocks: Clocks) -> Refusal | None:
    """The checks of ``action`` that need the calendar; None when it may go ahead."""
    if action.type == "extend":
        limit = clocks.settings.max_extensions
        if wf.extensions >= limit:
            return LIMIT_REACHED, f"{limit} extension(s) per workflow, all used"
        # Reply clocks run from approval (or return) to the reply: one gone has run out.
        deadline = wf.timers.get("reply_yellow")
        if deadline is None:
            return TOO_LATE, "the reply deadline has passed: an extension is asked before it"
        if deadline.at is None:
            year = deadline.pending_year
            return CALENDAR_MISSING, f"the reply deadline waits for calendar year {year}"
        if action.acted_at >= deadline.at:
            due = clocks.local.format(deadline.at)
            return TOO_LATE, f"an extension is asked before the reply deadline {due}"
    if action.type == "accept_plan" and action.plan_date is not None:
        today = clocks.day_of(action.acted_at)
        if action.plan_date < today:
            return INVALID_VALUE, "the plan date is before the day of acceptance"
        most = clocks.settings.max_rectify_working_days
        try:
            cap = clocks.calendar.wd_after(today, most)
        except CalendarYearMissing as exc:
            return CALENDAR_MISSING, f"no working-day calendar data for year {exc.year}"
        if action.plan_date > cap:
            return INVALID_VALUE, f"the plan date is more than {most} working days away"
    return None


def _end(wf: Workflow, action: Action, state: str, clocks: Clocks) -> None:
    wf.state = state
    wf.ended_at = action.acted_at
    wf.ended_by = action.actor.user_id
    clocks.disarm(wf, *ALL_CLOCKS)


def _claim(wf: Workflow, action: Action, clocks: Clocks) -> None:
    wf.state = TRIAGE
    wf.claimed_by = action.actor.user_id


def _dismiss(wf: Workflow, action: Action, clocks: Clocks) -> None:
    wf.dismissal = action.reason_code
    _end(wf, action, DISMISSED, clocks)


def _draft(wf: Workflow, action: Action, clocks: Clocks) -> None:
    wf.state = DRAFT
    wf.drafter = action.actor.user_id
    wf.draft = {
        "text": action.text,
        "measures": list(action.measures),
        "due_working_days": action.due_working_days or clocks.settings.reply_working_days,
    }
    clocks.disarm(wf, "triage")


def _approve(wf: Workflow, action: Action, clocks: Clocks) -> None:
    wf.state = DISPATCHED
    wf.approved_at = action.acted_at
    wf.approved_by = action.actor.user_id
    clocks.arm_dispatch(wf, action.acted_at, int(wf.draft["due_working_days"]))


def _reject_draft(wf: Workflow, action: Action, clocks: Clocks) -> None:
    wf.state = TRIAGE
    wf.drafter = ""
    wf.draft = {}
    clocks.arm_triage(wf, wf.triage_from or clocks.day_of(wf.instant))


def _receive(wf: Workflow, action: Action, clocks: Clocks) -> None:
    wf.state = RECEIVED
    clocks.disarm(wf, "receipt")


def _reply(wf: Workflow, action: Action, clocks: Clocks) -> None:
    clocks.disarm(wf, "rectify" if wf.state == RECTIFYING else "receipt", "reply")
    wf.state = REPLIED


def _accept_plan(wf: Workflow, action: Action, clocks: Clocks) -> None:
    assert action.plan_date is not None  # policy: accept_plan needs a plan_date
    wf.state = RECTIFYING
    wf.plan_date = action.plan_date
    clocks.arm(wf, "rectify", action.plan_date, 0)


def _return(wf: Workflow, action: Action, clocks: Clocks) -> None:
    wf.state = DISPATCHED
    wf.returns += 1
    days = action.due_working_days or clocks.settings.reply_working_days
    clocks.arm_reply(wf, clocks.day_of(action.acted_at), days)


def _extend(wf: Workflow, action: Action, clocks: Clocks) -> None:
    assert action.due_working_days is not None  # policy: extend needs due_working_days
    wf.extensions += 1
    clocks.extend_reply(wf, action.due_working_days)


def _close(wf: Workflow, action: Action, clocks: Clocks) -> None:
    wf.conclusion = action.conclusion
    _end(wf, action, CLOSED, clocks)


def _reopen(wf: Workflow, action: Action, clocks: Clocks) -> None:
    wf.state = TRIAGE
    wf.claimed_by = action.actor.user_id if action.actor.role == "inspector" else ""
    wf.conclusion = wf.dismissal = wf.ended_by = ""
    wf.ended_at = None
    clocks.arm_triage(wf, clocks.day_of(action.acted_at))


def _comment(wf: Workflow, action: Action, clocks: Clocks) -> None:
    return None


_EFFECTS: Final[dict[str, Callable[[Workflow, Action, Clocks], None]]] = {
    "claim": _claim,
    "dismiss": _dismiss,
    "draft": _draft,
    "approve": _approve,
    "reject_draft": _reject_draft,
    "receive": _receive,
    "reply": _reply,
    "accept_plan": _accept_plan,
    "return": _return,
    "extend": _extend,
    "close": _close,
    "reopen": _reopen,
    "comment": _comment,
}


def apply(wf: Workflow, action: Action, clocks: Clocks) -> None:
    """Move ``wf`` by the accepted ``action``: a new version."""
    _EFFECTS[action.type](wf, action, clocks)
    wf.version += 1
    wf.updated_at = max(wf.updated_at, action.acted_at)
