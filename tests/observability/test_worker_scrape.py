"""A real `supervise worker` (Tansu broker, ClickHouse server) scraped over HTTP, as Prometheus and Kubernetes see it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures_kafka import KafkaNamespace, create_topics, free_port
from tests.live.harness import Store, Worker, replay_alerts
from tests.live.workload import invalid_messages, produce, workload

PARTITIONS = 2


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


TICK_GAUGES = (
    "supervision_consumer_lag_messages",
    "supervision_open_cases",
    "supervision_state_cases",
    "supervision_state_fact_keys",
    "supervision_pending_timers",
)


def totals(body: str) -> dict[str, float]:
    """Sum of every sample per sample name, plus per (name, label=value) for the labels we check."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out[sample.name] = out.get(sample.name, 0.0) + sample.value
            for key in ("rule", "topic", "reason"):
                if key in sample.labels:
                    name = f"{sample.name}{{{key}={sample.labels[key]}}}"
                    out[name] = out.get(name, 0.0) + sample.value
    return out


def lag_samples(body: str) -> dict[tuple[str, str], float]:
    """Consumer lag by (topic, partition)."""
    return {
        (sample.labels["topic"], sample.labels["partition"]): sample.value
        for family in text_string_to_metric_families(body)
        if family.name == "supervision_consumer_lag_messages"
        for sample in family.samples
    }


def test_running_worker_serves_metrics_and_health(
    kafka_namespace: KafkaNamespace, clickhouse_server: Any, tmp_path: Path
) -> None:
    ns = kafka_namespace
    store = Store(url=clickhouse_server.url(f"scrape_{uuid.uuid4().hex[:8]}"))
    create_topics(ns, PARTITIONS)
    port = free_port()
    env = {
        **ns.env(PARTITIONS),
        **store.env(),
        "WORKER_DATA_DIR": str(tmp_path / "faust"),
        "METRICS_PORT": str(port),
        "DEADLETTER_MAX_CONSECUTIVE": "1000",
    }
    topics = {d: env[f"TOPIC_{d.upper()}"] for d in ("approval", "fund", "trade", "inspection")}
    events = workload(cases=20, seed=3)
    garbage = invalid_messages()[:3]
    worker = Worker(env, tmp_path / "worker").start()
    base = f"http://127.0.0.1:{port}"
    try:
        produce(ns.bootstrap, topics, events)
        produce(ns.bootstrap, topics, [("approval", b"bad", raw) for raw in garbage])
        expected = len(events) + len(garbage)
        deadline = time.monotonic() + 150
        seen: dict[str, float] = {}
        while time.monotonic() < deadline:
            assert worker.alive(), worker.output()[-3000:]
            try:
                status, body = get(base + "/metrics")
            except OSError:  # not listening yet
                time.sleep(0.5)
                continue
            assert status == 200
            seen = totals(body)
            # The gauges of lag, open cases and timers are refreshed by the periodic tick,
            # so a scrape between a batch and the next tick may not carry them yet.
            if (
                seen.get("supervision_events_consumed_total", 0) >= expected
                and seen.get("supervision_alerts_total", 0)
                and all(name in seen for name in TICK_GAUGES)
            ):
                break
            time.sleep(0.5)
        assert seen.get("supervision_events_consumed_total") == expected, seen
        domains_used = {topics[d] for d in ("approval", "fund", "trade", "inspection")}
        assert {
            k.split("=", 1)[1][:-1]
            for k in seen
            if k.startswith("supervision_events_consumed_total{")
        } <= (domains_used)
        replay_rules = {key[1] for key in replay_alerts(events)}
        fired_rules = {
            k.split("=", 1)[1][:-1] for k in seen if k.startswith("supervision_alerts_total{rule=")
        }
        assert fired_rules and fired_rules <= replay_rules, (fired_rules, replay_rules)
        assert seen.get("supervision_deadletter_messages_total", 0) == len(garbage)
        assert seen.get("supervision_events_accepted_total") == len(events)
        assert seen.get("supervision_events_rejected_total") == len(garbage)
        # Timed per batch, counted per message: every message read was evaluated.
        assert seen.get("supervision_engine_events_evaluated_total", 0) >= expected
        assert 0 < seen["supervision_engine_batch_evaluation_seconds_count"] < expected
        assert seen["supervision_engine_batch_evaluation_seconds_sum"] > 0
        assert seen.get("supervision_storage_rows_refused_total") == 0
        # Declared at start: every domain topic has its dead-letter series, at 0 if unused.
        for topic in domains_used - {topics["approval"]}:
            assert seen[f"supervision_deadletter_messages_total{{topic={topic}}}"] == 0
        assert seen.get("supervision_storage_batches_total", 0) > 0
        assert seen.get("supervision_storage_rows_total", 0) >= len(events)
        assert seen.get("supervision_storage_write_duration_seconds_count", 0) > 0
        assert all(name in seen for name in TICK_GAUGES), sorted(seen)
        assert "supervision_build_info" in seen
        assert seen.get("supervision_broker_connected") == 1
        assert seen.get("supervision_open_cases", 0) > 0
        assert seen.get("supervision_state_cases", 0) >= seen["supervision_open_cases"]
        assert "process_cpu_seconds_total" in seen

        status, body = get(base + "/healthz")
        assert status == 200 and json.loads(body)["alive"] is True
        deadline = time.monotonic() + 60
        while True:
            status, body = get(base + "/readyz")
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        ready = json.loads(body)
        assert status == 200, ready
        assert (
            ready["broker"]["connected"]
            and ready["storage"]["connected"]
            and ready["timers"]["keeping_up"]
        )

        # Caught up and idle: no partition is behind, the internal facts topic included
        # (the worker publishes horizons there every tick and must not count them as
        # waiting work, or the stalled-worker alert fires on every quiet night).
        deadline = time.monotonic() + 30
        while True:
            lags = lag_samples(get(base + "/metrics")[1])
            if lags and not any(lags.values()):
                break
            assert time.monotonic() < deadline, lags
            time.sleep(0.5)
        assert {topic for topic, _ in lags} == domains_used | {env["TOPIC_FACTS"]}, lags
        final = totals(get(base + "/metrics")[1])
        assert final.get("supervision_storage_connected") == 1
        assert final.get("supervision_ready") == 1
        assert final.get("supervision_timer_backlog_seconds") == 0
    finally:
        code = worker.stop()
    assert code == 0, worker.output()[-3000:]
