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
  back to the hole and re-read; one already stored is skipped. A hole is passed
  only when the broker confirms it holds no record there for a read_committed
  reader (transaction markers, aborted or compacted records: ``pass_to``), or
  when retention deleted it (reported loudly: see ``offsets``);
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
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import NoReturn, TypeVar

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
        self._cursors: dict[Hashable, _Cursor] = {}
        self.reseek_after_s = reseek_after_s
        self.clock = clock

    def known(self, tp: Hashable) -> bool:
        return tp in self._cursors

    def start(self, tp: Hashable, offset: int) -> None:
        now = self.clock()
        self._cursors[tp] = _Cursor(offset, seek_at=now, progress_at=now)

    def stalled(self, tp: Hashable, highwater: int | None) -> int | None:
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

    def expected(self, tp: Hashable) -> int:
        return self._cursors[tp].expected

    def forget(self, tps: Iterable[Hashable]) -> None:
        for tp in tps:
            self._cursors.pop(tp, None)

    def pass_to(self, tp: Hashable, hole: int, offset: int) -> bool:
        """Move past a hole at ``hole`` to ``offset`` (the broker has no record between them).

        Only while the partition still expects ``hole``: False (nothing changes) when it
        moved on meanwhile or is not known any more."""
        cur = self._cursors.get(tp)
        if cur is None or cur.expected != hole or offset <= hole:
            return False
        now = self.clock()
        cur.expected, cur.seek_from, cur.seek_at, cur.progress_at = offset, None, now, now
        return True

    def admit(self, tp: Hashable, offset: int) -> tuple[str, int | None]:
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
        # seek back (again every ``reseek_after_s`` until they come); never skip them here.
        # Before seeking, the keeper asks the broker whether the hole is a legitimate one
        # (transaction markers, aborted or compacted records, retention) and passes it
        # then (``pass_to``): a hole the broker confirms is never sought back forever.
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


def die(reason: str) -> NoReturn:
    """Stop the worker loudly, committing nothing: the batch at hand stays unacknowledged."""
    reason = mask_text(reason)  # print() bypasses the masking log filter
    log.critical("FATAL, worker stops without committing: %s", reason)
    print(f"supervise worker: FATAL: {reason}", file=sys.stderr, flush=True)
    logging.shutdown()
    os._exit(EXIT_FATAL)
