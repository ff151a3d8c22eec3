"""The agents' bodies: buffer, admit in offset order, process, persist, then commit.

One ``LiveService`` per worker. The four domain agents append what they read to
one shared buffer; a batch is processed when it is full or old enough
(``worker_batch_max`` / ``worker_batch_within_s``), by whichever agent or timer
gets there first, under one lock. Per batch, in this order:

1. ``OffsetGate`` admits messages in exact offset order per partition (holes
   make the worker seek back; messages stored before are skipped);
2. the pipeline validates, dead-letters and evaluates (pure, in-memory);
3. events, alerts, case status and dead letters are stored (ClickHouse),
   retried with back-off until they are (the agents stop reading meanwhile:
   back-pressure; nothing is committed);
4. alerts, dead letters and cross-case facts are produced to Kafka and awaited;
5. the changed engine states, then each partition's next offset, are produced
   to the table changelogs and awaited;
6. only then is each partition's next offset committed to Kafka.

A SIGKILL anywhere replays from the last commit: rows are idempotent, the
engine ignores events a case already holds, facts carry order stamps; users
read no loss and no duplicate.

The tick (``worker_tick_s``) fires timed alerts of each partition up to its
horizon from the deadline index, and publishes each owned source partition's
horizon to every facts partition; the facts agent feeds the ``FactPartition``
gates and applies what they release.

Nothing that calls into the Kafka consumer's thread (seek, commit, offsets
lookups) runs under the lock: Faust's rebalance callback holds that thread while
it waits for ``on_partitions_revoked``, which takes the lock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from streams.live.deadletter import RejectionLimit, RejectionLimitExceeded
from streams.live.delivery import (
    HOLE,
    PROCESS,
    OffsetGate,
    RecoveryWatch,
    die,
    retry_forever,
)
from streams.live.horizon import decode_facts_message, encode_fact, encode_horizons, source_name
from streams.live.processor import CasePartition, FactPartition, Message, Output, Pipeline
from streams.live.publish import BatchPublisher
from streams.live.state import case_table_key, cross_table_key, expired_key, scan_prefix
from streams.live.topics import Topics, bootstrap_list
from streams.settings import Settings
from streams.storage.errors import StorageUnavailable

log = logging.getLogger(__name__)

DAY_US = 86_400_000_000
REVOKE_WAIT_S = 5.0
PIPELINE_DEPTH = 1  # evaluated steps waiting for the persister (besides the one it persists)


@dataclass(slots=True)
class _Step:
    """What one evaluated batch or tick leaves to persist, in evaluation order."""

    out: Output
    commits: dict[Any, int]  # partition -> next offset, committed once ``out`` is persisted
    horizons: dict[str, int] | None = None  # published after ``out`` (tick)
    admitted: list[Message] | None = None  # the batch's messages (metrics)


def next_offset_key(partition: int, topic: str) -> bytes:
    """Table key of a source partition's next offset (stored with its states)."""
    return f"{partition}|@next|{topic}".encode()


def record_batch(metrics: Any, admitted: list[Message], out: Output) -> None:
    """Consumed, accepted and rejected counts of one batch, by topic (and reason)."""
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


