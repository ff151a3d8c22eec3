"""Crash-point fault injection: the worker exits hard at each persist step once (real broker,
both ClickHouse engines), is started again, and what users read equals a clean run.

``SUPERVISION_CRASH_AT`` (``streams.live.faults``) ends the worker with ``os._exit`` after
the step's rows are stored, halfway through publishing, halfway through writing its
states to the changelog, or after all states are written (before the commit). After the
restart: events, alerts, ``case_status_v``, ``dept_daily_v``, ``events_by_dept`` and
``deadletter`` equal those of a clean run of the same input, and every row stored before
the crash keeps its first ``detected_at`` / ``ingested_at`` / ``received_at``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.live.faults import CRASH_EXIT, POINTS
from tests.fixtures_kafka import KafkaNamespace, create_topics
from tests.live.harness import Store, Worker
from tests.live.test_service import (
    PARTITIONS,
    check_matches_replay,
    domain_names,
    run_to_completion,
    worker_env,
)
from tests.live.workload import invalid_messages, produce, workload

# What users read, without the processing-time columns (compared on their own below) and with
# the namespace's topic names cut to the part both runs share.
READS = {
    "events": "SELECT event_id, case_id, process, action, occurred_at_us, occurred_at_text, "
    "dept, actor, party, toString(amount), attrs FROM events FINAL",
    "events_by_dept": "SELECT event_id, case_id, process, action, occurred_at_us, dept, actor, "
    "party, toString(amount), attrs FROM events_by_dept FINAL",
    "alerts": "SELECT alert_id, rule, level, case_id, process, dept, raised_at_us, evidence, "
    "message, details, config_version FROM alerts FINAL",
    "case_status_v": "SELECT * FROM case_status_v",
    "dept_daily_v": "SELECT * FROM dept_daily_v",
    "deadletter": "SELECT raw, reason, splitByChar('.', source)[-1], splitByChar('.', topic)[-1], kafka_partition, "
    "kafka_offset FROM deadletter FINAL",
}
FIRST_SEEN = {
    "alerts": "SELECT alert_id, toString(detected_at) FROM alerts FINAL",
    "events": "SELECT event_id, toString(ingested_at) FROM events FINAL",
    "deadletter": "SELECT deadletter_id, toString(received_at) FROM deadletter FINAL",
}

CLEAN: dict[str, dict[str, list[bytes]]] = {}  # engine -> what a clean run stored


def reads(store: Store) -> dict[str, list[bytes]]:
    found = store.queries(*READS.values())
    return {
        name: sorted(orjson.dumps(r) for r in rows) for name, rows in zip(READS, found, strict=True)
    }


def first_seen(store: Store) -> dict[str, dict[str, str]]:
    found = store.queries(*FIRST_SEEN.values())
    return {name: dict(rows) for name, rows in zip(FIRST_SEEN, found, strict=True)}  # type: ignore[misc]


def inputs() -> tuple[list[dict[str, Any]], list[Any]]:
    """Valid events with a poison message after every 20th (all dead-lettered)."""
    events = workload(300, seed=31)
    bad = invalid_messages()
    mixed: list[Any] = []
    for i, e in enumerate(events):
        mixed.append(e)
        if i % 20 == 7:
            mixed.append(("approval", b"bad-key", bad[(i // 20) % len(bad)]))
    return events, mixed


def new_store(engine: str, tmp_path: Path, request: pytest.FixtureRequest, name: str) -> Store:
    if engine == "server":
        server = request.getfixturevalue("clickhouse_server")
        return Store(url=server.url(f"crash_{uuid.uuid4().hex[:8]}"))
    return Store(chdb_path=tmp_path / f"chdb-{name}")


def env_for(ns: KafkaNamespace, store: Store, tmp_path: Path, **extra: str) -> dict[str, str]:
    # Small batches: the crash lands mid-stream, with batches stored and committed before it.
    return worker_env(
        ns, store, tmp_path, WORKER_BATCH_MAX="40", WORKER_BATCH_WITHIN_S="0.05", **extra
    )


def clean_run(
    engine: str, bootstrap: str, tmp_path: Path, request: pytest.FixtureRequest
) -> dict[str, list[bytes]]:
    """What a run without a crash stores (once per engine)."""
    if engine not in CLEAN:
        tag = uuid.uuid4().hex[:6]
        ns = KafkaNamespace(bootstrap, f"sv.clean{tag}", f"live-clean{tag}")
        create_topics(ns, PARTITIONS)
        events, mixed = inputs()
        produce(ns.bootstrap, domain_names(ns), mixed)
        store = new_store(engine, tmp_path, request, "clean")
        data = tmp_path / "clean"
        data.mkdir()
        worker = Worker(env_for(ns, store, data), data / "worker").start()
        try:
            run_to_completion(ns, events, store=store)
        finally:
            code = worker.stop()
        assert code == 0, worker.output()[-3000:]
        check_matches_replay(store, events)
        CLEAN[engine] = reads(store)
    return CLEAN[engine]


@pytest.mark.parametrize("engine", ["chdb", "server"])
@pytest.mark.parametrize("point", POINTS)
def test_crash_at_each_persist_step_equals_a_clean_run(
    point: str,
    engine: str,
    kafka_namespace: KafkaNamespace,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    clean = clean_run(engine, kafka_namespace.bootstrap, tmp_path, request)
    ns = kafka_namespace
    create_topics(ns, PARTITIONS)
    events, mixed = inputs()
    produce(ns.bootstrap, domain_names(ns), mixed)
    store = new_store(engine, tmp_path, request, "crash")
    worker = Worker(env_for(ns, store, tmp_path, SUPERVISION_CRASH_AT=f"{point}:3"), tmp_path / "w")
    worker.start()
    try:
        code = worker.wait_exit(180)
        assert code == CRASH_EXIT, f"exit {code}: " + worker.output()[-3000:]
        assert f"injected crash at {point}" in worker.output()
        assert (tmp_path / "faust" / f"crashed-{point}").exists()
        before = first_seen(store)
        assert before["events"], "nothing was stored before the crash"
        worker.start()  # same environment: the marker says it crashed already
        run_to_completion(ns, events, store=store)
    finally:
        code = worker.stop()
    assert code == 0, worker.output()[-3000:]
    assert worker.output().count("injected crash") == 1
    after = first_seen(store)
    for table, seen in before.items():
        changed = {k: (v, after[table].get(k)) for k, v in seen.items() if after[table].get(k) != v}
        assert not changed, f"{table}: first-seen times changed: {list(changed.items())[:5]}"
    got = reads(store)
    for name in READS:
        only_here = sorted(set(got[name]) - set(clean[name]))[:3]
        only_clean = sorted(set(clean[name]) - set(got[name]))[:3]
        assert got[name] == clean[name], (
            f"{name} differs from a clean run ({len(got[name])} rows, clean {len(clean[name])}): "
            f"only after the crash {only_here}, only in the clean run {only_clean}"
        )
    check_matches_replay(store, events)
