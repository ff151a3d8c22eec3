"""Offsets of the live service: where each partition starts, admission in order, seeks, commits.

``OffsetKeeper`` is the service's side of ``delivery.OffsetGate``: it learns a
partition's start (the offset stored with its engine state, else the log start),
admits a batch's messages in exact offset order, seeks back over holes and
stalls, and commits what the persister stored. Its awaits call into the
consumer's thread: never under the service's lock (see ``kafka_port``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from streams.live.delivery import HOLE, PROCESS, OffsetGate
from streams.live.kafka_port import TP, KafkaPort
from streams.live.processor import Message

log = logging.getLogger(__name__)


class OffsetKeeper:
    def __init__(
        self,
        port: KafkaPort,
        stored_next_offset: Callable[[TP], int | None],
        gate: OffsetGate | None = None,
    ) -> None:
        self.port = port
        self.stored_next_offset = stored_next_offset
        self.gate = gate if gate is not None else OffsetGate()

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
        never stored anything starts at the beginning of its log. The consumer is
        then sought there: Faust drops records fetched while a partition is paused
        (recovery, rebalance) and, with nothing committed yet, never re-reads them.
        """
        unknown = {tp for tp in tps if not self.gate.known(tp)}
        learned: dict[TP, int] = {}
        missing: set[TP] = set()
        for tp in unknown:
            stored = self.stored_next_offset(tp)
            if stored is not None:
                self.gate.start(tp, stored)
                learned[tp] = stored
                log.info("%s starts at offset %d (stored with its state)", tp, stored)
            else:
                missing.add(tp)
        if missing:
            try:
                earliest = await self.port.earliest_offsets(missing)
            except Exception as exc:  # broker busy or rebalancing: try again next time
                log.warning(
                    "cannot look up start offsets of %s yet: %r", sorted(map(str, missing)), exc
                )
                earliest = {}
            for tp in list(missing):
                offset = earliest.get(tp)
                if offset is not None:
                    self.gate.start(tp, max(0, offset))
                    learned[tp] = max(0, offset)
                    log.info("%s starts at offset %d (log start: nothing stored yet)", tp, offset)
                    missing.discard(tp)
        for tp, offset in learned.items():
            try:
                await self.port.seek(tp, offset)
            except Exception as exc:  # not assigned any more: harmless
                log.info("seek %s -> %d: %r", tp, offset, exc)
        return missing

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
        for tp, offset in seeks.items():
            log.warning(
                "messages of %s from offset %d were skipped by the consumer; re-reading", tp, offset
            )
            try:
                await self.port.seek(tp, offset)
            except Exception as exc:  # revoked meanwhile: the next owner starts from the commit
                log.warning("seek %s -> %d failed: %r", tp, offset, exc)

    async def commit(self, offsets: dict[TP, int]) -> None:
        if not offsets:
            return
        try:
            await self.port.commit(offsets)
        except Exception as exc:  # the next batch commits again
            log.warning("commit of %d partitions failed: %r", len(offsets), exc)
