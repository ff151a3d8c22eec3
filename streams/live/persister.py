"""The one way out of the live service: store, publish, write states, then commit.

Every evaluated ``Step`` (a batch of events, of facts, or a tick) goes through
``persist`` and then ``commit``, in evaluation order within its lane: one lane
for event batches and ticks (a tick's horizons follow the facts of every batch
before it; the next batch is evaluated while one is persisted), one for fact
batches (whose flush waits until its step is committed: the facts agent and
the tick pace themselves on it). Per step:

1. events, alerts, alert withdrawals (after the alerts: rules.md §1.4), case
   status and dead letters are stored (ClickHouse) in one write, retried with
   back-off until they are (the agents stop reading meanwhile: back-pressure;
   nothing is committed);
2. alerts, then withdrawals (the alert's record again, withdrawn, with its key),
   dead letters, cross-case facts and re-routed events (keyed by their
   ``case_id``, to their case's partition) are produced to Kafka and awaited;
3. the changed engine states, then each partition's next offset, are produced
   to the table changelogs and awaited; a tick's horizons after them;
4. only then are the step's offsets committed.

A failure other than an outage (retried forever) stops the worker uncommitted.
A SIGKILL between a withdrawal's store and its commit reads the batch again: the
same correction, stored with the first withdrawal's time (``storage.withdrawals``).

The corrections' reads of a case's stored events (``case_events``) run on the
same thread as the writes, retried like them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from streams.contract import DeadLetter
from streams.engine import SupervisionConfig, alert_to_dict
from streams.engine.model import Alert
from streams.engine.timeutil import LocalTime
from streams.live.delivery import die, retry_forever
from streams.live.evaluate import LANES, Step
from streams.live.faults import crash_after, crash_mid_send, crash_point
from streams.live.horizon import encode_fact, encode_horizons
from streams.live.kafka_port import KafkaPort
from streams.live.offsets import OffsetKeeper
from streams.live.partitions import Partitions
from streams.live.processor import Message, Output, StateWrite
from streams.live.publish import BatchPublisher, Record, withdrawal_record
from streams.live.sink import RowStore
from streams.live.state import StateTable
from streams.live.table_store import acked_offsets, apply_acked
from streams.live.topics import Topics
from streams.live.workflow_route import WorkflowRouting
from streams.observability.health import HealthState
from streams.observability.metrics import Metrics
from streams.settings import Settings
from streams.storage.errors import StorageUnavailable

log = logging.getLogger(__name__)

PIPELINE_DEPTH = 1  # evaluated steps waiting in a lane (besides the one it persists)


def record_batch(metrics: Metrics, admitted: list[Message], out: Output) -> None:
    """Consumed, accepted and rejected counts of one batch, by topic (and reason); progress
    markers by outcome."""
    consumed: dict[str, int] = {}
    for m in admitted:
        consumed[m.topic] = consumed.get(m.topic, 0) + 1
    accepted: dict[str, int] = {}
    for stored in out.events:
        accepted[stored.topic] = accepted.get(stored.topic, 0) + 1
    for topic, count in consumed.items():
        metrics.record_consumed(topic, count)
    for topic, count in accepted.items():
        metrics.record_accepted(topic, count)
    for letter in out.dead_letters:
        metrics.record_rejected(letter.topic, letter.kind)
    for topic, outcome in out.markers:
        metrics.record_progress_marker(topic, outcome)


def has_rows(out: Output) -> bool:
    """Whether ``out`` has rows to store."""
    return bool(
        out.events
        or out.alerts
        or out.shadow_alerts
        or out.case_updates
        or out.dead_letters
        or out.withdrawals
    )


def record_persisted(metrics: Metrics, out: Output) -> None:
    """Alerts, withdrawals (each logged), dead letters and re-routed events of a persisted step."""
    for a in out.alerts:
        metrics.record_alert(a.rule, a.level)
    for w in out.withdrawals:
        log.info(
            "alert withdrawn (rules.md §1.4): %s %s|%s, by late input %s",
            w.alert_id,
            w.process,
            w.case_id,
            w.by,
        )
        metrics.record_withdrawal(w.alert.rule if w.alert is not None else "")
    for d in out.dead_letters:
        metrics.record_deadletter(d.topic, d.kind)
    for r in out.reroutes:
        metrics.record_rerouted(r.topic)


def withdrawal_records(out: Output, local: LocalTime) -> list[Record]:
    """The withdrawal records of ``out`` for the alerts topic (``publish.withdrawal_record``)."""
    records = []
    for w in out.withdrawals:
        if w.alert is None:  # every withdrawal the engine makes carries its alert
            log.error("withdrawal of %s without its alert: stored, not published", w.alert_id)
            continue
        records.append(withdrawal_record(w.alert, w, local))
    return records


class Persister:
    def __init__(
        self,
        *,
        settings: Settings,
        topics: Topics,
        config: SupervisionConfig,
        port: KafkaPort,
        offsets: OffsetKeeper,
        partitions: Partitions,
        store: RowStore,
        metrics: Metrics,
        health: HealthState,
        on_alerts: Callable[[Sequence[Alert]], None] | None = None,
        clock: Callable[[], float] = time.time,
        workflow: WorkflowRouting | None = None,  # alerts, case ends, withdrawals, horizons
    ) -> None:
        self.topics = topics
        self.local = config.local
        self.port = port
        self.offsets = offsets
        self.partitions = partitions
        self.store = store
        self.metrics = metrics
        self.health = health
        self.on_alerts = on_alerts
        self.workflow = workflow
        self.clock = clock
        self.retry = (settings.store_retry_initial_s, settings.store_retry_max_s)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="store")
        self.lanes: dict[str, asyncio.Queue[Step]] = {
            lane: asyncio.Queue(PIPELINE_DEPTH) for lane in LANES
        }
        self.unpersisted = 0  # steps enqueued and not yet persisted
        self.persisted = asyncio.Event()  # set while ``unpersisted`` is 0
        self.persisted.set()
        self.storage_seen = 0.0  # monotonic time of the last write outcome (health probe)
        self._batches: BatchPublisher | None = None

    # ------------------------------------------------------------ the queue
    async def enqueue(self, step: Step) -> None:
        """Hand an evaluated step over (waits while ``PIPELINE_DEPTH`` are queued)."""
        self.unpersisted += 1
        self.persisted.clear()
        try:
            await self.lanes[step.lane].put(step)
        except BaseException:
            self._done()
            raise

    def _done(self) -> None:
        self.unpersisted -= 1
        if self.unpersisted == 0:
            self.persisted.set()

    async def run(self) -> None:
        """Persist the steps of every lane; stops (cancelled) with the worker."""
        await asyncio.gather(*(self._run(queue) for queue in self.lanes.values()))

    async def _run(self, steps: asyncio.Queue[Step]) -> None:
        """Persist a lane's steps one by one, in order, then commit what each carried.

        Evaluation of the next batch overlaps with the storage and Kafka round trips of
        this one; the order of everything written is the order of evaluation.
        """
        while True:
            step = await steps.get()
            try:
                if not step.out.empty():
                    await self.persist(step.out)
                if step.horizons:
                    await self.publish_horizons(step.horizons)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # nothing of this step is committed
                log.exception("persisting a batch failed")
                die(f"persisting a batch failed: {exc!r}")
            self._done()
            if step.admitted is not None:
                record_batch(self.metrics, step.admitted, step.out)
            await self.offsets.commit(step.commits)
            if step.committed is not None:
                step.committed.set()

    # ------------------------------------------------------------ one step
    async def persist(self, out: Output) -> None:
        """Store rows, publish, write states — all awaited, all retried — before any commit."""
        initial_s, max_s = self.retry
        out.drop_superseded()
        if has_rows(out):
            now_us = int(self.clock() * 1_000_000)
            letters = [dataclasses.replace(d, received_at=now_us) for d in out.dead_letters]
            await retry_forever(
                "store rows", lambda: self.store_rows(out, letters), initial_s, max_s, self._failed
            )
            crash_point("after_store")
            if out.withdrawals:
                crash_point("after_withdrawal_store")
        out.rows_stored = True
        for arrived in out.late:  # the late events' corrections are stored
            if arrived:
                self.metrics.observe_correction_delay(self.clock() - arrived / 1e6)
        if out.alerts or out.withdrawals or out.dead_letters or out.facts or out.reroutes:
            await retry_forever(
                "publish alerts/facts/dead letters", lambda: self.publish(out), initial_s, max_s
            )
        if (flow := self.workflow) is not None:
            await retry_forever("route to the workflow", lambda: flow.publish(out, self._publisher()), initial_s, max_s)  # fmt: skip
        if out.case_states or out.cross_states:
            await retry_forever(
                "write engine state", lambda: self.write_states(out), initial_s, max_s
            )
            crash_point("after_state_write")
        record_persisted(self.metrics, out)
        if out.alerts and self.on_alerts is not None:
            self.on_alerts(out.alerts)

    async def store_rows(self, out: Output, letters: list[DeadLetter]) -> None:
        """One write of the step's rows on the writer's thread (the event loop keeps serving
        Kafka heartbeats). The store reports batches, rows and latency per table itself."""
        events = [s.event for s in out.events]
        loop = asyncio.get_running_loop()
        store: Callable[..., None] = self.store.store
        if out.shadow_alerts:  # shadow configurations: stored there and nowhere else
            store = functools.partial(store, shadow_alerts=out.shadow_alerts)
        if out.withdrawals:  # after the alerts they withdraw, in the same write
            store = functools.partial(store, withdrawals=out.withdrawals)
        await loop.run_in_executor(
            self.executor, store, events, out.alerts, out.case_updates, letters
        )
        self.storage_seen = time.monotonic()
        self.health.set_storage(True, "ok")

    async def case_events(self, cases: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """The stored events of ``cases`` (``corrections``), on the writer's thread, retried
        like a write while storage is down."""
        loop = asyncio.get_running_loop()

        async def read() -> list[dict[str, Any]]:
            return await loop.run_in_executor(self.executor, self.store.case_events, cases)

        return await retry_forever("read a case's events", read, *self.retry, self._failed)

    def _failed(self, attempt: int, exc: BaseException) -> None:
        self.storage_seen = time.monotonic()
        self.health.set_storage(False, type(exc).__name__)
        if not isinstance(exc, StorageUnavailable):
            # an outage is counted per attempt and table by the writer itself
            self.metrics.record_storage_failure("all", exc)

    def _publisher(self) -> BatchPublisher:
        producer = self.port.producer()
        if self._batches is None or self._batches.producer is not producer:
            self._batches = BatchPublisher(producer)
        return self._batches

    async def publish(self, out: Output) -> None:
        topics = self.topics
        publisher = self._publisher()
        futures: list[asyncio.Future[Any]] = []
        local = self.local
        if out.alerts:
            futures += await publisher.send(
                topics.alerts,
                [
                    (None, a.alert_id.encode(), orjson.dumps(alert_to_dict(a, local)), ())
                    for a in out.alerts
                ],
            )
        if out.withdrawals:  # after the alerts: a withdrawal follows its alert on its partition
            futures += await publisher.send(topics.alerts, withdrawal_records(out, local))
        if out.dead_letters:
            futures += await publisher.send(
                topics.deadletter,
                # keyless dead letters all go to partition 0 (the key decides otherwise)
                [(None if d.key else 0, d.key, d.raw, d.headers()) for d in out.dead_letters],
            )
        await crash_after("mid_publish", futures)
        if out.reroutes:  # to the partition the processor chose (``partition_for`` of case_id)
            by_topic: dict[str, list[Record]] = {}
            for r in out.reroutes:
                by_topic.setdefault(r.topic, []).append((r.partition, r.key, r.value, r.headers()))
            for topic, records in by_topic.items():
                futures += await publisher.send(topic, records)
        if out.facts:
            futures += await publisher.send(
                topics.facts,
                [(None, f.key.encode(), encode_fact(f.to_bytes()), ()) for f in out.facts],
            )
        await asyncio.gather(*futures)

    async def write_states(self, out: Output) -> None:
        """Changelog writes, in order, then the local table store once the changelog holds them
        (``table_store``: the local store stays a prefix of the changelog whenever a crash
        comes). Those of a partition revoked meanwhile are dropped (its next owner rebuilds
        them from the events, which were not committed)."""
        publisher = self._publisher()
        partitions = self.partitions
        sent: list[tuple[StateTable, list[StateWrite], list[asyncio.Future[Any]]]] = []
        for table, writes in (
            (partitions.case_table, out.case_states),
            (partitions.cross_table, out.cross_states),
        ):
            current = self._owners()
            writes = [w for w in writes if w[3] is None or id(w[3]) in current]
            if writes:
                records = [(p, key, value, ()) for p, key, value, _ in writes]
                await crash_mid_send("mid_state_write", publisher, table.changelog, records)
                sent.append((table, writes, await publisher.send(table.changelog, records)))
        for table, writes, futures in sent:
            offsets = acked_offsets(await asyncio.gather(*futures))
            current = self._owners()
            revoked = {
                p for p, _, _, owner in writes if owner is not None and id(owner) not in current
            }
            apply_acked(
                table.data,
                [(p, key, value) for p, key, value, _ in writes if p not in revoked],
                {p: o for p, o in offsets.items() if p not in revoked},
            )

    def _owners(self) -> set[int]:
        """Identities of the partition states this worker holds now."""
        partitions = self.partitions
        return {id(p) for p in partitions.cases.values()} | {
            id(p) for p in partitions.facts.values()
        }

    async def publish_horizons(self, horizons: dict[str, int]) -> None:
        """Each owned source partition's horizon, to every facts partition (``horizon``), and
        to every workflow partition with the workflow on."""
        value, port, n = encode_horizons(horizons), self.port, self.topics.partitions
        targets = [self.topics.facts, *([self.workflow.topic] if self.workflow else [])]

        async def send() -> None:
            futures = [await port.send(t, q, value) for t in targets for q in range(n)]
            await asyncio.gather(*futures)

        await retry_forever("publish horizons", send, *self.retry)

    async def ping(self, timeout: float) -> None:
        """One storage round trip on the writer's thread (never beside a write)."""
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.run_in_executor(self.executor, self.store.ping), timeout)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
