"""Time in the live service: how far each partition has been consumed (rules.md §1.3).

A timed alert for instant T may fire only once the case's partition has been
consumed up to T (rules.md §1.4): an event with ``occurred_at`` ≥ T + lateness
was read from it, or the partition is fully caught up and T is within the
horizon of its upstreams (``progress``: their progress markers, or the wall
clock minus ``UPSTREAM_DELAY``). ``SourceClock`` keeps that per source
partition.

Cross-case facts (a plan's approval, a disbursement, an award, an inspection
start) come from many source partitions and meet on the partition of their
comparison key. ``FactGate`` holds them there and releases them in
(``occurred_at``, identity digest, offset) order, and only below the *global*
horizon: the lowest horizon reported by every source partition. Each worker reports the horizon of
the source partitions it owns on every facts partition, after the facts it
derived from them (same producer, same partition: the report is read after
those facts). So a fact is applied only when no fact with an earlier
``occurred_at`` can still arrive, whatever partition was read first; and the
answer equals offline replay.

Partitions are assumed to carry their events in ``occurred_at`` order (each case
is in order; cases interleave roughly in time), which is what makes
"an event at ≥ T was read" mean "every event before T was read".
"""

from __future__ import annotations

import hashlib
import heapq
import json
from dataclasses import dataclass, field
from typing import Any

from streams.engine import Fact
from streams.live.progress import ProgressMarks


def source_name(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


@dataclass(slots=True)
class SourceClock:
    """Consumption progress of one source partition.

    ``lateness_us``: events of *different* cases may arrive on a partition up to
    this much (event time) after newer ones; a case's own events arrive in
    order (they share the key). So after reading an event at ``m``, every event
    before ``m - lateness`` has been read: that is the partition's horizon.
    """

    lateness_us: int = 0
    last_event_at: int | None = None  # highest occurred_at read (µs)
    next_offset: int | None = None  # offset after the last message read
    # The idle horizon as of the latest moment the partition was seen caught up: it had been
    # consumed up to that then, and stays so. Under steady input a partition is caught up right
    # after a batch more often than at an arbitrary tick.
    caught_up_horizon: int | None = None
    marks: ProgressMarks = field(default_factory=ProgressMarks)  # upstreams' watermarks

    def observed(self, offset: int, occurred_at: int | None) -> None:
        self.next_offset = offset + 1
        if occurred_at is not None and (
            self.last_event_at is None or occurred_at > self.last_event_at
        ):
            self.last_event_at = occurred_at

    def caught_up(self, highwater: int | None, position: int | None = None) -> bool:
        nxt = self.next_offset if self.next_offset is not None else position
        return highwater is not None and nxt is not None and nxt >= highwater

    def event_horizon(self) -> int | None:
        """Consumed up to (exclusive), judged on the events read alone."""
        if self.last_event_at is None:
            return None
        return self.last_event_at - self.lateness_us

    def note_caught_up(self, caught_up: bool, idle_horizon: int | None) -> None:
        """Remember ``idle_horizon`` when the partition is caught up now."""
        if not caught_up or idle_horizon is None:
            return
        if self.caught_up_horizon is None or idle_horizon > self.caught_up_horizon:
            self.caught_up_horizon = idle_horizon

    def horizon(self, caught_up: bool, idle_horizon: int | None) -> int | None:
        """Consumed up to (exclusive); a caught-up partition may count up to ``idle_horizon``
        (now, or as of the latest moment it was seen caught up)."""
        self.note_caught_up(caught_up, idle_horizon)
        h = self.event_horizon()
        if self.caught_up_horizon is not None:
            h = self.caught_up_horizon if h is None else max(h, self.caught_up_horizon)
        return h


def encode_horizons(horizons: dict[str, int]) -> bytes:
    return b"W" + json.dumps(horizons, separators=(",", ":")).encode()


def encode_fact(fact_bytes: bytes) -> bytes:
    return b"F" + fact_bytes


def decode_facts_message(value: bytes) -> tuple[str, Any]:
    """('fact', fact bytes) or ('horizons', {source: µs})."""
    if value[:1] == b"F":
        return "fact", value[1:]
    if value[:1] == b"W":
        return "horizons", json.loads(value[1:])
    raise ValueError(f"unknown facts-topic message kind {value[:1]!r}")


def fact_order_key(fact: Fact) -> tuple[int, bytes]:
    """Read-order-independent order of facts: time, then a digest of the fact's identity
    (its key, event and kind), not of its content. The versions of one fact (the
    original, then a correction's revision or retraction, rules.md §1.4) share the key
    and are ordered by their offset (``PendingFact``): the order they were produced
    in, so a correction is never applied before the fact it corrects."""
    identity = json.dumps([fact.key, fact.event_id, fact.kind]).encode()
    return fact.occurred_at, hashlib.sha1(identity).digest()


@dataclass(order=True, slots=True)
class PendingFact:
    order: tuple[int, bytes]
    offset: int
    fact: Fact = field(compare=False)
    fact_bytes: bytes = field(compare=False, default=b"")


class FactGate:
    """Holds the facts of one facts partition until every source is past them."""

    def __init__(self, sources: frozenset[str]) -> None:
        self.sources = sources
        self._horizon: dict[str, int] = {}
        self._pending: list[PendingFact] = []

    def report(self, horizons: dict[str, int]) -> None:
        for source, t in horizons.items():
            if source in self.sources and t > self._horizon.get(source, -(2**63)):
                self._horizon[source] = t

    def horizon(self) -> int | None:
        if len(self._horizon) < len(self.sources):
            return None
        return min(self._horizon.values())

    def missing_sources(self) -> list[str]:
        return sorted(self.sources - self._horizon.keys())

    def add(self, pending: PendingFact) -> None:
        heapq.heappush(self._pending, pending)

    def __len__(self) -> int:
        return len(self._pending)

    def lowest_offset(self) -> int | None:
        return min((p.offset for p in self._pending), default=None)

    def release(self) -> list[PendingFact]:
        """Pending facts strictly before the global horizon, in order."""
        h = self.horizon()
        out: list[PendingFact] = []
        if h is None:
            return out
        while self._pending and self._pending[0].order[0] < h:
            out.append(heapq.heappop(self._pending))
        return out
