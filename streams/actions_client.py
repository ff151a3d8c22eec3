"""Publish one workflow action and wait for its result (``supervise act``, ``supervise web``).

``send_action(settings, document, timeout_s) -> dict | None``: the action (its JSON
document, ``schemas/action.schema.json``) goes to ``supervision.actions`` keyed by its
``case_id`` once the result's partition of ``supervision.action-results`` (keyed by
``action_id``) is being read; returns that result, or None when none came in
``timeout_s``. Synchronous (kafka-python): call it from a thread in asyncio code.
"""

from __future__ import annotations

import time
from typing import Any

import orjson


def send_action(settings: Any, document: dict[str, Any], timeout_s: float) -> dict[str, Any] | None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    from streams.live.publish import partition_for
    from streams.live.topics import bootstrap_list

    action_id = str(document["action_id"])
    raw = orjson.dumps(document)
    bootstrap = bootstrap_list(settings.kafka_bootstrap)
    topic = settings.topic_action_results
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        part = TopicPartition(topic, partition_for(action_id.encode(), settings.topic_partitions))
        consumer.assign([part])
        consumer.seek(part, consumer.end_offsets([part])[part])  # at or before the true end
        producer = KafkaProducer(bootstrap_servers=bootstrap)
        try:
            producer.send(settings.topic_actions, key=str(document["case_id"]).encode(), value=raw)
            producer.flush(timeout_s)
        finally:
            producer.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=300).values():
                for record in records:
                    if record.key == action_id.encode():
                        result: dict[str, Any] = orjson.loads(record.value)
                        return result
    finally:
        consumer.close()
    return None
