"""Start-up before the Faust app runs: health served while the worker waits for its storage.

``build`` (in ``app``) opens the storage before the Faust app exists; while ClickHouse
is down that waits with back-off (``open_backend``). Meanwhile the operator endpoints
must already answer, so a probe or a scraper sees *why* the worker is not ready
instead of a refused connection:

- ``EarlyEndpoints`` serves ``/metrics``, ``/healthz`` and ``/readyz`` from a thread of
  its own (an aiohttp loop) from the first line of ``build`` until the Faust app's
  own server takes over (``handover``, called by the app's metrics task just before
  it binds the same address, or when the worker ends without getting there);
- ``open_storage`` reports each wait as the storage component of ``/readyz``
  (``waiting for storage before start: …``) and the open storage as connected.

/readyz is 503 throughout the wait (broker and storage are not connected yet);
/healthz is 200 (nothing is expected to beat before the app runs).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from streams.observability.health import HealthState
from streams.observability.http import ObservabilityServer
from streams.storage.errors import StorageUnavailable

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from streams.settings import Settings
    from streams.storage.backends import Backend

log = logging.getLogger(__name__)

STORAGE_WAIT = "waiting for storage before start"


class EarlyEndpoints:
    """The operator endpoints on their own thread, until the Faust app serves them."""

    def __init__(
        self, health: HealthState, registry: CollectorRegistry, host: str, port: int
    ) -> None:
        self.server = ObservabilityServer(health, registry=registry, host=host, port=port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Bind and serve; returns once the endpoints answer (raises when the bind fails)."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.server.start())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.server.stop())
            loop.close()

        thread = threading.Thread(target=serve, name="early-endpoints", daemon=True)
        thread.start()
        started.wait()
        if failure:
            thread.join()
            raise failure[0]
        self._loop, self._thread = loop, thread

    def handover(self) -> None:
        """Stop serving (the address is free for the app's server once this returns)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


def open_storage(settings: Settings, health: HealthState | None) -> Backend:
    """``open_backend``, reporting each wait to ``health`` (not ready, with the reason)."""
    from streams.storage import open_backend

    def waiting(error: StorageUnavailable, delay: float) -> None:
        if health is not None:
            health.set_storage(False, f"{STORAGE_WAIT}: {error}; next try in {delay:.1f}s")

    if health is not None:
        health.set_storage(False, f"{STORAGE_WAIT}: connecting")
    backend = open_backend(settings, on_wait=waiting)
    if health is not None:
        health.set_storage(True, "opened")
    return backend
