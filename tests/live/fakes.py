"""In-process stand-ins for the live service's edges: the Kafka port and the row store.

``build_service`` wires the real steps (as ``streams.live.app.build`` does) over them, so
a test drives the service's public methods with no broker and no ClickHouse.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry

from streams.live.deadletter import RejectionLimit
from streams.live.delivery import OffsetGate
from streams.live.evaluate import Evaluator
from streams.live.offsets import OffsetKeeper
from streams.live.partitions import Partitions
from streams.live.persister import Persister
from streams.live.pipeline import Pipeline
from streams.live.probe import LagReport
from streams.live.recovery import Recovery, RecoveryWatch
from streams.live.service import LiveService
from streams.live.state import StateTable
from streams.live.ticker import Ticker
from streams.live.topics import Topics
from streams.observability.health import HealthState
from streams.observability.metrics import Metrics
from streams.settings import Settings
from tests.live.core import CONFIG


class TP(NamedTuple):
    topic: str
    partition: int


def done() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


class Sent(NamedTuple):
    """What a delivery future gives (aiokafka's ``RecordMetadata``, the fields used)."""

    topic: str
    partition: int
    offset: int


class Batch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes | None]] = []

    def append(
        self, *, timestamp: Any, key: bytes | None, value: bytes | None, headers: Any
    ) -> bool:
        self.records.append((key, value))
        return True

    def close(self) -> None:
        pass


@dataclass
class Producer:
    """The aiokafka producer's batch API; records per topic, in order."""

    partitions: int
    journal: list[str]
    sent: dict[str, list[tuple[bytes | None, bytes | None]]] = field(default_factory=dict)
    ends: dict[tuple[str, int], int] = field(default_factory=dict)  # next offset per partition

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.partitions))

    def create_batch(self) -> Batch:
        return Batch()

    async def send_batch(self, batch: Batch, topic: str, partition: int) -> asyncio.Future[Sent]:
        """Acknowledged at once with the batch's first offset, as aiokafka's batch future."""
        base = self.ends.get((topic, partition), 0)
        self.ends[(topic, partition)] = base + len(batch.records)
        self.sent.setdefault(topic, []).extend(batch.records)
        self.journal.append(f"publish {topic}")
        future: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()
        future.set_result(Sent(topic, partition, base))
        return future


@dataclass
class Port:
    """``KafkaPort`` of one worker that owns everything; logs of ``log_end`` messages each."""

    partitions: int
    log_end: int = 0
    assigned: set[TP] = field(default_factory=set)
    committed: list[dict[Any, int]] = field(default_factory=list)
    seeks: list[tuple[Any, int]] = field(default_factory=list)
    horizons: list[tuple[str, int, bytes]] = field(default_factory=list)
    journal: list[str] = field(default_factory=list)  # what reached Kafka and storage, in order
    decisions: list[tuple[bytes | None, bytes | None]] = field(default_factory=list)
    answered_at: float | None = None  # Unix time of the last fetch answer; None: now

    def __post_init__(self) -> None:
        self.aiokafka = Producer(self.partitions, self.journal)

    def assignment(self) -> set[TP]:
        return set(self.assigned)

    def highwater(self, tp: TP) -> int:
        return self.log_end

    def fetched_at(self, tp: TP) -> float | None:
        """The broker answers every fetch at once, unless ``answered_at`` says when it last did."""
        return time.time() if self.answered_at is None else self.answered_at

    async def earliest_offsets(self, tps: set[TP]) -> dict[TP, int]:
        return {tp: 0 for tp in tps}

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def first_offset_from(self, tp: TP, offset: int, timeout: float = 5.0) -> int | None:
        """Every offset holds a record: a hole is never confirmed."""
        return offset

    async def commit(self, offsets: dict[Any, int]) -> None:
        self.committed.append(dict(offsets))
        self.journal.append("commit")

    async def read_all(
        self, topic: str, timeout: float = 5.0
    ) -> list[tuple[bytes | None, bytes | None]]:
        """The operators' decisions topic (``breaker``)."""
        return list(self.decisions)

    def producer(self) -> Producer:
        return self.aiokafka

    async def send(self, topic: str, partition: int, value: bytes) -> asyncio.Future[None]:
        self.horizons.append((topic, partition, value))
        return done()

    def in_recovery(self) -> bool:
        return False

    def rebalancing(self) -> bool:
        return False

    def recovery_completed(self) -> bool:
        return True

    async def close(self, timeout: float) -> None:
        pass


