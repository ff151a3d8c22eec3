"""The cases a ``CaseEngine`` holds: their states by key and what is kept of them.

``CaseStore`` is the ``CaseEngine``'s base class (``cases.py`` applies events and
fires timers; this module holds what they change): the states keyed
``"process|case_id"``, the change tracking the live service persists
(``export_dirty``, ``take_status``), stored states installed (``load``) and replaced
by a correction (``replace``; ``is_late`` says when one is needed, rules.md §1.4),
terminal cases leaving after their retention (``evict``, ``retention.py``), the
index of next timers (``_reschedule``) and the counters the service reports.
"""

from __future__ import annotations

from streams.engine.calendar import CalendarYearMissing
from streams.engine.clock import CaseClock, Due
from streams.engine.config import SupervisionConfig
from streams.engine.deadlines import DeadlineIndex, DueHandler
from streams.engine.model import CaseStatus, Event
from streams.engine.pending import PendingCase, PendingCases
from streams.engine.retention import Retention
from streams.engine.rules.context import RuleContext
from streams.engine.state import CaseState, case_status, event_hash, export_states, take_statuses

__all__ = ["CaseStore"]


class CaseStore(DueHandler):
    """The states of a ``CaseEngine`` (its base class), their tracking and their timers' index.

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
        # Status rows of cases evicted before their last change was taken (``take_status``).
        self._evicted_status: list[CaseStatus] = []
        self.open_count = 0  # cases without a terminal event
        self.timer_count = 0  # cases with a pending timed alert
        self.gaps = PendingCases(config, self.clock)  # calendar gaps (§1.5)
        self.retention = Retention(config.terminal_retention_days)
        self.evicted_count = 0  # terminal cases that left the state

    # ------------------------------------------------------------------ state
    def open_cases(self) -> int:
        return self.open_count

    def pending_timers(self) -> int:
        """Cases with a timed alert still to come."""
        return self.timer_count

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

    # ------------------------------------------------------------------ late input (§1.4)
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
        state = self.states.pop(key)
        self.evicted_count += 1
        if self.track_changes:
            self._dirty.add(key)  # exported as None: the stored state is deleted
            if key in self._status_dirty:  # its last change not taken yet: kept for it
                self._status_dirty.discard(key)
                self._evicted_status.append(case_status(key, state, self.local))

    def next_eviction(self) -> int | None:
        return self.retention.next_instant()  # None: no terminal case to evict

    def evict(self, now: int) -> int:
        """Drop the terminal cases whose retention ended before ``now``; how many."""
        keys = self.retention.due(self.states, now)
        for key in keys:
            self._evict(key)
        return len(keys)

    # ------------------------------------------------------------------ status tracking
    def take_status(self) -> list[CaseStatus]:
        self._tracking()
        taken = self._evicted_status
        self._evicted_status = []
        return taken + take_statuses(self.states, self._status_dirty, self.local)

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

    # ------------------------------------------------------------------ timers
    def _reschedule(self, state: CaseState) -> None:
        """Index the next timed instant of ``state`` (if it moved)."""
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

    # ------------------------------------------------------------------ calendar gaps (§1.5)
    def pending_calendar(self) -> dict[int, int]:
        """Pending cases per year without calendar data (cheap: kept up to date)."""
        return self.gaps.per_year()

    def pending_cases(self) -> list[PendingCase]:
        """The cases whose timed decisions wait for a calendar year, by key."""
        return self.gaps.listing()
