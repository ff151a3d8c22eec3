"""The 督办 workflow in the live service: actions in, workflows kept, results out.

Two agents beside the event agents (wired in ``app``):

- ``supervise-actions`` reads ``supervision.actions`` (keyed by ``case_id`` by any
  client's partitioner): invalid actions are dead-lettered, valid ones are written to
  the workflow topic keyed by their ``case_id`` with the worker's own partitioner
  (``workflow_actions``, ``workflow_route``);
- ``supervise-workflow`` reads the workflow topic: alerts (from the persister),
  terminal events, actions and horizons, into each partition's ``WorkflowPartition``,
  which applies them in time order below the horizon.

Each batch goes admit (``offsets``: exact offset order) → evaluate (under ``lock``)
→ persist and commit (``workflow_persist``, under ``out_lock``, in evaluation order),
as the event batches do: offsets are committed only after the rows are stored, the
records published and the state written to the ``workflow-state`` changelog.

The tick publishes each owned actions partition's horizon to every workflow
partition (the event tick publishes the domain partitions' there), and flushes. Each
owned workflow partition reports the horizon it applied its inputs below to every
workflow partition, after the recurrence records those inputs made (``workflow_recur``):
when it moved, and on every tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from streams.engine import SupervisionConfig
from streams.live.delivery import die
from streams.live.horizon import decode_facts_message, encode_horizons, source_name
from streams.live.intake import Buffer, Stream
from streams.live.kafka_port import TP, KafkaPort
from streams.live.offsets import OffsetKeeper
from streams.live.partitions import Partitions
from streams.live.processor import Message
from streams.live.recovery import Recovery
from streams.live.state import StateTable, next_offset_key, scan_prefix
from streams.live.topics import Topics
from streams.live.workflow_actions import ActionIntake, Forwarded
from streams.live.workflow_partition import (
    WorkflowOutput,
    WorkflowPartition,
    WorkflowWrite,
    gate_sources,
    orphans_key,
)
from streams.live.workflow_persist import WorkflowPersister
from streams.live.workflow_route import HORIZONS
from streams.workflow import ActionValidator

log = logging.getLogger(__name__)

REVOKE_WAIT_S = 5.0


class WorkflowService:
    def __init__(
        self,
        *,
        config: SupervisionConfig,
        topics: Topics,
        port: KafkaPort,
        offsets: OffsetKeeper,
        partitions: Partitions,
        table: StateTable,
        persister: WorkflowPersister,
        recovery: Recovery,
        validator: ActionValidator,
        batch_max: int,
        within_s: float,
        lateness_us: int,
        realtime_us: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.topics = topics
        self.port = port
        self.offsets = offsets
        self.partitions = partitions
        self.table = table
        self.persister = persister
        self.recovery = recovery
        self.validator = validator
        self.batch_max = batch_max
        self.within_s = within_s
        self.clock = clock
        self.realtime_us = realtime_us  # actions acted this recently are applied at once
        self.intake = ActionIntake(validator, lateness_us)
        self.sources = gate_sources(topics.domain, topics.actions, topics.partitions)
        self.parts: dict[int, WorkflowPartition] = {}
        self.tps: dict[int, TP] = {}  # workflow-topic partition -> its TopicPartition
        self.committed: dict[TP, int] = {}
        self.reported: dict[int, int] = {}  # workflow partition -> horizon reported
        self.actions = Buffer()
        self.inputs = Buffer()
        self.lock = asyncio.Lock()  # evaluation
        self.out_lock = asyncio.Lock()  # persist and commit, in evaluation order

    # ------------------------------------------------------------ state
    def stored_next_offset(self, tp: TP) -> int | None:
        return self.table.get_int(next_offset_key(tp.partition, tp.topic))

    def owns_topic(self, topic: str) -> bool:
        return topic in (self.topics.actions, self.topics.workflow_inputs)

    def owned(self, partition: int) -> bool:
        assignment = self.port.assignment() or set()
        return any(tp.partition == partition and self.owns_topic(tp.topic) for tp in assignment)

    def part(self, partition: int) -> WorkflowPartition:
        found = self.parts.get(partition)
        if found is None:
            found = WorkflowPartition(
                partition,
                self.topics.workflow_inputs,
                self.config,
                self.sources,
                self.validator,
                self.realtime_us,
                self.topics.partitions,
            )
            data = self.table.data
            n = found.load(
                scan_prefix(data, f"{partition}|".encode()), data.get(orphans_key(partition))
            )
            log.info("workflow[%d]: %d workflows restored", partition, n)
            self.parts[partition] = found
        return found

    # ------------------------------------------------------------ agents
    async def consume_actions(self, stream: Stream) -> None:
        await self._consume(stream, self.actions, self.flush_actions)

    async def consume_inputs(self, stream: Stream) -> None:
        await self._consume(stream, self.inputs, self.flush_inputs)

    async def _consume(self, stream: Stream, buffer: Buffer, flush: Callable[[], Any]) -> None:
        async for event in stream.noack().events():
            if buffer.append(event.message) >= self.batch_max:
                await flush()

    async def flush_if_due(self) -> None:
        now = time.monotonic()
        if self.actions.messages and now - self.actions.since >= self.within_s:
            await self.flush_actions()
        if self.inputs.messages and now - self.inputs.since >= self.within_s:
            await self.flush_inputs()

    def _admit(self, buffer: Buffer, unknown: set[TP]) -> tuple[list[Message], dict[TP, int]]:
        batch = [m for m in buffer.take(keep=unknown) if self.offsets.known(m.tp)]
        return self.offsets.admit(batch)

    # ------------------------------------------------------------ batches
    async def flush_actions(self) -> None:
        """Admit → validate → forward (dead letters, records, next offsets) → commit."""
        buffer = self.actions
        if not buffer.messages or not self.recovery.ready_for_state():
            return
        unknown = await self.offsets.learn_starts(buffer.tps())
        async with self.lock:
            admitted, seeks = self._admit(buffer, unknown)
            out = Forwarded()
            self.intake.run(admitted, out)
            commits, states = self._next_offsets({m.tp for m in admitted})
        async with self.out_lock:
            if admitted:
                await self.persister.forwarded(out.records, out.dead_letters, states)
                for topic, n in _count(admitted).items():
                    self.persister.metrics.record_consumed(topic, n)
                await self.offsets.commit(commits)
        await self.offsets.seek(seeks)

    async def flush_inputs(self, report: bool = False) -> None:
        """Admit → hold in the gates → apply what they release → persist → commit
        (``report``: every partition's horizon, moved or not)."""
        buffer = self.inputs
        if not (buffer.messages or report) or not self.recovery.ready_for_state():
            return
        unknown = await self.offsets.learn_starts(buffer.tps())
        async with self.lock:
            admitted, seeks = self._admit(buffer, unknown)
            out = WorkflowOutput()
            now = int(self.clock() * 1_000_000)
            for m in admitted:
                self.tps[m.partition] = m.tp
                part = self.part(m.partition)
                try:
                    if m.value[:1] == HORIZONS:
                        part.report(decode_facts_message(m.value)[1])
                    else:
                        part.add(m.offset, m.value, now)
                except Exception as exc:
                    die(f"unreadable message on {m.topic}[{m.partition}]@{m.offset}: {exc!r}")
            commits: dict[TP, int] = {}
            for partition, part in list(self.parts.items()):
                part.release(out)
                horizon = part.gate.horizon()
                if horizon is not None and (report or self.reported.get(partition) != horizon):
                    out.horizons[source_name(self.topics.workflow_inputs, partition)] = horizon
                    self.reported[partition] = horizon
                tp = self.tps.get(partition)
                if tp is None or not self.offsets.known(tp):
                    continue
                held = part.held_from()
                safe = self.offsets.expected(tp) if held is None else held
                if self.committed.get(tp) != safe:
                    out.states.append(
                        (partition, next_offset_key(partition, tp.topic), b"%d" % safe)
                    )
                    commits[tp] = safe
        async with self.out_lock:
            if not out.empty():
                await self.persister.outcome(out)
            self.committed.update(commits)
            await self.offsets.commit(commits)
        await self.offsets.seek(seeks)

    def _next_offsets(self, tps: set[TP]) -> tuple[dict[TP, int], list[WorkflowWrite]]:
        commits = {tp: self.offsets.expected(tp) for tp in tps}
        states: list[WorkflowWrite] = [
            (tp.partition, next_offset_key(tp.partition, tp.topic), b"%d" % offset)
            for tp, offset in commits.items()
        ]
        return commits, states

    # ------------------------------------------------------------ time
    async def tick(self) -> None:
        """Publish the actions partitions' horizons; flush. Any failure stops the worker."""
        try:
            await self._tick()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("workflow tick failed")
            die(f"workflow tick failed: {exc!r}")

    async def _tick(self) -> None:
        if not self.recovery.ready_for_state():
            return
        assignment = self.port.assignment()
        if assignment is None:
            return
        mine = {tp for tp in assignment if self.owns_topic(tp.topic)}
        await self.offsets.learn_starts(mine)
        await self.offsets.seek(self.offsets.stalled(mine))
        await self.flush_actions()
        now = int(self.clock() * 1_000_000)
        horizons: dict[str, int] = {}
        for tp in mine:
            if tp.topic != self.topics.actions or not self.offsets.known(tp):
                continue
            clock = self.intake.clock(tp.partition)
            if clock.next_offset is None:
                clock.next_offset = self.offsets.expected(tp)
            caught_up = clock.caught_up(self.port.highwater(tp))
            idle = None
            if caught_up:  # as far as a caught-up domain partition (rules.md §1.4 (b))
                idle = self.partitions.caught_up_horizon(
                    tp.topic, clock.marks, now, self.port.fetched_at(tp)
                )
            horizon = clock.horizon(caught_up, idle)
            if horizon is not None:
                horizons[source_name(tp.topic, tp.partition)] = horizon
        if horizons:
            async with self.out_lock:  # after the actions forwarded before them
                await self.persister.horizons(encode_horizons(horizons))
        await self.flush_inputs(report=True)

    # ------------------------------------------------------------ rebalance
    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        mine = {tp for tp in revoked if self.owns_topic(tp.topic)}
        if not mine:
            return
        try:
            await asyncio.wait_for(self.lock.acquire(), REVOKE_WAIT_S)
            held = True
        except TimeoutError:
            log.warning("rebalance: a workflow batch is still in flight; fencing it")
            held = False
        try:
            for tp in mine:
                if tp.topic == self.topics.workflow_inputs:
                    self.parts.pop(tp.partition, None)
                    self.tps.pop(tp.partition, None)
                    self.reported.pop(tp.partition, None)
                else:
                    self.intake.forget({tp.partition})
                self.committed.pop(tp, None)
            self.offsets.forget(mine)
            self.actions.drop(mine)
            self.inputs.drop(mine)
        finally:
            if held:
                self.lock.release()


def _count(messages: list[Message]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for m in messages:
        counts[m.topic] = counts.get(m.topic, 0) + 1
    return counts
