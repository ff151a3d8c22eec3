"""The rejection breaker, per source partition, and the operator's decision to let a range through.

The rejection-rate limit (``deadletter.RejectionLimit``) is kept per source
``(topic, partition)``: a broken upstream stops only the partitions it floods,
never the worker. When a partition's limit trips, the evaluator drops what that
partition's part of the batch produced but its dead letters (what the operator
looks at) and forgets the partition (as a rebalance does): nothing else of it is
stored, saved or committed past its restart position, and the worker reads nothing
more of it. Everything else goes on. The operator sees an
ERROR log naming the partition and offsets, ``supervision_deadletter_breaker_tripped
{topic,partition} = 1`` and the ``SupervisionDeadLetterBreakerTripped`` alert.

Once the operator has looked at the dead letters (or the source), ``supervise
deadletter skip --topic T --partition P [--until-offset O]`` records a decision: the
invalid messages of ``T[P]`` below ``O`` (default: the partition's end when the
command ran) go to the dead-letter topic without counting toward the limit.
Decisions are records of a compacted Kafka topic, ``<deadletter topic>.decisions``
(key ``deadletter-skip|T|P``, value JSON): every worker reads them where it reads
its input, whichever worker owns the partition after a rebalance, no schema
change, and they survive restarts — a restart does not trip again on a range the
operator let through. A worker reads the decisions at its first tick and, every
``POLL_S``, while a partition is tripped; a decision that covers the tripping
offset resumes the partition from its stored restart position.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson

from streams.contract import DeadLetter
from streams.live.deadletter import RejectionLimit
from streams.observability.metrics import Metrics

log = logging.getLogger(__name__)

POLL_S = 5.0
KEY_PREFIX = "deadletter-skip|"

Source = tuple[str, int]  # (topic, partition)


def decisions_topic(deadletter_topic: str) -> str:
    """The compacted topic of the operators' decisions (one partition)."""
    return f"{deadletter_topic}.decisions"


@dataclass(frozen=True, slots=True)
class SkipDecision:
    """Invalid messages of ``topic[partition]`` below ``until_offset`` are dead-lettered
    without counting toward the rejection-rate limit."""

    topic: str
    partition: int
    until_offset: int
    operator: str = ""
    decided_at: str = ""

    @property
    def key(self) -> bytes:
        return f"{KEY_PREFIX}{self.topic}|{self.partition}".encode()

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "topic": self.topic,
                "partition": self.partition,
                "until_offset": self.until_offset,
                "operator": self.operator,
                "decided_at": self.decided_at,
            }
        )

    @classmethod
    def from_record(cls, key: bytes | None, value: bytes | None) -> SkipDecision | None:
        """A decision from a record of the decisions topic; None for anything else."""
        if not key or not value or not key.startswith(KEY_PREFIX.encode()):
            return None
        try:
            data = orjson.loads(value)
            return cls(
                str(data["topic"]),
                int(data["partition"]),
                int(data["until_offset"]),
                str(data.get("operator", "")),
                str(data.get("decided_at", "")),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("unreadable decision record %r: ignored", key)
            return None


class PartitionLimit(RejectionLimit):
    """The rejection-rate limit of one source partition; what the operator let through
    (offsets below ``let_through_until``) is dead-lettered without counting."""

    def __init__(self, window: int, max_ratio: float, max_consecutive: int) -> None:
        super().__init__(window, max_ratio, max_consecutive)
        self.let_through_until = 0
        self.last_rejected: int | None = None  # offset of the last counted rejection

    def rejected(self, letter: DeadLetter) -> None:
        if letter.offset < self.let_through_until:
            self.rejected_total += 1
            return
        self.last_rejected = letter.offset
        super().rejected(letter)


@dataclass(slots=True)
class Trip:
    first_offset: int  # where the partition restarts from (its batch's first offset)
    offset: int  # the rejection that tripped it
    reason: str


class Breakers:
    """The rejection-rate limits of the source partitions, their trips and the decisions."""

    def __init__(
        self,
        window: int,
        max_ratio: float,
        max_consecutive: int,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = (window, max_ratio, max_consecutive)
        self.metrics = metrics
        self.clock = clock
        self.limits: dict[Source, PartitionLimit] = {}
        self.tripped: dict[Source, Trip] = {}
        self.decisions: dict[Source, SkipDecision] = {}
        self.loaded = False  # decisions read at least once
        self.polled_at = -POLL_S

    def limit(self, topic: str, partition: int) -> PartitionLimit:
        source = (topic, partition)
        limit = self.limits.get(source)
        if limit is None:
            limit = self.limits[source] = PartitionLimit(*self.settings)
            decision = self.decisions.get(source)
            if decision is not None:
                limit.let_through_until = decision.until_offset
        return limit

    def is_tripped(self, topic: str, partition: int) -> bool:
        return (topic, partition) in self.tripped

    def trip(self, topic: str, partition: int, first_offset: int, reason: str) -> None:
        """``topic[partition]`` broke the limit: it stops (module doc)."""
        source = (topic, partition)
        limit = self.limits.pop(source, None)
        offset = limit.last_rejected if limit and limit.last_rejected is not None else first_offset
        self.tripped[source] = Trip(first_offset, offset, reason)
        log.error(
            "rejection breaker tripped on %s[%d] at offset %d: %s. The partition stops (the "
            "others go on); nothing of it from offset %d on is evaluated or committed. Look at "
            "its dead letters (those up to the trip are stored), then let the range through: supervise deadletter skip "
            "--topic %s --partition %d (README: Rejection breaker tripped)",
            topic,
            partition,
            offset,
            reason,
            first_offset,
            topic,
            partition,
        )
        if self.metrics is not None:
            self.metrics.set_breaker_tripped(topic, partition, True)

    def due(self) -> bool:
        """Time to read the decisions: never read yet, or a partition waits for one."""
        if self.loaded and not self.tripped:
            return False
        return self.clock() - self.polled_at >= POLL_S

    def apply(self, decisions: Iterable[SkipDecision]) -> list[Source]:
        """Take the decisions read; the tripped partitions they let through, resumed."""
        self.loaded, self.polled_at = True, self.clock()
        for decision in decisions:
            source = (decision.topic, decision.partition)
            known = self.decisions.get(source)
            if known is None or known.until_offset < decision.until_offset:
                self.decisions[source] = decision
                limit = self.limits.get(source)
                if limit is not None:
                    limit.let_through_until = decision.until_offset
        resumed: list[Source] = []
        for source, trip in list(self.tripped.items()):
            found = self.decisions.get(source)
            if found is None or found.until_offset <= trip.offset:
                continue
            decision = found
            del self.tripped[source]
            resumed.append(source)
            log.warning(
                "%s[%d]: the operator%s let invalid messages below offset %d through as dead "
                "letters (decided %s); the partition resumes from its restart position",
                source[0],
                source[1],
                f" {decision.operator}" if decision.operator else "",
                decision.until_offset,
                decision.decided_at or "?",
            )
            if self.metrics is not None:
                self.metrics.set_breaker_tripped(source[0], source[1], False)
        return resumed

    def forget(self, sources: Iterable[Source]) -> None:
        """Partitions revoked: their counts and trips belong to the next owner."""
        for source in sources:
            self.limits.pop(source, None)
            if self.tripped.pop(source, None) is not None and self.metrics is not None:
                self.metrics.set_breaker_tripped(source[0], source[1], False)
