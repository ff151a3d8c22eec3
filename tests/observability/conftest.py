"""A running metrics/health server on a free loopback port, scraped over real HTTP."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from streams.observability.health import HealthState
from streams.observability.http import ObservabilityServer
from streams.observability.metrics import Metrics


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Served:
    metrics: Metrics
    health: HealthState
    base_url: str

    def get(self, path: str, accept: str | None = None) -> Response:
        request = urllib.request.Request(self.base_url + path)
        if accept:
            request.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                return Response(reply.status, dict(reply.headers), reply.read().decode())
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read().decode())


@pytest.fixture
def served() -> Iterator[Served]:
    metrics = Metrics(CollectorRegistry())
    health = HealthState(max_timer_lag_seconds=60, liveness_timeout_seconds=30, metrics=metrics)
    server = ObservabilityServer(health, registry=metrics.registry, host="127.0.0.1", port=0)
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10), "metrics server did not start"
    try:
        yield Served(metrics, health, f"http://127.0.0.1:{server.port}")
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
