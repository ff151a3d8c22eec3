"""Core rules of every process (rules.md §3.1): OVERDUE, STEP_OVERDUE, SKIPPED_STEP,
LATE_EXTENSION, LATE_REPORTED.

The case clock (``clock.py``) decides *when* OVERDUE, STEP_OVERDUE and LATE_REPORTED
are due; the functions here say what each alert holds. UNAUTHORIZED_INSPECTION, also
in §3.1, lives with the inspections (``inspections.py``).
"""

from __future__ import annotations

from typing import Any

from streams.engine.config import Template
from streams.engine.model import RED, YELLOW, Alert, Event
from streams.engine.rules.context import RuleContext
from streams.engine.state import EMPTY, LATE_SHIFT, SKIP_SHIFT, CaseState
from streams.engine.timeutil import format_date

HOUR_US = 3_600_000_000
LATE = "late"
"""``CaseState.facts[LATE]``: the LATE_REPORTED alerts a case will raise, by action:
``{action: [reported_at, event_id, occurred_at, dept]}`` (instants in epoch µs)."""


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


def late_reported(ctx: RuleContext, state: CaseState, template: Template, event: Event) -> bool:
    """LATE_REPORTED 迟报补录 — "yellow | an event whose `reported_at` (events.md) is more
    than `max_delay_hours` (default 24) after its `occurred_at`; raised at its
    `reported_at`; `details` give both times and the delay. Events without `reported_at`
    are not judged (live and replay alike) | (case, action)" (rules.md §3.1).

    Judged here, on the event (an open case's, like every rule); raised by the case clock
    at ``reported_at`` (``late_reported_alert``): a timed alert, so the as-of cut and the
    evaluation horizon apply to it (rules.md §1.3), and it is raised even when the case
    has ended or is paused by then (the event that raises it came before). Of several late
    events of one action, the one recorded first (the earliest ``reported_at``) raises it.
    True when the case's next timed instant may have changed.
    """
    reported_at = event.reported_at
    if reported_at is None or "LATE_REPORTED" not in ctx.enabled:
        return False
    max_delay: int = ctx.param("LATE_REPORTED", "max_delay_hours")
    if reported_at - event.occurred_at <= max_delay * HOUR_US:
        return False
    if state.raised & (1 << (LATE_SHIFT + template.actions.index(event.action))):
        return False
    waiting: dict[str, list[Any]] = state.known().setdefault(LATE, {})
    entry = waiting.get(event.action)
    if entry is not None and entry[0] <= reported_at:
        return False
    waiting[event.action] = [reported_at, event.event_id, event.occurred_at, event.dept]
    return True


def next_late_report(state: CaseState) -> tuple[int, str] | None:
    """(instant, action) of the next LATE_REPORTED alert of the case, if one waits."""
    facts = state.facts
    waiting = facts.get(LATE) if facts is not None else None
    if not waiting:
        return None
    best: tuple[int, str] | None = None
    for action, entry in waiting.items():
        if best is None or (entry[0], action) < best:
            best = (entry[0], action)
    return best


def late_reported_alert(ctx: RuleContext, state: CaseState, action: str, instant: int) -> Alert:
    """The LATE_REPORTED alert of ``action`` (see ``late_reported``), due at ``instant``:
    the late event's dept and id; marks it raised for (case, action)."""
    facts = state.known()
    waiting: dict[str, list[Any]] = facts[LATE]
    reported_at, event_id, occurred_at, dept = waiting.pop(action)
    if not waiting:
        del facts[LATE]
    template = ctx.config.templates[state.process]
    state.raised |= 1 << (LATE_SHIFT + template.actions.index(action))
    delay = reported_at - occurred_at
    details: dict[str, Any] = {
        "action": action,
        "occurred_at": ctx.local.format(occurred_at),
        "reported_at": ctx.local.format(reported_at),
        "delay_hours": round(delay / HOUR_US, 2),
        "max_delay_hours": ctx.param("LATE_REPORTED", "max_delay_hours"),
    }
    return ctx.timed_alert(
        "LATE_REPORTED", YELLOW, state, dept, instant, [event_id], details, action
    )
