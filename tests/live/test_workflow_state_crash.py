"""A workflow partition killed while its states are on their way to the changelog (issue #15).

The worker's local table store survives a SIGKILL; at the restart Faust reads over it the
changelog records after the offset the store holds (its tail). The states of a batch must
reach the local store only once the changelog acknowledged them, with that offset
(``table_store.apply_acked``), as the case states do: otherwise a crash between the two
leaves the batch in the local store and not in the changelog, the tail reverts the
workflows it holds, the partition's next offset (written only when it moves) stays the
batch's, and the restarted partition goes on past inputs its workflows never saw: their
clocks run out without them (``SUP_REPLY_OVERDUE``, ``SUP_CONCLUSION_OVERDUE`` that replay
does not raise).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

from streams.live.state import StateTable, next_offset_key, scan_prefix
from streams.live.workflow_partition import WorkflowOutput, WorkflowPartition, orphans_key
from streams.live.workflow_persist import WorkflowPersister
from streams.live.workflow_route import encode_action
from streams.workflow import ActionValidator
from tests.live.fakes import Batch, Sent
from tests.live.test_workflow_partition import SCENARIO, SOURCES, _horizon, _inputs
from tests.live.test_workflow_partition import config as config  # noqa: F401 - the fixture

CHANGELOG = "workflow-state-changelog"
TOPIC = "wf"


class LocalStore(dict[bytes, bytes]):
    """The local table store as RocksDB keeps it (``PartitionedRocksStore``): entries, and per
    changelog partition the offset it holds the changelog up to."""

    def __init__(self) -> None:
        super().__init__()
        self.held: dict[int, int] = {}

    def write_acked(
        self, records: Sequence[tuple[int, bytes, bytes | None]], offsets: dict[int, int]
    ) -> None:
        for _, key, value in records:
            self._put(key, value)
        self.held.update(offsets)

    def recover(self, changelog: list[tuple[int, int, bytes, bytes | None]]) -> None:
        """Faust's recovery: the changelog records after the offset held, in order."""
        for partition, offset, key, value in changelog:
            if offset > self.held.get(partition, -1):
                self._put(key, value)
                self.held[partition] = offset

    def _put(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            self.pop(key, None)
        else:
            self[key] = value


class Broker:
    """The changelog as the broker holds it; ``down``: nothing sent is ever acknowledged."""

    def __init__(self) -> None:
        self.changelog: list[tuple[int, int, bytes, bytes | None]] = []
        self.down = False

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    def create_batch(self) -> Batch:
        return Batch()

    async def send_batch(self, batch: Batch, topic: str, partition: int) -> asyncio.Future[Sent]:
        future: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()
        if self.down:
            return future  # the worker is killed before the acknowledgement
        base = len(self.changelog)
        for n, (key, value) in enumerate(batch.records):
            assert key is not None
            self.changelog.append((partition, base + n, key, value))
        future.set_result(Sent(topic, partition, base))
        return future


class Port:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def producer(self) -> Broker:
        return self.broker


def _persister(local: LocalStore, broker: Broker) -> WorkflowPersister:
    """Only its changelog writes are used here."""
    return WorkflowPersister(
        topics=cast(Any, None),
        local=cast(Any, None),
        port=cast(Any, Port(broker)),
        table=StateTable(local, CHANGELOG),
        store=cast(Any, None),
        metrics=cast(Any, None),
        retry=(0.01, 0.01),
    )


def _restarted(
    config: Any, local: LocalStore, inputs: list[bytes]
) -> tuple[WorkflowPartition, int]:
    """A partition loaded from the table, its inputs read again from its next offset."""
    part = WorkflowPartition(0, TOPIC, config, SOURCES, ActionValidator())
    part.load(scan_prefix(local, b"0|"), local.get(orphans_key(0)))
    start = int(local.get(next_offset_key(0, TOPIC), b"0"))
    for offset in range(start, len(inputs)):
        part.add(offset, inputs[offset])
    return part, start


def _step(part: WorkflowPartition, horizon: str, end: int, committed: int | None) -> WorkflowOutput:
    """One batch as ``WorkflowService.flush_inputs`` makes it: the inputs released below the
    horizon, and the partition's next offset among the states when it moved."""
    out = WorkflowOutput()
    part.report(_horizon(horizon))
    part.release(out)
    held = part.held_from()
    safe = end if held is None else held
    if safe != committed:
        out.states.append((0, next_offset_key(0, TOPIC), b"%d" % safe))
    return out


def test_a_kill_before_the_changelog_acknowledged_a_batch_loses_no_input(config: Any) -> None:
    # The case's last action (a reply after the closure, refused) read first: the partition's
    # lowest held input, so its next offset stays while its workflows move.
    last = next(line for line in SCENARIO.actions.read_bytes().splitlines() if b'"ND-14"' in line)
    inputs = [encode_action(last), *(v for v in _inputs() if b'"ND-14"' not in v)]
    end = len(inputs)
    local, broker = LocalStore(), Broker()
    persister = _persister(local, broker)
    alerts = []

    async def run() -> None:
        part, _ = _restarted(config, local, inputs)
        first = _step(part, "2026-09-21T12:00:00+08:00", end, None)  # the cards, a claim
        await persister.write_states(first.states)
        alerts.extend(first.alerts)
        # The partition assigned again (a rebalance): the store reads the changelog's tail. Its
        # next offset is not written again until it moves (the service's ``committed``, here
        # left by a batch persisted across the rebalance).
        local.recover(broker.changelog)
        second = _step(part, "2026-10-05T00:00:00+08:00", end, 0)  # up to the return
        assert next_offset_key(0, TOPIC) not in {k for _, k, _ in second.states}
        await persister.write_states(second.states)
        alerts.extend(second.alerts)
        third = _step(part, "2026-10-30T00:00:00+08:00", end, 0)  # the rest: nothing held
        alerts.extend(third.alerts)  # stored and published before the states are written
        broker.down = True
        write = asyncio.ensure_future(persister.write_states(third.states))
        await asyncio.sleep(0.05)
        write.cancel()  # SIGKILL
        await asyncio.gather(write, return_exceptions=True)

    asyncio.run(run())
    local.recover(broker.changelog)  # the restart
    part, _ = _restarted(config, local, inputs)
    out = WorkflowOutput()
    part.report(_horizon("2026-10-30T00:00:00+08:00"))
    part.release(out)
    alerts.extend(out.alerts)
    assert sorted({(a.rule, a.level, a.case_id) for a in alerts}) == [
        ("SUP_RECTIFY_OVERDUE", "red", "AP-2026-0901")
    ]
    assert [part.engine.to_dict(wf) for wf in part.engine.workflows.values()] == list(
        SCENARIO.expected_workflows
    )
