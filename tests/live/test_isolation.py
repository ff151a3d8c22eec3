"""The worker's consumer reads committed records only (issue #13): an upstream's aborted
transactions are never evaluated."""

from __future__ import annotations

import asyncio
import inspect


def test_the_worker_consumer_reads_committed_records_only() -> None:
    from aiokafka import AIOKafkaConsumer

    from streams.live.kafka_port import faust_app_class

    async def created() -> AIOKafkaConsumer:
        app = faust_app_class()(
            "t-isolation", broker="kafka://127.0.0.1:9", autodiscover=False, web_enabled=False
        )
        thread = app.consumer._new_consumer_thread()
        return thread._create_worker_consumer(app.transport)

    consumer = asyncio.run(created())
    assert consumer._isolation_level == "read_committed"
    # aiokafka builds its fetcher from that attribute when the consumer starts
    assert "isolation_level=self._isolation_level" in inspect.getsource(AIOKafkaConsumer.start)
