"""Monthly and early reports of a case with a clock (rules.md §3.6): their instants,
the reports a case makes, and the REPORT_MISSING and RISK_NOT_REPORTED alerts.

``CaseClock`` (``clock.py``) says when one is due and calls ``fire_report`` or
``fire_risk`` at that instant; ``note`` records a report event of the case. What a
case keeps is in its ``facts`` (see ``clock.py``): ``report``, ``progress_at``,
``risk_at``.
"""

from __future__ import annotations

from streams.engine.config import Template
from streams.engine.model import Alert, Event
from streams.engine.rules import tasks
from streams.engine.rules.context import RuleContext
from streams.engine.state import ONCE, CaseState
from streams.engine.timeutil import LocalTime, month_due_day, month_first_day

NOTE_REPORT = 1  # _ActionPlan.note: the action is its template's monthly report
NOTE_RISK = 2  # the action is its template's early (risk) report
RISK_BIT = ONCE["RISK_NOT_REPORTED"]


def report_instant(local: LocalTime, template: Template, month: int) -> int:
    """The due instant of month ``month``'s report (rules.md §3.6 REPORT_MISSING)."""
    return local.end_of(month_due_day(month, template.report_day))


def note(state: CaseState, note: int, event: Event) -> None:
    """A monthly or early report of a case with a clock (``NOTE_REPORT``, ``NOTE_RISK``)."""
    facts = state.facts
    if facts is None:
        return
    if note & NOTE_REPORT and "report" in facts:
        facts["progress_at"] = event.occurred_at
    if note & NOTE_RISK and "risk_at" in facts and facts["risk_at"] is None:
        facts["risk_at"] = event.occurred_at


def skip_reports(ctx: RuleContext, state: CaseState, report: list[int]) -> None:
    """Move a case's monthly report period past ``not_before`` (those months are skipped)."""
    template = ctx.config.templates[state.process]
    while report[1] <= state.not_before:
        report[0] += 1
        report[1] = report_instant(ctx.local, template, report[0])


def fire_report(
    ctx: RuleContext, state: CaseState, month: int, instant: int, alerts: list[Alert]
) -> None:
    """Month ``month``'s report is due: REPORT_MISSING unless one came that month; the
    next month's period follows."""
    facts = state.known()
    report = facts["report"]
    progress_at = facts.get("progress_at")
    month_start = ctx.local.start_of(month_first_day(month))
    if progress_at is None or progress_at < month_start:
        alerts.append(tasks.report_missing(ctx, state, month, instant))
    template = ctx.config.templates[state.process]
    report[0] = month + 1
    report[1] = report_instant(ctx.local, template, month + 1)


def fire_risk(ctx: RuleContext, state: CaseState, instant: int, alerts: list[Alert]) -> None:
    """The deadline has come: RISK_NOT_REPORTED unless an early report came in time."""
    facts = state.known()
    state.raised |= RISK_BIT
    days_before: int = ctx.param("RISK_NOT_REPORTED", "days_before")
    assert state.last is not None
    report_by = ctx.local.end_of(state.last - days_before)
    risk_at = facts.get("risk_at")
    if risk_at is None or risk_at >= report_by:
        alerts.append(tasks.risk_not_reported(ctx, state, report_by, instant))
