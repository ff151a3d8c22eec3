"""The health probe and consumer lag, against a fake Kafka port and persister."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.structs import TopicPartition
from prometheus_client import CollectorRegistry

from streams.live.probe import HealthProbe, LagReport
from streams.observability.health import HealthState
from streams.observability.metrics import Metrics

APPROVAL, FACTS = TopicPartition("t.approval", 0), TopicPartition("t.facts", 0)


class Port:
    """What the probe asks of ``KafkaPort``: brokers, assignment, fetch high watermarks, log ends."""

    def __init__(self) -> None:
        self.broker_up = True
        self.log_end = {APPROVAL: 50}
        self.asked: list[list[TopicPartition]] = []

    async def broker_count(self, timeout: float) -> int:
        if not self.broker_up:
            raise ConnectionError("no broker")
        return 1

    def assignment(self) -> set[TopicPartition]:
        return {APPROVAL, FACTS}

    def highwater(self, tp: TopicPartition) -> int:
        return 10  # the worker's own fetches stopped there

    async def log_ends(self, tps: list[TopicPartition], timeout: float) -> dict[Any, int]:
        self.asked.append(tps)
        return {tp: self.log_end[tp] for tp in tps}


class Offsets:
    def known(self, tp: TopicPartition) -> bool:
        return True

    def expected(self, tp: TopicPartition) -> int:
        return 10


class Persister:
    """The persister's state the probe reads, and its storage ping."""

    def __init__(self) -> None:
        self.unpersisted = 0
        self.storage_seen = 0.0
        self.storage_up = True
        self.pings = 0

    async def ping(self, timeout: float) -> None:
        self.pings += 1
        if not self.storage_up:
            raise OSError("refused")


def lag(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value(
        "supervision_consumer_lag_messages", {"topic": "t.approval", "partition": "0"}
    )


def probe_of(port: Port, persister: Persister) -> tuple[HealthProbe, HealthState, Metrics]:
    metrics = Metrics(CollectorRegistry(), process_metrics=False)
    health = HealthState(metrics=metrics)
    probe = HealthProbe(
        port=port,
        persister=persister,
        lags=LagReport(metrics, Offsets()),
        health=health,
        domain=frozenset({"t.approval"}),
        interval_s=5,
        timeout_s=2,
        clock=lambda: 100.0,
    )
    return probe, health, metrics


def test_health_probe_reports_broker_and_idle_storage_without_waiting_on_the_pipeline() -> None:
    port, persister = Port(), Persister()
    probe, health, _ = probe_of(port, persister)

    async def run() -> None:
        lock = asyncio.Lock()
        async with lock:  # the pipeline holds its lock: the probe does not care
            await probe.probe()
            assert probe.ping is not None
            await probe.ping
        assert health.readiness()[1]["broker"]["connected"] is True
        assert health.readiness()[1]["storage"] == {**health.storage.as_json(), "connected": True}
        assert health.last_loop_heartbeat is not None
        await probe.probe()  # storage just reported: no ping
        assert persister.pings == 1
        port.broker_up, persister.storage_up = False, False
        persister.storage_seen = 0.0
        await probe.probe()
        await probe.ping
        ready, body = health.readiness()
        assert not ready
        assert body["broker"]["detail"] == "ConnectionError"
        assert body["storage"]["detail"] == "OSError"
        persister.storage_seen, persister.unpersisted = 0.0, 1  # never ping beside a write
        await probe.probe()
        assert persister.pings == 2

    asyncio.run(run())


def test_consumer_lag_follows_the_broker_when_the_workers_fetches_stop() -> None:
    """A stuck fetcher keeps its last high watermark; the lag must still grow, from the
    log end the broker reports to the health probe (and never shrink below the fetch's)."""
    port = Port()
    probe, _, metrics = probe_of(port, Persister())
    asyncio.run(probe.refresh_log_ends())
    assert port.asked == [[APPROVAL]]  # event partitions only: the worker writes facts itself
    assert lag(metrics) == 40
    probe.lags.report(APPROVAL, 10)  # the tick, stale
    assert lag(metrics) == 40
    probe.lags.report(APPROVAL, 70)  # fetches resumed
    assert lag(metrics) == 60
    probe.lags.forget(APPROVAL)  # revoked: the series goes
    assert lag(metrics) is None
