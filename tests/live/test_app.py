"""The Faust composition: what the worker process sets up before it runs."""

from __future__ import annotations

import logging

import pytest

from streams.live.app import build_worker


@pytest.mark.parametrize("level", ["warning", "info"])
def test_worker_leaves_the_root_log_level_alone(level: str) -> None:
    """Faust's spinner would set the root logger to DEBUG at WARNING and above (then every
    library's debug record is built and masked for nothing)."""
    import faust

    app = faust.App(
        "t-logging", broker="kafka://127.0.0.1:9", autodiscover=False, web_enabled=False
    )
    worker = build_worker(app, level)
    root = logging.getLogger()
    before = root.level, list(root.handlers)
    try:
        root.setLevel(getattr(logging, level.upper()))
        worker.on_setup_root_logger(root, getattr(logging, level.upper()))
        assert root.level == getattr(logging, level.upper())
        assert not root.isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(before[0])
        root.handlers[:] = before[1]


def test_raw_schema_hands_over_the_bytes_on_the_wire() -> None:
    import asyncio

    import faust
    from faust.types import Message

    from streams.live.app import raw_schema

    app = faust.App("t-schema", broker="kafka://127.0.0.1:9", autodiscover=False, web_enabled=False)
    raw = b'{"event_id": "e1", "not": "validated here"}'
    message = Message("t", 0, 7, 0.0, 0, {}, b"case-1", raw, None)
    event = asyncio.run(raw_schema().decode(app, message, propagate=True))
    assert event.key == b"case-1" and event.value is raw and event.message is message


def test_worker_gc_collects_young_objects_less_often() -> None:
    import gc

    from streams.live.app import tune_gc

    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold()[0] >= 10_000 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_kafka_consumer_waits_at_most_the_configured_fetch_time() -> None:
    """Faust fixes fetch_max_wait_ms=1500; a broker holding fetches to the limit (Tansu) then
    delays every event by up to 1.5 s. The worker's consumer takes the setting instead."""
    import asyncio
    import inspect

    from aiokafka import AIOKafkaConsumer

    from streams.live.app import _faust_app_class

    async def created() -> AIOKafkaConsumer:
        app = _faust_app_class()(
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

    from streams.live.app import FETCH_RACE_RETRIES, _faust_app_class

    calls: list[int] = []

    async def racing(self: object, *args: object, **kwargs: object) -> dict[str, int]:
        calls.append(1)
        if len(calls) < 3:
            raise KeyError("tp")
        return {"records": 1}

    monkeypatch.setattr(driver.AIOKafkaConsumerThread, "_fetch_records", racing)

    async def fetch() -> object:
        app = _faust_app_class()(
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
