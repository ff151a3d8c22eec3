"""The workflow's part of the composition root: its service built, its agents wired."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from streams.engine import SupervisionConfig
from streams.engine.model import Alert
from streams.live.faust_app import agent_body, raw_schema
from streams.live.kafka_port import KafkaPort
from streams.live.offsets import OffsetKeeper
from streams.live.partitions import Partitions
from streams.live.persister import Persister
from streams.live.recovery import Recovery
from streams.live.sink import WriterStore
from streams.live.state import StateTable
from streams.live.topics import Topics
from streams.live.workflow_persist import WorkflowPersister, WorkflowStore
from streams.live.workflow_service import WorkflowService
from streams.observability.metrics import Metrics
from streams.settings import Settings
from streams.workflow import ActionValidator


def build_workflow(
    settings: Settings,
    config: SupervisionConfig,
    topics: Topics,
    port: KafkaPort,
    offsets: OffsetKeeper,
    partitions: Partitions,
    table: StateTable,
    store: WriterStore,
    persister: Persister,
    metrics: Metrics,
    recovery: Recovery,
    on_alerts: Callable[[Sequence[Alert]], None] | None,
) -> WorkflowService:
    service: WorkflowService | None = None

    def owned(partition: int) -> bool:
        return service is None or service.owned(partition)

    flow_persister = WorkflowPersister(
        topics=topics,
        local=config.local,
        port=port,
        table=table,
        store=WorkflowStore(store.writer, persister.executor),
        metrics=metrics,
        retry=persister.retry,
        on_alerts=on_alerts,
        owned=owned,
    )
    service = WorkflowService(
        config=config,
        topics=topics,
        port=port,
        offsets=offsets,
        partitions=partitions,
        table=table,
        persister=flow_persister,
        recovery=recovery,
        validator=ActionValidator(settings.schemas_dir),
        batch_max=settings.worker_batch_max,
        within_s=settings.worker_batch_within_s,
        lateness_us=int(settings.watermark_lateness_s * 1_000_000),
        realtime_us=int(settings.upstream_delay.total_seconds() * 1_000_000),
    )
    return service


def wire_workflow(app: Any, topics: Topics, settings: Settings, service: WorkflowService) -> None:
    """The actions and workflow agents, their flush timer and tick, the rebalance hook."""
    schema = raw_schema()
    actions = app.topic(topics.actions, schema=schema, partitions=topics.partitions)
    app.agent(actions, name="supervise-actions")(agent_body(service.consume_actions))
    inputs = app.topic(topics.workflow_inputs, schema=schema, partitions=topics.partitions)
    app.agent(inputs, name="supervise-workflow")(agent_body(service.consume_inputs))
    app.timer(settings.worker_batch_within_s, name="flush-workflow")(service.flush_if_due)
    app.timer(settings.worker_tick_s, name="workflow-horizons")(service.tick)

    async def revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        await service.on_partitions_revoked(revoked)

    app.on_partitions_revoked.connect(revoked)
