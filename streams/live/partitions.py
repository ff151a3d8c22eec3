"""The engine state a worker owns, one object per partition, restored from the state tables.

A ``CasePartition`` per source topic-partition (its cases, deadline index and
consumption clock), a ``FactPartition`` per facts partition (its cross-case
state behind the fact gate). Each is built on first use from what its table
holds, and forgotten when the partition is revoked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from streams.engine import CaseEngine, CrossEngine, SupervisionConfig
from streams.live.horizon import source_name
from streams.live.kafka_port import TP
from streams.live.processor import CasePartition, FactPartition
from streams.live.progress import ProgressMarks, UpstreamHorizon, progress_key
from streams.live.quarantine import GuardedCasePartition, quarantine_prefix
from streams.live.shadow import Shadow, ShadowedCasePartition, ShadowedFactPartition
from streams.live.state import StateTable, expired_key, next_offset_key, scan_prefix
from streams.live.topics import Topics
from streams.settings import Settings

log = logging.getLogger(__name__)


class Partitions:
    def __init__(
        self,
        config: SupervisionConfig,
        topics: Topics,
        settings: Settings,
        case_table: StateTable,
        cross_table: StateTable,
        shadows: Sequence[Shadow] = (),
    ) -> None:
        self.config = config
        self.shadows = tuple(shadows)  # evaluated beside the active configuration (``shadow``)
        self.topics = topics
        self.case_table = case_table
        self.cross_table = cross_table
        self.upstreams = UpstreamHorizon.from_settings(settings)
        self.lateness_us = int(settings.watermark_lateness_s * 1_000_000)
        self.idle_mode = settings.watermark_idle
        self.domain = frozenset(topics.domain)
        self.sources = frozenset(
            source_name(t, p) for t in topics.domain for p in range(topics.partitions)
        )
        self.cases: dict[tuple[str, int], CasePartition] = {}
        self.facts: dict[int, FactPartition] = {}

    def case(self, topic: str, partition: int) -> CasePartition:
        part = self.cases.get((topic, partition))
        if part is None:
            cases = CaseEngine(self.config)
            part = (
                ShadowedCasePartition(topic, partition, cases, self.lateness_us, self.shadows)
                if self.shadows
                else GuardedCasePartition(topic, partition, cases, self.lateness_us)
            )
            part.sources = self.upstreams.configured(topic)
            part.clock.marks.load(self.case_table.data.get(progress_key(partition, topic)))
            n = part.load(scan_prefix(self.case_table.data, f"{partition}|{topic}|".encode()))
            q = part.load_quarantine(
                scan_prefix(self.case_table.data, quarantine_prefix(partition, topic))
            )
            log.info(
                "source %s[%d]: %d case states restored, %d cases in quarantine",
                topic,
                partition,
                n,
                q,
            )
            self.cases[(topic, partition)] = part
        return part

    def fact(self, partition: int) -> FactPartition:
        part = self.facts.get(partition)
        if part is None:
            cross = CrossEngine(self.config)
            part = (
                ShadowedFactPartition(partition, cross, self.sources, self.shadows)
                if self.shadows
                else FactPartition(partition, cross, self.sources)
            )
            n = part.load(scan_prefix(self.cross_table.data, f"{partition}|".encode()))
            part.expired_at = self.cross_table.get_int(expired_key(partition))
            log.info("facts[%d]: %d cross states restored", partition, n)
            self.facts[partition] = part
        return part

    def owns(self, tp: TP) -> bool:
        """A domain or facts partition: one the service reads (not a changelog)."""
        return tp.topic in self.domain or tp.topic == self.topics.facts

    def stored_next_offset(self, tp: TP) -> int | None:
        """The next offset stored with the partition's state; None when nothing was stored."""
        table = self.cross_table if tp.topic == self.topics.facts else self.case_table
        return table.get_int(next_offset_key(tp.partition, tp.topic))

    def upstream_horizon(
        self, part: CasePartition, now: int, fetched_at: float | None
    ) -> int | None:
        """How far ``part`` counts as consumed when caught up (rules.md §1.4 (b), ``progress``):
        its upstreams' markers, or the wall clock minus ``UPSTREAM_DELAY`` (``watermark_idle``
        'stream': no further than the stream's own clock); None while its broker is silent
        (``fetched_at``: Unix time the broker last answered a fetch of it)."""
        return self.caught_up_horizon(part.topic, part.clock.marks, now, fetched_at)

    def caught_up_horizon(
        self, topic: str, marks: ProgressMarks, now: int, fetched_at: float | None
    ) -> int | None:
        """``upstream_horizon`` of any partition of ``topic`` (the workflow's actions too)."""
        answered = None if fetched_at is None else int(fetched_at * 1_000_000)
        stream = None
        by_stream = self.idle_mode == "stream"
        if by_stream:  # history replayed faster than real time: the stream's own clock
            newest = [
                p.clock.last_event_at
                for p in self.cases.values()
                if p.clock.last_event_at is not None
            ]
            stream = max(newest) - self.lateness_us if newest else None
        return self.upstreams.horizon(topic, marks, now, answered, stream, by_stream=by_stream)

    def forget(self, revoked: set[TP]) -> None:
        for tp in revoked:
            self.cases.pop((tp.topic, tp.partition), None)
            if tp.topic == self.topics.facts:
                self.facts.pop(tp.partition, None)

    def quarantined_cases(self) -> int:
        return sum(
            len(p.quarantined) for p in self.cases.values() if isinstance(p, GuardedCasePartition)
        )

    def open_cases(self) -> int:
        return sum(p.cases.open_cases() for p in self.cases.values())

    def state_cases(self) -> int:
        """Cases held in state: open, and terminal within their retention."""
        return sum(len(p.cases.states) for p in self.cases.values())

    def state_fact_keys(self) -> int:
        return sum(len(p.cross.states) for p in self.facts.values())

    def pending_timers(self) -> int:
        return sum(p.cases.pending_timers() for p in self.cases.values())
