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
   whose rows are not stored yet (``PIPELINE_DEPTH``: ``Unstored``);
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


class Unstored:
    """Events of evaluated batches whose rows are not stored yet (``Output.rows_stored``)."""

    def __init__(self) -> None:
        self.outputs: list[Any] = []  # Output, oldest first

    def add(self, out: Any) -> None:
        if out.events:
            self.outputs.append(out)

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

    def candidates(self, messages: Iterable[Any]) -> dict[str, CaseRef]:
        """The cases (key -> (process, case_id)) of ``messages`` that may be late (a superset).

        Each event is parsed once: the pipeline uses the parse (``Message.event``)."""
        newest: dict[str, int] = {}
        late: dict[str, CaseRef] = {}
        parse = self.validator.parse
        for m in messages:
            if m.key == PROGRESS_KEY or not m.value:
                continue
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

    async def prepare(self, messages: list[Any], now: int) -> CaseHistory | None:
        """The events of the batch's late cases (None when it has none); ``now``: processing
        time (µs) of its withdrawals, kept in whole seconds."""
        late = self.candidates(messages)
        if not late:
            return None
        wanted = set(late.values())
        in_flight = self.unstored.events(wanted)  # before the read: what it may not see yet
        rows = await self.read(sorted(wanted))
        history = CaseHistory(now=now // 1_000_000 * 1_000_000)
        pool = history.pool
        for key in late:
            pool[key] = {}
        for row in rows:
            try:
                event = event_from_row(self.validator, row)
            except InvalidEvent as exc:  # stored before a contract change: named, not guessed
                log.error("stored event %s cannot be read again: %s", row.get("event_id"), exc)
                continue
            events = pool.get(event.process + "|" + event.case_id)
            if events is not None:
                events.setdefault(event.event_id, event)
        for event in in_flight:
            pool[event.process + "|" + event.case_id].setdefault(event.event_id, event)
        return history
