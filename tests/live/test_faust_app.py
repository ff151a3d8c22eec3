"""The Faust runtime: what the worker process sets up before it runs."""

from __future__ import annotations

import logging

import pytest

from streams.live.faust_app import build_worker


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

    from streams.live.faust_app import raw_schema

    app = faust.App("t-schema", broker="kafka://127.0.0.1:9", autodiscover=False, web_enabled=False)
    raw = b'{"event_id": "e1", "not": "validated here"}'
    message = Message("t", 0, 7, 0.0, 0, {}, b"case-1", raw, None)
    event = asyncio.run(raw_schema().decode(app, message, propagate=True))
    assert event.key == b"case-1" and event.value is raw and event.message is message


def test_worker_gc_collects_young_objects_less_often() -> None:
    import gc

    from streams.live.faust_app import tune_gc

    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold()[0] >= 10_000 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
