"""``supervise worker``: the live service (production entry point).

Configured by environment (see ``streams.settings``): ``KAFKA_BOOTSTRAP``,
``CLICKHOUSE_URL`` (unset: embedded chdb in ``CHDB_PATH``), ``TOPIC_*``,
``TOPIC_PARTITIONS``, ``WORKER_GROUP_ID``, ``WORKER_BATCH_MAX``, ... Runs until
SIGTERM/SIGINT; exits with status 3 (without committing) when the rejection-rate
limit or an evaluation error stops it.
"""

from __future__ import annotations

import logging
import os
import sys

import typer

from streams.cli import app


@app.command("worker")
def worker(
    loglevel: str = typer.Option("info", help="Log level (debug, info, warning, error)."),
    create_topics: bool = typer.Option(True, help="Create missing supervision topics first."),
    migrate: bool = typer.Option(True, help="Apply missing ClickHouse migrations first."),
    echo_alerts: bool = typer.Option(
        False, "--echo-alerts", help="Print every stored alert (live view)."
    ),
    metrics: bool = typer.Option(
        True, help="Serve /metrics, /healthz, /readyz on METRICS_HOST:METRICS_PORT."
    ),
) -> None:
    """Run a live supervision worker: Kafka in, alerts and events into ClickHouse."""
    from streams.live.app import create_app, install_uvloop, run_worker
    from streams.live.sink import AlertPrinter, WriterStore
    from streams.live.topics import Topics, ensure_topics
    from streams.settings import get_settings

    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from streams.privacy import install_log_masking

    install_log_masking()  # identifiers and secrets never reach the logs unmasked
    settings = get_settings()
    install_uvloop()
    if create_topics:
        ensure_topics(settings.kafka_bootstrap, Topics.from_settings(settings))

    from streams.storage import open_backend, open_writer

    backend = open_backend(settings)
    if migrate:
        from streams.storage.migrations import migrate as apply_migrations

        apply_migrations(backend)

    on_alerts = None
    if echo_alerts or settings.live_echo_alerts:
        from streams.engine import load_config

        on_alerts = AlertPrinter(load_config(settings.supervision_config).local)

    health = metrics_registry = None
    if metrics:
        from streams.observability import METRICS, HealthState

        health = HealthState.from_settings(settings)
        metrics_registry = METRICS
        from streams import __version__
        from streams.engine import load_config as _load_config

        METRICS.set_build_info(
            __version__, config_version=_load_config(settings.supervision_config).version
        )

    store = WriterStore(open_writer(settings, backend), metrics=metrics_registry)
    faust_app, service = create_app(
        settings, store, on_alerts=on_alerts, metrics=metrics_registry, health=health
    )
    if health is not None:
        from streams.observability.http import ObservabilityServer

        server = ObservabilityServer(health, host=settings.metrics_host, port=settings.metrics_port)

        @faust_app.task
        async def _serve_metrics() -> None:
            await server.start()

    code = 0
    profile_path = os.environ.get("SUPERVISE_PROFILE")  # benchmarks: cProfile the worker
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        run_worker(faust_app, loglevel=loglevel)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        store.close()  # every row of a committed batch is already stored
        backend.close()
    if profiler is not None and profile_path:
        profiler.disable()
        profiler.dump_stats(profile_path)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # Embedded chdb's global shutdown at interpreter exit can crash or hang after all data
    # is safely written; leave without it, with Faust's exit status.
    os._exit(code)
