"""Batch publishing against the real broker: same partitions and order as ``send``, nothing lost."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from streams.live.publish import BatchPublisher, partition_for
from tests.fixtures_kafka import KafkaNamespace
from tests.live.harness import read_topic


def test_batches_keep_order_and_the_default_partitioner(kafka_namespace: KafkaNamespace) -> None:
    ns = kafka_namespace
    batched, single = f"{ns.prefix}.batched", f"{ns.prefix}.single"
    admin = KafkaAdminClient(bootstrap_servers=ns.bootstrap)
    admin.create_topics([NewTopic(batched, 3, 1), NewTopic(single, 3, 1)])
    admin.close()
    keys = [f"case-{i % 37}".encode() for i in range(3000)]
    big = b"x" * 40_000  # larger than the small batch size below: takes the single-send path

    async def run() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=ns.bootstrap, max_batch_size=16_384, acks="all"
        )
        await producer.start()
        try:
            publisher = BatchPublisher(producer)
            records = [
                (None, k, str(i).encode() if i % 1000 else big, ()) for i, k in enumerate(keys)
            ]
            records.append((2, None, b"explicit", [("h", b"v")]))
            await asyncio.gather(*await publisher.send(batched, records))
            for i, k in enumerate(keys):
                await producer.send(single, str(i).encode() if i % 1000 else big, key=k)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(run())

    def by_partition(topic: str) -> dict[int, list[tuple[bytes | None, bytes]]]:
        out: dict[int, list[tuple[bytes | None, bytes]]] = {}
        for r in read_topic(ns.bootstrap, topic):
            out.setdefault(r.partition, []).append((r.key, r.value))
        return out

    got, want = by_partition(batched), by_partition(single)
    assert got[2][-1] == (None, b"explicit")
    got[2].pop()
    assert got == want  # every record, on the partition and in the order ``send`` gives
    assert sum(map(len, got.values())) == len(keys)
    assert all(partition_for(k, 3) == p for p, rows in got.items() for k, _ in rows if k)
