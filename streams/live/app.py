"""Composition root of the live service: builds the Faust app and wires it. Nothing else.

    app, service = create_app(settings, store)
    run_worker(app)            # blocks until SIGTERM/SIGINT

Faust settings that matter for correctness (see ``delivery``):
``stream_wait_empty=False`` (a stop or rebalance must not wait for messages
that are deliberately unacknowledged while storage is down), memory table
store (tables are rebuilt from their changelogs on start and rebalance),
``producer_acks=-1``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from streams.live.delivery import die
from streams.live.service import LiveService
from streams.live.topics import Topics, bootstrap_list
from streams.settings import Settings

log = logging.getLogger(__name__)

FETCH_RACE_RETRIES = 20


def install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - optional speed-up
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def broker_url(bootstrap: str) -> str:
    return ";".join(f"kafka://{b}" for b in bootstrap_list(bootstrap))


def _faust_app_class() -> Any:
    """``faust.App`` whose Kafka consumer waits at most ``fetch_max_wait_ms`` per fetch.

    Faust creates its aiokafka consumer with ``fetch_max_wait_ms=1500`` and no
    setting to change it. Apache Kafka answers a fetch as soon as one byte is
    there, so the limit only paces idle polling; a broker that holds every fetch
    to its limit (Tansu does) delays each event by up to that long. The consumer
    is created unstarted; aiokafka reads the value when it starts its fetcher.
    """
    import faust
    from faust.transport.drivers import aiokafka as driver

    class ConsumerThread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = getattr(self.app, "fetch_max_wait_ms", 1500)  # noqa: SLF001
            return consumer

        async def _fetch_records(self, *args: Any, **kwargs: Any) -> Any:
            # Faust seeks from the event loop's thread; aiokafka's fetched_records, iterating
            # its buffered partitions in this thread, then meets one the seek just dropped
            # (KeyError) and Faust's fetcher crashes the worker. Ask again instead: records
            # that call had taken from other partitions are skipped, and the offset gate sees
            # those holes and seeks back to them (see ``delivery``).
            for attempt in range(1, FETCH_RACE_RETRIES + 1):
                try:
                    return await super()._fetch_records(*args, **kwargs)
                except KeyError as exc:
                    if attempt == FETCH_RACE_RETRIES:
                        raise
                    log.warning("fetch raced a seek (%r); fetching again", exc)
            return {}

    class WorkerConsumer(driver.Consumer):
        def _new_consumer_thread(self) -> Any:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class Transport(driver.Transport):
        Consumer = WorkerConsumer

    class App(faust.App):
        fetch_max_wait_ms = 1500

        def _new_transport(self) -> Any:
            return Transport(self.conf.broker_consumer, self)

    return App


def new_faust_app(settings: Settings, partitions: int, **extra: Any) -> Any:
    """The worker's Faust app: how it reaches the broker and how it reads (shared with the
    benchmark's bare-Faust baseline, so that both read alike). ``extra`` adds app settings."""
    app = _faust_app_class()(
        settings.worker_group_id,
        broker=broker_url(settings.kafka_bootstrap),
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        datadir=str(settings.worker_data_dir),
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


def create_app(
    settings: Settings,
    store: Any,
    *,
    on_alerts: Callable[[Sequence[Any]], None] | None = None,
    metrics: Any = None,
    health: Any = None,
) -> tuple[Any, LiveService]:

    from streams.engine import (
        Engine,
        EventValidator,
        Fact,
        InvalidEvent,
        alert_to_dict,
        load_config,
    )
    from streams.storage import DeadLetter as StorageDeadLetter

    topics = Topics.from_settings(settings)
    config = load_config(settings.supervision_config)
    partitions = topics.partitions

    app = new_faust_app(
        settings,
        partitions,
        topic_replication_factor=settings.topic_replication,
        table_standby_replicas=0,
        # Memory tables are rebuilt from the changelog in each process; the check compares
        # offsets remembered from an earlier assignment and misfires after rebalances on Tansu.
        recovery_consistency_check=False,
        producer_acks=-1,
        # One batch carries a processed batch's states/alerts per partition (see ``publish``);
        # below Kafka's default 1 MB message limit.
        producer_max_batch_size=512 * 1024,
    )

    def table(name: str) -> Any:
        t: Any = app.Table(
            name, default=None, partitions=partitions, key_type=bytes, value_type=bytes
        )
        # Blobs are bytes as they are: no JSON around them in the changelog.
        t.key_serializer = "raw"
        t.value_serializer = "raw"
        return t

    case_table = table("case-state")
    cross_table = table("cross-state")

    def storage_dead_letter(letter: Any, now_us: int) -> Any:
        return StorageDeadLetter(
            raw=letter.original,
            reason=letter.reason,
            received_at=now_us,
            topic=letter.topic,
            partition=letter.partition,
            offset=letter.offset,
        )

    service = LiveService(
        app=app,
        settings=settings,
        topics=topics,
        config=config,
        engine_factory=lambda: Engine(config),
        validator=EventValidator(settings.schemas_dir),
        invalid_error=InvalidEvent,
        fact_type=Fact,
        alert_to_dict=alert_to_dict,
        store=store,
        case_table=case_table,
        cross_table=cross_table,
        on_alerts=on_alerts,
        metrics=metrics,
        health=health,
        storage_dead_letter=storage_dead_letter,
    )

    if metrics is not None:
        from streams.engine.validate import CONTRACT, NOT_JSON, NOT_OBJECT
        from streams.live.processor import WRONG_TOPIC
        from streams.storage.writer import TABLE_ORDER

        metrics.declare(topics.domain, (NOT_JSON, NOT_OBJECT, CONTRACT, WRONG_TOPIC), TABLE_ORDER)

    schema = raw_schema()

    def raw_topic(name: str) -> Any:
        return app.topic(name, schema=schema, partitions=partitions)

    # One agent per domain topic, and one for the facts topic.
    for short, name in (
        ("approval", topics.approval),
        ("fund", topics.fund),
        ("trade", topics.trade),
        ("inspection", topics.inspection),
    ):
        app.agent(raw_topic(name), name=f"supervise-{short}")(_agent(service.consume_events))
    app.agent(raw_topic(topics.facts), name="supervise-facts")(_agent(service.consume_facts))

    app.task(service.run_persister)
    app.timer(settings.worker_batch_within_s, name="flush-partial-batch")(service.flush_if_due)
    app.timer(settings.worker_tick_s, name="timers-and-horizons")(service.tick)
    app.timer(settings.health_probe_interval_s, name="health-probe")(service.probe)

    @app.on_partitions_revoked.connect
    async def _revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        await service.on_partitions_revoked(revoked)

    if health is not None:

        @app.on_partitions_assigned.connect
        async def _assigned(sender: Any, assigned: set[Any], **kwargs: Any) -> None:
            health.set_broker(True, f"{len(assigned)} partitions")

    @app.on_before_shutdown.connect
    async def _shutdown(sender: Any, **kwargs: Any) -> None:
        await service.close()

    return app, service


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


def _agent(body: Callable[[Any], Any]) -> Callable[[Any], Any]:
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
