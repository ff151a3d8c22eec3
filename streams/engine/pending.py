"""Calendar gaps (rules.md §1.5): the cases whose timed decisions wait for a calendar year.

A case whose timed decisions need a year the calendar does not cover is
**pending**: it keeps a copy of its clocks from that moment and logs its clock
events from then on; those decisions wait (nothing is guessed), everything else
goes on: its monthly reports, and its last day's cards and risk check when only
the red card's working days are missing (``pending["red"]``). An engine whose
calendar covers the year makes them when it loads the state (``resolve``, from
``CaseEngine.load``), and the next ``advance`` raises the alerts already due
with their true ``raised_at``: as replay with that calendar would.

``PendingCases`` (the ``CaseEngine``'s) keeps them and is called only when a
decision needs a missing year: the engine's per-event path stays as it was.
How a pending case's decisions are made once the calendar has its years is
``resolve.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streams.engine.calendar import CalendarYearMissing
from streams.engine.clock import CLOCK_ACTIONS, CaseClock, Due
from streams.engine.config import SupervisionConfig, Template
from streams.engine.model import Alert, Event
from streams.engine.resolve import adopt, decide
from streams.engine.state import LOG_CLOCK_DONE, LOG_EVENT, LOG_START, CaseState

__all__ = ["PendingCase", "PendingCases"]

# The engine's change tracking: touch(key, state, when, status) (``CaseEngine._touch``). Passed
# to each call, never kept: the engine holds this object, and a reference back would make a
# reference cycle (the engine, with all its states, then waits for the cyclic collector).
Touch = Callable[[str, CaseState, int, bool], None]


@dataclass(frozen=True, slots=True)
class PendingCase:
    """A case whose timed decisions wait for calendar years (rules.md §1.5)."""

    process: str
    case_id: str
    waits: tuple[str, ...]  # "case clock", "LATE_EXTENSION", "step clock after → action"
    years: tuple[int, ...]  # the years without calendar data it needs


class PendingCases:
    """The pending cases of one ``CaseEngine``, by key, and how many need each year."""

    def __init__(self, config: SupervisionConfig, clock: CaseClock) -> None:
        self.config = config
        self.clock = clock
        self.cases: dict[str, CaseState] = {}  # key -> a case waiting for a calendar year
        self.years: dict[int, int] = {}  # year -> pending cases that need it
        # Raised by pending decisions made on load, by instant, until ``take_resolved``. Only
        # ever changed in place: the engine holds this list too, to test it per event.
        self.resolved: list[Alert] = []

    def per_year(self) -> dict[int, int]:
        """Pending cases per year without calendar data (cheap: kept up to date)."""
        return dict(self.years)

    def listing(self) -> list[PendingCase]:
        """The cases whose timed decisions wait for a calendar year, by key."""
        out = []
        for key in sorted(self.cases):
            state = self.cases[key]
            pending = state.pending
            assert pending is not None
            template = self.config.templates[state.process]
            waits: list[str] = []
            if pending["clock"]:
                waits.append("case clock")
                if not pending.get("red") and any(r[1] == "extend" for r in pending["log"]):
                    waits.append("LATE_EXTENSION")  # its deadline waits (else decided live)
            for index in pending["steps"]:
                clock = template.step_clocks[index]
                waits.append(f"step clock {clock.after} → {clock.action}")
            out.append(
                PendingCase(
                    state.process,
                    key[len(state.process) + 1 :],
                    tuple(waits),
                    tuple(pending["years"]),
                )
            )
        return out

    def load(self, state: CaseState, touch: Touch) -> bool:
        """A pending case loaded: its decisions are made when this engine's calendar has the
        years now (their alerts wait for ``take_resolved``). True when they were: the caller
        reschedules the case."""
        self.count(state)
        alerts = self.resolve(state, touch)
        if alerts is None:
            return False
        if alerts:
            self.resolved.extend(alerts)
            self.resolved.sort(key=_alert_order)
        return True

    def take_resolved(self, until: int, key: str | None, alerts: list[Alert]) -> None:
        """Append the alerts of resolved pending decisions with instant <= ``until`` (of
        the case ``key`` only, when given)."""
        kept: list[Alert] = []
        for alert in self.resolved:
            if alert.raised_at <= until and (
                key is None or alert.process + "|" + alert.case_id == key
            ):
                alerts.append(alert)
            else:
                kept.append(alert)
        self.resolved[:] = kept

    def count(self, state: CaseState) -> None:
        """A pending case comes in (a state loaded)."""
        assert state.pending is not None
        self.cases[state.key] = state
        for year in state.pending["years"]:
            self.years[year] = self.years.get(year, 0) + 1

    def forget(self, state: CaseState) -> None:
        """A pending case goes (dropped, replaced or resolved)."""
        assert state.pending is not None
        if self.cases.pop(state.key, None) is None:
            return
        for year in state.pending["years"]:
            left = self.years[year] - 1
            if left:
                self.years[year] = left
            else:
                del self.years[year]

    def pend(
        self,
        state: CaseState,
        year: int,
        event: Event | None,
        kind: int,
        touch: Touch,
        *,
        clock: bool = False,
        red: bool = False,
        steps: tuple[int, ...] = (),
    ) -> None:
        """A decision of ``state`` needs ``year``: it waits. The first time, the case keeps a
        copy of its clocks (before ``event``, which is logged, or now) to decide from later.

        ``clock``: its last day is unknown (the case clock waits); ``red``: only its red
        card's instant is (``pending["red"]``: ``last`` is known and moves no more).
        """
        pending = state.pending
        if pending is None:
            pending = {
                "years": [],
                "clock": False,
                "steps": [],
                "base": state.checkpoint(),
                "log": [_log_record(event, kind)] if event is not None else [],
            }
            state.pending = pending
            self.cases[state.key] = state
        if year not in pending["years"]:
            pending["years"].append(year)
            pending["years"].sort()
            self.years[year] = self.years.get(year, 0) + 1
        if clock and (not pending["clock"] or pending.get("red")):
            pending["clock"] = True
            pending.pop("red", None)
            state.last = None  # unknown until decided: no OVERDUE, no deadline shown
        elif red and not pending["clock"]:
            pending["clock"] = True
            pending["red"] = True
        for index in steps:
            if index not in pending["steps"]:
                pending["steps"].append(index)
        touch(state.key, state, 0, True)

    def clock_waits(
        self, state: CaseState, year: int, event: Event, start: bool, touch: Touch
    ) -> None:
        """``event`` (the case's ``start`` or a clock action) needs ``year``: the case clock
        waits; only the pause it makes, if any, counts now."""
        self.pend(state, year, event, LOG_START if start else LOG_EVENT, touch, clock=True)
        self.clock.track_pause(state, event)

    def pend_steps(
        self, state: CaseState, event: Event, missed: list[tuple[int, int]], touch: Touch
    ) -> None:
        """Step clocks ``event`` could not start: they wait (the event's clock change is done)."""
        for index, year in missed:
            self.pend(state, year, event, LOG_CLOCK_DONE, touch, steps=(index,))

    def due_without_red(self, state: CaseState, year: int, touch: Touch) -> Due | None:
        """``clock.due`` needed ``year``: only the red card's instant does. D has passed, so
        ``last`` moves no more: the red card waits, the rest (its step clocks, monthly
        reports, the risk check at D) goes on."""
        pending = state.pending
        if pending is None or not pending["clock"]:
            self.pend(state, year, None, LOG_EVENT, touch, red=True)
        return self.clock.due(state, red=False)

    def on_event(
        self,
        state: CaseState,
        template: Template,
        event: Event,
        alerts: list[Alert],
        touch: Touch,
    ) -> None:
        """An event of a pending case: logged if it matters to a clock; what needs no
        missing year is decided now, the rest waits."""
        pending = state.pending
        assert pending is not None
        action = event.action
        if action in template.timer_actions:
            pending["log"].append(_log_record(event, LOG_EVENT))
        if action in CLOCK_ACTIONS:
            if pending["clock"] and not pending.get("red"):
                if state.started_at is not None:
                    self.clock.track_pause(state, event)
            elif state.last is not None:  # known: only a red card may wait (after D)
                try:
                    if self.clock.on_event(state, event, alerts):
                        touch(state.key, state, event.occurred_at, True)
                except CalendarYearMissing as exc:
                    self.pend(state, exc.year, None, LOG_EVENT, touch, clock=True)
                    self.clock.track_pause(state, event)
        if template.step_clocks:
            missed = self.clock.step_clocks(state, template, event)
            if missed is not None:
                self.pend_steps(state, event, missed, touch)

    def resolve(self, state: CaseState, touch: Touch) -> list[Alert] | None:
        """Make the pending decisions of ``state`` if the calendar has their years now.

        From the copy of its clocks, the logged events are evaluated again in order with
        the timed alerts between them, as replay does (``resolve.decide``); returns the alerts
        not raised before (due at once: the caller reschedules the case and queues them).
        None (still pending) when a year is still missing.
        """
        pending = state.pending
        assert pending is not None
        alerts: list[Alert] = []
        try:
            sim = decide(self.clock, self.config.templates[state.process], state, alerts)
        except CalendarYearMissing as exc:
            # Still pending: for the years still missing (one added, a later one needed).
            covered = self.config.calendar.years
            years = sorted({y for y in pending["years"] if y not in covered} | {exc.year})
            if years != pending["years"]:
                self.forget(state)
                pending["years"] = years
                self.count(state)
                touch(state.key, state, 0, False)
            return None
        adopt(state, sim)
        self.forget(state)
        state.pending = None
        touch(state.key, state, 0, True)
        return alerts


def _alert_order(alert: Alert) -> tuple[int, str, str]:
    return (alert.raised_at, alert.process + "|" + alert.case_id, alert.alert_id)


def _log_record(event: Event | None, kind: int) -> list[Any]:
    """What a pending case keeps of an event that matters to its clocks."""
    assert event is not None
    attrs = event.attrs
    if kind != LOG_START:  # the start keeps its attributes: they choose the time limit
        attrs = {k: attrs[k] for k in ("extension_days", "approver") if k in attrs}
    return [event.occurred_at, event.action, event.event_id, event.dept, attrs, kind]
