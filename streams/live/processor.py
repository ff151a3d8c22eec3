"""The Faust-free core of the live service: the engine state a batch is evaluated against.

``CasePartition`` owns the case half of the engine for one source partition
(one per topic-partition: each has its own consumption horizon and deadline
index). ``FactPartition`` owns the cross half for one facts partition, behind a
``FactGate``. ``Output`` is what a batch (or tick) produced. ``pipeline``
validates, routes and feeds them; the Faust agents in ``app`` only feed it and
persist what it returns. Everything here is synchronous and deterministic, and
is unit-tested without a broker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.contract import (
    WRONG_TOPIC,
    DeadLetter,
)
from streams.engine import CaseEngine, CrossEngine, Fact
from streams.engine.corrections import correct_case
from streams.engine.model import Alert, CaseStatus, Event, Withdrawal
from streams.engine.state import event_hash
from streams.live.contents import ContentWindow
from streams.live.corrections import CORRECTED, INCONSISTENT, NO_HISTORY, CaseHistory
from streams.live.horizon import FactGate, PendingFact, SourceClock, fact_order_key
from streams.live.state import (
    NO_OFFSET,
    expired_key,
    pack_case,
    pack_cross,
    unpack_case,
    unpack_cross,
)

__all__ = [
    "WRONG_TOPIC",
    "CasePartition",
    "FactPartition",
    "Message",
    "Output",
    "Reroute",
]

log = logging.getLogger(__name__)

DAY_US = 86_400_000_000

# A table write: (changelog partition, table key, value or None, owner). The owner is the
# CasePartition / FactPartition that produced it (writes of a revoked owner are dropped).
StateWrite = tuple[int, bytes, bytes | None, object | None]


def case_key(process: str, case_id: str) -> str:
    return f"{process}|{case_id}"


@dataclass(slots=True)
class Message:
    """One consumed Kafka message; ``tp`` is the framework's TopicPartition (offsets, seeks)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes  # b"": no value (a tombstone: ``intake`` reads None as b"")
    tp: Any = None
    arrived_at: int | None = None  # the record's timestamp, epoch µs (None: the broker gave none)
    event: Any = None  # the value parsed before evaluation, when it is a valid event


@dataclass(slots=True)
class Reroute:
    """An event read on a partition that is not its case's: published again, keyed by its
    ``case_id``, to ``partition`` of the same topic (where its case is evaluated)."""

    topic: str
    partition: int
    key: bytes
    value: bytes
    origin: str  # topic/partition@offset it was read at

    def headers(self) -> list[tuple[str, bytes]]:
        return [("rerouted_from", self.origin.encode("utf-8"))]


@dataclass(slots=True)
class StoredEvent:
    event: Event
    topic: str
    partition: int
    offset: int


