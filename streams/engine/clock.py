"""The case clock and the step clocks (rules.md §1.1, §1.2, §2, §3.6): when a case is due.

``CaseClock`` starts a case's clock at its start action (working days, or by date),
moves its last day on pauses and extensions, starts and stops step clocks, keeps
the monthly report period and the early-report mark of §3.6, and says which timed
alert a case can raise next (``due``) and raises it (``fire_into``; the reports'
alerts are ``reports.py``'s). What the alerts hold is in ``rules/``; which cases
are due when is the deadline index's (``deadlines.py``): a monthly report period
is one more instant of the case there, the next month's armed when one is due,
never a scan of open cases.

What §2 and §3.6 add to a case lives in its ``facts`` (``CaseState.known()``), so
the stored state keeps its form: ``notice_days`` (extension notice, when > 0),
``report`` ([month index, due instant] of the next monthly report), ``progress_at``
(the latest report), ``risk_at`` (the first early report; the key exists from the
start when the template has one), ``deemed`` (超时默许 applies; set by
``rules/approval.py``).
"""

from __future__ import annotations

from typing import Any

from streams.engine.calendar import CalendarYearMissing
from streams.engine.config import Template
from streams.engine.model import NOTICE, RED, YELLOW, Alert, Event
from streams.engine.reports import (
    NOTE_REPORT,
    NOTE_RISK,
    RISK_BIT,
    fire_report,
    fire_risk,
    report_instant,
    skip_reports,
)
from streams.engine.rules import approval, core
from streams.engine.rules.context import RuleContext
from streams.engine.state import LEVEL_BITS, MAX_EVIDENCE, STEP_SHIFT, CaseState
from streams.engine.timeutil import month_index

__all__ = ["CLOCK_ACTIONS", "NOTE_REPORT", "NOTE_RISK", "RISK_BIT", "CaseClock", "Due"]

CLOCK_ACTIONS = frozenset(
    {"suspend", "resume", "supplement_request", "supplement_received", "extend"}
)
_CARD_RANK = {"": 0, NOTICE: 1, YELLOW: 2, RED: 3}
_LEVELS = (NOTICE, YELLOW, RED)
_LEVELS_BEFORE_RED = (NOTICE, YELLOW)

# What ``due`` found: (instant, kind, detail); kind "overdue" (detail: the level), "step"
# (detail: the step clock entry of CaseState.steps), "report" (detail: the month index),
# "risk" (detail: None) or "late" (detail: the action of a LATE_REPORTED alert).
Due = tuple[int, str, Any]


