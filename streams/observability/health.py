"""What the worker reports on /healthz (liveness) and /readyz (readiness).

The worker owns one :class:`HealthState` and updates it as things happen:

- ``set_broker(connected, detail)`` when the Kafka consumer (dis)connects;
- ``set_storage(connected, detail)`` after each ClickHouse write or ping;
- ``set_timer_lag(seconds)`` with the age of the oldest due timed alert not yet
  fired (0 when none is due);
- ``set_calendar_pending(counts)`` each tick, with each owned partition's pending
  cases per calendar year without data (rules.md §1.5): reported as a detail,
  never a reason to be unready (the worker keeps working, the cases wait);
- ``loop_heartbeat()`` from the health probe, a timer that takes no lock and
  waits on nothing, so a stuck event loop shows as dead;
- ``heartbeat()`` at the start of each timer tick, which waits for the
  worker's own progress (a tick waits while storage back-pressure holds the
  pipeline).

Readiness = broker connected, storage connected and timer lag within
``max_timer_lag_seconds``. Liveness = the event loop beats within
``liveness_timeout_seconds``, and so do the ticks unless the broker or the
storage is down: a worker waiting out an outage is alive (a restart would not
help it) but not ready; a worker stuck with both up is dead. Before the first
beat nothing is expected yet. Details are masked: an error text naming a URL
with a password or an identifier never leaves here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from streams.observability.metrics import METRICS, Metrics
from streams.privacy import mask_text

if TYPE_CHECKING:
    from streams.settings import Settings


@dataclass
class ComponentStatus:
    connected: bool | None = None  # None: not reported yet
    detail: str = "not reported yet"
    changed_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {"connected": bool(self.connected), "detail": self.detail, "since": self.changed_at}


class HealthState:
    def __init__(
        self,
        *,
        max_timer_lag_seconds: float = 300.0,
        liveness_timeout_seconds: float = 120.0,
        metrics: Metrics | None = METRICS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_timer_lag_seconds = max_timer_lag_seconds
        self.liveness_timeout_seconds = liveness_timeout_seconds
        self._metrics = metrics
        self._clock = clock
        self._lock = threading.Lock()
        self.broker = ComponentStatus()
        self.storage = ComponentStatus()
        self.timer_lag_seconds = 0.0
        self.calendar_pending: dict[int, int] = {}  # year -> cases waiting for it
        self.started_at = clock()
        self.last_heartbeat: float | None = None
        self.last_loop_heartbeat: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics | None = METRICS) -> HealthState:
        return cls(
            max_timer_lag_seconds=settings.health_max_timer_lag_seconds,
            liveness_timeout_seconds=settings.health_liveness_timeout_seconds,
            metrics=metrics,
        )

    # --- updates from the worker ---------------------------------------------------
    def set_broker(self, connected: bool, detail: str = "") -> None:
        self._set(self.broker, connected, detail)
        if self._metrics is not None:
            self._metrics.broker_connected.set(1 if connected else 0)
        self._publish_ready()

    def set_storage(self, connected: bool, detail: str = "") -> None:
        self._set(self.storage, connected, detail)
        if self._metrics is not None:
            self._metrics.storage_connected.set(1 if connected else 0)
        self._publish_ready()

    def set_timer_lag(self, seconds: float) -> None:
        with self._lock:
            self.timer_lag_seconds = max(0.0, seconds)
        if self._metrics is not None:
            self._metrics.set_timer_backlog(seconds)
        self._publish_ready()

    def set_calendar_pending(self, counts: Iterable[dict[int, int]]) -> None:
        """The sum of pending cases per missing calendar year over ``counts`` (one per owned
        partition: ``CaseEngine.pending_calendar()``)."""
        total: dict[int, int] = {}
        for by_year in counts:
            for year, n in by_year.items():
                total[year] = total.get(year, 0) + n
        total = {year: n for year, n in sorted(total.items()) if n}
        with self._lock:
            self.calendar_pending = total
        if self._metrics is not None:
            self._metrics.set_calendar_pending(total)

    def heartbeat(self) -> None:
        """The worker made progress (a timer tick started)."""
        with self._lock:
            self.last_heartbeat = self._clock()

    def loop_heartbeat(self) -> None:
        """The event loop runs (the health probe ran)."""
        with self._lock:
            self.last_loop_heartbeat = self._clock()

    # --- what the endpoints report ----------------------------------------------------
    def liveness(self) -> tuple[bool, dict[str, Any]]:
        now = self._clock()
        with self._lock:
            beat, loop_beat = self.last_heartbeat, self.last_loop_heartbeat
            waiting = self.broker.connected is False or self.storage.connected is False
        age = None if beat is None else now - beat
        loop_age = None if loop_beat is None else now - loop_beat
        limit = self.liveness_timeout_seconds
        loop_alive = loop_age is None or loop_age <= limit
        progressing = age is None or age <= limit or waiting
        alive = loop_alive and progressing
        return alive, {
            "alive": alive,
            "uptime_seconds": round(now - self.started_at, 3),
            "heartbeat_age_seconds": None if age is None else round(age, 3),
            "loop_heartbeat_age_seconds": None if loop_age is None else round(loop_age, 3),
            "waiting_on_outage": waiting,
            "liveness_timeout_seconds": limit,
        }

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            lag = self.timer_lag_seconds
            broker, storage = self.broker.as_json(), self.storage.as_json()
            pending = dict(self.calendar_pending)
        keeping_up = lag <= self.max_timer_lag_seconds
        ready = bool(broker["connected"] and storage["connected"] and keeping_up)
        return ready, {
            "ready": ready,
            "broker": broker,
            "storage": storage,
            "timers": {
                "keeping_up": keeping_up,
                "lag_seconds": round(lag, 3),
                "max_lag_seconds": self.max_timer_lag_seconds,
            },
            # Cases waiting for a calendar year (README: Missing calendar year); not a
            # readiness condition: everything else goes on.
            "calendar": {
                "pending_cases": {str(year): n for year, n in pending.items()},
                "missing_years": sorted(pending),
            },
        }

    # --- internals ------------------------------------------------------------------
    def _set(self, status: ComponentStatus, connected: bool, detail: str) -> None:
        with self._lock:
            if status.connected != connected:
                status.changed_at = self._clock()
            status.connected = connected
            status.detail = (
                mask_text(detail) if detail else ("connected" if connected else "disconnected")
            )

    def _publish_ready(self) -> None:
        if self._metrics is not None:
            ready, _ = self.readiness()
            self._metrics.ready.set(1 if ready else 0)