class LiveService:
    def __init__(
        self,
        *,
        app: Any,
        settings: Settings,
        topics: Topics,
        config: Any,
        engine_factory: Callable[[], Any],
        validator: Any,
        invalid_error: type[Exception],
        fact_type: Any,
        alert_to_dict: Callable[[Any, Any], dict[str, Any]],
        store: Any,
        case_table: Any,
        cross_table: Any,
        on_alerts: Callable[[Sequence[Any]], None] | None = None,
        metrics: Any = None,
        health: Any = None,
        storage_dead_letter: Callable[[Any, int], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.settings = settings
        self.topics = topics
        self.config = config
        self.local = config.local
        self.engine_factory = engine_factory
        self.fact_type = fact_type
        self.alert_to_dict = alert_to_dict
        self.store = store
        self.case_table = case_table
        self.cross_table = cross_table
        self.on_alerts = on_alerts
        self.metrics = metrics
        self.health = health
        self.storage_dead_letter = storage_dead_letter
        self.clock = clock
        self.grace_us = int(settings.watermark_grace_s * 1_000_000)
        self.lateness_us = int(settings.watermark_lateness_s * 1_000_000)
        self.idle_mode = settings.watermark_idle
        self.batch_max = settings.worker_batch_max
        self.limit = RejectionLimit(
            settings.deadletter_window,
            settings.deadletter_max_ratio,
            settings.deadletter_max_consecutive,
        )
        self.pipeline = Pipeline(topics, validator, invalid_error, self.limit, self.case_partition)
        self.sources = frozenset(
            source_name(t, p) for t in topics.domain for p in range(topics.partitions)
        )
        self.domain = frozenset(topics.domain)
        self.parts: dict[tuple[str, int], CasePartition] = {}
        self.fact_parts: dict[int, FactPartition] = {}
        self.offsets = OffsetGate()
        self.recovery_watch = RecoveryWatch(settings.worker_recovery_stall_s)
        self.buffer: list[Message] = []
        self.buffer_since = 0.0
        self.fact_buffer: list[Message] = []
        self.lock = asyncio.Lock()
        self.fact_lock = asyncio.Lock()
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="store")
        self._case_changelog = case_table.changelog_topic.get_topic_name()
        self._cross_changelog = cross_table.changelog_topic.get_topic_name()
        self._next_expiry: dict[int, int] = {}
        self._batches: BatchPublisher | None = None
        self.steps: asyncio.Queue[_Step] = asyncio.Queue(PIPELINE_DEPTH)
        self._unpersisted = 0
        self._persisted = asyncio.Event()
        self._persisted.set()
        self.stats = {"events": 0, "alerts": 0, "dead_letters": 0, "batches": 0, "duplicates": 0}
        self._storage_seen = 0.0  # monotonic time of the last write or ping outcome
        self._ping: asyncio.Task[None] | None = None
        # Log ends of the owned event partitions as the broker reports them (health probe),
        # so consumer lag keeps growing when this worker's own fetches stop.
        self._log_end: dict[tuple[str, int], int] = {}
        self._log_end_client: Any = None

    # ------------------------------------------------------------ partitions
    def case_partition(self, topic: str, partition: int) -> CasePartition:
        part = self.parts.get((topic, partition))
        if part is None:
            part = CasePartition(topic, partition, self.engine_factory(), self.lateness_us)
            n = part.load(scan_prefix(self.case_table.data, f"{partition}|{topic}|".encode()))
            log.info("source %s[%d]: %d case states restored", topic, partition, n)
            self.parts[(topic, partition)] = part
        return part

    def fact_partition(self, partition: int) -> FactPartition:
        part = self.fact_parts.get(partition)
        if part is None:
            part = FactPartition(partition, self.engine_factory(), self.sources, self.fact_type)
            n = part.load(scan_prefix(self.cross_table.data, f"{partition}|".encode()))
            expired = self.cross_table.data.get(expired_key(partition))
            part.expired_at = int(expired) if expired else None
            log.info("facts[%d]: %d cross states restored", partition, n)
            self.fact_parts[partition] = part
        return part

    def _stored_next_offset(self, tp: Any) -> int | None:
        if tp.topic == self.topics.facts:
            value = self.cross_table.data.get(next_offset_key(tp.partition, tp.topic))
        else:
            value = self.case_table.data.get(next_offset_key(tp.partition, tp.topic))
        return int(value) if value else None

    async def _learn_starts(self, tps: set[Any]) -> set[Any]:
        """Start offsets of partitions met for the first time; returns those still unknown.

        The offset stored with the partition's state is exact; a partition that
        never stored anything starts at the beginning of its log. The consumer is
        then sought there: Faust drops records fetched while a partition is paused
        (recovery, rebalance) and, with nothing committed yet, never re-reads them.
        """
        unknown = {tp for tp in tps if not self.offsets.known(tp)}
        learned: dict[Any, int] = {}
        missing: set[Any] = set()
        for tp in unknown:
            stored = self._stored_next_offset(tp)
            if stored is not None:
                self.offsets.start(tp, stored)
                learned[tp] = stored
                log.info("%s starts at offset %d (stored with its state)", tp, stored)
            else:
                missing.add(tp)
        if missing:
            try:
                earliest = await asyncio.wait_for(self.app.consumer.earliest_offsets(*missing), 10)
            except Exception as exc:  # broker busy or rebalancing: try again next time
                log.warning(
                    "cannot look up start offsets of %s yet: %r", sorted(map(str, missing)), exc
                )
                earliest = {}
            for tp in list(missing):
                offset = earliest.get(tp)
                if offset is not None:
                    self.offsets.start(tp, max(0, offset))
                    learned[tp] = max(0, offset)
                    log.info("%s starts at offset %d (log start: nothing stored yet)", tp, offset)
                    missing.discard(tp)
        for tp, offset in learned.items():
            try:
                await self._seek_to(tp, offset)
            except Exception as exc:  # not assigned any more: harmless
                log.info("seek %s -> %d: %r", tp, offset, exc)
        return missing

    async def _seek_to(self, tp: Any, offset: int) -> None:
        """Faust's own seek (it also resets the read offset below which its drain drops
        messages).

        Known limitation: Faust's ``Consumer.seek`` changes aiokafka's fetcher from this
        thread while the consumer thread iterates it; once, during a rebalance of two
        workers, that raised KeyError in the fetcher and stopped the worker (nothing is
        lost: it restarts from what is stored). Seeking inside the consumer thread
        instead raced with Faust's read offset and left partitions unread, which is worse.
        """
        await self.app.consumer.seek(tp, offset)

    def _admit(self, batch: list[Message]) -> tuple[list[Message], dict[Any, int]]:
        admitted: list[Message] = []
        seeks: dict[Any, int] = {}
        for m in batch:
            verdict, seek = self.offsets.admit(m.tp, m.offset)
            if verdict == PROCESS:
                admitted.append(m)
            elif verdict == HOLE and seek is not None:
                seeks[m.tp] = seek
        return admitted, seeks

    async def _seek(self, seeks: dict[Any, int]) -> None:
        for tp, offset in seeks.items():
            log.warning(
                "messages of %s from offset %d were skipped by the consumer; re-reading", tp, offset
            )
            try:
                await self._seek_to(tp, offset)
            except Exception as exc:  # revoked meanwhile: the next owner starts from the commit
                log.warning("seek %s -> %d failed: %r", tp, offset, exc)

    async def _commit(self, offsets: dict[Any, int]) -> None:
        if not offsets:
            return
        try:
            await self.app.consumer._thread.commit(offsets)  # noqa: SLF001 - see ``delivery``
        except Exception as exc:  # the next batch commits again
            log.warning("commit of %d partitions failed: %r", len(offsets), exc)

    async def _watch_recovery(self) -> None:
        """Re-read changelog partitions whose recovery stalled; stop if that does not help."""
        recovery = self.app.tables.recovery
        if not getattr(self.app, "in_recovery", False) or getattr(self.app, "rebalancing", False):
            self.recovery_watch.reset()
            return
        seeks = self.recovery_watch.check(
            dict(recovery.active_remaining()), dict(recovery.active_offsets)
        )
        for tp, offset in seeks.items():
            log.warning(
                "table recovery read nothing from %s for %.0f s; re-reading from offset %d",
                tp,
                self.recovery_watch.stall_s,
                offset,
            )
            try:
                await self._seek_to(tp, offset)
            except Exception as exc:  # revoked meanwhile: the next recovery starts over
                log.warning("re-reading %s failed: %r", tp, exc)
        stuck = self.recovery_watch.exhausted()
        if stuck:
            die(f"table recovery of {stuck} made no progress after re-reading")

    def _ready_for_state(self) -> bool:
        app = self.app
        if getattr(app, "rebalancing", False) or getattr(app, "in_recovery", False):
            return False
        completed = getattr(app.tables.recovery, "completed", None)
        return completed is None or completed.is_set()

    # ------------------------------------------------------------ agents
    async def consume_events(self, stream: Any) -> None:
        """Body of each domain agent: read (never acknowledge), hand over in batches."""
        buffer_max = self.batch_max
        async for event in stream.noack().events():
            msg = event.message
            if not self.buffer:
                self.buffer_since = time.monotonic()
            self.buffer.append(
                Message(msg.topic, msg.partition, msg.offset, msg.key, msg.value, msg.tp)
            )
            if len(self.buffer) >= buffer_max:
                await self.flush()

    async def consume_facts(self, stream: Any) -> None:
        """Body of the facts agent."""
        async for event in stream.noack().events():
            msg = event.message
            self.fact_buffer.append(
                Message(msg.topic, msg.partition, msg.offset, msg.key, msg.value, msg.tp)
            )
            if len(self.fact_buffer) >= self.batch_max:
                await self.flush_facts()

    # ------------------------------------------------------------ batches
    async def flush_if_due(self) -> None:
        if (
            self.buffer
            and time.monotonic() - self.buffer_since >= self.settings.worker_batch_within_s
        ):
            await self.flush()

    async def flush(self) -> None:
        if not self.buffer:
            return
        # Consumer-thread calls stay outside the lock (see the module docstring).
        unknown = await self._learn_starts({m.tp for m in self.buffer})
        commits: dict[Any, int] = {}
        async with self.lock:
            batch, self.buffer = self.buffer, []
            if unknown:  # keep them for the next flush
                self.buffer = [m for m in batch if m.tp in unknown]
                batch = [m for m in batch if m.tp not in unknown]
            batch = [m for m in batch if self.offsets.known(m.tp)]  # revoked meanwhile
            admitted, seeks = self._admit(batch)
            if admitted:
                out = Output()
                evaluation_started = time.perf_counter()
                try:
                    touched = self.pipeline.run(admitted, out)
                    now = int(self.clock() * 1_000_000)
                    self._note_caught_up({m.tp for m in admitted}, now)
                    for part in touched:
                        horizon = part.clock.event_horizon()
                        if horizon is not None:
                            part.advance(min(horizon, now), out)
                        part.collect(out, case_table_key)
                except RejectionLimitExceeded as exc:
                    die(f"rejection-rate limit: {exc}")
                except Exception as exc:  # an engine error must not be committed away
                    log.exception("evaluation failed")
                    die(
                        f"evaluation failed on a batch from {admitted[0].topic}[{admitted[0].partition}]: {exc!r}"
                    )
                for tp in {m.tp for m in admitted}:
                    nxt = self.offsets.expected(tp)
                    owner = self.parts.get((tp.topic, tp.partition))
                    out.case_states.append(
                        (
                            tp.partition,
                            next_offset_key(tp.partition, tp.topic),
                            str(nxt).encode(),
                            owner,
                        )
                    )
                    commits[tp] = nxt
                if self.metrics is not None:
                    self.metrics.observe_evaluation(
                        time.perf_counter() - evaluation_started, len(admitted)
                    )
                    self._observe_timer_lag(out, now)
                    for part in touched:
                        seen = part.cases.duplicate_count
                        if seen > part.duplicates_reported:
                            self.metrics.record_duplicate(
                                part.topic, seen - part.duplicates_reported
                            )
                            part.duplicates_reported = seen
                await self._enqueue(_Step(out, commits, admitted=admitted))
        await self._seek(seeks)

    async def flush_facts(self) -> None:
        unknown = await self._learn_starts({m.tp for m in self.fact_buffer})
        commits: dict[Any, int] = {}
        async with self.fact_lock:
            batch, self.fact_buffer = self.fact_buffer, []
            if unknown:
                self.fact_buffer = [m for m in batch if m.tp in unknown]
                batch = [m for m in batch if m.tp not in unknown]
            batch = [m for m in batch if self.offsets.known(m.tp)]
            admitted, seeks = self._admit(batch)
            tps: dict[int, Any] = {m.partition: m.tp for m in admitted}
            for m in admitted:
                part = self.fact_partition(m.partition)
                try:
                    kind, payload = decode_facts_message(m.value)
                    if kind == "horizons":
                        part.gate.report(payload)
                    else:
                        part.add(m.offset, payload)
                except Exception as exc:
                    die(
                        f"unreadable message on internal topic {m.topic}[{m.partition}]@{m.offset}: {exc!r}"
                    )
            out = Output()
            for part in list(self.fact_parts.values()):
                part.release(out)
                horizon = part.gate.horizon()
                if horizon is not None:
                    nxt = self._next_expiry.get(part.partition)
                    if nxt is None:
                        self._next_expiry[part.partition] = horizon + DAY_US
                    elif horizon >= nxt:
                        part.expire(horizon)
                        self._next_expiry[part.partition] = horizon + DAY_US
                part.collect(out, cross_table_key)
                tp = tps.get(part.partition) or _facts_tp(self, part.partition)
                if tp is not None and self.offsets.known(tp):
                    held = part.held_from()
                    safe = self.offsets.expected(tp) if held is None else held
                    out.cross_states.append(
                        (
                            part.partition,
                            next_offset_key(part.partition, tp.topic),
                            str(safe).encode(),
                            part,
                        )
                    )
                    commits[tp] = safe
            self.stats["duplicates"] += out.duplicates
            if self.metrics is not None and out.duplicates:
                self.metrics.record_duplicate(self.topics.facts, out.duplicates)
            if not out.empty():
                await self.persist(out)
        await self._seek(seeks)
        await self._commit(commits)

    def _observe_timer_lag(self, out: Output, now: int) -> None:
        """How late each timed alert fired behind its instant (a tick, or input that made it due)."""
        for instant in out.timed:
            self.metrics.observe_timer_lag((now - instant) / 1e6)

    # ------------------------------------------------------------ health
    async def probe(self) -> None:
        """Health probe: the loop beats, the broker answers a metadata request, the storage a ping.

        Takes no lock and waits on nothing the pipeline holds, so it keeps beating while
        storage back-pressure holds the ticks (``HealthState`` then reports the outage).
        """
        health = self.health
        if health is None:
            return
        health.loop_heartbeat()
        timeout = self.settings.health_probe_timeout_s
        try:
            client = self.app.producer._ensure_producer().client  # noqa: SLF001 - aiokafka client
            cluster = await asyncio.wait_for(client.fetch_all_metadata(), timeout)
            health.set_broker(True, f"{len(cluster.brokers())} broker(s) answer")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            health.set_broker(False, type(exc).__name__)
        else:
            if self.metrics is not None:
                await self._refresh_log_ends(timeout)
        idle = time.monotonic() - self._storage_seen >= self.settings.health_probe_interval_s
        ping = getattr(self.store, "ping", None)
        if (
            ping is not None
            and idle
            and self._unpersisted == 0
            and (self._ping is None or self._ping.done())
        ):
            self._ping = asyncio.ensure_future(self._ping_storage(ping, timeout))

    async def _refresh_log_ends(self, timeout: float) -> None:
        """Ask the broker where the owned event partitions end, and report their lag.

        The lag the tick reports compares with the high watermark of this worker's own
        fetches, which stops moving when the fetches do (a stuck consumer, a paused
        partition): the broker's answer keeps it growing, so the stalled-worker and
        growing-lag alerts see it. A client of its own (no group), on this event loop.
        """
        try:
            owned = [tp for tp in self.app.consumer.assignment() if tp.topic in self.domain]
        except Exception:  # consumer not started yet
            return
        if not owned:
            return
        from aiokafka.structs import TopicPartition

        try:
            if self._log_end_client is None:
                from aiokafka import AIOKafkaConsumer

                client = AIOKafkaConsumer(
                    bootstrap_servers=bootstrap_list(self.settings.kafka_bootstrap),
                    group_id=None,
                    enable_auto_commit=False,
                    client_id=f"{self.settings.worker_group_id}-log-ends",
                )
                try:
                    await asyncio.wait_for(client.start(), timeout)
                except BaseException:
                    await client.stop()
                    raise
                self._log_end_client = client
            ends = await asyncio.wait_for(
                self._log_end_client.end_offsets(
                    [TopicPartition(tp.topic, tp.partition) for tp in owned]
                ),
                timeout,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next probe asks again; the fetch high watermark stands
            log.debug("log ends: %r", exc)
            return
        for tp in owned:
            end = ends.get(TopicPartition(tp.topic, tp.partition))
            if end is not None:
                self._log_end[(tp.topic, tp.partition)] = end
        for tp in owned:
            if self.offsets.known(tp):
                self._report_lag(tp, _highwater(self.app.consumer, tp))

    def _report_lag(self, tp: Any, highwater: int | None) -> None:
        """Consumer lag of a partition: from the further of the fetch high watermark and the
        log end the broker last reported (Tansu reports the start of the last batch there)."""
        end = self._log_end.get((tp.topic, tp.partition))
        if highwater is None or (end is not None and end > highwater):
            highwater = end
        if highwater is not None:
            self.metrics.set_consumer_lag(
                tp.topic, tp.partition, highwater - self.offsets.expected(tp)
            )

    async def _ping_storage(self, ping: Callable[[], None], timeout: float) -> None:
        """Ping the storage on the writer's thread (never beside a write) when nothing was written."""
        assert self.health is not None
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(self.executor, ping), timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self._unpersisted == 0:  # a write since then reported for itself
                self.health.set_storage(False, type(exc).__name__)
        else:
            if self._unpersisted == 0:
                self.health.set_storage(True, "ok")
        self._storage_seen = time.monotonic()

    # ------------------------------------------------------------ time
    async def tick(self) -> None:
        """Fire due timed alerts up to each partition's horizon; report horizons; release facts."""
        if self.health is not None:
            self.health.heartbeat()
        await self._watch_recovery()
        if not self._ready_for_state():
            return
        consumer = self.app.consumer
        try:
            assignment = consumer.assignment()
        except Exception:  # consumer not started yet
            return
        owned = [tp for tp in assignment if tp.topic in self.domain]
        await self._learn_starts(
            {tp for tp in assignment if tp.topic in self.domain or tp.topic == self.topics.facts}
        )
        stalled: dict[Any, int] = {}
        for tp in assignment:
            if tp.topic in self.domain or tp.topic == self.topics.facts:
                try:
                    highwater = consumer.highwater(tp)
                    offset = self.offsets.stalled(tp, highwater)
                except Exception:
                    highwater = offset = None
                if offset is not None:
                    stalled[tp] = offset
        await self._seek(stalled)
        async with self.lock:
            now = int(self.clock() * 1_000_000)
            out = Output()
            horizons: dict[str, int] = {}
            idle = self.idle_horizon(now)
            lag_s = 0.0
            for tp in owned:
                if not self.offsets.known(tp) or tp not in consumer.assignment():
                    continue
                part = self.case_partition(tp.topic, tp.partition)
                if part.clock.next_offset is None:
                    part.clock.next_offset = self.offsets.expected(tp)
                highwater = _highwater(consumer, tp)
                if self.metrics is not None:
                    self._report_lag(tp, highwater)
                horizon = part.clock.horizon(part.clock.caught_up(highwater), idle)
                if horizon is None:
                    continue
                horizons[source_name(tp.topic, tp.partition)] = horizon
                until = min(horizon, now)
                due = part.next_timer()
                if due is not None and due <= until:
                    part.advance(until, out)
                    part.collect(out, case_table_key)
                    due = part.next_timer()
                if due is not None and due <= now:  # due by the wall clock, waiting for input
                    lag_s = max(lag_s, (now - due) / 1e6)
            if self.health is not None:
                self.health.set_timer_lag(lag_s)
            if self.metrics is not None:
                self._observe_timer_lag(out, now)
                self.metrics.set_timer_backlog(lag_s)
                self.metrics.set_open_cases(sum(p.cases.open_cases() for p in self.parts.values()))
                self.metrics.set_pending_timers(
                    sum(p.cases.pending_timers() for p in self.parts.values())
                )
            if not out.empty() or horizons:
                # Behind every batch evaluated so far: their facts are published first.
                await self._enqueue(_Step(out, {}, horizons=horizons))
        await self.flush_facts()
        if self.metrics is not None:
            # Facts partitions after their flush (domain partitions: above, under the lock):
            # each tick publishes horizons there, read by the next flush, so measured before
            # it an idle worker would always look one message behind.
            for tp in assignment:
                if tp.topic == self.topics.facts and self.offsets.known(tp):
                    self._report_lag(tp, _highwater(consumer, tp))

    def _note_caught_up(self, tps: set[Any], now: int) -> None:
        """After a batch: the partitions it emptied count as consumed up to the idle horizon."""
        idle = self.idle_horizon(now)
        if idle is None:
            return
        consumer = self.app.consumer
        for tp in tps:
            part = self.parts.get((tp.topic, tp.partition))
            if part is None:
                continue
            try:
                highwater = consumer.highwater(tp)
            except Exception:
                continue
            part.clock.note_caught_up(part.clock.caught_up(highwater), idle)

    def idle_horizon(self, now: int) -> int | None:
        """What a caught-up partition counts as consumed up to (``watermark_idle``)."""
        if self.idle_mode == "wallclock":
            return now - self.grace_us
        # 'stream': history replayed faster than real time; the stream's own clock.
        newest = [
            p.clock.last_event_at for p in self.parts.values() if p.clock.last_event_at is not None
        ]
        if not newest:
            return None
        return min(now - self.grace_us, max(newest) - self.lateness_us)

    async def _publish_horizons(self, horizons: dict[str, int]) -> None:
        value = encode_horizons(horizons)
        producer = self.app.producer

        async def send() -> None:
            futures = [
                await producer.send(self.topics.facts, None, value, q, None, None)
                for q in range(self.topics.partitions)
            ]
            await asyncio.gather(*futures)

        await retry_forever(
            "publish horizons",
            send,
            self.settings.store_retry_initial_s,
            self.settings.store_retry_max_s,
        )

    # ------------------------------------------------------------ pipeline
    async def _enqueue(self, step: _Step) -> None:
        """Hand an evaluated step to the persister (waits while ``PIPELINE_DEPTH`` are queued)."""
        self._unpersisted += 1
        self._persisted.clear()
        try:
            await self.steps.put(step)
        except BaseException:
            self._step_done()
            raise

    def _step_done(self) -> None:
        self._unpersisted -= 1
        if self._unpersisted == 0:
            self._persisted.set()

    async def run_persister(self) -> None:
        """Persist the evaluated steps one by one, in order, then commit what each carried.

        Evaluation of the next batch overlaps with the storage and Kafka round trips of
        this one; the order of everything written is the order of evaluation, so the
        guarantees of the module docstring hold step by step.
        """
        while True:
            step = await self.steps.get()
            try:
                if not step.out.empty():
                    await self.persist(step.out)
                if step.horizons:
                    await self._publish_horizons(step.horizons)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # nothing of this step is committed
                log.exception("persisting a batch failed")
                die(f"persisting a batch failed: {exc!r}")
            self._step_done()
            if step.admitted is not None:
                self.stats["batches"] += 1
                self.stats["events"] += len(step.out.events)
                if self.metrics is not None:
                    record_batch(self.metrics, step.admitted, step.out)
            await self._commit(step.commits)

    # ------------------------------------------------------------ persistence
    async def persist(self, out: Output) -> None:
        """Store rows, publish, write states — all awaited, all retried — before any commit."""
        settings = self.settings
        loop = asyncio.get_running_loop()
        events = [s.event for s in out.events]
        now_us = int(self.clock() * 1_000_000)
        letters = (
            [self.storage_dead_letter(d, now_us) for d in out.dead_letters]
            if self.storage_dead_letter is not None
            else []
        )
        if events or out.alerts or out.case_updates or letters:
            # The store reports its batches, rows, latency and failed attempts per table
            # (WriterStore(metrics=...)); this loop reports health.
            async def store() -> None:
                await loop.run_in_executor(
                    self.executor, self.store.store, events, out.alerts, out.case_updates, letters
                )
                self._storage_seen = time.monotonic()
                if self.health is not None:
                    self.health.set_storage(True, "ok")

            def failed(attempt: int, exc: BaseException) -> None:
                self._storage_seen = time.monotonic()
                if self.health is not None:
                    self.health.set_storage(False, type(exc).__name__)
                if self.metrics is not None and not isinstance(exc, StorageUnavailable):
                    # an outage is counted per attempt and table by the writer itself
                    self.metrics.record_storage_failure("all", exc)

            await retry_forever(
                "store rows",
                store,
                settings.store_retry_initial_s,
                settings.store_retry_max_s,
                failed,
            )
        if out.alerts or out.dead_letters or out.facts:
            await retry_forever(
                "publish alerts/facts/dead letters",
                lambda: self._publish(out),
                settings.store_retry_initial_s,
                settings.store_retry_max_s,
            )
        if out.case_states or out.cross_states:
            await retry_forever(
                "write engine state",
                lambda: self._write_states(out),
                settings.store_retry_initial_s,
                settings.store_retry_max_s,
            )
        if out.alerts:
            self.stats["alerts"] += len(out.alerts)
            if self.metrics is not None:
                for a in out.alerts:
                    self.metrics.record_alert(a.rule, a.level)
            if self.on_alerts is not None:
                self.on_alerts(out.alerts)
        if out.dead_letters:
            self.stats["dead_letters"] += len(out.dead_letters)
            if self.metrics is not None:
                for d in out.dead_letters:
                    self.metrics.record_deadletter(d.topic, d.kind)

    def _publisher(self) -> BatchPublisher:
        producer = self.app.producer._ensure_producer()  # noqa: SLF001 - the aiokafka producer
        if self._batches is None or self._batches.producer is not producer:
            self._batches = BatchPublisher(producer)
        return self._batches

    async def _publish(self, out: Output) -> None:
        topics = self.topics
        publisher = self._publisher()
        futures = []
        if out.alerts:
            to_dict, local = self.alert_to_dict, self.local
            futures += await publisher.send(
                topics.alerts,
                [
                    (None, a.alert_id.encode(), orjson.dumps(to_dict(a, local)), ())
                    for a in out.alerts
                ],
            )
        if out.dead_letters:
            futures += await publisher.send(
                topics.deadletter,
                # keyless dead letters all go to partition 0 (the key decides otherwise)
                [(None if d.key else 0, d.key, d.original, d.headers()) for d in out.dead_letters],
            )
        if out.facts:
            futures += await publisher.send(
                topics.facts,
                [(None, f.key.encode(), encode_fact(f.to_bytes()), ()) for f in out.facts],
            )
        await asyncio.gather(*futures)

    async def _write_states(self, out: Output) -> None:
        """Changelog writes, in order; those of a partition revoked meanwhile are dropped
        (its next owner rebuilds them from the events, which were not committed)."""
        publisher = self._publisher()
        futures = []
        current_cases = set(map(id, self.parts.values()))
        current_facts = set(map(id, self.fact_parts.values()))
        for table, name, writes, current in (
            (self.case_table, self._case_changelog, out.case_states, current_cases),
            (self.cross_table, self._cross_changelog, out.cross_states, current_facts),
        ):
            data = table.data
            records = []
            for partition, key, value, owner in writes:
                if owner is not None and id(owner) not in current:
                    continue
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
                records.append((partition, key, value, ()))
            if records:
                futures += await publisher.send(name, records)
        await asyncio.gather(*futures)

    # ------------------------------------------------------------ rebalance
    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        """Forget what now belongs to another worker.

        Waits (briefly) for the batch in flight; whatever it still writes for a
        revoked partition is dropped (``_write_states``) and its commit refused
        by the consumer, so the next owner starts from a consistent state.
        """
        for tp in revoked:
            self._log_end.pop((tp.topic, tp.partition), None)
            if self.metrics is not None:
                self.metrics.forget_partition(tp.topic, tp.partition)
        locks = []
        for lock in (self.lock, self.fact_lock):
            try:
                await asyncio.wait_for(lock.acquire(), REVOKE_WAIT_S)
                locks.append(lock)
            except TimeoutError:
                log.warning("rebalance: a batch is still in flight (storage slow?); fencing it")
        try:  # what was evaluated is persisted (its commit may wait: it needs the consumer)
            await asyncio.wait_for(self._persisted.wait(), REVOKE_WAIT_S)
        except TimeoutError:
            log.warning("rebalance: evaluated batches are still being stored; fencing them")
        try:
            for tp in revoked:
                self.parts.pop((tp.topic, tp.partition), None)
                if tp.topic == self.topics.facts:
                    self.fact_parts.pop(tp.partition, None)
                    self._next_expiry.pop(tp.partition, None)
            self.offsets.forget(set(revoked))
            self.buffer = [m for m in self.buffer if m.tp not in revoked]
            self.fact_buffer = [m for m in self.fact_buffer if m.tp not in revoked]
        finally:
            for lock in locks:
                lock.release()

    async def close(self) -> None:
        if self._log_end_client is not None:
            client, self._log_end_client = self._log_end_client, None
            try:
                await asyncio.wait_for(client.stop(), self.settings.health_probe_timeout_s)
            except Exception as exc:
                log.debug("log ends client: %r", exc)
        self.executor.shutdown(wait=True)


def _highwater(consumer: Any, tp: Any) -> int | None:
    """The high watermark of the consumer's last fetch of ``tp``; None when it has none."""
    try:
        highwater: int | None = consumer.highwater(tp)
    except Exception:
        return None
    return highwater


def _facts_tp(service: LiveService, partition: int) -> Any:
    """The TopicPartition of a facts partition this worker owns, if it knows it."""
    for tp in service.app.consumer.assignment():
        if tp.topic == service.topics.facts and tp.partition == partition:
            return tp
    return None
