"""Composition root of the live service: builds the worker from settings. Nothing else.

    worker = build(get_settings())    # the configuration is loaded once, here
    code = worker.run("info")         # blocks until SIGTERM/SIGINT; Faust's exit status

Everything is built here and handed down typed: topics (created when missing),
storage (migrated), the engine configuration and validator, the Faust app, its
Kafka port and state tables, metrics and health, and the service's steps. With
``observe=False`` the metrics and health objects are unexported (nothing serves
or scrapes them) and no health probe runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from streams import __version__
from streams.contract import DOMAIN_SUFFIXES
from streams.engine import EventValidator, SupervisionConfig, load_config
from streams.live.breaker import Breakers
from streams.live.deadletter import RejectionLimit
from streams.live.delivery import OffsetGate
from streams.live.evaluate import Evaluator
from streams.live.faust_app import agent_body, new_faust_app, raw_schema, run_worker
from streams.live.kafka_port import KafkaPort
from streams.live.offsets import OffsetKeeper
from streams.live.partitions import Partitions
from streams.live.persister import Persister
from streams.live.pipeline import Pipeline
from streams.live.probe import HealthProbe, LagReport
from streams.live.recovery import Recovery, RecoveryWatch
from streams.live.service import LiveService
from streams.live.shadow import load_shadows
from streams.live.sink import AlertPrinter, WriterStore
from streams.live.startup import EarlyEndpoints, open_storage
from streams.live.state import StateTable, next_offset_key
from streams.live.table_store import ROCKSDB_OPTIONS
from streams.live.ticker import Ticker
from streams.live.topics import Topics, ensure_topics
from streams.live.workflow_app import build_workflow, wire_workflow
from streams.live.workflow_route import WorkflowRouting
from streams.observability import METRICS, HealthState, Metrics
from streams.settings import Settings


@dataclass
class Worker:
    """A built worker: the Faust app to run, the service inside it, what to close after."""

    app: Any  # faust.App
    service: LiveService
    config: SupervisionConfig
    closing: list[Callable[[], None]]

    def run(self, loglevel: str = "info") -> int:
        """Run until told to stop, then close storage; Faust's exit status."""
        code = 0
        try:
            run_worker(self.app, loglevel=loglevel)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            for close in self.closing:  # every row of a committed batch is already stored
                close()
        return code


def build(
    settings: Settings,
    *,
    create_topics: bool = True,
    migrate: bool = True,
    observe: bool = True,
    echo_alerts: bool = False,
) -> Worker:
    """The worker: storage ready, the Faust app with the live service wired in."""
    config = load_config(settings.supervision_config)
    topics = Topics.from_settings(settings)
    metrics = METRICS if observe else Metrics(CollectorRegistry(), process_metrics=False)
    health = HealthState.from_settings(settings, metrics if observe else None)
    early = None
    if observe:  # the endpoints answer (not ready, and why) while the worker waits below
        metrics.set_build_info(__version__, config_version=config.version)
        early = EarlyEndpoints(
            health, metrics.registry, settings.metrics_host, settings.metrics_port
        )
        early.start()
    try:
        return _build(
            settings, config, topics, metrics, health, early, create_topics, migrate, echo_alerts
        )
    except BaseException:
        if early is not None:
            early.handover()
        raise


