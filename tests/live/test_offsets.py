"""Offsets: a partition starts where its stored state says, else at its log start."""

from __future__ import annotations

import asyncio

from streams.live.offsets import OffsetKeeper
from streams.live.processor import Message
from tests.live.fakes import TP, Port

A, B, C = TP("t.approval", 0), TP("t.approval", 1), TP("t.facts", 0)


class Unreachable(Port):
    async def earliest_offsets(self, tps: set[TP]) -> dict[TP, int]:
        raise TimeoutError


def test_starts_come_from_the_stored_state_else_the_log_start_and_the_consumer_is_sought() -> None:
    port = Port(partitions=2)
    keeper = OffsetKeeper(port, {A: 7}.get)
    assert asyncio.run(keeper.learn_starts({A, B})) == set()
    assert (keeper.expected(A), keeper.expected(B)) == (7, 0)
    assert sorted(port.seeks) == [(A, 7), (B, 0)]
    # Only partitions met for the first time are looked up.
    assert asyncio.run(keeper.learn_starts({A, B})) == set() and len(port.seeks) == 2


def test_a_start_the_broker_cannot_tell_yet_is_asked_again_later() -> None:
    keeper = OffsetKeeper(Unreachable(partitions=1), {}.get)
    assert asyncio.run(keeper.learn_starts({C})) == {C}
    assert not keeper.known(C)


def test_admission_is_in_offset_order_and_holes_are_sought_back() -> None:
    port = Port(partitions=1)
    keeper = OffsetKeeper(port, {A: 5}.get)
    asyncio.run(keeper.learn_starts({A}))
    batch = [Message(A.topic, 0, o, None, b"", A) for o in (4, 5, 6, 8)]
    admitted, seeks = keeper.admit(batch)
    assert [m.offset for m in admitted] == [5, 6]  # 4 stored before; 8 past a hole
    assert seeks == {A: 7}
    asyncio.run(keeper.commit({A: keeper.expected(A)}))
    assert port.committed == [{A: 7}]
