"""The Kafka edge: the worker's consumer patches of Faust's aiokafka driver."""

from __future__ import annotations

import pytest


def test_the_kafka_consumer_waits_at_most_the_configured_fetch_time() -> None:
    """Faust fixes fetch_max_wait_ms=1500; a broker holding fetches to the limit (Tansu) then
    delays every event by up to 1.5 s. The worker's consumer takes the setting instead."""
    import asyncio
    import inspect

    from aiokafka import AIOKafkaConsumer

    from streams.live.kafka_port import faust_app_class

    async def created() -> AIOKafkaConsumer:
        app = faust_app_class()(
            "t-fetch", broker="kafka://127.0.0.1:9", autodiscover=False, web_enabled=False
        )
        app.fetch_max_wait_ms = 77
        thread = app.consumer._new_consumer_thread()
        return thread._create_worker_consumer(app.transport)

    consumer = asyncio.run(created())
    assert consumer._fetch_max_wait_ms == 77
    # aiokafka builds its fetcher from that attribute when the consumer starts
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start)


def test_a_fetch_that_races_a_seek_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiokafka's fetched_records raises KeyError when a seek from the other thread drops a
    partition it is iterating; the worker fetches again instead of crashing."""
    import asyncio

    from faust.transport.drivers import aiokafka as driver

    from streams.live.kafka_port import FETCH_RACE_RETRIES, faust_app_class

    calls: list[int] = []

    async def racing(self: object, *args: object, **kwargs: object) -> dict[str, int]:
        calls.append(1)
        if len(calls) < 3:
            raise KeyError("tp")
        return {"records": 1}

    monkeypatch.setattr(driver.AIOKafkaConsumerThread, "_fetch_records", racing)

    async def fetch() -> object:
        app = faust_app_class()(
            "t-race", broker="kafka://127.0.0.1:9", autodiscover=False, web_enabled=False
        )
        thread = app.consumer._new_consumer_thread()
        return await thread._fetch_records(None, set())

    assert asyncio.run(fetch()) == {"records": 1}
    assert len(calls) == 3

    async def always(self: object, *args: object, **kwargs: object) -> None:
        raise KeyError("tp")

    monkeypatch.setattr(driver.AIOKafkaConsumerThread, "_fetch_records", always)
    with pytest.raises(KeyError):  # not a race that resolves: it still surfaces
        asyncio.run(fetch())
    assert FETCH_RACE_RETRIES > 1