def _build(
    settings: Settings,
    config: SupervisionConfig,
    topics: Topics,
    metrics: Metrics,
    health: HealthState,
    early: EarlyEndpoints | None,
    create_topics: bool,
    migrate: bool,
    echo_alerts: bool,
) -> Worker:
    from streams.storage import open_writer
    from streams.storage.migrations import migrate as apply_migrations
    from streams.storage.scoring_config import try_record_scoring

    observe = early is not None
    shadows = load_shadows(settings.shadow_configs, config)  # refused before anything starts
    if create_topics:
        ensure_topics(settings.kafka_bootstrap, topics)
    backend = open_storage(settings, health if observe else None)
    if migrate:
        apply_migrations(backend)
    try_record_scoring(backend, config)  # the active [scoring] of the dashboards' scores
    # The store reports its batches, rows, latency and failed attempts per table.
    store = WriterStore(open_writer(settings, backend), metrics=metrics if observe else None)
    echo = echo_alerts or settings.live_echo_alerts
    on_alerts = AlertPrinter(config.local) if echo else None
    app = new_faust_app(
        settings,
        topics.partitions,
        topic_replication_factor=settings.topic_replication,
        table_standby_replicas=0,
        # The check compares offsets remembered from an earlier assignment (memory tables) and
        # misfires after rebalances on Tansu; RocksDB tables are a prefix of their changelogs.
        recovery_consistency_check=False,
        producer_acks=-1,
        # One batch carries a processed batch's states/alerts per partition (see ``publish``);
        # below Kafka's default 1 MB message limit.
        producer_max_batch_size=512 * 1024,
    )

    def table(name: str) -> StateTable:
        t: Any = app.Table(
            name,
            default=None,
            partitions=topics.partitions,
            key_type=bytes,
            value_type=bytes,
            options=dict(ROCKSDB_OPTIONS) if settings.worker_table_store == "rocksdb" else None,
        )
        t.key_serializer = t.value_serializer = "raw"  # blobs as they are in the changelog
        return StateTable(t.data, t.changelog_topic.get_topic_name())

    port = KafkaPort(app, bootstrap=settings.kafka_bootstrap, client_id=settings.worker_group_id)
    partitions = Partitions(
        config, topics, settings, table("case-state"), table("cross-state"), shadows
    )
    # The 督办 workflow runs where the configuration names who may act (its users file);
    # without one nobody could act, and the worker stores and publishes the rules' alerts alone.
    workflow_table = table("workflow-state") if config.workflow.users_file else None

    def stored_next_offset(tp: Any) -> int | None:
        if workflow_table is not None and tp.topic in topics.workflow:
            return workflow_table.get_int(next_offset_key(tp.partition, tp.topic))
        return partitions.stored_next_offset(tp)

    offsets = OffsetKeeper(port, stored_next_offset, OffsetGate(), metrics)
    limit = RejectionLimit(
        settings.deadletter_window,
        settings.deadletter_max_ratio,
        settings.deadletter_max_consecutive,
    )
    pipeline = Pipeline(topics, EventValidator(settings.schemas_dir), limit, partitions.case)
    persister = Persister(
        settings=settings,
        topics=topics,
        config=config,
        port=port,
        offsets=offsets,
        partitions=partitions,
        store=store,
        metrics=metrics,
        health=health,
        on_alerts=on_alerts,
        workflow=None
        if workflow_table is None
        else WorkflowRouting(
            {name: frozenset(t.terminal) for name, t in config.templates.items()},
            topics.workflow_inputs,
        ),
    )
    lags = LagReport(metrics, offsets)
    service = LiveService(
        settings,
        port,
        offsets,
        Evaluator(
            partitions,
            pipeline,
            offsets,
            port,
            metrics,
            breakers=Breakers(
                settings.deadletter_window,
                settings.deadletter_max_ratio,
                settings.deadletter_max_consecutive,
                metrics,
            ),
        ),
        persister,
        Ticker(
            partitions=partitions,
            offsets=offsets,
            port=port,
            lags=lags,
            metrics=metrics,
            health=health,
        ),
        Recovery(port, RecoveryWatch(settings.worker_recovery_stall_s)),
    )
    _wire(app, topics, settings, service)
    if workflow_table is not None:
        flow = build_workflow(
            settings, config, topics, port, offsets, partitions, workflow_table, store,
            persister, metrics, service.recovery, on_alerts,
        )  # fmt: skip
        wire_workflow(app, topics, settings, flow)
    closing = [store.close, backend.close]
    if early is not None:
        _observe(app, settings, service, metrics, health, lags, topics, early)
        closing.insert(0, early.handover)
    return Worker(app, service, config, closing)


def _wire(app: Any, topics: Topics, settings: Settings, service: LiveService) -> None:
    """Agents (one per domain topic, one for facts), the persister, timers, rebalance, stop."""
    schema = raw_schema()
    intake = service.intake
    for suffix, name in zip(DOMAIN_SUFFIXES, topics.domain, strict=True):
        topic = app.topic(name, schema=schema, partitions=topics.partitions)
        app.agent(topic, name=f"supervise-{suffix}")(agent_body(intake.consume_events))
    facts = app.topic(topics.facts, schema=schema, partitions=topics.partitions)
    app.agent(facts, name="supervise-facts")(agent_body(intake.consume_facts))
    app.task(service.persister.run)
    app.timer(settings.worker_batch_within_s, name="flush-partial-batch")(intake.flush_if_due)
    app.timer(settings.worker_tick_s, name="timers-and-horizons")(service.tick)

    @app.on_partitions_revoked.connect
    async def _revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        await service.on_partitions_revoked(revoked)

    @app.on_before_shutdown.connect
    async def _shutdown(sender: Any, **kwargs: Any) -> None:
        await service.close()


def _observe(
    app: Any,
    settings: Settings,
    service: LiveService,
    metrics: Metrics,
    health: HealthState,
    lags: LagReport,
    topics: Topics,
    early: EarlyEndpoints,
) -> None:
    """Metric series declared up front, the health probe, /metrics /healthz /readyz (taken
    over from the endpoints served during start-up)."""
    from streams.contract import REJECTION_KINDS
    from streams.live.corrections import CORRECTION_OUTCOMES
    from streams.live.progress import MARKER_OUTCOMES
    from streams.observability.http import ObservabilityServer
    from streams.storage.writer import TABLE_ORDER

    metrics.declare(
        topics.domain, REJECTION_KINDS, TABLE_ORDER, MARKER_OUTCOMES, CORRECTION_OUTCOMES
    )
    probe = HealthProbe(
        port=service.port,
        persister=service.persister,
        lags=lags,
        health=health,
        domain=frozenset(topics.domain),
        interval_s=settings.health_probe_interval_s,
        timeout_s=settings.health_probe_timeout_s,
    )
    app.timer(settings.health_probe_interval_s, name="health-probe")(probe.probe)

    @app.task
    async def _serve_metrics() -> None:
        await asyncio.to_thread(early.handover)
        port = early.server.port or settings.metrics_port  # METRICS_PORT=0: keep the port
        await ObservabilityServer(health, host=settings.metrics_host, port=port).start()

    @app.on_partitions_assigned.connect
    async def _assigned(sender: Any, assigned: set[Any], **kwargs: Any) -> None:
        health.set_broker(True, f"{len(assigned)} partitions")
