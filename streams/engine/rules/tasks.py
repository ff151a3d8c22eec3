"""Monthly and early reports (rules.md §3.6): REPORT_MISSING, RISK_NOT_REPORTED.

Timed rules of the processes whose template names a ``report_action`` (``key_task``,
``proposal``) or a ``risk_action`` (``key_task``): the case clock (``clock.py``) keeps
the report period on the deadline index and decides *when* they are due; the
functions here say what each alert holds.
"""

from __future__ import annotations

from streams.engine.model import RED, YELLOW, Alert
from streams.engine.rules.context import RuleContext
from streams.engine.state import CaseState
from streams.engine.timeutil import format_date, format_month


def report_missing(ctx: RuleContext, state: CaseState, month: int, instant: int) -> Alert:
    """REPORT_MISSING 未按月报告 — "yellow | for each calendar month M after the month of a
    `key_task` or `proposal` case's start action: at M's due instant the case (with a
    clock) is not terminal and no `progress` event of it has `occurred_at` in M before
    that instant. Due instant: `key_task`, `end` of M's last day; `proposal`, `end` of day
    `report_day` of M (default 28, 每月28日前报送). Raised at the due instant;
    `details.month` = `YYYY-MM` | (case, month)" (rules.md §3.6)."""
    text = format_month(month)
    details = {"month": text, "due": ctx.local.format(instant)}
    evidence = [(state.clock_evidence or [""])[0]]
    return ctx.timed_alert(
        "REPORT_MISSING", YELLOW, state, state.dept, instant, evidence, details, text
    )


def risk_not_reported(ctx: RuleContext, state: CaseState, report_by: int, instant: int) -> Alert:
    """RISK_NOT_REPORTED 未提前报告 — "red | at a `key_task`'s D, the case is not terminal
    and no `risk_report` occurred before `end(due_date − 10 calendar days)`
    (不能按进度完成的要提前10天书面报告); raised at D | (case)" (rules.md §3.6).

    ``due_date`` is the last day in force at D (an extension asked in time moves it);
    10 is ``days_before``."""
    assert state.last is not None
    details = {
        "due_date": format_date(state.last),
        "report_by": ctx.local.format(report_by),
        "days_before": ctx.param("RISK_NOT_REPORTED", "days_before"),
    }
    evidence = [(state.clock_evidence or [""])[0]]
    return ctx.timed_alert("RISK_NOT_REPORTED", RED, state, state.dept, instant, evidence, details)
