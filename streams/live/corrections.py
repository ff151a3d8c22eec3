"""Late events of a case, corrected live (rules.md §1.4): the case evaluated again from its events.

An event is late for its case when the case has been evaluated past its instant
(``CaseEngine.is_late``). Correcting it (``engine.corrections.correct_case``)
needs the events the case holds, which live in storage, while the evaluation of
a batch is synchronous. So, per batch, before it is evaluated:

1. ``LateEvents.candidates``: the cases of the batch's events that may be late,
   from the case states and the batch itself (every event earlier than what its
   case was evaluated up to, or than an earlier event of the batch for it). A
   superset: a case read for nothing costs one read, a case missed would be
   evaluated the old way (counted as ``no_history``);
2. ``LateEvents.prepare`` reads their stored events (``storage.queries.case_events``,
   bounded to those cases by the sort key), on the persister's thread and
   retried like a write, and adds the events of the batches evaluated before
   whose rows are not stored yet (``PIPELINE_DEPTH``: ``Unstored``).
   The read is made *ahead*, before the service takes its event lock
   (``read_ahead``: the candidates of the messages waiting in the buffer), so
   that other batches and ticks are evaluated during the storage round trip.
   It stays exact: a read-ahead watches ``Unstored`` from before its read, so
   the events of every batch evaluated meanwhile are added to it (stored or
   not: the read may have missed them); under the lock the candidates are found
   again on the states as they are then, and a case the read-ahead did not
   cover (made late meanwhile, or a message that came later) is read there, as
   before. Each case's events are then what a read under the lock would have
   given, in the same precedence (stored rows first). A rebalance meanwhile
   discards the read-ahead;
3. during the evaluation, ``CaseHistory.held`` gives ``CasePartition.process`` a
   case's events in the order it applied them (its state remembers the hashes
   of its last ``MAX_IDS`` event ids in that order): events stored but not
   applied (stored before a crash, their case's state not saved) are left out.

Withdrawals carry the processing time in whole seconds (what storage keeps),
and storage keeps the first withdrawal of an alert: the same correction made
again after a restart is the same withdrawal (``storage.withdrawals``). Terminal
cases evicted from the state (``[state] terminal_retention_days``) are not late:
a late event of one starts a new case, by design.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.contract import PROGRESS_KEY
from streams.engine import EventValidator, InvalidEvent
from streams.engine.model import Event
from streams.engine.state import CaseState, event_hash
from streams.storage.queries import contract_event

log = logging.getLogger(__name__)

CORRECTED, INCONSISTENT, NO_HISTORY = "corrected", "inconsistent", "no_history"
CORRECTION_OUTCOMES = (CORRECTED, INCONSISTENT, NO_HISTORY)
CaseRef = tuple[str, str]  # (process, case_id)


def event_from_row(validator: EventValidator, row: dict[str, Any]) -> Event:
    """A stored event (``queries`` row) as the validator made it when it was read, with its
    arrival."""
    event = validator.parse(orjson.dumps(contract_event(row)))
    event.arrived_at = row.get("arrived_at_us")
    return event


@dataclass(slots=True)
class CaseHistory:
    """The events of the batch's late cases, by case key and event id (read before the batch,
    completed with the batch's own events as they are applied)."""

    pool: dict[str, dict[str, Event]] = field(default_factory=dict)
    now: int = 0  # processing time of the batch's withdrawals (whole seconds, in µs)
    outcomes: list[tuple[str, str]] = field(default_factory=list)  # (topic, outcome)

    def note(self, key: str, event: Event) -> None:
        """``event`` applied to case ``key``: a later late event of it counts it."""
        events = self.pool.get(key)
        if events is not None:
            events[event.event_id] = event

    def held(self, key: str, state: CaseState) -> list[Event] | None:
        """The events case ``key`` holds, in the order it applied them; None when its events
        were not read. Events it does not hold (stored before a crash, its state not saved)
        are left out; when it applied more than it remembers, the oldest come first by
        arrival."""
        events = self.pool.get(key)
        if events is None:
            return None
        ids = state.ids
        order: dict[bytes, int] = {ids[i : i + 8]: i for i in range(0, len(ids), 8)}
        forgot = state.events > len(ids) // 8
        known: list[tuple[int, Event]] = []
        older: list[Event] = []
        for event in events.values():
            at = order.get(event_hash(event.event_id))
            if at is not None:
                known.append((at, event))
            elif forgot:
                older.append(event)
        older.sort(key=lambda e: (e.arrived_at or 0, e.occurred_at, e.event_id))
        known.sort(key=lambda pair: pair[0])
        return older + [event for _, event in known]


@dataclass(slots=True, eq=False)
class ReadAhead:
    """The events of the cases that may be late, read before the event lock was taken."""

    late: dict[str, CaseRef]  # the candidates it read (key -> case)
    rows: list[dict[str, Any]] = field(default_factory=list)  # stored, as read
    in_flight: list[Event] = field(default_factory=list)  # unstored when the read began
    since: list[Event] = field(default_factory=list)  # of batches evaluated after that
    generation: int = 0  # of ``LateEvents``: a rebalance discards it


