"""Core rules of every process (rules.md §3.1): OVERDUE, STEP_OVERDUE, SKIPPED_STEP,
LATE_EXTENSION.

The case clock (``clock.py``) decides *when* OVERDUE and STEP_OVERDUE are due;
the functions here say what each alert holds. UNAUTHORIZED_INSPECTION, also in
§3.1, lives with the inspections (``inspections.py``).
"""

from __future__ import annotations

from typing import Any

from streams.engine.config import Template
from streams.engine.model import RED, YELLOW, Alert, Event
from streams.engine.rules.context import RuleContext
from streams.engine.state import EMPTY, SKIP_SHIFT, CaseState
from streams.engine.timeutil import format_date


def overdue(ctx: RuleContext, state: CaseState, level: str, instant: int) -> Alert:
    """OVERDUE — "notice / yellow / red | §1.1 | (case, level)" (rules.md §3.1).

    notice at ``start(last)`` (one working day left), yellow at the deadline
    ``D = end(last)``, red at ``end(wd_after(last, K))`` with K =
    ``red_after_working_days`` (3); not terminal, not paused. Raised at its instant,
    with the dept of the start event; evidence: the events that set the clock. A clock
    by date (``key_task``) has no ``limit_days`` in its details.
    """
    assert state.last is not None
    details: dict[str, Any] = {
        "deadline": ctx.local.format(ctx.local.end_of(state.last)),
        "last_day": format_date(state.last),
        "limit_days": state.limit_days,
        "started_at": ctx.local.format(state.started_at or 0),
    }
    if not state.limit_days:  # a clock by date (key_task): its last day is the given date
        del details["limit_days"]
    if level == RED:
        details["red_after_working_days"] = ctx.red_after_working_days
    evidence = list(state.clock_evidence or [])
    return ctx.timed_alert("OVERDUE", level, state, state.dept, instant, evidence, details)


def step_overdue(ctx: RuleContext, state: CaseState, step: list[Any], instant: int) -> Alert:
    """STEP_OVERDUE — "yellow | §1.2 | (case, step)" (rules.md §3.1).

    After action A, action B within L working or calendar days (the template's
    step clock): B has not occurred by ``end(wd_after(date(tA), L))`` (or
    ``end(date(tA) + L)``). ``step`` is ``[clock index, instant, dept, event_id]``
    of the A that started the clock; the alert has A's dept and event.
    """
    index, _, dept, event_id = step
    clock = ctx.config.templates[state.process].step_clocks[index]
    details = {
        "step": clock.action,
        "after": clock.after,
        "within": clock.within,
        "unit": clock.unit,
        "due": ctx.local.format(instant),
    }
    return ctx.timed_alert(
        "STEP_OVERDUE", YELLOW, state, dept, instant, [event_id], details, clock.action
    )


def skipped_step(
    ctx: RuleContext, state: CaseState, template: Template, event: Event, alerts: list[Alert]
) -> None:
    """SKIPPED_STEP — "red | an action occurs while a directly required earlier action (§2,
    with its condition, judged on this event's own attributes) has not occurred earlier in
    that case; `details.missing` lists them in §2 order; raised at the action | (case,
    action)" (rules.md §3.1)."""
    bit = 1 << (SKIP_SHIFT + template.actions.index(event.action))
    if state.raised & bit:
        return
    facts = state.facts or EMPTY
    missing: list[str] = []
    for requirement in template.order[event.action]:
        if requirement.when is None or requirement.when(event.attrs, facts):
            for needed in requirement.requires:
                if not state.seen & template.bit[needed] and needed not in missing:
                    missing.append(needed)
    if missing:
        state.raised |= bit
        details = {"action": event.action, "missing": missing}
        alerts.append(
            ctx.alert("SKIPPED_STEP", RED, event, [event.event_id], details, event.action)
        )


def late_extension(
    ctx: RuleContext,
    state: CaseState,
    event: Event,
    deadline: int,
    notice: int,
    notice_by: int,
    alerts: list[Alert],
) -> None:
    """LATE_EXTENSION — "yellow | `extend` later than its template's notice period allows
    (§2: at or after `end(wd_before(last, N))`; N = 0 means at or after the deadline
    instant) | (case)" (rules.md §3.1).

    The clock calls this for an ``extend`` at or after the deadline ``deadline`` (which it
    does not move; ``notice`` 0) or, when the case's notice N is > 0, before the deadline
    but at or after ``notice_by`` = end(wd_before(last, N)) (which it still moves): then
    ``notice`` is N and the details also give N and ``notice_by``.
    """
    if not ctx.once(state, "LATE_EXTENSION"):
        return
    details: dict[str, Any] = {
        "deadline": ctx.local.format(deadline),
        "extension_days": event.attrs.get("extension_days"),
        "approver": event.attrs.get("approver"),
    }
    if notice:
        details["notice_working_days"] = notice
        details["notice_by"] = ctx.local.format(notice_by)
    evidence = [(state.clock_evidence or [""])[0], event.event_id]
    alerts.append(ctx.alert("LATE_EXTENSION", YELLOW, event, evidence, details))