class CaseClock:
    """The clock arithmetic of every case (stateless: a case's clock is in its state)."""

    def __init__(self, ctx: RuleContext) -> None:
        self.ctx = ctx
        self.calendar = ctx.calendar
        self.local = ctx.local
        self.enabled = ctx.enabled
        self.red_after_working_days = ctx.red_after_working_days

    def deadline(self, state: CaseState) -> int:
        """The deadline instant D = end(last)."""
        assert state.last is not None
        return self.local.end_of(state.last)

    def start(self, state: CaseState, template: Template, event: Event) -> None:
        """Start the clock at the case's start action: last = wd_after(date(t0), N), or the
        date itself for a clock by date (rules.md §2; only its instants after t0 count)."""
        now = event.occurred_at
        last: int | None = None
        days: int | None = None
        if template.by_date is not None:
            last = template.limit_date(event.attrs)
            if last is None:
                return
        else:
            days = template.limit_days(event.attrs)
            if days is None:
                return
        # What needs no working day first: a last day in a year without calendar data
        # (``wd_after`` raises) leaves the case started, its monthly reports running
        # (rules.md §1.5: only the decisions that need that year wait).
        state.started_at = now
        state.clock_evidence = [event.event_id]
        if template.notice:
            notice = template.notice_days(event.attrs)
            if notice > 0:
                state.known()["notice_days"] = notice
        if template.report_action is not None:
            day = self.local.date_of(now)
            month = month_index(day) + 1
            state.known()["report"] = [month, report_instant(self.local, template, month)]
        if template.risk_action is not None:
            state.known()["risk_at"] = None
        if last is not None:
            state.last = last
            state.not_before = now
        elif days is not None:
            state.limit_days = days
            state.last = self.calendar.wd_after(self.local.date_of(now), days)

    def _add_evidence(self, state: CaseState, event_id: str) -> None:
        assert state.clock_evidence is not None
        if len(state.clock_evidence) < MAX_EVIDENCE:
            state.clock_evidence.append(event_id)

    def on_event(self, state: CaseState, event: Event, alerts: list[Alert]) -> bool:
        """A pause, resume or extension of a case with a clock; True when its last day moved.

        An extension at or after the deadline moves nothing and raises LATE_EXTENSION.
        A year without calendar data raises ``CalendarYearMissing`` before anything
        changes (the caller keeps the event pending, rules.md §1.5).
        """
        action = event.action
        now = event.occurred_at
        assert state.last is not None
        if action == "suspend" or action == "supplement_request":
            if state.paused_since is None:
                state.paused_since = now
                state.pause_shifts = now < self.deadline(state)
                self._add_evidence(state, event.event_id)
        elif action == "resume" or action == "supplement_received":
            if state.paused_since is not None:
                moved = False
                if state.pause_shifts:
                    paused = self.calendar.count_workdays(
                        self.local.date_of(state.paused_since), self.local.date_of(now)
                    )
                    if paused > 0:
                        state.last = self.calendar.wd_after(state.last, paused)
                        moved = True
                state.paused_since = None
                state.pause_shifts = False
                state.not_before = now
                self._add_evidence(state, event.event_id)
                return moved
        elif action == "extend":
            deadline = self.deadline(state)
            if now >= deadline:  # late whatever the notice period (needs no working day)
                core.late_extension(self.ctx, state, event, deadline, 0, 0, alerts)
                return False
            notice = state.facts.get("notice_days", 0) if state.facts is not None else 0
            if notice:  # late, but before D: it still moves the deadline
                notice_by = self.local.end_of(self.calendar.wd_before(state.last, notice))
                if now >= notice_by:
                    core.late_extension(self.ctx, state, event, deadline, notice, notice_by, alerts)
            days = event.attrs.get("extension_days")
            if isinstance(days, int):
                state.last = self.calendar.wd_after(state.last, days)
                self._add_evidence(state, event.event_id)
                return True
        return False

    def track_pause(self, state: CaseState, event: Event) -> None:
        """A pause or resume of a case whose clock waits for a calendar year (rules.md §1.5).

        Only the pause itself (no timed alert of the case fires while paused; after the
        resume only later instants can): its shift of the last day is decided later.
        """
        action = event.action
        if action == "suspend" or action == "supplement_request":
            if state.paused_since is None:
                state.paused_since = event.occurred_at
        elif (action == "resume" or action == "supplement_received") and (
            state.paused_since is not None
        ):
            state.paused_since = None
            state.pause_shifts = False
            state.not_before = event.occurred_at

    def step_clocks(
        self, state: CaseState, template: Template, event: Event
    ) -> list[tuple[int, int]] | None:
        """Stop the step clocks waiting for this action; start those it starts (first A only).

        A working-day clock whose instant falls in a year without calendar data is not
        started: returned as (clock index, missing year) for the caller to keep pending
        (rules.md §1.5). None when every clock could start.
        """
        missed: list[tuple[int, int]] | None = None
        action = event.action
        if state.steps:
            state.steps = [
                s for s in state.steps if template.step_clocks[s[0]].action != action
            ] or None
        for index in template.step_after.get(action, ()):
            clock = template.step_clocks[index]
            if state.seen & template.bit[clock.action] or state.raised & (
                1 << (STEP_SHIFT + index)
            ):
                continue
            if state.steps and any(s[0] == index for s in state.steps):
                continue
            if state.seen & template.bit[action]:
                continue  # the clock starts at the first A only
            day = self.local.date_of(event.occurred_at)
            if clock.unit == "working_days":
                try:
                    instant = self.local.end_of(self.calendar.wd_after(day, clock.within))
                except CalendarYearMissing as exc:
                    if missed is None:
                        missed = []
                    missed.append((index, exc.year))
                    continue
            else:
                instant = self.local.end_of(day + clock.within)
            if state.steps is None:
                state.steps = []
            state.steps.append([index, instant, event.dept, event.event_id])
        return missed

    def _level_instant(self, state: CaseState, level: str) -> int:
        assert state.last is not None
        if level == NOTICE:
            return self.local.start_of(state.last)
        if level == YELLOW:
            return self.local.end_of(state.last)
        return self.local.end_of(self.calendar.wd_after(state.last, self.red_after_working_days))

    def due(self, state: CaseState, red: bool = True) -> Due | None:
        """The earliest timed alert this case can still raise.

        Only the red card's instant (``wd_after(last, K)``) needs a working day: for a
        year without calendar data it raises ``CalendarYearMissing``; ``red=False`` (the
        case waits for that year) leaves the red card out and says the rest. When the red
        card is asked for, D has passed, so ``last`` moves no more (rules.md §1.1).
        A LATE_REPORTED alert is due at its ``reported_at`` whatever the case's clock
        (``core.late_reported``).
        """
        best: Due | None = None
        if state.facts is not None:
            late = core.next_late_report(state)
            if late is not None:
                best = (late[0], "late", late[1])
        if state.terminal or state.paused_since is not None:
            return best
        if state.last is not None and "OVERDUE" in self.enabled:
            for level in _LEVELS if red else _LEVELS_BEFORE_RED:
                if state.fired & LEVEL_BITS[level]:
                    continue
                instant = self._level_instant(state, level)
                if instant > state.not_before:
                    if best is None or instant <= best[0]:
                        best = (instant, "overdue", level)
                    break
        if state.steps and "STEP_OVERDUE" in self.enabled:
            for step in state.steps:
                if step[1] > state.not_before and (best is None or step[1] < best[0]):
                    best = (step[1], "step", step)
        facts = state.facts
        if facts is not None:
            report = facts.get("report")
            if report is not None and "REPORT_MISSING" in self.enabled:
                if report[1] <= state.not_before:  # inside a pause, or before a clock by date
                    skip_reports(self.ctx, state, report)
                if best is None or report[1] < best[0]:
                    best = (report[1], "report", report[0])
            if (
                "risk_at" in facts
                and state.last is not None
                and not state.raised & RISK_BIT
                and "RISK_NOT_REPORTED" in self.enabled
            ):
                instant = self.local.end_of(state.last)
                if instant > state.not_before and (best is None or instant < best[0]):
                    best = (instant, "risk", None)
        return best

    def fire_into(self, state: CaseState, due: Due, alerts: list[Alert]) -> bool:
        """Raise ``due`` (from ``due(state)``), mark it raised; True when it changed the
        case's status (an OVERDUE card)."""
        instant, kind, detail = due
        if kind == "overdue":
            level: str = detail
            state.fired |= LEVEL_BITS[level]
            if _CARD_RANK[level] > _CARD_RANK[state.card]:
                state.card = level
            alerts.append(core.overdue(self.ctx, state, level, instant))
            if level == YELLOW and state.facts is not None and state.facts.get("deemed"):
                approval.deemed_approval(self.ctx, state, instant, alerts)
            return True
        if kind == "step":
            assert state.steps is not None
            state.steps.remove(detail)
            state.raised |= 1 << (STEP_SHIFT + detail[0])
            alerts.append(core.step_overdue(self.ctx, state, detail, instant))
            return False
        if kind == "report":
            fire_report(self.ctx, state, detail, instant, alerts)
        elif kind == "risk":
            fire_risk(self.ctx, state, instant, alerts)
        else:  # "late"
            alerts.append(core.late_reported_alert(self.ctx, state, detail, instant))
        return False
