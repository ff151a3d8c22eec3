"""Evaluation: admitted messages in, a ``Step`` out (what to persist, then what to commit).

Synchronous and in memory; the service calls it under its lock. An engine error on
a valid event quarantines its case (``quarantine``); a source partition that breaks
its rejection-rate limit stops alone (``breaker``); any other failure of the batch
stops the worker (``die``): nothing of the batch is committed, so a restart reads
it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, fields

from streams.engine.model import FormatTooNew
from streams.live.breaker import Breakers
from streams.live.corrections import CaseHistory
from streams.live.deadletter import RejectionLimitExceeded, dead_letter
from streams.live.delivery import die
from streams.live.horizon import decode_facts_message
from streams.live.kafka_port import TP, KafkaPort
from streams.live.offsets import OffsetKeeper
from streams.live.partitions import Partitions
from streams.live.pipeline import Pipeline
from streams.live.processor import CasePartition, Message, Output
from streams.live.progress import progress_key
from streams.live.quarantine import STATE_FORMAT, GuardedCasePartition
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


def output_marks(out: Output) -> dict[str, int]:
    """How long each list of ``out`` is now (``rollback`` cuts it back there)."""
    return {f.name: len(v) for f in fields(out) if isinstance(v := getattr(out, f.name), list)}


def rollback(out: Output, marks: dict[str, int]) -> None:
    for name, length in marks.items():
        del getattr(out, name)[length:]


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
        breakers: Breakers | None = None,
    ) -> None:
        self.partitions = partitions
        self.pipeline = pipeline
        limit = pipeline.limit
        self.breakers = breakers or Breakers(
            limit.window, limit.max_ratio, limit.max_consecutive, metrics
        )
        self.offsets = offsets
        self.port = port
        self.metrics = metrics
        self.clock = clock

    def now_us(self) -> int:
        return int(self.clock() * 1_000_000)

    def events(self, admitted: list[Message], history: CaseHistory | None = None) -> Step:
        """Validate, route and apply a batch of events; each partition's next offset after.
        ``history``: the events of its late cases (``corrections.LateEvents.prepare``)."""
        out = Output()
        started = time.perf_counter()
        tps: set[TP] = set()
        for part in self.partitions.cases.values():
            part.history = history
        try:
            touched = self.run(admitted, out, tps)
            self.engine_errors(admitted, touched, out)
            now = self.now_us()
            self.note_caught_up(tps, now)
            for part in touched:
                horizon = part.clock.event_horizon()
                if horizon is not None:
                    part.advance(min(horizon, now), out)
                part.collect(out, case_table_key)
        except Exception as exc:  # an engine error must not be committed away
            log.exception("evaluation failed")
            first = admitted[0]
            die(f"evaluation failed on a batch from {first.topic}[{first.partition}]: {exc!r}")
        finally:
            for part in self.partitions.cases.values():
                part.history = None
        if history is not None:
            for topic, outcome in history.outcomes:
                self.metrics.record_correction(topic, outcome)
        commits: dict[TP, int] = {}
        for tp in tps:
            expected = self.offsets.expected(tp)
            owner = self.partitions.cases.get((tp.topic, tp.partition))
            if owner is not None and owner.clock.marks.dirty:  # before the next offset
                marks = owner.clock.marks
                pkey = progress_key(tp.partition, tp.topic)
                out.case_states.append((tp.partition, pkey, marks.pack(), owner))
                marks.dirty = False
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
            report_case_limits(metrics, part)
        return Step(out, commits, admitted=admitted)

    def run(self, admitted: list[Message], out: Output, tps: set[TP]) -> set[CasePartition]:
        """The pipeline over each source partition's messages, with that partition's
        rejection-rate limit (``breaker``); ``tps`` gets the partitions that went through.

        A partition that breaks its limit leaves only its dead letters in ``out`` and is
        forgotten (its state and offsets are read again from what is stored, should it
        resume)."""
        groups: dict[TP, list[Message]] = {}
        for m in admitted:
            group = groups.get(m.tp)
            if group is None:
                group = groups[m.tp] = []
            group.append(m)
        touched: set[CasePartition] = set()
        pipeline, breakers = self.pipeline, self.breakers
        for tp, messages in groups.items():
            pipeline.limit = breakers.limit(tp.topic, tp.partition)
            marks = output_marks(out)
            try:
                touched |= pipeline.run(messages, out)
            except RejectionLimitExceeded as exc:
                # Only the dead letters up to the trip stay: what the operator looks at
                # (stored again, idempotently, once the partition resumes).
                letters = out.dead_letters[marks["dead_letters"] :]
                rollback(out, marks)
                out.dead_letters += letters
                self.partitions.forget({tp})
                self.offsets.forget({tp})
                touched = {p for p in touched if (p.topic, p.partition) != (tp.topic, tp.partition)}
                breakers.trip(tp.topic, tp.partition, messages[0].offset, str(exc))
                continue
            tps.add(tp)
        return touched

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
        """After a batch: the partitions it emptied count as consumed up to their upstreams'
        horizon (``Partitions.upstream_horizon``)."""
        partitions, port = self.partitions, self.port
        for tp in tps:
            part = partitions.cases.get((tp.topic, tp.partition))
            if part is None:
                continue
            highwater = port.highwater(tp)
            if highwater is None or not part.clock.caught_up(highwater):
                continue
            upstream = partitions.upstream_horizon(part, now, port.fetched_at(tp))
            part.clock.note_caught_up(True, upstream)

    def facts(self, admitted: list[Message]) -> Step:
        """Feed facts and horizon reports to their gates, apply what the gates release, expire
        daily; each facts partition may be committed up to its first fact still held."""
        partitions = self.partitions
        tps: dict[int, TP] = {m.partition: m.tp for m in admitted}
        out = Output()
        for m in admitted:
            part = partitions.fact(m.partition)
            try:
                kind, payload = decode_facts_message(m.value)
                if kind == "horizons":
                    part.gate.report(payload)
                else:
                    part.add(m.offset, payload)
            except FormatTooNew as exc:  # a newer release wrote it: never guessed at
                log.error("%s[%d]@%d: %s; dead-lettered", m.topic, m.partition, m.offset, exc)
                self.metrics.record_unreadable_state(m.topic, "format_too_new")
                out.dead_letters.append(
                    dead_letter(
                        m.value,
                        m.key,
                        f"state_format: {exc}",
                        STATE_FORMAT,
                        topic=m.topic,
                        partition=m.partition,
                        offset=m.offset,
                    )
                )
            except Exception as exc:
                die(
                    f"unreadable message on internal topic {m.topic}[{m.partition}]@{m.offset}: {exc!r}"
                )
        commits: dict[TP, int] = {}
        now = self.now_us() // 1_000_000 * 1_000_000  # withdrawals: whole seconds, as stored
        for part in list(partitions.facts.values()):
            part.release(out, now)
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
        if out.rejudged or out.beyond_log:
            self.metrics.record_fact_corrections(out.rejudged, out.beyond_log)
        return Step(out, commits, lane="facts")

    def _facts_tp(self, partition: int) -> TP | None:
        """The TopicPartition of a facts partition this worker owns, if it knows it."""
        facts = self.partitions.topics.facts
        for tp in self.port.assignment() or ():
            if tp.topic == facts and tp.partition == partition:
                return tp
        return None


def report_case_limits(metrics: Metrics, part: CasePartition) -> None:
    """Hot cases (README: Hot cases) and unreadable stored states of a partition, once each."""
    hot = part.cases.hot
    if hot:
        for key, events in hot:
            log.warning(
                "case %s on %s[%d] has %d events, past [state] hot_case_events: usually an "
                "upstream bug (a placeholder case_id); its state stays bounded (README: Hot cases)",
                key,
                part.topic,
                part.partition,
                events,
            )
        metrics.record_hot_cases(part.topic, len(hot))
        hot.clear()
    if isinstance(part, GuardedCasePartition) and part.unreadable_states:
        for kind in part.unreadable_states:
            metrics.record_unreadable_state(part.topic, kind)
        part.unreadable_states.clear()
