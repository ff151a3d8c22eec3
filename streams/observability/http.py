"""HTTP server of the worker's operator endpoints (aiohttp, in the worker's event loop).

- ``GET /metrics`` — Prometheus exposition (OpenMetrics when the scraper asks for it);
- ``GET /healthz`` — liveness: 200 while alive, 503 when the heartbeat is stale;
- ``GET /readyz`` — readiness: 200 when broker and storage are connected and
  timers keep up, else 503; the JSON body says which part is failing.

Usage from the worker (inside its running event loop)::

    server = ObservabilityServer(health, host=settings.metrics_host, port=settings.metrics_port)
    await server.start()
    ...
    await server.stop()

Running in the worker's own loop is deliberate: if that loop is blocked, the
probes time out and Kubernetes restarts the pod.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from streams.observability.health import HealthState
from streams.observability.metrics import REGISTRY

log = logging.getLogger(__name__)

HEALTH_KEY = web.AppKey("health", HealthState)
REGISTRY_KEY = web.AppKey("registry", CollectorRegistry)


async def _metrics(request: web.Request) -> web.Response:
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encoder(request.app[REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": content_type})


def _json(ok: bool, body: dict[str, object]) -> web.Response:
    return web.Response(
        status=200 if ok else 503,
        text=json.dumps(body, ensure_ascii=False, sort_keys=True),
        content_type="application/json",
    )


async def _healthz(request: web.Request) -> web.Response:
    return _json(*request.app[HEALTH_KEY].liveness())


async def _readyz(request: web.Request) -> web.Response:
    return _json(*request.app[HEALTH_KEY].readiness())


def create_app(health: HealthState, registry: CollectorRegistry = REGISTRY) -> web.Application:
    app = web.Application()
    app[HEALTH_KEY] = health
    app[REGISTRY_KEY] = registry
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    return app


class ObservabilityServer:
    """Start/stop wrapper around :func:`create_app`; ``port=0`` picks a free port."""

    def __init__(
        self,
        health: HealthState,
        *,
        registry: CollectorRegistry = REGISTRY,
        host: str = "0.0.0.0",
        port: int = 8000,
    ) -> None:
        self._app = create_app(health, registry)
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        runner = web.AppRunner(self._app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        server = site._server  # the asyncio server: the only place the bound port is known
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self._port
        log.info("metrics and health endpoints listening on %s:%s", self._host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
