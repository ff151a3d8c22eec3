"""``supervise worker``: the live service (production entry point).

Configured by environment (see ``streams.settings``): ``KAFKA_BOOTSTRAP``,
``CLICKHOUSE_URL`` (unset: embedded chdb in ``CHDB_PATH``), ``TOPIC_*``,
``TOPIC_PARTITIONS``, ``WORKER_GROUP_ID``, ``WORKER_BATCH_MAX``, ... Runs until
SIGTERM/SIGINT; exits with status 3 (without committing) when an evaluation
error outside a case (a tick, a fact) or a persisting failure stops it. The
rejection-rate limit stops one source partition, not the worker (README runbook).
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
    profile: str | None = typer.Option(
        None, envvar="SUPERVISE_PROFILE", help="Write a cProfile of the worker to this file."
    ),
) -> None:
    """Run a live supervision worker: Kafka in, alerts and events into ClickHouse."""
    from streams.live.app import build
    from streams.live.faust_app import install_uvloop
    from streams.privacy import install_log_masking
    from streams.settings import get_settings

    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_log_masking()  # identifiers and secrets never reach the logs unmasked
    install_uvloop()
    built = build(
        get_settings(),
        create_topics=create_topics,
        migrate=migrate,
        observe=metrics,
        echo_alerts=echo_alerts,
    )
    profiler = None
    if profile:  # benchmarks: cProfile the worker
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    code = built.run(loglevel)
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # Embedded chdb's global shutdown at interpreter exit can crash or hang after all data
    # is safely written; leave without it, with Faust's exit status.
    os._exit(code)
