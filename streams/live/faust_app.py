"""The Faust runtime of the worker: the app, its raw schema, agents, the worker, GC tuning.

``new_faust_app`` is shared with the benchmark's bare-Faust baseline, so that both
read alike. Faust settings that matter for correctness (see ``delivery``):
``stream_wait_empty=False`` (a stop or rebalance must not wait for messages
that are deliberately unacknowledged while storage is down), the table store
(``table_store``: RocksDB on disk, a prefix of the changelog; or memory,
rebuilt from the changelogs on start and rebalance), ``producer_acks=-1``. Faust's internals are patched in ``kafka_port`` only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from streams.live.delivery import die
from streams.live.kafka_port import faust_app_class
from streams.live.table_store import ROCKSDB_URL, register, tables_dir
from streams.live.topics import bootstrap_list
from streams.settings import Settings

log = logging.getLogger(__name__)


def install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - optional speed-up
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def broker_url(bootstrap: str) -> str:
    return ";".join(f"kafka://{b}" for b in bootstrap_list(bootstrap))


def new_faust_app(settings: Settings, partitions: int, **extra: Any) -> Any:
    """The worker's Faust app: how it reaches the broker and how it reads (shared with the
    benchmark's bare-Faust baseline, so that both read alike). ``extra`` adds app settings."""
    app = faust_app_class()(
        settings.worker_group_id,
        broker=broker_url(settings.kafka_bootstrap),
        store=table_store_url(settings),
        autodiscover=False,
        web_enabled=False,
        datadir=str(settings.worker_data_dir),
        tabledir=str(tables_dir(settings.worker_data_dir, settings.worker_group_id)),
        topic_partitions=partitions,
        topic_allow_declare=True,
        stream_wait_empty=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_rebalance_timeout=settings.worker_rebalance_timeout_s,
        broker_heartbeat_interval=settings.worker_heartbeat_s,
        broker_max_poll_records=5000,
        stream_buffer_maxsize=max(4096, settings.worker_batch_max * 2),
        **extra,
    )
    app.fetch_max_wait_ms = settings.worker_fetch_max_wait_ms
    return app


def table_store_url(settings: Settings) -> str:
    """Faust's store URL for the engine-state tables (``WORKER_TABLE_STORE``)."""
    if settings.worker_table_store == "memory":
        return "memory://"
    register()
    return ROCKSDB_URL


def raw_schema() -> Any:
    """Key and value as the bytes on the wire: the agents validate the value themselves.

    Faust's serializer registry ('raw' codec included) costs several microseconds per
    message for an identity; this schema hands the bytes over directly.
    """
    import faust

    class RawSchema(faust.Schema):
        def loads_key(
            self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None
        ) -> Any:
            return message.key

        def loads_value(
            self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None
        ) -> Any:
            return message.value

    return RawSchema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


def agent_body(body: Callable[[Any], Any]) -> Callable[[Any], Any]:
    async def agent(stream: Any) -> None:
        try:
            await body(stream)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a crashed agent must not leave a worker that consumes nothing
            log.exception("agent failed")
            die(f"agent {getattr(body, '__name__', '?')} failed: {exc!r}")

    agent.__name__ = agent.__qualname__ = getattr(body, "__name__", "agent")
    return agent


def build_worker(app: Any, loglevel: str = "info") -> Any:
    """The Faust worker for ``app``, without Faust's terminal spinner.

    The spinner, installed when the level is WARNING or above, sets the root
    logger to DEBUG: every library's debug record (aiokafka logs each send) would
    then be built and masked, only to be dropped by the handler (~12% of a worker).
    """
    import faust

    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.spinner = None
    return worker


def run_worker(app: Any, loglevel: str = "info") -> None:
    """Run the Faust worker in this process until it is told to stop."""
    worker = build_worker(app, loglevel)
    tune_gc()
    worker.execute_from_commandline()


def tune_gc() -> None:
    """Fewer, cheaper cyclic collections for a long-running worker.

    Engine state is millions of small objects without cycles; the default gen-0
    threshold (700 allocations) runs a collection every few events, and the
    full collections that follow walk the whole state: they showed as periodic
    pauses of up to a second in produce-to-alert latency. Startup objects are
    frozen out of the collector; young collections run every 50,000 allocations.
    Cycles (asyncio, Faust) are still collected.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