@dataclass(slots=True)
class Output:
    """What one batch (or tick) produced: to store, publish and persist before acking."""

    events: list[StoredEvent] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    shadow_alerts: list[Alert] = field(default_factory=list)  # stored in shadow_alerts only
    # Alerts late input disproves (rules.md §1.4): stored after ``alerts`` in the same write,
    # then published on the alerts topic with the alert's key. Each carries what the
    # workflow's ``on_withdrawn`` needs (alert id, reason, ``withdrawn_at``; the alert).
    withdrawals: list[Withdrawal] = field(default_factory=list)
    withdrawn_after: list[int] = field(default_factory=list)  # len(alerts) at each ``withdraw``
    case_updates: list[CaseStatus] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    reroutes: list[Reroute] = field(default_factory=list)
    case_states: list[StateWrite] = field(default_factory=list)
    cross_states: list[StateWrite] = field(default_factory=list)
    duplicates: int = 0  # replayed events already in the state
    markers: list[tuple[str, str]] = field(default_factory=list)  # (topic, outcome) per marker
    timed: list[int] = field(
        default_factory=list
    )  # instants of the timed alerts raised (timer lag)
    late: list[int] = field(default_factory=list)  # arrivals (µs) of the late events corrected
    # Late facts at their key (``crosslog``): judged again from their place on, or before
    # what the key's log keeps (not judged).
    rejudged: int = 0
    beyond_log: int = 0
    rows_stored: bool = False  # set once its rows are stored (``corrections.Unstored``)

    def withdraw(self, withdrawals: list[Withdrawal]) -> None:
        """Add ``withdrawals``, after the alerts added so far (see ``drop_superseded``)."""
        for w in withdrawals:
            self.withdrawals.append(w)
            self.withdrawn_after.append(len(self.alerts))

    def drop_superseded(self) -> None:
        """Drop each withdrawal whose alert the same step raised again after it.

        A correction can withdraw a card that the same batch raises again later, with the
        same id and new content (a late pause moves an OVERDUE notice past the instant the
        case had been evaluated to; the batch's other events then move the time past the
        notice's new instant). Storage keeps the row stored last and a write stores its
        withdrawals after its alerts, so the withdrawal would hide the card replay has. The
        card raised again replaces the withdrawn one, as a correction that changes a card's
        content does (``engine.corrections``)."""
        if not self.withdrawals:
            return
        last = {a.alert_id: i for i, a in enumerate(self.alerts)}
        kept = [
            (w, at)
            for w, at in zip(self.withdrawals, self.withdrawn_after, strict=True)
            if last.get(w.alert_id, -1) < at
        ]
        self.withdrawals = [w for w, _ in kept]
        self.withdrawn_after = [at for _, at in kept]

    def empty(self) -> bool:
        return not (
            self.events
            or self.alerts
            or self.shadow_alerts
            or self.withdrawals
            or self.case_updates
            or self.facts
            or self.dead_letters
            or self.reroutes
            or self.case_states
            or self.cross_states
        )


