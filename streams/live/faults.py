"""Crash-point fault injection for tests: exit the worker hard at one persist step, once.

    SUPERVISION_CRASH_AT=after_store          # or mid_publish, mid_state_write, after_state_write
    SUPERVISION_CRASH_AT=mid_publish:3        # the third time the point is reached
    SUPERVISION_CRASH_MARKER=/path/crashed    # default: WORKER_DATA_DIR/crashed-{point}

The points, in the persister's order (``persister``):

- ``after_store``: the step's rows are stored in ClickHouse, nothing is published;
- ``after_withdrawal_store``: the same, counted only for steps that withdraw alerts
  (rules.md §1.4): withdrawals stored, neither published nor committed;
- ``mid_publish``: its alerts and dead letters are published (and acknowledged),
  re-routed events and facts are not;
- ``mid_state_write``: the first half of its state records are in the changelog
  (acknowledged), the rest and the partitions' next offsets are not;
- ``after_state_write``: all states are written, nothing is committed.

At the point the worker writes the marker file, then ends with ``os._exit(86)``
(no shutdown code, no flush: as a SIGKILL would). A worker started again with
the same environment finds the marker and runs without crashing. Unset (the
default), each check is one comparison.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

POINTS = ("after_store", "mid_publish", "mid_state_write", "after_state_write")
# A point of the steps that withdraw alerts only (every step passes the others).
KNOWN_POINTS = (*POINTS, "after_withdrawal_store")
CRASH_EXIT = 86


class CrashPlan:
    """Which point to crash at, after how many passes, and the marker that makes it once."""

    def __init__(self, point: str, nth: int, marker: Path) -> None:
        if point not in KNOWN_POINTS:
            raise ValueError(
                f"SUPERVISION_CRASH_AT: unknown point {point!r}; one of {KNOWN_POINTS}"
            )
        self.point = point
        self.nth = nth
        self.marker = marker
        self.passes = 0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> CrashPlan | None:
        env = dict(os.environ) if env is None else env
        spec = env.get("SUPERVISION_CRASH_AT", "").strip()
        if not spec:
            return None
        point, _, nth = spec.partition(":")
        marker = env.get("SUPERVISION_CRASH_MARKER") or str(
            Path(env.get("WORKER_DATA_DIR", ".")) / f"crashed-{point}"
        )
        plan = cls(point, int(nth or 1), Path(marker))
        return None if plan.marker.exists() else plan

    def due(self, point: str) -> bool:
        """True once: at the ``nth`` pass of ``point`` (never again once the marker exists)."""
        if point != self.point:
            return False
        self.passes += 1
        return self.passes == self.nth and not self.marker.exists()

    def crash(self) -> None:
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        with self.marker.open("w") as fh:
            fh.write(f"{self.point} {self.nth}\n")
            fh.flush()
            os.fsync(fh.fileno())
        log.warning("injected crash at %s (pass %d): exiting now", self.point, self.nth)
        sys.stderr.flush()
        os._exit(CRASH_EXIT)


PLAN = CrashPlan.from_env()


def crash_point(point: str) -> None:
    """Exit here if the plan says so."""
    if PLAN is not None and PLAN.due(point):
        PLAN.crash()


async def crash_after(point: str, pending: Sequence[asyncio.Future[Any]]) -> None:
    """Exit here if the plan says so, once ``pending`` deliveries are acknowledged."""
    if PLAN is not None and PLAN.due(point):
        await asyncio.gather(*pending)
        PLAN.crash()


async def crash_mid_send(point: str, publisher: Any, topic: str, records: Sequence[Any]) -> None:
    """Exit here if the plan says so, after the first half of ``records`` (at least one) is
    sent to ``topic`` and acknowledged (``publish.BatchPublisher``)."""
    if PLAN is not None and PLAN.due(point):
        await asyncio.gather(*await publisher.send(topic, records[: max(1, len(records) // 2)]))
        PLAN.crash()
