"""Shadow configurations end to end (issue #17): a real worker, the Tansu broker and chdb.

A worker with ``SHADOW_CONFIGS`` stores in ``shadow_alerts`` exactly what replay with the
shadow configuration gives (case and cross-case rules), and leaves ``alerts`` and the
alerts topic exactly as replay with the active configuration gives them; after a restart
nothing is stored twice.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.engine import Alert, load_config
from streams.engine.config import DEFAULT_CONFIG
from streams.replay import replay
from tests.fixtures_kafka import KafkaNamespace, create_topics
from tests.live.harness import Store, Worker, alert_key, read_topic, stored_alerts
from tests.live.test_service import PARTITIONS, domain_names, run_to_completion, worker_env
from tests.live.workload import produce, workload

WAIT_S = 180


@pytest.fixture
def server_store(clickhouse_server: Any) -> Store:
    return Store(url=clickhouse_server.url(f"shadow_{uuid.uuid4().hex[:8]}"))


def shadow_config(tmp_path: Path) -> Path:
    """Red cards after one working day; frequent inspection from the second (cross-case)."""
    text = DEFAULT_CONFIG.read_text("utf-8")
    for old, new in (
        ("red_after_working_days = 3", "red_after_working_days = 1"),
        ("min_count = 3", "min_count = 2"),
    ):
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "shadow.toml"
    path.write_text(text, "utf-8")
    return path


def replayed(events: list[dict[str, Any]], config: Path | None) -> set[tuple[Any, ...]]:
    out: list[Alert] = []
    lines = [orjson.dumps(e) for e in events]
    replay(lines, load_config(config), out.append, lambda r: None, as_of=int(time.time() * 1e6))
    return {alert_key(a) for a in out}


def stored_shadow(store: Store) -> list[tuple[Any, ...]]:
    rows = store.query(
        "SELECT alert_id, rule, level, case_id, process, dept, raised_at_us, evidence, "
        "config_version FROM shadow_alerts FINAL"
    )
    return [(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6]), tuple(r[7]), r[8]) for r in rows]


def test_a_shadow_stores_what_replay_with_it_gives_and_nothing_else(
    kafka_namespace: KafkaNamespace, server_store: Store, tmp_path: Path
) -> None:
    """On ClickHouse 18.16 (read while the worker runs; chdb allows one process)."""
    ns = kafka_namespace
    create_topics(ns, PARTITIONS)
    store = server_store
    shadow = shadow_config(tmp_path)
    version = load_config(shadow).version
    events = workload(400, seed=11)
    active_expected, shadow_expected = replayed(events, None), replayed(events, shadow)
    only_shadow = {k[0] for k in shadow_expected} - {k[0] for k in active_expected}
    assert only_shadow and {k[1] for k in shadow_expected - active_expected} >= {
        "OVERDUE",
        "FREQUENT_INSPECTION",
    }

    produce(ns.bootstrap, domain_names(ns), events, by_topic=True)
    env = worker_env(ns, store, tmp_path, SHADOW_CONFIGS=str(shadow))
    worker = Worker(env, tmp_path / "worker").start()
    try:
        run_to_completion(ns, events, store=store)
        deadline = time.monotonic() + WAIT_S
        while len(stored_shadow(store)) < len(shadow_expected) and time.monotonic() < deadline:
            time.sleep(0.3)
        time.sleep(1.5)  # a few ticks more: nothing more may come
    finally:
        code = worker.stop()
    assert code == 0, worker.output()[-3000:]

    def check() -> None:
        rows = stored_shadow(store)
        assert len(rows) == len(set(rows)), "a shadow alert is read twice"
        assert {r[8] for r in rows} == {version}
        got = {r[:8] for r in rows}
        assert got == shadow_expected, (
            f"missing {sorted(shadow_expected - got)[:3]}, unexpected {sorted(got - shadow_expected)[:3]}"
        )
        active = stored_alerts(store)
        assert len(active) == len(set(active)) and set(active) == active_expected

    check()
    published = read_topic(ns.bootstrap, ns.env(PARTITIONS)["TOPIC_ALERTS"])
    published_ids = {r.key.decode() for r in published}
    assert published_ids == {k[0] for k in active_expected}
    assert not published_ids & only_shadow

    # Restarted on the same state: it resumes where it was and stores nothing twice.
    worker = Worker(env, tmp_path / "worker-again").start()
    try:
        time.sleep(8)
    finally:
        code = worker.stop()
    assert code == 0, worker.output()[-3000:]
    check()
