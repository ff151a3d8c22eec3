"""Helpers of the live core's tests: the default configuration, topics, a pipeline, messages."""

from __future__ import annotations

import orjson

from streams.engine import CaseEngine, EventValidator, load_config
from streams.live.deadletter import RejectionLimit
from streams.live.pipeline import Pipeline
from streams.live.processor import CasePartition, Message
from streams.live.topics import Topics
from streams.settings import Settings

CONFIG = load_config(None)
TOPICS = Topics.from_settings(Settings())


def pipeline(parts: dict, lateness_us: int = 0) -> Pipeline:
    def case_partition(topic: str, partition: int) -> CasePartition:
        part = parts.get((topic, partition))
        if part is None:
            part = parts[(topic, partition)] = CasePartition(
                topic, partition, CaseEngine(CONFIG), lateness_us
            )
        return part

    return Pipeline(TOPICS, EventValidator(), RejectionLimit(100, 0.9, 50), case_partition)


def messages(events: list[dict]) -> list[Message]:
    out = []
    offsets: dict[str, int] = {}
    for e in events:
        topic = TOPICS.for_process(e["process"])
        assert topic
        o = offsets.get(topic, 0)
        offsets[topic] = o + 1
        out.append(Message(topic, 0, o, e["case_id"].encode(), orjson.dumps(e)))
    return out
