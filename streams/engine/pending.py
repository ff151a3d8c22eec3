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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streams.engine.calendar import CalendarYearMissing
from streams.engine.clock import CLOCK_ACTIONS, RISK_BIT, CaseClock, Due
from streams.engine.config import SupervisionConfig, Template
from streams.engine.model import Alert, Event
from streams.engine.rules.core import LATE
from streams.engine.state import (
    LEVEL_BITS,
    LOG_CLOCK_DONE,
    LOG_EVENT,
    LOG_START,
    ONCE,
    STEP_SHIFT,
    CaseState,
)

__all__ = ["PendingCase", "PendingCases", "end_facts"]

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
        the timed alerts between them, as replay does (``_decide``); returns the alerts
        not raised before (due at once: the caller reschedules the case and queues them).
        None (still pending) when a year is still missing.
        """
        pending = state.pending
        assert pending is not None
        alerts: list[Alert] = []
        try:
            sim = _decide(self.clock, self.config.templates[state.process], state, alerts)
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
        _adopt(state, sim)
        self.forget(state)
        state.pending = None
        touch(state.key, state, 0, True)
        return alerts


def _decide(
    clock: CaseClock, template: Template, state: CaseState, alerts: list[Alert]
) -> CaseState:
    """The copy of pending ``state``'s clocks, its logged events evaluated again in order
    with the timed alerts between them (appended to ``alerts`` when ``state`` has not
    raised them). Raises ``CalendarYearMissing`` while a year it needs is still missing."""
    pending = state.pending
    assert pending is not None
    case_id = state.key[len(state.process) + 1 :]
    sim = CaseState(state.process, state.dept, state.key)
    sim.restore_checkpoint(pending["base"])
    live = state.facts
    # A start that waited ran its monthly reports live (``clock.start``), unless it was
    # stored before it did so (no ``started_at``): then the copy decides them.
    reports = state.started_at is None
    _seed_facts(sim, live, reports)
    for at, action, event_id, dept, attrs, kind in pending["log"]:
        _replay_timers(clock, sim, state, at, alerts)
        event = Event(event_id, case_id, state.process, action, at, dept, None, attrs)
        if kind == LOG_START:
            clock.start(sim, template, event)
            _seed_facts(sim, live, reports)
        elif kind == LOG_EVENT and action in CLOCK_ACTIONS and sim.last is not None:
            late: list[Alert] = []
            clock.on_event(sim, event, late)
            if not state.raised & ONCE["LATE_EXTENSION"]:
                alerts.extend(late)
        if template.step_clocks:
            missed = clock.step_clocks(sim, template, event)
            if missed is not None:
                raise CalendarYearMissing(missed[0][1])
        sim.seen |= template.bit[action]
        if action in template.terminal:
            sim.terminal = True
            if sim.last is not None:
                sim.deadline_at_close = clock.deadline(sim)
            sim.steps = None
            sim.clock_evidence = None
            break
    clock.due(sim)  # its next timed instant is known too
    return sim


def _adopt(state: CaseState, sim: CaseState) -> None:
    """A resolved pending case takes the clocks decided on its copy ``sim``."""
    state.last = sim.last
    state.limit_days = sim.limit_days
    state.started_at = sim.started_at
    state.paused_since = sim.paused_since
    state.pause_shifts = sim.pause_shifts
    state.not_before = sim.not_before
    state.fired |= sim.fired
    state.card = sim.card or state.card
    state.clock_evidence = sim.clock_evidence
    state.raised |= sim.raised
    # Step clocks that fired live after the last logged event are done.
    steps = [s for s in sim.steps or () if not state.raised & (1 << (STEP_SHIFT + s[0]))]
    state.steps = steps or None
    if sim.terminal:
        state.deadline_at_close = sim.deadline_at_close
    if state.terminal:
        if state.facts is not None:
            end_facts(state, False)
    elif sim.facts is not None and "report" in sim.facts:
        # Stored before a waiting start ran its monthly reports live: they run from here.
        state.known()["report"] = sim.facts["report"]


def _replay_timers(
    clock: CaseClock, sim: CaseState, state: CaseState, until: int, alerts: list[Alert]
) -> None:
    """Fire ``sim``'s timed alerts with instant <= ``until``; keep those ``state`` has not
    raised (decisions that needed no missing year were made live)."""
    due = clock.due(sim)
    fired: list[Alert] = []
    while due is not None and due[0] <= until:
        clock.fire_into(sim, due, fired)
        kind = due[1]
        if kind == "overdue":
            known = bool(state.fired & LEVEL_BITS[due[2]])
        elif kind == "step":
            known = bool(state.raised & (1 << (STEP_SHIFT + due[2][0])))
        elif kind == "report":  # decided live, unless stored before they ran live
            known = False
        else:  # "risk"
            known = bool(state.raised & RISK_BIT)
        if not known:
            alerts.extend(fired)
        fired.clear()
        due = clock.due(sim)


def _alert_order(alert: Alert) -> tuple[int, str, str]:
    return (alert.raised_at, alert.process + "|" + alert.case_id, alert.alert_id)


def _log_record(event: Event | None, kind: int) -> list[Any]:
    """What a pending case keeps of an event that matters to its clocks."""
    assert event is not None
    attrs = event.attrs
    if kind != LOG_START:  # the start keeps its attributes: they choose the time limit
        attrs = {k: attrs[k] for k in ("extension_days", "approver") if k in attrs}
    return [event.occurred_at, event.action, event.event_id, event.dept, attrs, kind]


def _seed_facts(sim: CaseState, live: dict[str, Any] | None, reports: bool) -> None:
    """Give the copy of a pending case what its logged events do not say: the live case's
    extension notice and first early report. Its monthly reports need no working day and
    are decided live: the copy leaves them out unless ``reports`` (rules.md §1.5, §3.6)."""
    if live is not None:
        for name in ("notice_days", "risk_at"):
            if name in live:
                sim.known()[name] = live[name]
    if not reports and sim.facts is not None:
        sim.facts.pop("report", None)


def end_facts(state: CaseState, pending: bool) -> None:
    """An ended case raises nothing more: keep only the facts that later facts need (and,
    while ``pending``, what its pending decisions need: ``_seed_facts``)."""
    facts = state.facts
    assert facts is not None
    program = facts.get("program")
    kept = {"program": program} if program is not None else {}
    late = facts.get(LATE)
    if late:
        kept[LATE] = late  # LATE_REPORTED alerts still to raise (rules/core.py)
    if pending:
        for name in ("notice_days", "risk_at"):
            if name in facts:
                kept[name] = facts[name]
    state.facts = kept or None
