"""At-least-once plumbing: commit only what is stored, strictly in offset order; never drop.

Faust acknowledges a message even when the agent raises, ``Stream.take()`` acks
its batch in a ``finally``, a stream silently skips messages that arrive while
flow control is paused around a rebalance, and faust-streaming 0.15.3 (#606)
commits past an unacknowledged message at the head of a partition when the
committed offset is unknown or 0. Together these can commit past events that
were never processed (seen in our SIGKILL tests: cases missing their first
events). So the live service takes offsets out of Faust's hands:

- agents iterate ``noack()`` streams and never acknowledge: Faust's own commit
  (driven by acks) never commits anything;
- ``OffsetGate`` admits a partition's messages only in exact offset order from
  a known start (the offset persisted with the engine state, or the log start
  when nothing was ever stored); a message past a hole makes the worker seek
  back to the hole and re-read (never skip); one already stored is skipped;
- after a batch's rows, facts and states are stored, the service commits, per
  partition, the offset after the last stored message (facts partitions: the
  first fact still held by the gate) with the Kafka consumer directly.

Fatal conditions exit the process without any commit (``die``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from streams.privacy import mask_text

log = logging.getLogger(__name__)

T = TypeVar("T")

EXIT_FATAL = 3

PROCESS, OLD, HOLE = "process", "old", "hole"


@dataclass(slots=True)
class _Cursor:
    expected: int
    seek_from: int | None = None  # offset a seek back to ``expected`` was requested at
    seek_at: float = 0.0
    progress_at: float = 0.0  # when ``expected`` last moved (or was set)


class OffsetGate:
    """Per partition: the next offset that may be processed, and hole handling."""

    def __init__(
        self, reseek_after_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cursors: dict[Any, _Cursor] = {}
        self.reseek_after_s = reseek_after_s
        self.clock = clock

    def known(self, tp: Any) -> bool:
        return tp in self._cursors

    def start(self, tp: Any, offset: int) -> None:
        now = self.clock()
        self._cursors[tp] = _Cursor(offset, seek_at=now, progress_at=now)

    def stalled(self, tp: Any, highwater: int | None) -> int | None:
        """Offset to seek to when the partition has more to read but nothing came for a while.

        Covers a hole with nothing behind it to reveal it (Faust dropped the end of
        a backlog): no message will ever arrive to trigger ``admit``.
        """
        cur = self._cursors.get(tp)
        if cur is None or highwater is None or highwater <= cur.expected:
            return None
        now = self.clock()
        if now - cur.progress_at > self.reseek_after_s and now - cur.seek_at > self.reseek_after_s:
            cur.seek_from, cur.seek_at = cur.expected, now
            return cur.expected
        return None

    def expected(self, tp: Any) -> int:
        return self._cursors[tp].expected

    def forget(self, tps: set[Any]) -> None:
        for tp in tps:
            self._cursors.pop(tp, None)

    def admit(self, tp: Any, offset: int) -> tuple[str, int | None]:
        """(verdict, offset to seek to or None). Verdicts: PROCESS, OLD (stored already), HOLE."""
        cur = self._cursors[tp]
        if offset == cur.expected:
            cur.expected += 1
            cur.seek_from = None
            cur.progress_at = self.clock()
            return PROCESS, None
        if offset < cur.expected:
            return OLD, None
        # A hole: the messages from ``expected`` on were never handed to us. Ask for a
        # seek back (again every ``reseek_after_s`` until they come); never skip them.
        # Our topics have no legitimate holes (no compaction, no transactional producers);
        # a partition with one would stall here, loudly, rather than lose events.
        now = self.clock()
        if cur.seek_from is None or now - cur.seek_at > self.reseek_after_s:
            cur.seek_from, cur.seek_at = offset, now
            return HOLE, cur.expected
        return HOLE, None


async def retry_forever(
    what: str,
    fn: Callable[[], Awaitable[T]],
    initial_s: float,
    max_s: float,
    on_retry: Callable[[int, BaseException], None] | None = None,
) -> T:
    """Run ``fn`` until it succeeds, backing off; back-pressure, not data loss.

    Cancellation propagates (nothing was acknowledged, so nothing is lost).
    """
    delay = initial_s
    attempt = 0
    while True:
        try:
            return await fn()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every storage error is retried
            attempt += 1
            if on_retry is not None:
                on_retry(attempt, exc)
            log.warning("%s failed (attempt %d), retrying in %.1fs: %s", what, attempt, delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_s)


class RecoveryWatch:
    """Changelog partitions whose table recovery stopped making progress.

    Faust rebuilds the tables of newly assigned partitions from their changelogs
    and waits until each reaches its high-water mark, with no time limit. Once, in
    CI, a worker waited four minutes for changelog partitions it was never sent a
    record of, after a rebalance of two workers on Tansu (cause not found; Faust
    also seeks from the event loop's thread, see ``LiveService._seek_to``). ``check``
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
        self._seen: dict[Any, tuple[int, float, int]] = {}  # tp -> (offset, since, re-reads)

    def check(self, remaining: dict[Any, int], offsets: dict[Any, int]) -> dict[Any, int]:
        """``remaining``/``offsets``: records still to read and the offset read last, per
        active changelog partition of the recovery under way."""
        now = self.clock()
        seeks: dict[Any, int] = {}
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

    def exhausted(self) -> list[Any]:
        """Partitions re-read ``attempts`` times without progress."""
        return [tp for tp, (_, _, tries) in self._seen.items() if tries >= self.attempts]

    def reset(self) -> None:
        """No recovery under way."""
        self._seen.clear()


def die(reason: str) -> None:
    """Stop the worker loudly, committing nothing: the batch at hand stays unacknowledged."""
    reason = mask_text(reason)  # print() bypasses the masking log filter
    log.critical("FATAL, worker stops without committing: %s", reason)
    print(f"supervise worker: FATAL: {reason}", file=sys.stderr, flush=True)
    logging.shutdown()
    os._exit(EXIT_FATAL)
