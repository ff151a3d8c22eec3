"""The per-case half of the engine: one ``CaseState`` per case, events applied in order.

``CaseEngine.process_into`` applies an event to its case: step order
(SKIPPED_STEP), the case clock and step clocks (``clock.py``), then the rules
of the event's process and action (``rules/``), which also emit the ``Fact``s
that cross-case rules need (``CrossEngine``). Timed alerts come from
``advance(T)``, driven by the deadline index (``deadlines.py``). The states it
holds are its base class's (``casestore.CaseStore``: keyed ``"process|case_id"``,
loaded, replaced, tracked, evicted); they serialize to bytes (``state.py``) so the
live service can keep them in a changelog-backed table.

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
from streams.engine.casestore import CaseStore
from streams.engine.clock import CLOCK_ACTIONS, CaseClock, Due
from streams.engine.config import SupervisionConfig, Template
from streams.engine.facts import Fact
from streams.engine.model import Alert, Event
from streams.engine.pending import PendingCase
from streams.engine.reports import NOTE_REPORT, NOTE_RISK
from streams.engine.resolve import end_facts
from streams.engine.rules import core
from streams.engine.rules.context import CaseRule
from streams.engine.state import MAX_IDS, STATE_FIELDS, CaseState, event_hash, to_decimal

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


class CaseEngine(CaseStore):
    """Per-case evaluation: events applied to their cases, timed alerts fired.

    The states it holds, their tracking, loading, late input and retention are
    its base class's (``casestore.CaseStore``: ``track_changes``, ``event_ids``).
    """

    def __init__(
        self, config: SupervisionConfig, *, track_changes: bool = True, event_ids: bool = True
    ) -> None:
        super().__init__(config, track_changes=track_changes, event_ids=event_ids)
        self._plans: dict[str, dict[str, _ActionPlan]] = {}  # process -> action -> plan
        self.duplicate_count = 0  # events ignored: their case had seen their event_id
        self._resolved = self.gaps.resolved  # raised by pending decisions made on load
        self.hot_events = config.hot_case_events
        self.hot: list[tuple[str, int]] = []  # (key, events) of cases just past hot_events

    # ------------------------------------------------------------------ time
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
        its event's arrival and ``reported_at``, when known: a late fact's withdrawals name
        them)."""
        first_fact = len(facts)
        self._process_into(event, alerts, facts)
        arrived, reported = event.arrived_at, event.reported_at
        if arrived is not None or reported is not None:
            for i in range(first_fact, len(facts)):
                if arrived is not None:
                    facts[i].arrived_at = arrived
                if reported is not None:
                    facts[i].reported_at = reported

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
