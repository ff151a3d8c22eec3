"""Calendar gaps resolved (rules.md §1.5): a pending case's decisions made from its copy.

A pending case (``pending.py``) kept a copy of its clocks from the moment a
decision needed a missing year and logged its clock events since. When the
calendar has the years, ``decide`` evaluates the logged events again on that
copy, in order, with the timed alerts between them (those the case raised live
are not raised again), and ``adopt`` gives the case the clocks decided.
``end_facts``: what an ended case keeps of its facts (and, while pending, what
its decisions need).
"""

from __future__ import annotations

from typing import Any

from streams.engine.calendar import CalendarYearMissing
from streams.engine.clock import CLOCK_ACTIONS, RISK_BIT, CaseClock
from streams.engine.config import Template
from streams.engine.model import Alert, Event
from streams.engine.rules.core import LATE
from streams.engine.state import LEVEL_BITS, LOG_EVENT, LOG_START, ONCE, STEP_SHIFT, CaseState

__all__ = ["adopt", "decide", "end_facts"]


def decide(
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


def adopt(state: CaseState, sim: CaseState) -> None:
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