class Unstored:
    """Events of evaluated batches whose rows are not stored yet (``Output.rows_stored``)."""

    def __init__(self) -> None:
        self.outputs: list[Any] = []  # Output, oldest first
        self.watchers: list[ReadAhead] = []  # read-aheads not yet used

    def add(self, out: Any) -> None:
        if out.events:
            self.outputs.append(out)
            for ahead in self.watchers:
                late = ahead.late
                ahead.since.extend(
                    s.event
                    for s in out.events
                    if s.event.process + "|" + s.event.case_id in late
                )

    def events(self, wanted: set[CaseRef]) -> list[Event]:
        self.outputs = [out for out in self.outputs if not out.rows_stored]
        return [
            s.event
            for out in self.outputs
            for s in out.events
            if (s.event.process, s.event.case_id) in wanted
        ]


class LateEvents:
    """Finds a batch's late cases and reads their events before it is evaluated (module doc)."""

    def __init__(
        self,
        case_partition: Callable[[str, int], Any],
        validator: EventValidator,
        read: Callable[[list[CaseRef]], Awaitable[list[dict[str, Any]]]],
    ) -> None:
        self.case_partition = case_partition  # Partitions.case
        self.validator = validator
        self.read = read  # the stored events of cases (Persister.case_events)
        self.unstored = Unstored()
        self.generation = 0  # bumped by a rebalance (``forget``)

    def candidates(self, messages: Iterable[Any]) -> dict[str, CaseRef]:
        """The cases (key -> (process, case_id)) of ``messages`` that may be late (a superset).

        Each event is parsed once: the pipeline uses the parse (``Message.event``)."""
        newest: dict[str, int] = {}
        late: dict[str, CaseRef] = {}
        parse = self.validator.parse
        for m in messages:
            if m.key == PROGRESS_KEY or not m.value:
                continue
            event = m.event
            if event is None:
                try:
                    event = m.event = parse(m.value)
                except InvalidEvent:
                    continue  # the pipeline dead-letters it
            key = event.process + "|" + event.case_id
            bound = newest.get(key)
            if key not in late:
                state = self.case_partition(m.topic, m.partition).cases.states.get(key)
                if state is not None:
                    evaluated = state.evaluated_to
                    if evaluated is None:
                        evaluated = max(state.updated_at, state.closed_at or 0)
                    bound = evaluated if bound is None else max(bound, evaluated)
                if bound is not None and event.occurred_at < bound:
                    late[key] = (event.process, event.case_id)
            if bound is None or event.occurred_at > bound:
                newest[key] = event.occurred_at
            else:
                newest[key] = bound
        return late

    async def read_ahead(self, messages: list[Any]) -> ReadAhead | None:
        """Outside the event lock: the stored events of the cases of ``messages`` (those
        waiting in the buffer) that may be late as the states are now; None when none."""
        late = self.candidates(messages)
        if not late:
            return None
        ahead = ReadAhead(late, generation=self.generation)
        unstored = self.unstored
        unstored.watchers.append(ahead)  # from now on, before the read: nothing falls between
        try:
            wanted = set(late.values())
            ahead.in_flight = unstored.events(wanted)
            ahead.rows = await self.read(sorted(wanted))
        except BaseException:
            unstored.watchers.remove(ahead)
            raise
        return ahead

    def forget(self) -> None:
        """A rebalance: read-aheads in progress are not used."""
        self.generation += 1

    def discard(self, ahead: ReadAhead | None) -> None:
        """``ahead`` no longer watches the batches evaluated (taken under the event lock)."""
        if ahead is not None and ahead in self.unstored.watchers:
            self.unstored.watchers.remove(ahead)

    async def prepare(
        self, messages: list[Any], now: int, ahead: ReadAhead | None = None
    ) -> CaseHistory | None:
        """Under the event lock: the events of the batch's late cases (None when it has none);
        ``now``: processing time (µs) of its withdrawals, kept in whole seconds. ``ahead``:
        what ``read_ahead`` read for them (the cases it did not cover are read now)."""
        self.discard(ahead)
        if ahead is not None and ahead.generation != self.generation:
            ahead = None
        late = self.candidates(messages)
        if not late:
            return None
        history = CaseHistory(now=now // 1_000_000 * 1_000_000)
        pool = history.pool
        for key in late:
            pool[key] = {}
        covered = ahead.late if ahead is not None else {}
        wanted = {ref for key, ref in late.items() if key not in covered}
        if ahead is not None:  # rows first, then what was not stored, oldest first
            self._fill(pool, ahead.rows, [*ahead.in_flight, *ahead.since], covered)
        if wanted:
            in_flight = self.unstored.events(wanted)  # before the read: what it may not see yet
            rows = await self.read(sorted(wanted))
            self._fill(pool, rows, in_flight, {k: r for k, r in late.items() if r in wanted})
        return history

    def _fill(
        self,
        pool: dict[str, dict[str, Event]],
        rows: list[dict[str, Any]],
        unstored: list[Event],
        cases: dict[str, CaseRef],
    ) -> None:
        """The events of ``cases`` (those of the batch's late cases) into ``pool``: stored
        rows first, then those not stored; the first of an event id wins."""
        for row in rows:
            try:
                event = event_from_row(self.validator, row)
            except InvalidEvent as exc:  # stored before a contract change: named, not guessed
                log.error("stored event %s cannot be read again: %s", row.get("event_id"), exc)
                continue
            key = event.process + "|" + event.case_id
            events = pool.get(key)
            if events is not None and key in cases:
                events.setdefault(event.event_id, event)
        for event in unstored:
            key = event.process + "|" + event.case_id
            events = pool.get(key)
            if events is not None and key in cases:
                events.setdefault(event.event_id, event)
