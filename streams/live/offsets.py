"""Offsets of the live service: where each partition starts, admission in order, seeks, commits.

``OffsetKeeper`` is the service's side of ``delivery.OffsetGate``: it learns a
partition's start (the offset stored with its engine state, else the log start),
admits a batch's messages in exact offset order, seeks back over holes and
stalls, and commits what the persister stored. Its awaits call into the
consumer's thread: never under the service's lock (see ``kafka_port``).

Holes that are normal in Kafka are passed, never sought back forever. Before a
seek back to a hole, the broker is asked (``KafkaPort.first_offset_from``):

- a hole below the log start (retention deleted records the worker had not
  read: it was down longer than retention, or a fact was held that long) is
  reported loudly — ERROR log with the lost range,
  ``supervision_offsets_truncated_messages_total{topic,partition}`` and the
  ``SupervisionOffsetsTruncated`` alert — and the partition goes on at the log
  start; the same check runs on the restart position at start;
- a hole the broker confirms holds no record for a read_committed reader
  (transaction markers, aborted transactions, compaction) is passed, counted in
  ``supervision_offsets_gaps_passed_total``;
- anything else (a record the consumer dropped) is sought back and re-read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from streams.live.delivery import HOLE, PROCESS, OffsetGate
from streams.live.kafka_port import TP, KafkaPort
from streams.live.processor import Message
from streams.observability.metrics import Metrics

log = logging.getLogger(__name__)


class OffsetKeeper:
    def __init__(
        self,
        port: KafkaPort,
        stored_next_offset: Callable[[TP], int | None],
        gate: OffsetGate | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.port = port
        self.stored_next_offset = stored_next_offset
        self.gate = gate if gate is not None else OffsetGate()
        self.metrics = metrics

    def known(self, tp: TP) -> bool:
        return self.gate.known(tp)

    def expected(self, tp: TP) -> int:
        """The next offset to process (to commit, once what came before it is stored)."""
        return self.gate.expected(tp)

    def forget(self, tps: Iterable[TP]) -> None:
        self.gate.forget(tps)

    async def learn_starts(self, tps: Iterable[TP]) -> set[TP]:
        """Start offsets of partitions met for the first time; returns those still unknown.

        The offset stored with the partition's state is exact; a partition that
        never stored anything starts at the beginning of its log, and so does one
        whose stored offset retention deleted (reported: ``truncated``). The
        consumer is then sought there: Faust drops records fetched while a
        partition is paused (recovery, rebalance) and, with nothing committed
        yet, never re-reads them.
        """
        unknown = {tp for tp in tps if not self.gate.known(tp)}
        if not unknown:
            return set()
        stored = {tp: self.stored_next_offset(tp) for tp in unknown}
        try:
            earliest = await self.port.earliest_offsets(unknown)
        except Exception as exc:  # broker busy or rebalancing: try again next time
            log.warning(
                "cannot look up start offsets of %s yet: %r", sorted(map(str, unknown)), exc
            )
            earliest = {}
        learned: dict[TP, int] = {}
        missing: set[TP] = set()
        for tp in unknown:
            if self.gate.known(tp):  # learned by a concurrent flush meanwhile: it may have
                continue  # admitted messages since; starting again would admit them twice
            offset, start = stored[tp], earliest.get(tp)
            if offset is not None:
                if start is not None and start > offset:
                    self.truncated(tp, offset, start)
                    offset = start
                # else: a truncation the lookup could not tell is caught as a hole
                self.gate.start(tp, offset)
                learned[tp] = offset
                log.info("%s starts at offset %d (stored with its state)", tp, offset)
            elif start is not None:
                self.gate.start(tp, max(0, start))
                learned[tp] = max(0, start)
                log.info("%s starts at offset %d (log start: nothing stored yet)", tp, start)
            else:
                missing.add(tp)
        for tp, offset in learned.items():
            try:
                await self.port.seek(tp, offset)
            except Exception as exc:  # not assigned any more: harmless
                log.info("seek %s -> %d: %r", tp, offset, exc)
        return missing

    def truncated(self, tp: TP, lost_from: int, log_start: int) -> None:
        """Retention deleted offsets ``lost_from``..``log_start - 1`` before the worker read
        them: say so loudly (they are lost to supervision) and go on at the log start."""
        lost = log_start - lost_from
        log.error(
            "%s[%d]: offsets %d..%d (%d messages) were deleted by retention before the worker "
            "read them; they are LOST to supervision. Going on at the log start %d. Recover "
            "them from the upstream if it can publish them again (README: Offsets truncated)",
            tp.topic,
            tp.partition,
            lost_from,
            log_start - 1,
            lost,
            log_start,
        )
        if self.metrics is not None:
            self.metrics.record_offsets_truncated(tp.topic, tp.partition, lost)

    def admit(self, batch: list[Message]) -> tuple[list[Message], dict[TP, int]]:
        """The messages to process, in order, and the seeks back over holes the batch shows."""
        admitted: list[Message] = []
        seeks: dict[TP, int] = {}
        admit = self.gate.admit
        for m in batch:
            verdict, seek = admit(m.tp, m.offset)
            if verdict == PROCESS:
                admitted.append(m)
            elif verdict == HOLE and seek is not None:
                seeks[m.tp] = seek
        return admitted, seeks

    def stalled(self, tps: Iterable[TP]) -> dict[TP, int]:
        """Seeks for partitions with more to read where nothing came for a while."""
        seeks: dict[TP, int] = {}
        for tp in tps:
            offset = self.gate.stalled(tp, self.port.highwater(tp))
            if offset is not None:
                seeks[tp] = offset
        return seeks

    async def seek(self, seeks: dict[TP, int]) -> None:
        """Seek back over holes and stalls, unless the broker confirms the hole (module doc)."""
        for tp, offset in seeks.items():
            target = await self.resolve_hole(tp, offset)
            if target is None:
                continue
            if target == offset:
                log.warning(
                    "messages of %s from offset %d were skipped by the consumer; re-reading",
                    tp,
                    offset,
                )
            try:
                await self.port.seek(tp, target)
            except Exception as exc:  # revoked meanwhile: the next owner starts from the commit
                log.warning("seek %s -> %d failed: %r", tp, target, exc)

    async def resolve_hole(self, tp: TP, hole: int) -> int | None:
        """Where to read ``tp`` on from, for a hole at ``hole``: the hole itself (re-read it),
        the log start (retention deleted it: reported), or the first offset after it the
        broker holds for a read_committed reader (markers, aborted or compacted records).
        None: no seek (the partition moved past the hole meanwhile, or was revoked)."""
        if not self.gate.known(tp) or self.gate.expected(tp) != hole:
            return None
        try:
            start = (await self.port.earliest_offsets({tp})).get(tp)
        except Exception as exc:
            log.info("log start of %s: %r", tp, exc)
            start = None
        if start is not None and start > hole:
            if self.gate.pass_to(tp, hole, start):
                self.truncated(tp, hole, start)
                return start
            return hole
        try:
            first = await self.port.first_offset_from(tp, hole)
        except Exception as exc:  # unknown: re-read, ask again at the next hole
            log.info("gap probe of %s@%d: %r", tp, hole, exc)
            return hole
        if first is None or first <= hole or not self.gate.pass_to(tp, hole, first):
            return hole
        log.info(
            "%s: offsets %d..%d hold no record for a read_committed reader (transaction "
            "markers, aborted or compacted records); passed",
            tp,
            hole,
            first - 1,
        )
        if self.metrics is not None:
            self.metrics.record_offsets_gap(tp.topic, tp.partition)
        return first

    async def commit(self, offsets: dict[TP, int]) -> None:
        if not offsets:
            return
        try:
            await self.port.commit(offsets)
        except Exception as exc:  # the next batch commits again
            log.warning("commit of %d partitions failed: %r", len(offsets), exc)
