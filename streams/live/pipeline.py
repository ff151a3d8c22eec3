"""Validation, routing to case partitions and dead-lettering of a batch (``Pipeline``).

Per message, in order (events.md § Transport, rules.md §1.3):

- keyed ``__progress__``: a progress marker (``progress``), never an event: its
  watermark is noted for the partition, or it is dead-lettered when malformed;
- no value (a tombstone), over the size limit, not an event, or on another
  process's topic: dead-lettered (``deadletter``);
- keyed other than by its ``case_id`` and read on a partition that is not its
  case's: not evaluated here, but re-published with key = ``case_id`` to its
  case's partition (``Output.reroutes``; the copy is evaluated there);
- an ``event_id`` seen before: ignored (the first wins); dead-lettered too as
  ``conflicting_duplicate`` when its content differs from the first's;
- otherwise evaluated with its case and stored.
"""

from __future__ import annotations

from collections.abc import Callable

from streams.contract import (
    CONFLICTING_DUPLICATE,
    PROGRESS_KEY,
    PROGRESS_MARKER,
    WRONG_TOPIC,
)
from streams.engine import EventValidator, InvalidEvent
from streams.live.contents import content_digest
from streams.live.deadletter import RejectionLimit, dead_letter, oversized
from streams.live.processor import CasePartition, Message, Output, Reroute, StoredEvent
from streams.live.progress import MALFORMED, InvalidMarker, Marker, parse_marker
from streams.live.publish import partition_for
from streams.live.topics import Topics

MARKERS_KEPT = 64  # distinct marker values remembered parsed (``Pipeline.markers``)


class Pipeline:
    """Validation, routing to case partitions, and dead-lettering for a batch."""

    def __init__(
        self,
        topics: Topics,
        validator: EventValidator,
        limit: RejectionLimit,
        case_partition: Callable[[str, int], CasePartition],
    ) -> None:
        self.topics = topics
        self.validator = validator
        self.limit = limit
        self.case_partition = case_partition
        # Markers parsed lately, by value: an upstream sends the same marker to every
        # partition of its topics, so most are parsed once (bounded: cleared when full).
        self.markers: dict[bytes, Marker] = {}

    def run(self, messages: list[Message], out: Output) -> set[CasePartition]:
        """Process a batch in order. Raises ``RejectionLimitExceeded`` (nothing is persisted then)."""
        touched: set[CasePartition] = set()
        parse = self.validator.parse
        partitions = self.topics.partitions
        for m in messages:
            part = self.case_partition(m.topic, m.partition)
            if m.key == PROGRESS_KEY:
                self._progress(m, part, out)
                continue
            value = m.value
            if not value or oversized(value, m.key):  # the dead letter says why
                self._reject(m, part, "", "", out)
                continue
            try:
                event = m.event if m.event is not None else parse(value)
                expected = self.topics.for_process(event.process)
                if expected != m.topic:
                    raise InvalidEvent(
                        f"process: {event.process!r} events belong on topic {expected!r}, not {m.topic!r}",
                        WRONG_TOPIC,
                    )
            except InvalidEvent as exc:
                self._reject(m, part, str(exc), exc.kind, out)
                continue
            case = event.case_id.encode("utf-8")
            if m.key != case:
                home = partition_for(case, partitions)
                if home != m.partition:  # evaluated with its case, over there
                    origin = f"{m.topic}/{m.partition}@{m.offset}"
                    out.reroutes.append(Reroute(m.topic, home, case, value, origin))
                    part.clock.observed(m.offset, None)
                    self.limit.accepted()
                    continue
            digest = content_digest(event)
            first = part.contents.get(event.event_id)
            if first is not None and first != digest:
                reason = (
                    f"conflicting_duplicate: event_id {event.event_id!r} was read before with "
                    "other content; the first is kept"
                )
                self._reject(m, part, reason, CONFLICTING_DUPLICATE, out)
                continue
            self.limit.accepted()
            part.clock.observed(m.offset, event.occurred_at)
            if first is not None:  # the same content, applied recently: the first wins
                part.cases.duplicate_count += 1
                touched.add(part)
                continue
            event.arrived_at = m.arrived_at  # before it is applied: its facts carry it
            if part.process(event, m.offset, out, m.arrived_at):
                part.contents.add(event.event_id, digest)
                out.events.append(StoredEvent(event, m.topic, m.partition, m.offset))
            # else: the case holds it, so it was stored before its state was written; storing
            # it again could only put a repeat with other content over the first.
            touched.add(part)
        return touched

    def _progress(self, m: Message, part: CasePartition, out: Output) -> None:
        """A progress marker: noted for the partition (its outcome counted), or dead-lettered."""
        value = m.value
        marker = self.markers.get(value)
        if marker is None:
            try:
                marker = parse_marker(value)
            except InvalidMarker as exc:
                self._reject(m, part, str(exc), PROGRESS_MARKER, out)
                out.markers.append((m.topic, MALFORMED))
                return
            if len(self.markers) >= MARKERS_KEPT:
                self.markers.clear()
            self.markers[value] = marker
        out.markers.append((m.topic, part.clock.marks.observe(marker, part.sources)))
        part.clock.observed(m.offset, None)
        self.limit.accepted()

    def _reject(self, m: Message, part: CasePartition, reason: str, kind: str, out: Output) -> None:
        letter = dead_letter(
            m.value, m.key, reason, kind, topic=m.topic, partition=m.partition, offset=m.offset
        )
        out.dead_letters.append(letter)
        part.clock.observed(m.offset, None)
        self.limit.rejected(letter)
