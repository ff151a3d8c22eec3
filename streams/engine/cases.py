"""The per-case half of the engine: one ``CaseState`` per case, events applied in order.

``CaseEngine.process_into`` applies an event to its case: step order
(SKIPPED_STEP), the case clock and step clocks (``clock.py``), then the rules
of the event's process and action (``rules/``), which also emit the ``Fact``s
that cross-case rules need (``CrossEngine``). Timed alerts come from
``advance(T)``, driven by the deadline index (``deadlines.py``). States are
keyed ``"process|case_id"`` and serialize to bytes (``state.py``) so the live
service can keep them in a changelog-backed table.

Bounded state (issue #13): a case remembers its last ``MAX_IDS`` event ids and counts
its events (one passing ``hot_case_events`` is listed in ``hot``); a terminal case
leaves ``states`` after the retention (``retention.py``).

A case whose timed decisions need a year the calendar does not cover is
**pending** (rules.md §1.5): those decisions wait for an engine whose calendar
covers the year, which makes them when it loads the state (``load``); the next
``advance`` raises the alerts already due. The machinery is ``pending.py``'s
(``PendingCases``), called only when a decision needs a missing year.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.engine import reports, rules
from streams.engine.calendar import CalendarYearMissing
from streams.engine.clock import CLOCK_ACTIONS, CaseClock, Due
from streams.engine.config import SupervisionConfig, Template
from streams.engine.deadlines import DeadlineIndex, DueHandler
from streams.engine.facts import Fact
from streams.engine.model import Alert, CaseStatus, Event
from streams.engine.pending import PendingCase, PendingCases, end_facts
from streams.engine.reports import NOTE_REPORT, NOTE_RISK
from streams.engine.retention import Retention
from streams.engine.rules import core
from streams.engine.rules.context import CaseRule, RuleContext
from streams.engine.state import (
    MAX_IDS,
    STATE_FIELDS,
    CaseState,
    case_status,
    event_hash,
    export_states,
    take_statuses,
    to_decimal,
)

__all__ = [
    "MAX_IDS",
    "STATE_FIELDS",
    "CaseEngine",
    "CaseState",
    "PendingCase",
    "event_hash",
    "to_decimal",
]


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
        self.gaps = PendingCases(config, self.clock)  # calendar gaps (§1.5)
        self._resolved = self.gaps.resolved  # raised by pending decisions made on load
        self.retention = Retention(config.terminal_retention_days)
        self.hot_events = config.hot_case_events
        self.hot: list[tuple[str, int]] = []  # (key, events) of cases just past hot_events
        self.evicted_count = 0  # terminal cases that left the state

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
        self._tracking()
        return export_states(self.states, self._dirty)

    def load(self, key: str, blob: bytes | None) -> None:
        """Install a stored case state (or drop it, for None) and index its next timer."""
        old = self.states.pop(key, None)
        if old is not None:
            self.open_count -= not old.terminal
            self.timer_count -= old.next_at is not None
            old.next_at = None  # its index entries are stale now
            if old.pending is not None:
                self.gaps.forget(old)
        if blob is None:
            return
        state = CaseState.from_bytes(blob)
        state.key = key
        self.states[key] = state
        self.open_count += not state.terminal
        if state.terminal and state.closed_at is not None:
            self.retention.closed(key, state.closed_at)
        if state.next_at is not None:
            self.timer_count += 1
            self.index.add(state.next_at, state)
        if state.pending is not None and self.gaps.load(state, self._touch):
            self._reschedule(state)  # its pending decisions were made with this calendar

    def is_late(self, event: Event) -> bool:
        """Whether ``event`` is late for its case (rules.md §1.4): the case has been
        evaluated past its instant (a later event of it, or a timed alert after it).

        An event the case already holds is not late (it is a duplicate)."""
        key = event.process + "|" + event.case_id
        state = self.states.get(key)
        if state is None or (self.event_ids and state.seen_event(event_hash(event.event_id))):
            return False
        evaluated = state.evaluated_to
        if evaluated is None:  # stored before it was kept: what the state says of its time
            evaluated = max(state.updated_at, state.closed_at or 0)
        return event.occurred_at < evaluated

    def replace(self, key: str, state: CaseState) -> None:
        """Install ``state`` for the case ``key`` in place of the one held (a correction):
        its timers are indexed again, and the change is tracked like any other."""
        old = self.states.get(key)
        if old is not None:
            state.version = max(state.version, old.version) + 1
            state.updated_at = max(state.updated_at, old.updated_at)
        self.load(key, state.to_bytes())
        if self.track_changes:
            self._dirty.add(key)
            self._status_dirty.add(key)

    # ------------------------------------------------------------------ retention
    def _evict(self, key: str) -> None:
        del self.states[key]
        self.evicted_count += 1
        if self.track_changes:
            self._dirty.add(key)  # exported as None: the stored state is deleted

    def next_eviction(self) -> int | None:
        return self.retention.next_instant()  # None: no terminal case to evict

    def evict(self, now: int) -> int:
        """Drop the terminal cases whose retention ended before ``now``; how many."""
        keys = self.retention.due(self.states, now)
        for key in keys:
            self._evict(key)
        return len(keys)

    def take_status(self) -> list[CaseStatus]:
        self._tracking()
        return take_statuses(self.states, self._status_dirty, self.local)

    def status_of(self, key: str, state: CaseState) -> CaseStatus:
        return case_status(key, state, self.local)

    def _tracking(self) -> None:
        if not self.track_changes:
            raise RuntimeError("this CaseEngine does not track changes (track_changes=False)")

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
            due = self.gaps.due_without_red(state, exc.year, self._touch)
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
            self.gaps.take_resolved(until, None, alerts)
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
            self.gaps.take_resolved(until, key, alerts)
        while state is not None and state.next_at is not None and state.next_at <= until:
            self.fire_due(state, state.next_at, alerts)
        return alerts

    def fire_due(self, state: CaseState, instant: int, alerts: list[Alert]) -> None:
        """The timer of ``state`` at ``instant`` is due: raise what is still due, re-arm."""
        due: Due | None
        try:
            due = self.clock.due(state)
        except CalendarYearMissing as exc:
            due = self.gaps.due_without_red(state, exc.year, self._touch)
        state.next_at = None
        self.timer_count -= 1
        if due is not None and due[0] == instant:
            if state.evaluated_to is None or instant > state.evaluated_to:
                state.evaluated_to = instant
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
        """``process``, appending its alerts and facts to the given lists (each fact carries
        its event's arrival, when known: a late fact's withdrawals name it)."""
        first_fact = len(facts)
        self._process_into(event, alerts, facts)
        arrived = event.arrived_at
        if arrived is not None:
            for i in range(first_fact, len(facts)):
                facts[i].arrived_at = arrived

    def _process_into(self, event: Event, alerts: list[Alert], facts: list[Fact]) -> None:
        action = event.action
        plans = self._plans.get(event.process)
        plan = plans.get(action) if plans is not None else None
        if plan is None:
            plan = plan_for(self.config, event.process, action)
            self._plans.setdefault(event.process, {})[action] = plan
        template = plan.template
        key = template.name + "|" + event.case_id
        state = self.states.get(key)
        if (
            state is not None
            and state.terminal
            and self.retention.evictable(state, event.occurred_at)
        ):
            self._evict(key)  # its retention ended before this event: a new case
            state = None
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
            state.remember(digest)
        else:
            state.events += 1
        if state.events == self.hot_events + 1:
            self.hot.append((key, state.events))
        if state.evaluated_to is None or event.occurred_at > state.evaluated_to:
            state.evaluated_to = event.occurred_at
        may_alert = not state.terminal
        ctx = self.ctx
        late = False

        if may_alert:
            if plan.check_order:
                core.skipped_step(ctx, state, template, event, alerts)
            if state.pending is not None:
                self.gaps.on_event(state, template, event, alerts, self._touch)
            else:
                starts = fresh and action == template.start
                try:
                    if starts:
                        self.clock.start(state, template, event)
                    elif (
                        plan.clock_action
                        and state.last is not None
                        and self.clock.on_event(state, event, alerts)  # True: its last day moved
                    ):
                        self._touch(key, state, event.occurred_at, status=True)
                except CalendarYearMissing as exc:
                    self.gaps.clock_waits(state, exc.year, event, starts, self._touch)
                if plan.steps:
                    missed = self.clock.step_clocks(state, template, event)
                    if missed is not None:
                        self.gaps.pend_steps(state, event, missed, self._touch)
            if plan.note:
                reports.note(state, plan.note, event)
            if plan.remembers:
                state.known()
            for rule in plan.rules:
                rule(ctx, state, event, alerts, facts)
            for rule in plan.facts:
                rule(ctx, state, event, alerts, facts)
            if event.reported_at is not None:
                late = core.late_reported(ctx, state, template, event)
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
            self.open_count -= 1
            _close(self.clock, state, action, event.occurred_at)
            self.retention.closed(key, event.occurred_at)
            self._touch(key, state, event.occurred_at, status=True)
        elif fresh:
            self._touch(key, state, event.occurred_at, status=True)
        elif self.track_changes:
            self._dirty.add(key)
        if may_alert and (fresh or plan.timers or late):
            self._reschedule(state)

    # ------------------------------------------------------------------ calendar gaps (§1.5)
    def pending_calendar(self) -> dict[int, int]:
        """Pending cases per year without calendar data (cheap: kept up to date)."""
        return self.gaps.per_year()

    def pending_cases(self) -> list[PendingCase]:
        """The cases whose timed decisions wait for a calendar year, by key."""
        return self.gaps.listing()


def _close(clock: CaseClock, state: CaseState, action: str, at: int) -> None:
    """A terminal event: an ended case raises nothing more, so it keeps only what later
    facts need."""
    state.terminal = True
    state.terminal_action = action
    state.closed_at = at
    if state.last is not None:
        state.deadline_at_close = clock.deadline(state)
    state.steps = None
    state.clock_evidence = None
    if state.facts is not None:
        end_facts(state, state.pending is not None)


def _earliest(first: int, other: int | None) -> int:
    return first if other is None or first < other else other