class CasePartition:
    """Case state, deadline index and stamps of one source topic-partition."""

    def __init__(self, topic: str, partition: int, cases: CaseEngine, lateness_us: int = 0) -> None:
        self.topic = topic
        self.partition = partition
        self.cases = cases
        self.clock = SourceClock(lateness_us)
        self.sources: frozenset[str] = frozenset()  # upstreams configured for the topic
        self.applied: dict[str, int] = {}
        self.duplicates_reported = 0  # of cases.duplicate_count, already counted in metrics
        self.contents = ContentWindow()
        # The events of the batch's late cases, while it is evaluated (``corrections``).
        self.history: CaseHistory | None = None

    def load(self, entries: Iterable[tuple[str, bytes]]) -> int:
        n = 0
        for key, value in entries:
            offset, blob = unpack_case(value)
            self.cases.load(key, blob)
            self.applied[key] = offset
            n += 1
        return n

    def advance(self, t: int, out: Output) -> None:
        """Timed alerts up to ``t``; terminal cases past their retention leave the state
        (``collect`` then deletes their stored states)."""
        alerts = self.cases.advance(t)
        if alerts:
            out.alerts.extend(alerts)
            out.timed.extend([a.raised_at for a in alerts])
        evict_at = self.cases.next_eviction()
        if evict_at is not None and evict_at < t:
            self.cases.evict(t)

    def seen(self, event: Event, offset: int = NO_OFFSET) -> bool:
        """The event's case already holds it: read again at or below the newest offset its
        stored state contains (a re-read after a restart), or its ``event_id`` is among the
        case's last ids (the engine's memory)."""
        key = case_key(event.process, event.case_id)
        if offset != NO_OFFSET and offset <= self.applied.get(key, NO_OFFSET):
            return True
        state = self.cases.states.get(key)
        return state is not None and bool(state.seen_event(event_hash(event.event_id)))

    def process(
        self, event: Event, offset: int, out: Output, arrived_at: int | None = None
    ) -> bool:
        """Apply one event, after the timed alerts of *its case* up to its instant; False
        when the case already held it (nothing moves then). A late event corrects its case
        (``correct``). ``arrived_at``: the event's arrival (µs), when known.

        Only this case's clock moves here: other cases of the partition may
        still receive late events before this instant; their timers move with
        the partition horizon (``advance``). Re-reading an event the case
        already holds (replay after a crash) is a no-op in the engine, which counts it.
        """
        key = case_key(event.process, event.case_id)
        if self.seen(event, offset):
            self.cases.duplicate_count += 1  # ignored, counted as a duplicate
            return False
        history = self.history
        if history is not None:
            if self.cases.is_late(event) and self.correct(key, event, arrived_at, out, history):
                self.applied[key] = max(offset, self.applied.get(key, NO_OFFSET))
                history.note(key, event)
                return True
            history.note(key, event)
        alerts = self.cases.advance_case(key, event.occurred_at)
        more, facts = self.cases.process(event)
        self.applied[key] = max(offset, self.applied.get(key, NO_OFFSET))
        if alerts or more:
            out.alerts.extend(alerts)
            out.alerts.extend(more)
            if alerts:  # timed alerts this event's instant made due
                out.timed.extend([a.raised_at for a in alerts])
        if facts:
            out.facts.extend(facts)
        return True

    def correct(
        self, key: str, late: Event, arrived_at: int | None, out: Output, history: CaseHistory
    ) -> bool:
        """Correct the case of ``late`` from the events it holds (rules.md §1.4): withdrawals,
        alerts with their true instants, changed facts into ``out``. False when its events
        were not read (the event is then applied as any other)."""
        held = history.held(key, self.cases.states[key])
        if held is None:
            history.outcomes.append((self.topic, NO_HISTORY))
            return False
        fix = correct_case(self.cases, late, held, history.now, arrived_at or 0)
        if not fix.consistent:  # its stored events are not what it applied
            log.warning(
                "case %s on %s[%d] corrected for late event %s, but its stored events do not "
                "give the state it held: its withdrawals may miss alerts",
                key,
                self.topic,
                self.partition,
                late.event_id,
            )
        history.outcomes.append((self.topic, CORRECTED if fix.consistent else INCONSISTENT))
        out.withdraw(fix.withdrawals)
        out.alerts.extend(fix.alerts)
        out.facts.extend(fix.facts)
        out.late.append(arrived_at or 0)
        return True

    def collect(self, out: Output, table_key: Callable[[int, str, str], bytes]) -> None:
        for key, blob in self.cases.export_dirty().items():
            tkey = table_key(self.partition, self.topic, key)
            if blob is None:
                self.applied.pop(key, None)
                out.case_states.append((self.partition, tkey, None, self))
            else:
                out.case_states.append(
                    (self.partition, tkey, pack_case(self.applied.get(key, NO_OFFSET), blob), self)
                )
        updates = self.cases.take_status()
        if updates:
            out.case_updates.extend(updates)

    def next_timer(self) -> int | None:
        """The next timed alert or terminal-case eviction, whichever comes first."""
        timer, evict_at = self.cases.next_timer(), self.cases.next_eviction()
        if timer is None or (evict_at is not None and evict_at < timer):
            return evict_at
        return timer


