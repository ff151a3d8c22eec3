"""The workflow's way out: store rows, publish, write states, then commit.

The same order and guarantees as ``persister`` for the event batches, for the two
kinds of workflow steps (``workflow_service``):

- a batch of actions: its dead letters stored, the valid actions written to the
  workflow topic and the dead letters to the dead-letter topic, the partition's
  next offset to the ``workflow-state`` changelog, then the commit;
- a batch of workflow inputs: alerts (the ``SUP_*``), actions with their results,
  workflow versions and dead letters stored; alerts, results (keyed by ``action_id``)
  and dead letters published, then the recurrence records (``workflow_recur``) and
  after them the workflow partitions' horizons; the changed workflows, recurrence keys
  and the partition's next offset to the changelog; then the commit.

Every step is awaited and retried (``delivery.retry_forever``) before anything is
committed: a SIGKILL anywhere re-reads from the last commit, and what is read again
is idempotent (rows by id, the engine by ``alert_id`` / ``action_id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from streams.contract import DeadLetter
from streams.engine import alert_to_dict
from streams.engine.model import Alert
from streams.engine.timeutil import LocalTime
from streams.live.delivery import retry_forever
from streams.live.horizon import encode_horizons
from streams.live.kafka_port import KafkaPort
from streams.live.publish import BatchPublisher, Record
from streams.live.state import StateTable
from streams.live.table_store import acked_offsets, apply_acked
from streams.live.topics import Topics
from streams.live.workflow_partition import WorkflowOutput, WorkflowWrite
from streams.observability.metrics import Metrics
from streams.storage.workflow_rows import ActionRecord, WorkflowVersion


class WorkflowStore:
    """The storage writer for the workflow's rows (same thread as the event rows)."""

    def __init__(self, writer: Any, executor: Any) -> None:
        self.writer = writer  # streams.storage.Writer
        self.executor = executor  # the persister's one storage thread

    async def store(
        self,
        alerts: Sequence[Alert],
        actions: Sequence[ActionRecord],
        versions: Sequence[WorkflowVersion],
        letters: Sequence[DeadLetter],
    ) -> None:
        from streams.storage import MalformedRows

        def write() -> None:
            # each refused row is stored as a dead letter, and logged by the writer
            with contextlib.suppress(MalformedRows):
                self.writer.write(
                    alerts=alerts, workflow_actions=actions, workflows=versions, deadletters=letters
                )

        await asyncio.get_running_loop().run_in_executor(self.executor, write)


