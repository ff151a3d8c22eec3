"""The per-case half of the engine: one ``CaseState`` per case, events applied in order.

``CaseEngine.process_into`` applies an event to its case: step order
(SKIPPED_STEP), the case clock and step clocks (``clock.py``), then the rules
of the event's process and action (``rules/``), which also emit the ``Fact``s
that cross-case rules need (``CrossEngine``). Timed alerts come from
``advance(T)``, driven by the deadline index (``deadlines.py``). States are
keyed ``"process|case_id"`` and serialize to bytes (``state.py``) so the live
service can keep them in a changelog-backed table.

A case whose timed decisions need a year the calendar does not cover is
**pending** (rules.md §1.5): it keeps a copy of its clocks from that moment and
logs its clock events from then on; those decisions wait (nothing is guessed),
everything else goes on: its monthly reports, and its last day's cards and risk check
when only the red card's working days are missing (``pending["red"]``). An engine whose calendar covers the year makes them when
it loads the state (``load``), and the next ``advance`` raises the alerts already
due with their true ``raised_at``: as replay with that calendar would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.engine import rules
from streams.engine.calendar import CalendarYearMissing
from streams.engine.clock import (
    CLOCK_ACTIONS,
    NOTE_REPORT,
    NOTE_RISK,
    RISK_BIT,
    CaseClock,
    Due,
)
from streams.engine.config import SupervisionConfig, Template
from streams.engine.deadlines import DeadlineIndex, DueHandler
from streams.engine.facts import Fact
from streams.engine.model import Alert, CaseStatus, Event
from streams.engine.rules import core
from streams.engine.rules.context import CaseRule, RuleContext
from streams.engine.state import (
    LEVEL_BITS,
    LOG_CLOCK_DONE,
    LOG_EVENT,
    LOG_START,
    ONCE,
    STATE_FIELDS,
    STEP_SHIFT,
    CaseState,
    case_status,
    event_hash,
    to_decimal,
)

__all__ = ["STATE_FIELDS", "CaseEngine", "CaseState", "PendingCase", "event_hash", "to_decimal"]


@dataclass(frozen=True, slots=True)
class PendingCase:
    """A case whose timed decisions wait for calendar years (rules.md §1.5)."""

    process: str
    case_id: str
    waits: tuple[str, ...]  # "case clock", "LATE_EXTENSION", "step clock after → action"
    years: tuple[int, ...]  # the years without calendar data it needs


@dataclass(frozen=True, slots=True)
class _ActionPlan:
    """What an action of a process needs evaluated, decided once per (process, action)."""

    template: Template
    bit: int
    check_order: bool
    clock_action: bool
    steps: bool
    remembers: bool
    rules: tuple[CaseRule, ...]  # while the case is open
    facts: tuple[CaseRule, ...]  # also after it ended
    capture: tuple[str, ...]
    terminal: bool
    timers: bool
    note: int  # NOTE_REPORT, NOTE_RISK: the action is a monthly or early report (§3.6)


def plan_for(config: SupervisionConfig, process: str, action: str) -> _ActionPlan:
    """What an action of a process needs evaluated (decided once per (process, action))."""
    template = config.templates[process]
    on_event, facts = rules.rules_for(process, action)
    return _ActionPlan(
        template=template,
        bit=template.bit[action],
        check_order=action in template.order and "SKIPPED_STEP" in config.enabled,
        clock_action=action in CLOCK_ACTIONS,
        steps=bool(template.step_clocks),
        remembers=rules.remembers(process),
        rules=on_event,
        facts=facts,
        capture=template.capture.get(action, ()),
        terminal=action in template.terminal,
        timers=action in template.timer_actions,
        note=(NOTE_REPORT if action == template.report_action else 0)
        | (NOTE_RISK if action == template.risk_action else 0),
    )


class CaseEngine(DueHandler):
    """Per-case evaluation and the deadline index.

    ``track_changes`` records which states and statuses changed, for
    ``export_dirty`` and ``take_status`` (the live service persists them).
    ``event_ids`` remembers each case's event ids so that an event read twice
    is a no-op (the live service re-reads after a crash). Offline replay
    persists nothing and de-duplicates event ids before the engine: it turns
    both off.
    """

    def __init__(
        self, config: SupervisionConfig, *, track_changes: bool = True, event_ids: bool = True
    ) -> None:
        self.config = config
        self.track_changes = track_changes
        self.event_ids = event_ids
        self.local = config.local
        self.ctx = RuleContext(config)
        self.clock = CaseClock(self.ctx)
        self.states: dict[str, CaseState] = {}
        self.index = DeadlineIndex()
        self._dirty: set[str] = set()
        self._status_dirty: set[str] = set()
        self._plans: dict[str, dict[str, _ActionPlan]] = {}  # process -> action -> plan
        self.open_count = 0  # cases without a terminal event
        self.timer_count = 0  # cases with a pending timed alert
        self.duplicate_count = 0  # events ignored: their case had seen their event_id
        self._pending: dict[str, CaseState] = {}  # key -> a case waiting for a calendar year
        self._pending_years: dict[int, int] = {}  # year -> pending cases that need it
        self._resolved: list[Alert] = []  # raised by pending decisions made on load, by instant

    # ------------------------------------------------------------------ state
    def open_cases(self) -> int:
        return self.open_count

    def pending_timers(self) -> int:
        """Cases with a timed alert still to come."""
        return self.timer_count

    def next_timer(self) -> int | None:
        """The instant of the next timed alert of any case."""
        if self._resolved:
            return _earliest(self._resolved[0].raised_at, self.index.next_instant())
        return self.index.next_instant()

    def first_instant(self) -> int | None:
        """The earliest instant in the deadline index (its entries may all be stale)."""
        if self._resolved:
            return _earliest(self._resolved[0].raised_at, self.index.first_instant())
        return self.index.first_instant()

    def index_entries(self) -> list[tuple[int, str]]:
        """Every (instant, key) of the deadline index, stale ones included (for measurements)."""
        return self.index.entries()

    def export_dirty(self) -> dict[str, bytes | None]:
        if not self.track_changes:
            raise RuntimeError("this CaseEngine does not track changes (track_changes=False)")
        out: dict[str, bytes | None] = {}
        for key in self._dirty:
            state = self.states.get(key)
            out[key] = state.to_bytes() if state is not None else None
        self._dirty.clear()
        return out

    def load(self, key: str, blob: bytes | None) -> None:
        """Install a stored case state (or drop it, for None) and index its next timer."""
        old = self.states.pop(key, None)
        if old is not None:
            self.open_count -= not old.terminal
            self.timer_count -= old.next_at is not None
            old.next_at = None  # its index entries are stale now
            if old.pending is not None:
                self._forget_pending(old)
        if blob is None:
            return
        state = CaseState.from_bytes(blob)
        state.key = key
        self.states[key] = state
        self.open_count += not state.terminal
        if state.next_at is not None:
            self.timer_count += 1
            self.index.add(state.next_at, state)
        if state.pending is not None:
            self._count_pending(state)
            self._resolve(state)  # when this engine's calendar has the years now

    def take_status(self) -> list[CaseStatus]:
        if not self.track_changes:
            raise RuntimeError("this CaseEngine does not track changes (track_changes=False)")
        out = []
        for key in self._status_dirty:
            state = self.states.get(key)
            if state is not None:
                out.append(self.status_of(key, state))
        self._status_dirty.clear()
        return out

    def status_of(self, key: str, state: CaseState) -> CaseStatus:
        return case_status(key, state, self.local)

    def _touch(self, key: str, state: CaseState, when: int, status: bool) -> None:
        if status:
            state.version += 1
            if when > state.updated_at:
                state.updated_at = when
            if self.track_changes:
                self._status_dirty.add(key)
        if self.track_changes:
            self._dirty.add(key)

    # ------------------------------------------------------------------ time
    def _reschedule(self, state: CaseState) -> None:
        due: Due | None
        try:
            due = self.clock.due(state)
        except CalendarYearMissing as exc:
            due = self._due_pending(state, exc.year)
        instant = due[0] if due is not None else None
        if instant != state.next_at:
            self.timer_count += (instant is not None) - (state.next_at is not None)
            state.next_at = instant
            if instant is not None:
                self.index.add(instant, state)

    def advance(self, until: int) -> list[Alert]:
        """Raise every timed alert with instant <= ``until``, in (instant, key) order."""
        alerts: list[Alert] = []
        self.advance_into(until, alerts)
        return alerts

    def advance_into(self, until: int, alerts: list[Alert]) -> None:
        """``advance``, appending the alerts to ``alerts``."""
        if self._resolved:
            self._take_resolved(until, None, alerts)
        self.index.advance_into(until, self, alerts)

    def advance_case(self, key: str, until: int) -> list[Alert]:
        """Raise the timed alerts of one case with instant <= ``until``.

        For callers that know one case's stream has reached ``until`` while the
        rest of the index has not. The index entry left behind goes stale and
        ``advance`` skips it.
        """
        state = self.states.get(key)
        alerts: list[Alert] = []
        if self._resolved:
            self._take_resolved(until, key, alerts)
        while state is not None and state.next_at is not None and state.next_at <= until:
            self.fire_due(state, state.next_at, alerts)
        return alerts

    def fire_due(self, state: CaseState, instant: int, alerts: list[Alert]) -> None:
        """The timer of ``state`` at ``instant`` is due: raise what is still due, re-arm."""
        due: Due | None
        try:
            due = self.clock.due(state)
        except CalendarYearMissing as exc:
            due = self._due_pending(state, exc.year)
        state.next_at = None
        self.timer_count -= 1
        if due is not None and due[0] == instant:
            status = self.clock.fire_into(state, due, alerts)
            self._touch(state.key, state, instant, status=status)
        self._reschedule(state)

    # ------------------------------------------------------------------ events
    def process(self, event: Event) -> tuple[list[Alert], list[Fact]]:
        """Apply one event (the caller has advanced time to its instant first)."""
        alerts: list[Alert] = []
        facts: list[Fact] = []
        self.process_into(event, alerts, facts)
        return alerts, facts

    def process_into(self, event: Event, alerts: list[Alert], facts: list[Fact]) -> None:
        """``process``, appending its alerts and facts to the given lists."""
        action = event.action
        plans = self._plans.get(event.process)
        plan = plans.get(action) if plans is not None else None
        if plan is None:
            plan = plan_for(self.config, event.process, action)
            self._plans.setdefault(event.process, {})[action] = plan
        template = plan.template
        key = template.name + "|" + event.case_id
        state = self.states.get(key)
        fresh = state is None
        if state is None:
            state = CaseState(template.name, event.dept, key)  # dept: shared by the validator
            self.states[key] = state
            self.open_count += 1
        if self.event_ids:
            digest = event_hash(event.event_id)
            if not fresh and state.seen_event(digest):
                self.duplicate_count += 1
                return
            state.ids += digest
        may_alert = not state.terminal
        ctx = self.ctx

        if may_alert:
            if plan.check_order:
                core.skipped_step(ctx, state, template, event, alerts)
            if state.pending is not None:
                self._pending_event(state, template, plan, event, alerts)
            else:
                try:
                    if fresh and action == template.start:
                        self.clock.start(state, template, event)
                    elif (
                        plan.clock_action
                        and state.last is not None
                        and self.clock.on_event(state, event, alerts)  # True: its last day moved
                    ):
                        self._touch(key, state, event.occurred_at, status=True)
                except CalendarYearMissing as exc:
                    kind = LOG_START if fresh and action == template.start else LOG_EVENT
                    self._pend(state, exc.year, event, kind, clock=True)
                    self.clock.track_pause(state, event)
                if plan.steps:
                    missed = self.clock.step_clocks(state, template, event)
                    if missed is not None:
                        self._pend_steps(state, event, missed)
            if plan.note:
                self.clock.note(state, plan.note, event)
            if plan.remembers:
                state.known()
            for rule in plan.rules:
                rule(ctx, state, event, alerts, facts)
            for rule in plan.facts:
                rule(ctx, state, event, alerts, facts)
        elif plan.facts:
            start = len(facts)
            for rule in plan.facts:
                rule(ctx, state, event, alerts, facts)
            for i in range(start, len(facts)):
                facts[i].may_alert = False

        for name in plan.capture:
            state.known()[name] = event.attrs.get(name)
        state.seen |= plan.bit
        if may_alert and plan.terminal:
            state.terminal = True
            self.open_count -= 1
            state.terminal_action = action
            state.closed_at = event.occurred_at
            if state.last is not None:
                state.deadline_at_close = self.clock.deadline(state)
            # An ended case raises nothing more: keep only what later facts need.
            state.steps = None
            state.clock_evidence = None
            if state.facts is not None:
                _end_facts(state, state.pending is not None)
            self._touch(key, state, event.occurred_at, status=True)
        elif fresh:
            self._touch(key, state, event.occurred_at, status=True)
        elif self.track_changes:
            self._dirty.add(key)
        if may_alert and (fresh or plan.timers):
            self._reschedule(state)

    # ------------------------------------------------------------------ calendar gaps (§1.5)
    def pending_calendar(self) -> dict[int, int]:
        """Pending cases per year without calendar data (cheap: kept up to date)."""
        return dict(self._pending_years)

    def pending_cases(self) -> list[PendingCase]:
        """The cases whose timed decisions wait for a calendar year, by key."""
        out = []
        for key in sorted(self._pending):
            state = self._pending[key]
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

    def _count_pending(self, state: CaseState) -> None:
        assert state.pending is not None
        self._pending[state.key] = state
        for year in state.pending["years"]:
            self._pending_years[year] = self._pending_years.get(year, 0) + 1

    def _forget_pending(self, state: CaseState) -> None:
        assert state.pending is not None
        if self._pending.pop(state.key, None) is None:
            return
        for year in state.pending["years"]:
            left = self._pending_years[year] - 1
            if left:
                self._pending_years[year] = left
            else:
                del self._pending_years[year]

    def _pend(
        self,
        state: CaseState,
        year: int,
        event: Event | None,
        kind: int,
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
            self._pending[state.key] = state
        if year not in pending["years"]:
            pending["years"].append(year)
            pending["years"].sort()
            self._pending_years[year] = self._pending_years.get(year, 0) + 1
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
        self._touch(state.key, state, 0, status=True)

    def _pend_steps(self, state: CaseState, event: Event, missed: list[tuple[int, int]]) -> None:
        """Step clocks ``event`` could not start: they wait (the event's clock change is done)."""
        for index, year in missed:
            self._pend(state, year, event, LOG_CLOCK_DONE, steps=(index,))

    def _due_pending(self, state: CaseState, year: int) -> Due | None:
        """``clock.due`` needed ``year``: only the red card's instant does. D has passed, so
        ``last`` moves no more: the red card waits, the rest (its step clocks, monthly
        reports, the risk check at D) goes on."""
        pending = state.pending
        if pending is None or not pending["clock"]:
            self._pend(state, year, None, LOG_EVENT, red=True)
        return self.clock.due(state, red=False)

    def _pending_event(
        self,
        state: CaseState,
        template: Template,
        plan: _ActionPlan,
        event: Event,
        alerts: list[Alert],
    ) -> None:
        """An event of a pending case: logged if it matters to a clock; what needs no
        missing year is decided now, the rest waits."""
        pending = state.pending
        assert pending is not None
        if plan.timers:
            pending["log"].append(_log_record(event, LOG_EVENT))
        if plan.clock_action:
            if pending["clock"] and not pending.get("red"):
                if state.started_at is not None:
                    self.clock.track_pause(state, event)
            elif state.last is not None:  # known: only a red card may wait (after D)
                try:
                    if self.clock.on_event(state, event, alerts):
                        self._touch(state.key, state, event.occurred_at, status=True)
                except CalendarYearMissing as exc:
                    self._pend(state, exc.year, None, LOG_EVENT, clock=True)
                    self.clock.track_pause(state, event)
        if plan.steps:
            missed = self.clock.step_clocks(state, template, event)
            if missed is not None:
                self._pend_steps(state, event, missed)

    def _resolve(self, state: CaseState) -> bool:
        """Make the pending decisions of ``state`` if the calendar has their years now.

        From the copy of its clocks, the logged events are evaluated again in order with
        the timed alerts between them, as replay does; the alerts not raised before are
        due at once (``advance``). False (still pending) when a year is still missing.
        """
        pending = state.pending
        assert pending is not None
        clock = self.clock
        template = self.config.templates[state.process]
        case_id = state.key[len(state.process) + 1 :]
        sim = CaseState(state.process, state.dept, state.key)
        sim.restore_checkpoint(pending["base"])
        live = state.facts
        # A start that waited ran its monthly reports live (``clock.start``), unless it was
        # stored before it did so (no ``started_at``): then the copy decides them.
        reports = state.started_at is None
        _seed_facts(sim, live, reports)
        alerts: list[Alert] = []
        try:
            for at, action, event_id, dept, attrs, kind in pending["log"]:
                self._replay_timers(sim, state, at, alerts)
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
        except CalendarYearMissing as exc:
            # Still pending: for the years still missing (one added, a later one needed).
            covered = self.config.calendar.years
            years = sorted({y for y in pending["years"] if y not in covered} | {exc.year})
            if years != pending["years"]:
                self._forget_pending(state)
                pending["years"] = years
                self._count_pending(state)
                self._touch(state.key, state, 0, status=False)
            return False
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
                _end_facts(state, False)
        elif sim.facts is not None and "report" in sim.facts:
            # Stored before a waiting start ran its monthly reports live: they run from here.
            state.known()["report"] = sim.facts["report"]
        self._forget_pending(state)
        state.pending = None
        self._touch(state.key, state, 0, status=True)
        self._reschedule(state)
        if alerts:
            self._resolved.extend(alerts)
            self._resolved.sort(key=_alert_order)
        return True

    def _replay_timers(
        self, sim: CaseState, state: CaseState, until: int, alerts: list[Alert]
    ) -> None:
        """Fire ``sim``'s timed alerts with instant <= ``until``; keep those ``state`` has not
        raised (decisions that needed no missing year were made live)."""
        clock = self.clock
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

    def _take_resolved(self, until: int, key: str | None, alerts: list[Alert]) -> None:
        """Append the alerts of resolved pending decisions with instant <= ``until`` (of
        the case ``key`` only, when given)."""
        kept: list[Alert] = []
        for alert in self._resolved:
            if alert.raised_at <= until and (
                key is None or alert.process + "|" + alert.case_id == key
            ):
                alerts.append(alert)
            else:
                kept.append(alert)
        self._resolved = kept


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


def _end_facts(state: CaseState, pending: bool) -> None:
    """An ended case raises nothing more: keep only the facts that later facts need (and,
    while ``pending``, what its pending decisions need: ``_seed_facts``)."""
    facts = state.facts
    assert facts is not None
    program = facts.get("program")
    kept = {"program": program} if program is not None else {}
    if pending:
        for name in ("notice_days", "risk_at"):
            if name in facts:
                kept[name] = facts[name]
    state.facts = kept or None


def _alert_order(alert: Alert) -> tuple[int, str, str]:
    return (alert.raised_at, alert.process + "|" + alert.case_id, alert.alert_id)


def _earliest(first: int, other: int | None) -> int:
    return first if other is None or first < other else other
