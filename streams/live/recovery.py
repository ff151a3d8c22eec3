"""Table recovery: re-read changelog partitions whose recovery stalled; stop if that fails.

Faust rebuilds the tables of newly assigned partitions from their changelogs
before the service may touch engine state (``Recovery.ready_for_state``); the
tick watches that rebuild (``Recovery.watch``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from streams.live.delivery import die
from streams.live.kafka_port import TP, KafkaPort

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)  # a changelog partition


class RecoveryWatch(Generic[K]):
    """Changelog partitions whose table recovery stopped making progress.

    Faust rebuilds the tables of newly assigned partitions from their changelogs
    and waits until each reaches its high-water mark, with no time limit. Once, in
    CI, a worker waited four minutes for changelog partitions it was never sent a
    record of, after a rebalance of two workers on Tansu (cause not found; Faust
    also seeks from the event loop's thread, see ``KafkaPort.seek``). ``check``
    returns, per partition that still has records to read and whose read offset
    has not moved for ``stall_s``, the offset to re-read from; after ``attempts``
    such re-reads without progress the worker should stop (a restart rebuilds
    the tables from scratch) rather than hang while it reports itself alive.
    """

    def __init__(
        self, stall_s: float, attempts: int = 3, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stall_s = stall_s
        self.attempts = attempts
        self.clock = clock
        self._seen: dict[K, tuple[int, float, int]] = {}  # tp -> (offset, since, re-reads)

    def check(self, remaining: dict[K, int], offsets: dict[K, int]) -> dict[K, int]:
        """``remaining``/``offsets``: records still to read and the offset read last, per
        active changelog partition of the recovery under way."""
        now = self.clock()
        seeks: dict[K, int] = {}
        for tp in list(self._seen):
            if remaining.get(tp, 0) <= 0:
                del self._seen[tp]
        for tp, left in remaining.items():
            if left <= 0:
                continue
            offset = offsets.get(tp, -1)
            seen = self._seen.get(tp)
            if seen is None or seen[0] != offset:
                self._seen[tp] = (offset, now, 0)
            elif now - seen[1] >= self.stall_s:
                seeks[tp] = offset + 1
                self._seen[tp] = (offset, now, seen[2] + 1)
        return seeks

    def exhausted(self) -> list[K]:
        """Partitions re-read ``attempts`` times without progress."""
        return [tp for tp, (_, _, tries) in self._seen.items() if tries >= self.attempts]

    def reset(self) -> None:
        """No recovery under way."""
        self._seen.clear()


class Recovery:
    """The tick's view of table recovery, over the Kafka port."""

    def __init__(self, port: KafkaPort, watch: RecoveryWatch[TP]) -> None:
        self.port = port
        self.stalls = watch

    async def watch(self) -> None:
        """Re-read changelog partitions whose recovery stalled; stop if that does not help."""
        port, watch = self.port, self.stalls
        # Faust holds ``rebalancing`` until recovery has completed (Recovery calls
        # on_rebalance_end last), so a recovery is watched whatever that flag says.
        if not port.in_recovery():
            watch.reset()
            return
        remaining, offsets = port.recovery_progress()
        for tp, offset in watch.check(remaining, offsets).items():
            log.warning(
                "table recovery read nothing from %s for %.0f s; re-reading from offset %d",
                tp,
                watch.stall_s,
                offset,
            )
            try:
                await port.seek(tp, offset)
            except Exception as exc:  # revoked meanwhile: the next recovery starts over
                log.warning("re-reading %s failed: %r", tp, exc)
        stuck = watch.exhausted()
        if stuck:
            die(f"table recovery of {stuck} made no progress after re-reading")

    def ready_for_state(self) -> bool:
        """Engine state may be read and written: no rebalance or recovery under way."""
        port = self.port
        if port.rebalancing() or port.in_recovery():
            return False
        return port.recovery_completed()
