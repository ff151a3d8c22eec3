"""Intake: buffers hand over whole batches, in read order, and keep what cannot go yet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

from tests.live.fakes import TP


def faust_message(topic: str, offset: int) -> SimpleNamespace:
    return SimpleNamespace(
        topic=topic, partition=0, offset=offset, key=None, value=b"{}", tp=TP(topic, 0)
    )


class Stream:
    """A Faust stream of ``messages`` (the agents read ``noack().events()``)."""

    def __init__(self, messages: list[SimpleNamespace]) -> None:
        self.messages = messages

    def noack(self) -> Stream:
        return self

    async def events(self) -> AsyncIterator[SimpleNamespace]:
        for m in self.messages:
            yield SimpleNamespace(message=m)


def test_a_full_buffer_is_flushed_by_the_agent_that_filled_it() -> None:
    from streams.live.intake import Intake

    flushed: list[list[int]] = []
    intake: Intake

    async def flush() -> None:
        flushed.append([m.offset for m in intake.events.take(keep=set())])

    async def nothing() -> None:
        raise AssertionError("facts are not flushed by the event agents")

    intake = Intake(batch_max=3, within_s=60, flush_events=flush, flush_facts=nothing)
    asyncio.run(intake.consume_events(Stream([faust_message("t.fund", i) for i in range(7)])))
    assert flushed == [[0, 1, 2], [3, 4, 5]]
    assert [m.offset for m in intake.events.messages] == [6]  # waits for more, or the timer
    asyncio.run(intake.flush_if_due())  # not old enough
    assert len(flushed) == 2
    intake.within_s = 0
    asyncio.run(intake.flush_if_due())
    assert flushed[-1] == [6]


def test_a_buffer_keeps_the_partitions_whose_start_is_unknown_and_drops_revoked_ones() -> None:
    from streams.live.intake import Buffer

    buffer = Buffer()
    for topic, offset in (("a", 0), ("b", 0), ("a", 1), ("c", 0)):
        buffer.append(faust_message(topic, offset))
    assert buffer.tps() == {TP("a", 0), TP("b", 0), TP("c", 0)}
    batch = buffer.take(keep={TP("b", 0)})
    assert [(m.topic, m.offset) for m in batch] == [("a", 0), ("a", 1), ("c", 0)]
    assert [m.topic for m in buffer.messages] == ["b"]
    buffer.drop({TP("b", 0)})
    assert buffer.messages == []
