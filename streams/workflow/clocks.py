"""The workflow's clocks: working-day deadlines of the working-day calendar (rules.md §1).

A clock armed by a step on day d with N working days runs out at
``end(wd_after(d, N))``: the day of the step never counts, the deadline is the end of
the last day (as the case clock's). A date itself (a rectification plan) runs out at
its end. A clock that needs a year without calendar data is **pending** (rules.md
§1.5): armed without an instant, nothing guessed, decided once the year is added
(``resolve``, as the engine does when it loads state under a newer calendar).

Each clock raises one ``SUP_*`` rule at one level when it runs out (``TIMER_RULES``).
"""

from __future__ import annotations

from typing import Final

from streams.engine.calendar import CalendarYearMissing, WorkCalendar
from streams.engine.configfile import WorkflowSection
from streams.engine.timeutil import LocalTime
from streams.workflow.model import DISPATCHED, NEW, RECEIVED, RECTIFYING, TERMINAL, TRIAGE
from streams.workflow.state import Timer, Workflow

TIMER_RULES: Final = {
    "triage_yellow": ("SUP_TRIAGE_OVERDUE", "yellow"),
    "triage_red": ("SUP_TRIAGE_OVERDUE", "red"),
    "receipt_yellow": ("SUP_RECEIPT_OVERDUE", "yellow"),
    "receipt_red": ("SUP_RECEIPT_OVERDUE", "red"),
    "reply_yellow": ("SUP_REPLY_OVERDUE", "yellow"),
    "reply_red": ("SUP_REPLY_OVERDUE", "red"),
    "rectify": ("SUP_RECTIFY_OVERDUE", "red"),
    "conclusion": ("SUP_CONCLUSION_OVERDUE", "yellow"),
}
"""Clock name -> the rule and level it raises when it runs out."""

RUNS_WHILE: Final = {
    "triage": frozenset({NEW, TRIAGE}),
    "receipt": frozenset({DISPATCHED}),
    "reply": frozenset({DISPATCHED, RECEIVED}),
    "rectify": frozenset({RECTIFYING}),
}
"""A clock fires only while the workflow is in one of these states (its name's stem);
``conclusion`` runs until the workflow ends."""


def runs(wf: Workflow, name: str) -> bool:
    """Whether the clock ``name`` still concerns ``wf`` in its current state."""
    states = RUNS_WHILE.get(name.split("_", 1)[0])
    return wf.state not in TERMINAL if states is None else wf.state in states


class Clocks:
    """Arms and resolves the clocks of workflows under one calendar and ``[workflow]`` table."""

    def __init__(self, calendar: WorkCalendar, local: LocalTime, settings: WorkflowSection):
        self.calendar = calendar
        self.local = local
        self.settings = settings

    def last_day(self, base_day: int, wd: int) -> int:
        """``wd_after(base_day, wd)`` (``base_day`` itself for 0); raises CalendarYearMissing."""
        return base_day if wd == 0 else self.calendar.wd_after(base_day, wd)

    def resolve(self, timer: Timer) -> None:
        """Set the timer's instant, or its pending year when the calendar lacks one."""
        try:
            timer.at = self.local.end_of(self.last_day(timer.base_day, timer.wd))
            timer.pending_year = None
        except CalendarYearMissing as exc:
            timer.at = None
            timer.pending_year = exc.year

    def arm(self, wf: Workflow, name: str, base_day: int, wd: int) -> None:
        timer = Timer(base_day, wd)
        self.resolve(timer)
        wf.timers[name] = timer

    @staticmethod
    def disarm(wf: Workflow, *stems: str) -> None:
        """Stop every clock whose name starts with one of ``stems``."""
        for name in [n for n in wf.timers if n.split("_", 1)[0] in stems]:
            del wf.timers[name]

    def day_of(self, instant: int) -> int:
        return self.local.date_of(instant)

    # ----------------------------------------------------------------- the steps' clocks

    def arm_triage(self, wf: Workflow, from_day: int) -> None:
        """SUP_TRIAGE_OVERDUE: a workflow of a level with a triage duty, still new/triage."""
        if wf.level not in self.settings.triage_levels or wf.state not in RUNS_WHILE["triage"]:
            return
        wf.triage_from = from_day
        self.arm(wf, "triage_yellow", from_day, self.settings.triage_yellow_working_days)
        self.arm(wf, "triage_red", from_day, self.settings.triage_red_working_days)

    def arm_dispatch(self, wf: Workflow, at: int, reply_wd: int) -> None:
        """At approval: receipt, reply and conclusion clocks start (the clocks start at approval)."""
        day = self.day_of(at)
        settings = self.settings
        self.arm(wf, "receipt_yellow", day, settings.receipt_yellow_working_days)
        self.arm(wf, "receipt_red", day, settings.receipt_red_working_days)
        self.arm(wf, "conclusion", day, settings.conclusion_working_days)
        self.arm_reply(wf, day, reply_wd)

    def arm_reply(self, wf: Workflow, day: int, reply_wd: int) -> None:
        """SUP_REPLY_OVERDUE: yellow at the reply deadline, red ``reply_red_after`` later."""
        self.arm(wf, "reply_yellow", day, reply_wd)
        self.arm(wf, "reply_red", day, reply_wd + self.settings.reply_red_after_working_days)

    def extend_reply(self, wf: Workflow, days: int) -> None:
        """Move the reply deadline ``days`` working days later:
        ``wd_after(wd_after(d, N), E) = wd_after(d, N + E)``."""
        for name in ("reply_yellow", "reply_red"):
            timer = wf.timers[name]
            timer.wd += days
            self.resolve(timer)
