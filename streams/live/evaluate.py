"""Evaluation: admitted messages in, a ``Step`` out (what to persist, then what to commit).

Synchronous and in memory; the service calls it under its lock. An engine error on
a valid event quarantines its case (``quarantine``); any other failure of the batch
or the rejection-rate limit stops the worker (``die``): nothing of the batch is
committed, so a restart reads it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from streams.live.deadletter import RejectionLimitExceeded
from streams.live.delivery import die
from streams.live.horizon import decode_facts_message
from streams.live.kafka_port import TP, KafkaPort
from streams.live.offsets import OffsetKeeper
from streams.live.partitions import Partitions
from streams.live.processor import CasePartition, Message, Output, Pipeline
from streams.live.quarantine import GuardedCasePartition
from streams.live.state import case_table_key, cross_table_key, next_offset_key
from streams.observability.metrics import Metrics

log = logging.getLogger(__name__)


LANES = ("events", "facts")  # persisted side by side, each in evaluation order


@dataclass(slots=True)
class Step:
    """What one evaluated batch or tick leaves to persist, in evaluation order."""

    out: Output
    commits: dict[TP, int]  # partition -> next offset, committed once ``out`` is persisted
    horizons: dict[str, int] | None = None  # published after ``out`` (tick)
    admitted: list[Message] | None = None  # the event batch's messages (metrics)
    lane: str = "events"  # event batches and ticks; "facts": fact batches
    committed: asyncio.Event | None = None  # set once persisted and committed, if asked for


def observe_timer_lag(metrics: Metrics, out: Output, now: int) -> None:
    """How late each timed alert fired behind its instant (a tick, or input that made it due)."""
    for instant in out.timed:
        metrics.observe_timer_lag((now - instant) / 1e6)


class Evaluator:
    def __init__(
        self,
        partitions: Partitions,
        pipeline: Pipeline,
        offsets: OffsetKeeper,
        port: KafkaPort,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.partitions = partitions
        self.pipeline = pipeline
        self.offsets = offsets
        self.port = port
        self.metrics = metrics
        self.clock = clock

    def now_us(self) -> int:
        return int(self.clock() * 1_000_000)

    def events(self, admitted: list[Message]) -> Step:
        """Validate, route and apply a batch of events; each partition's next offset after."""
        out = Output()
        started = time.perf_counter()
        try:
            touched = self.pipeline.run(admitted, out)
            self.engine_errors(admitted, touched, out)
            now = self.now_us()
            self.note_caught_up({m.tp for m in admitted}, now)
            for part in touched:
                horizon = part.clock.event_horizon()
                if horizon is not None:
                    part.advance(min(horizon, now), out)
                part.collect(out, case_table_key)
        except RejectionLimitExceeded as exc:
            die(f"rejection-rate limit: {exc}")
        except Exception as exc:  # an engine error must not be committed away
            log.exception("evaluation failed")
            first = admitted[0]
            die(f"evaluation failed on a batch from {first.topic}[{first.partition}]: {exc!r}")
        commits: dict[TP, int] = {}
        for tp in {m.tp for m in admitted}:
            expected = self.offsets.expected(tp)
            owner = self.partitions.cases.get((tp.topic, tp.partition))
            key = next_offset_key(tp.partition, tp.topic)
            out.case_states.append((tp.partition, key, str(expected).encode(), owner))
            commits[tp] = expected
        metrics = self.metrics
        metrics.observe_evaluation(time.perf_counter() - started, len(admitted))
        observe_timer_lag(metrics, out, now)
        for part in touched:
            seen = part.cases.duplicate_count
            if seen > part.duplicates_reported:
                metrics.record_duplicate(part.topic, seen - part.duplicates_reported)
                part.duplicates_reported = seen
        return Step(out, commits, admitted=admitted)

    def engine_errors(
        self, admitted: list[Message], touched: set[CasePartition], out: Output
    ) -> None:
        """Dead letters of the events of quarantined cases; quarantine metrics."""
        quarantined = False
        for part in touched:
            if not isinstance(part, GuardedCasePartition) or not part.engine_errors:
                continue
            batch = {
                m.offset: m
                for m in admitted
                if m.topic == part.topic and m.partition == part.partition
            }
            part.dead_letters(batch, out)
            if part.newly_quarantined:
                self.metrics.record_quarantined(part.topic, part.newly_quarantined)
                part.newly_quarantined = 0
                quarantined = True
        if quarantined:
            self.metrics.set_quarantined_cases(self.partitions.quarantined_cases())

    def note_caught_up(self, tps: set[TP], now: int) -> None:
        """After a batch: the partitions it emptied count as consumed up to the idle horizon."""
        idle = self.partitions.idle_horizon(now)
        if idle is None:
            return
        for tp in tps:
            part = self.partitions.cases.get((tp.topic, tp.partition))
            if part is None:
                continue
            highwater = self.port.highwater(tp)
            if highwater is None:
                continue
            part.clock.note_caught_up(part.clock.caught_up(highwater), idle)

    def facts(self, admitted: list[Message]) -> Step:
        """Feed facts and horizon reports to their gates, apply what the gates release, expire
        daily; each facts partition may be committed up to its first fact still held."""
        partitions = self.partitions
        tps: dict[int, TP] = {m.partition: m.tp for m in admitted}
        for m in admitted:
            part = partitions.fact(m.partition)
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
        commits: dict[TP, int] = {}
        for part in list(partitions.facts.values()):
            part.release(out)
            part.expire_daily()
            part.collect(out, cross_table_key)
            tp = tps.get(part.partition) or self._facts_tp(part.partition)
            if tp is not None and self.offsets.known(tp):
                held = part.held_from()
                safe = self.offsets.expected(tp) if held is None else held
                key = next_offset_key(part.partition, tp.topic)
                out.cross_states.append((part.partition, key, str(safe).encode(), part))
                commits[tp] = safe
        if out.duplicates:
            self.metrics.record_duplicate(partitions.topics.facts, out.duplicates)
        return Step(out, commits, lane="facts")

    def _facts_tp(self, partition: int) -> TP | None:
        """The TopicPartition of a facts partition this worker owns, if it knows it."""
        facts = self.partitions.topics.facts
        for tp in self.port.assignment() or ():
            if tp.topic == facts and tp.partition == partition:
                return tp
        return None
