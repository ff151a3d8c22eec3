"""Holes that are normal in Kafka are passed, never sought back forever (issue #13, F12).

Transaction markers, aborted transactions and compaction leave offsets no read_committed
reader ever receives; retention deletes what a stopped worker had not read. The keeper asks
the broker before seeking back to a hole.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry

from streams.live.delivery import OffsetGate
from streams.live.offsets import OffsetKeeper
from streams.live.processor import Message
from streams.observability.metrics import Metrics
from tests.live.fakes import TP, Port

A = TP("t.approval", 0)


@dataclass
class Broker(Port):
    """A log with a start offset and offsets that hold no record for a committed reader."""

    log_start: int = 0
    absent: set[int] = field(default_factory=set)  # markers, aborted or compacted records
    probes: int = 0

    async def earliest_offsets(self, tps: set[TP]) -> dict[TP, int]:
        return {tp: self.log_start for tp in tps}

    async def first_offset_from(self, tp: TP, offset: int, timeout: float = 5.0) -> int | None:
        self.probes += 1
        offset = max(offset, self.log_start)
        while offset in self.absent:
            offset += 1
        return offset


def keeper_of(port: Port, stored: dict[TP, int]) -> tuple[OffsetKeeper, Metrics]:
    metrics = Metrics(CollectorRegistry(), process_metrics=False)
    clock = [0.0]
    gate = OffsetGate(reseek_after_s=5.0, clock=lambda: clock[0])
    return OffsetKeeper(port, stored.get, gate, metrics), metrics


def messages(*offsets: int) -> list[Message]:
    return [Message(A.topic, 0, o, None, b"", A) for o in offsets]


def sample(metrics: Metrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name, {"topic": A.topic, "partition": "0"})
    return value or 0.0


def test_a_transaction_marker_the_broker_confirms_is_passed_not_sought_back_forever() -> None:
    # Offsets 2 and 3: a commit marker and an aborted record; 4 is the next committed record.
    port = Broker(partitions=1, absent={2, 3})
    keeper, metrics = keeper_of(port, {A: 0})
    asyncio.run(keeper.learn_starts({A}))
    admitted, seeks = keeper.admit(messages(0, 1, 4, 5))
    assert [m.offset for m in admitted] == [0, 1]
    assert seeks == {A: 2}
    asyncio.run(keeper.seek(seeks))
    assert keeper.expected(A) == 4  # passed
    assert port.seeks[-1] == (A, 4)  # 4 and 5 are read again, in order
    admitted, seeks = keeper.admit(messages(4, 5))
    assert [m.offset for m in admitted] == [4, 5] and seeks == {}
    assert sample(metrics, "supervision_offsets_gaps_passed_total") == 1


def test_a_hole_the_broker_does_not_confirm_is_sought_back_and_re_read() -> None:
    port = Broker(partitions=1)  # offset 2 exists: the consumer dropped it
    keeper, metrics = keeper_of(port, {A: 0})
    asyncio.run(keeper.learn_starts({A}))
    _, seeks = keeper.admit(messages(0, 1, 4))
    asyncio.run(keeper.seek(seeks))
    assert keeper.expected(A) == 2 and port.seeks[-1] == (A, 2)
    assert sample(metrics, "supervision_offsets_gaps_passed_total") == 0


def test_a_stall_at_trailing_markers_is_passed() -> None:
    """A transaction's commit marker at the end of the log: the high watermark is past the
    last record, nothing more comes, and the stall check must not seek back forever."""
    port = Broker(partitions=1, log_end=5, absent={4})
    clock = [0.0]
    keeper = OffsetKeeper(port, {A: 4}.get, OffsetGate(reseek_after_s=5.0, clock=lambda: clock[0]))
    asyncio.run(keeper.learn_starts({A}))
    clock[0] = 10.0
    seeks = keeper.stalled({A})
    assert seeks == {A: 4}
    asyncio.run(keeper.seek(seeks))
    assert keeper.expected(A) == 5
    clock[0] = 30.0
    assert keeper.stalled({A}) == {}


def test_a_restart_position_below_the_log_start_is_reported_and_the_log_start_used(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = Broker(partitions=1, log_start=120)
    keeper, metrics = keeper_of(port, {A: 100})
    with caplog.at_level(logging.ERROR, logger="streams.live.offsets"):
        assert asyncio.run(keeper.learn_starts({A})) == set()
    assert keeper.expected(A) == 120 and port.seeks == [(A, 120)]
    assert sample(metrics, "supervision_offsets_truncated_messages_total") == 20
    [record] = caplog.records
    assert "t.approval[0]: offsets 100..119 (20 messages)" in record.getMessage()


def test_retention_below_a_running_partition_is_reported_once_and_passed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hole under the log start while running (a fact held longer than retention; or the
    start lookup failed at start): reported with the lost range, then read on from there."""
    port = Broker(partitions=1)
    keeper, metrics = keeper_of(port, {A: 10})
    asyncio.run(keeper.learn_starts({A}))
    port.log_start = 50
    _, seeks = keeper.admit(messages(50, 51))
    with caplog.at_level(logging.ERROR, logger="streams.live.offsets"):
        asyncio.run(keeper.seek(seeks))
        asyncio.run(keeper.seek(seeks))  # asked again for the same hole: already passed
    assert keeper.expected(A) == 50 and port.seeks[-1] == (A, 50)
    assert sample(metrics, "supervision_offsets_truncated_messages_total") == 40
    assert ["offsets 10..49" in r.getMessage() for r in caplog.records] == [True]
    assert port.probes == 0


def test_a_start_learned_by_a_concurrent_flush_is_not_learned_again() -> None:
    """Two agents' flushes look a new partition up at once; the first admits messages
    before the second's lookup returns: that one must not start the partition again."""

    class Slow(Broker):
        calls = 0

        async def earliest_offsets(self, tps: set[TP]) -> dict[TP, int]:
            self.calls += 1
            if self.calls == 1:  # the first lookup answers last
                await asyncio.sleep(0.05)
            return {tp: 0 for tp in tps}

    port = Slow(partitions=1)
    keeper, _ = keeper_of(port, {})

    async def race() -> None:
        slow = asyncio.ensure_future(keeper.learn_starts({A}))
        await asyncio.sleep(0)
        await keeper.learn_starts({A})
        admitted, _ = keeper.admit(messages(0, 1, 2))
        assert len(admitted) == 3
        await slow

    asyncio.run(race())
    assert keeper.expected(A) == 3  # not 0: 0..2 are not admitted a second time