class FactPartition:
    """Cross-case state of one facts partition, fed in global order by its gate."""

    def __init__(self, partition: int, cross: CrossEngine, sources: frozenset[str]) -> None:
        self.partition = partition
        self.cross = cross
        self.gate = FactGate(sources)
        self.applied: dict[str, tuple[int, bytes]] = {}
        # The horizon the cross state was last expired at (stored with the state). A fact read
        # again after a restart that is out of its window at this horizon was applied before
        # and its key since forgotten: applying it again would revive what replay forgot.
        self.expired_at: int | None = None
        self._expired_dirty = False
        self.next_expiry: int | None = None  # the gate's horizon at which state expires next

    def expire_daily(self) -> None:
        """Expire cross-case state once per day of global horizon, as replay's ``Engine`` does
        per day of event time (the first horizon seen starts the day)."""
        horizon = self.gate.horizon()
        if horizon is None:
            return
        if self.next_expiry is None:
            self.next_expiry = horizon + DAY_US
        elif horizon >= self.next_expiry:
            self.expire(horizon)
            self.next_expiry = horizon + DAY_US

    def expire(self, horizon: int) -> int:
        self.expired_at = horizon
        self._expired_dirty = True
        gone: int = self.cross.expire(horizon)
        return gone

    def load(self, entries: Iterable[tuple[str, bytes]]) -> int:
        n = 0
        for key, value in entries:
            marker, blob = unpack_cross(value)
            self.cross.load(key, blob)
            self.applied[key] = marker
            n += 1
        return n

    def add(self, offset: int, fact_bytes: bytes) -> None:
        fact = Fact.from_bytes(fact_bytes)
        order = fact_order_key(fact)
        self.gate.add(PendingFact(order, offset, fact, fact_bytes))

    def held_from(self) -> int | None:
        """Lowest offset of a fact still held (the facts partition may be committed up to it)."""
        return self.gate.lowest_offset()

    def release(self, out: Output, now: int = 0) -> int:
        """Apply every fact the gate releases, in order; returns how many.

        A fact older than one applied at its key is late, not a duplicate: its key's fact
        log corrects the judgements after it (rules.md §1.4); the withdrawals go to
        ``out.withdrawals`` (``now``: their processing time). A fact the log holds already
        (read again after a restart) is a duplicate; so is one at or before the marker of
        a key stored without a log (before corrections existed)."""
        n = 0
        log = self.cross.facts
        for pending in self.gate.release():
            fact = pending.fact
            n += 1
            marker = self.applied.get(fact.key)
            if (
                not self.logged(fact) and marker is not None and pending.order <= marker
            ) or self.out_of_window(fact):
                out.duplicates += 1
                continue
            counts = (log.duplicates, log.beyond, log.corrected) if log is not None else None
            alerts = self.judge(fact, now)
            if log is not None and counts is not None:
                out.duplicates += log.duplicates - counts[0]
                out.beyond_log += log.beyond - counts[1]
                out.rejudged += log.corrected - counts[2]
                out.withdraw(log.take_withdrawals())
            if marker is None or pending.order > marker:
                self.applied[fact.key] = pending.order
            if alerts:
                out.alerts.extend(alerts)
        return n

    def out_of_window(self, fact: Fact) -> bool:
        """Applied before and since forgotten: out of its window at the expiry horizon."""
        return self.expired_at is not None and self.cross.expired(
            fact.key, fact.occurred_at, self.expired_at
        )

    def logged(self, fact: Fact) -> bool:
        """The fact's key keeps a fact log (a late fact corrects it, rules.md §1.4)."""
        state = self.cross.states.get(fact.key)
        return self.cross.facts is not None and state is not None and "log" in state

    def judge(self, fact: Fact, now: int = 0) -> list[Alert]:
        """The fact's rule, with its key's state; the alerts raised."""
        return self.cross.process(fact, now)

    def collect(self, out: Output, table_key: Callable[[int, str], bytes]) -> None:
        for key, blob in self.cross.export_dirty().items():
            tkey = table_key(self.partition, key)
            if blob is None:
                self.applied.pop(key, None)
                out.cross_states.append((self.partition, tkey, None, self))
            else:
                marker = self.applied.get(key, (-(2**63), b"\0" * 20))
                out.cross_states.append((self.partition, tkey, pack_cross(marker, blob), self))
        if self._expired_dirty and self.expired_at is not None:  # after the states it covers
            out.cross_states.append(
                (self.partition, expired_key(self.partition), str(self.expired_at).encode(), self)
            )
            self._expired_dirty = False