class WorkflowPersister:
    def __init__(
        self,
        *,
        topics: Topics,
        local: LocalTime,
        port: KafkaPort,
        table: StateTable,
        store: WorkflowStore,
        metrics: Metrics,
        retry: tuple[float, float],
        on_alerts: Callable[[Sequence[Alert]], None] | None = None,
        owned: Callable[[int], bool] = lambda partition: True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.topics = topics
        self.local = local
        self.port = port
        self.table = table
        self.store = store
        self.metrics = metrics
        self.retry = retry
        self.on_alerts = on_alerts
        self.owned = owned  # a changelog partition this worker still owns
        self.clock = clock
        self._batches: BatchPublisher | None = None

    def _publisher(self) -> BatchPublisher:
        producer = self.port.producer()
        if self._batches is None or self._batches.producer is not producer:
            self._batches = BatchPublisher(producer)
        return self._batches

    def _stamped(self, letters: list[DeadLetter]) -> list[DeadLetter]:
        now_us = int(self.clock() * 1_000_000)
        return [dataclasses.replace(d, received_at=now_us) for d in letters]

    async def forwarded(
        self, records: list[Record], letters: list[DeadLetter], states: list[WorkflowWrite]
    ) -> None:
        """A batch of actions: dead letters stored, actions forwarded, next offsets written."""
        stamped = self._stamped(letters)
        if stamped:
            await self._retry("store dead letters", lambda: self.store.store((), (), (), stamped))

        async def publish() -> None:
            publisher = self._publisher()
            futures = await publisher.send(self.topics.workflow_inputs, records) if records else []
            futures += await self._letters(publisher, stamped)
            await asyncio.gather(*futures)

        if records or stamped:
            await self._retry("forward actions", publish)
        await self._retry("write workflow state", lambda: self.write_states(states))
        for d in letters:
            self.metrics.record_rejected(d.topic, d.kind)
            self.metrics.record_deadletter(d.topic, d.kind)

    async def outcome(self, out: WorkflowOutput) -> None:
        """A batch of workflow inputs: rows stored, published, states written."""
        stamped = self._stamped(out.dead_letters)
        if out.rows():
            await self._retry(
                "store workflow rows",
                lambda: self.store.store(out.alerts, out.actions, out.versions, stamped),
            )

        async def publish() -> None:
            publisher = self._publisher()
            futures: list[asyncio.Future[Any]] = []
            if out.alerts:
                records: list[Record] = [
                    (None, a.alert_id.encode(), orjson.dumps(alert_to_dict(a, self.local)), ())
                    for a in out.alerts
                ]
                futures += await publisher.send(self.topics.alerts, records)
            if out.results:
                results: list[Record] = [(None, key, value, ()) for key, value in out.results]
                futures += await publisher.send(self.topics.action_results, results)
            futures += await self._letters(publisher, stamped)
            await asyncio.gather(*futures)

        if out.alerts or out.results or stamped:
            await self._retry("publish workflow results", publish)
        if out.records:
            await self._retry("publish recurrence records", lambda: self._recurrence(out))
        if out.horizons:
            await self.horizons(encode_horizons(out.horizons))
        await self._retry("write workflow state", lambda: self.write_states(out.states))
        for a in out.alerts:
            self.metrics.record_alert(a.rule, a.level)
        for d in out.dead_letters:
            self.metrics.record_deadletter(d.topic, d.kind)
        if out.alerts and self.on_alerts is not None:
            self.on_alerts(out.alerts)

    async def _recurrence(self, out: WorkflowOutput) -> None:
        publisher = self._publisher()
        await asyncio.gather(*await publisher.send(self.topics.workflow_inputs, out.records))

    async def _letters(
        self, publisher: BatchPublisher, letters: list[DeadLetter]
    ) -> list[asyncio.Future[Any]]:
        if not letters:
            return []
        records: list[Record] = [(None if d.key else 0, d.key, d.raw, d.headers()) for d in letters]
        return await publisher.send(self.topics.deadletter, records)

    async def write_states(self, states: list[WorkflowWrite]) -> None:
        """Changelog writes, in order, then the local table once the changelog acknowledged
        them (``table_store.apply_acked``: with the offset reached, so the local store is
        always a prefix of the changelog, whatever the moment of a crash); those of a
        partition revoked meanwhile are dropped.

        Written locally before the acknowledgement, a crash could leave a batch's states in
        the local store but not in the changelog: the restart then reads the changelog's tail
        over them, which reverts the workflows it holds and keeps the rest (a partition's next
        offset is written only when it moves), and the partition went on past inputs its
        restored workflows never saw (issue #15)."""
        writes = [w for w in states if self.owned(w[0])]
        if not writes:
            return
        records: list[Record] = [(partition, key, value, ()) for partition, key, value in writes]
        results = await asyncio.gather(*await self._publisher().send(self.table.changelog, records))
        offsets = acked_offsets(results)
        revoked = {partition for partition, _, _ in writes if not self.owned(partition)}
        apply_acked(
            self.table.data,
            [w for w in writes if w[0] not in revoked],
            {p: o for p, o in offsets.items() if p not in revoked},
        )

    async def horizons(self, value: bytes) -> None:
        """Horizons (the actions partitions', the workflow partitions'), to every workflow
        partition."""
        topic, port = self.topics.workflow_inputs, self.port

        async def send() -> None:
            futures = [await port.send(topic, q, value) for q in range(self.topics.partitions)]
            await asyncio.gather(*futures)

        await self._retry("publish workflow horizons", send)

    async def _retry(self, what: str, fn: Callable[[], Any]) -> None:
        await retry_forever(what, fn, *self.retry)
