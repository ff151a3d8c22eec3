"""Many records to Kafka in one producer batch per partition, instead of one ``send`` each.

A processed batch produces hundreds of records (alerts, facts, one engine state
per changed case). ``AIOKafkaProducer.send`` costs tens of microseconds each in
Python; appending to a ``BatchBuilder`` costs a few. Records keep their order
within a partition (one batch after another, each awaited into the accumulator
before the next), keyed records go to the partition the default partitioner
would choose (murmur2 of the key, as Kafka's Java client), so readers and the
co-partitioned tables see exactly what ``send`` would have produced.

The records of ``supervision.alerts`` (events.md § Alerts) are keyed by ``alert_id``
(``persister``: the alert's JSON); ``withdrawal_record`` is an alert's withdrawal
(rules.md §1.4): a new record with the same key, the alert's JSON plus
``withdrawn_at``, ``withdrawn_reason`` and ``withdrawn_by`` (the events that
disproved it, with their ``occurred_at``, ``reported_at`` when sent and arrival).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

from streams.engine import alert_to_dict
from streams.engine.model import Alert, Withdrawal
from streams.engine.timeutil import LocalTime

Header = tuple[str, bytes]
Record = tuple[int | None, bytes | None, bytes | None, Sequence[Header]]


def withdrawal_json(alert: Alert, withdrawal: Withdrawal, local: LocalTime) -> dict[str, Any]:
    """The alert as withdrawn (``schemas/alert.schema.json``): its JSON with the withdrawal."""
    if withdrawal.alert_id != alert.alert_id:
        raise ValueError(f"withdrawal of {withdrawal.alert_id} given alert {alert.alert_id}")
    by = []
    for event in withdrawal.withdrawn_by:
        late: dict[str, Any] = {
            "event_id": event.event_id,
            "occurred_at": local.format(event.occurred_at),
        }
        if event.reported_at is not None:
            late["reported_at"] = local.format(event.reported_at)
        late["arrived_at"] = None if event.arrived_at is None else local.format(event.arrived_at)
        by.append(late)
    return {
        **alert_to_dict(alert, local),
        "withdrawn_at": local.format(withdrawal.withdrawn_at),
        "withdrawn_reason": withdrawal.reason,
        "withdrawn_by": by,
    }


def withdrawal_record(alert: Alert, withdrawal: Withdrawal, local: LocalTime) -> Record:
    """The record of a withdrawal: same key (``alert_id``) as the alert's, so it lands on the
    same partition after it and a compacted topic keeps the withdrawal."""
    value = orjson.dumps(withdrawal_json(alert, withdrawal, local))
    return (None, alert.alert_id.encode(), value, ())


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (positive murmur2 modulo count)."""
    return (int(murmur2(key)) & 0x7FFFFFFF) % partitions


class BatchPublisher:
    """Sends records with the aiokafka producer's batch API; returns delivery futures."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer  # aiokafka.AIOKafkaProducer
        self._partitions: dict[str, int] = {}

    async def partitions(self, topic: str) -> int:
        count = self._partitions.get(topic)
        if count is None:
            count = len(await self.producer.partitions_for(topic))
            self._partitions[topic] = count
        return count

    async def send(self, topic: str, records: Iterable[Record]) -> list[asyncio.Future[Any]]:
        """Queue ``records`` (partition or None for the key's, key, value, headers)."""
        by_partition: dict[int, list[tuple[bytes | None, bytes | None, Sequence[Header]]]] = {}
        count: int | None = None
        for partition, key, value, headers in records:
            if partition is None:
                if key is None:
                    raise ValueError(f"a record for {topic} needs a key or a partition")
                if count is None:
                    count = await self.partitions(topic)
                partition = partition_for(key, count)
            by_partition.setdefault(partition, []).append((key, value, headers))
        futures: list[asyncio.Future[Any]] = []
        producer = self.producer
        for partition, items in by_partition.items():
            batch = producer.create_batch()
            filled = 0
            for key, value, headers in items:
                if batch.append(timestamp=None, key=key, value=value, headers=list(headers)):
                    filled += 1
                    continue
                if filled:
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    filled = 0
                    if batch.append(timestamp=None, key=key, value=value, headers=list(headers)):
                        filled = 1
                        continue
                # Larger than a whole batch: the ordinary path sizes a batch for it.
                futures.append(
                    await producer.send(
                        topic, value, key=key, partition=partition, headers=list(headers)
                    )
                )
            if filled:
                batch.close()
                futures.append(await producer.send_batch(batch, topic, partition=partition))
        return futures
