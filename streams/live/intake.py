"""Intake: the agents' bodies. Read (never acknowledge) and hand over in batches.

The four domain agents append to one events buffer, the facts agent to a facts
buffer. A buffer is flushed when it is full (``worker_batch_max``) by the agent
that filled it, or when it is old enough (``worker_batch_within_s``) by a timer.
Messages are never acknowledged: offsets are committed by the service once
stored (see ``delivery``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from typing import Any, Protocol

from streams.live.kafka_port import TP
from streams.live.processor import Message

Flush = Callable[[], Awaitable[None]]


class Stream(Protocol):
    """The part of a Faust stream an agent body uses."""

    def noack(self) -> Any: ...


def arrival(msg: Any) -> int | None:
    """The Kafka record timestamp of a Faust message (seconds, a float), as epoch µs: when it
    reached the broker (LogAppendTime) or its producer's (CreateTime). None when missing."""
    stamp = getattr(msg, "timestamp", None)
    if not isinstance(stamp, int | float) or isinstance(stamp, bool) or stamp <= 0:
        return None
    return round(stamp * 1000) * 1000  # Kafka keeps milliseconds


class Buffer:
    """Messages read and not yet evaluated, in read order."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.since = 0.0  # monotonic time the oldest message was read

    def append(self, msg: Any) -> int:
        """Buffer a Faust message; returns how many are buffered now."""
        if not self.messages:
            self.since = time.monotonic()
        value = msg.value
        if value is None:  # a tombstone: no value (dead-lettered as ``empty_value``)
            value = b""
        self.messages.append(
            Message(msg.topic, msg.partition, msg.offset, msg.key, value, msg.tp, arrival(msg))
        )
        return len(self.messages)

    def take(self, keep: set[TP]) -> list[Message]:
        """Everything buffered, except the messages of ``keep`` (left for the next flush)."""
        batch, self.messages = self.messages, []
        if keep:
            self.messages = [m for m in batch if m.tp in keep]
            batch = [m for m in batch if m.tp not in keep]
        return batch

    def tps(self) -> set[TP]:
        return {m.tp for m in self.messages}

    def drop(self, revoked: Iterable[TP]) -> None:
        gone = set(revoked)
        self.messages = [m for m in self.messages if m.tp not in gone]


class Intake:
    def __init__(
        self, batch_max: int, within_s: float, flush_events: Flush, flush_facts: Flush
    ) -> None:
        self.batch_max = batch_max
        self.within_s = within_s
        self.events = Buffer()
        self.facts = Buffer()
        self.flush_events = flush_events
        self.flush_facts = flush_facts

    async def consume_events(self, stream: Stream) -> None:
        """Body of each domain agent."""
        await self._consume(stream, self.events, self.flush_events)

    async def consume_facts(self, stream: Stream) -> None:
        """Body of the facts agent."""
        await self._consume(stream, self.facts, self.flush_facts)

    async def _consume(self, stream: Stream, buffer: Buffer, flush: Flush) -> None:
        batch_max = self.batch_max
        events: AsyncIterable[Any] = stream.noack().events()
        async for event in events:
            if buffer.append(event.message) >= batch_max:
                await flush()

    async def flush_if_due(self) -> None:
        """Timer: evaluate a partial batch of events once it waited ``within_s``."""
        events = self.events
        if events.messages and time.monotonic() - events.since >= self.within_s:
            await self.flush_events()

    def drop(self, revoked: set[TP]) -> None:
        self.events.drop(revoked)
        self.facts.drop(revoked)