@dataclass
class Store:
    """``RowStore`` that keeps the rows; ``down`` makes it fail like an outage."""

    events: list[Any] = field(default_factory=list)
    alerts: list[Any] = field(default_factory=list)
    letters: list[Any] = field(default_factory=list)
    withdrawals: list[Any] = field(default_factory=list)
    down: int = 0  # failures to come
    journal: list[str] = field(default_factory=list)
    reads: list[list[tuple[str, str]]] = field(default_factory=list)  # case_events calls
    read_stored: list[int] = field(default_factory=list)  # events stored at each of them
    # What users read of each alert id, as the writer stores a write (its alerts, then its
    # withdrawals: the row stored last is current): ("raised" | "withdrawn", the record).
    current: dict[str, tuple[str, Any]] = field(default_factory=dict)

    def store(
        self,
        events: Sequence[Any],
        alerts: Sequence[Any],
        cases: Sequence[Any],
        dead_letters: Sequence[Any],
        withdrawals: Sequence[Any] = (),
    ) -> None:
        if self.down:
            self.down -= 1
            self.journal.append("store failed")
            raise ConnectionError("storage down")
        self.journal.append("store")
        self.events += events
        self.alerts += alerts
        self.letters += dead_letters
        self.withdrawals += withdrawals
        for alert in alerts:
            self.current[alert.alert_id] = ("raised", alert)
        for withdrawal in withdrawals:
            self.current[withdrawal.alert_id] = ("withdrawn", withdrawal)

    def case_events(self, cases: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """The stored events of ``cases`` as ``queries.case_events`` rows."""
        self.reads.append(list(cases))
        self.read_stored.append(len(self.events))
        wanted = set(cases)
        return [
            {
                "event_id": e.event_id,
                "case_id": e.case_id,
                "process": e.process,
                "action": e.action,
                "occurred_at_text": e.occurred_at_text,
                "dept": e.dept,
                "actor": e.actor,
                "reported_at_text": e.reported_at_text,
                "attrs": e.attrs,
                "arrived_at_us": e.arrived_at,
            }
            for e in self.events
            if (e.process, e.case_id) in wanted
        ]

    def ping(self) -> None:
        pass

    def close(self) -> None:
        pass


def build_service(port: Port, store: Store, **settings: Any) -> LiveService:
    """The real steps over the fakes, wired as the composition root wires them."""
    config = Settings(store_retry_initial_s=0.01, store_retry_max_s=0.01, **settings)
    topics = Topics.from_settings(config)
    metrics = Metrics(CollectorRegistry(), process_metrics=False)
    health = HealthState(metrics=metrics)
    case_table, cross_table = StateTable({}, "case-changelog"), StateTable({}, "cross-changelog")
    partitions = Partitions(CONFIG, topics, config, case_table, cross_table)
    offsets = OffsetKeeper(port, partitions.stored_next_offset, OffsetGate())
    from streams.engine import EventValidator

    limit = RejectionLimit(100, 0.9, 50)
    pipeline = Pipeline(topics, EventValidator(), limit, partitions.case)
    persister = Persister(
        settings=config,
        topics=topics,
        config=CONFIG,
        port=port,
        offsets=offsets,
        partitions=partitions,
        store=store,
        metrics=metrics,
        health=health,
    )
    lags = LagReport(metrics, offsets)
    return LiveService(
        config,
        port,
        offsets,
        Evaluator(partitions, pipeline, offsets, port, metrics),
        persister,
        Ticker(
            partitions=partitions,
            offsets=offsets,
            port=port,
            lags=lags,
            metrics=metrics,
            health=health,
        ),
        Recovery(port, RecoveryWatch(30.0)),
    )
