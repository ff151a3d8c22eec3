"""The operator's decision reaches the worker through the broker (real Tansu): the CLI
records it, the worker's Kafka port reads it back; and the gap probe answers on a log
without holes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from streams.live.breaker import SkipDecision, decisions_topic
from streams.live.kafka_port import KafkaPort
from tests.fixtures_kafka import KafkaNamespace, create_topics
from tests.live.workload import produce

PARTITIONS = 2


class _Topic:
    def __init__(self, topic: str, partition: int) -> None:
        self.topic, self.partition = topic, partition

    def __hash__(self) -> int:
        return hash((self.topic, self.partition))


def test_a_skip_decision_is_recorded_and_read_back(kafka_namespace: KafkaNamespace) -> None:
    ns = kafka_namespace
    create_topics(ns, PARTITIONS)
    env = ns.env(PARTITIONS)
    names = {"approval": env["TOPIC_APPROVAL"]}
    produce(ns.bootstrap, names, [("approval", b"k", b"{garbage") for _ in range(7)])
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "deadletter",
            "skip",
            "--topic",
            env["TOPIC_APPROVAL"],
            "--partition",
            "0",
            "--operator",
            "ops-1",
        ],
        env={**os.environ, **env},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    port = KafkaPort(None, bootstrap=ns.bootstrap, client_id="t-decisions")

    async def read() -> tuple[list[SkipDecision | None], int | None, int | None]:
        try:
            records = await port.read_all(decisions_topic(env["TOPIC_DEADLETTER"]))
            decisions = [SkipDecision.from_record(k, v) for k, v in records]
            ends: list[int | None] = []
            for p in range(PARTITIONS):
                ends.append(await port.first_offset_from(_Topic(env["TOPIC_APPROVAL"], p), 0))
            return decisions, ends[0], ends[1]
        finally:
            await port.close(5)

    decisions, first, _ = asyncio.run(read())
    ends = {d.until_offset for d in decisions if d is not None}
    assert [(d.topic, d.partition, d.operator) for d in decisions if d] == [
        (env["TOPIC_APPROVAL"], 0, "ops-1")
    ]
    assert sum(ends) in (0, 7)  # the key b"k" lands on one of the two partitions
    assert first in (0, None)
