"""The live service end to end: real Tansu broker, real ClickHouse (server 18.16 and chdb).

Each test runs ``supervise worker`` as subprocesses against its own topics and
database, and checks what users would read (ClickHouse ``FINAL``) against offline
``replay`` of the same events.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from streams.engine.rules import CROSS_RULES
from tests.fixtures_kafka import KafkaNamespace, create_topics
from tests.live.harness import (
    Store,
    Worker,
    read_topic,
    replay_alerts,
    stored_alerts,
    stored_alerts_and_event_ids,
    stored_event_ids,
    wait_for_alert_ids,
)
from tests.live.workload import invalid_messages, produce, produce_realtime, workload

PARTITIONS = 4


def domain_names(ns: KafkaNamespace) -> dict[str, str]:
    env = ns.env(PARTITIONS)
    return {
        "approval": env["TOPIC_APPROVAL"],
        "fund": env["TOPIC_FUND"],
        "trade": env["TOPIC_TRADE"],
        "inspection": env["TOPIC_INSPECTION"],
    }


@pytest.fixture(params=["server", "chdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "server":
        server = request.getfixturevalue("clickhouse_server")
        return Store(url=server.url(f"live_{uuid.uuid4().hex[:8]}"))
    return Store(chdb_path=tmp_path / "chdb")


@pytest.fixture
def server_store(clickhouse_server: Any) -> Store:
    return Store(url=clickhouse_server.url(f"live_{uuid.uuid4().hex[:8]}"))


def worker_env(ns: KafkaNamespace, store: Store, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **ns.env(PARTITIONS),
        **store.env(),
        "WORKER_DATA_DIR": str(tmp_path / "faust"),
        **extra,
    }


def check_matches_replay(store: Store, events: list[dict[str, Any]]) -> None:
    expected = replay_alerts(events)
    rows, ids = stored_alerts_and_event_ids(store)
    assert len(rows) == len(set(rows)), "an alert is read twice"
    got = set(rows)
    assert got == expected, (
        f"missing {sorted(expected - got)[:5]} ({len(expected - got)}), "
        f"unexpected {sorted(got - expected)[:5]} ({len(got - expected)})"
    )
    assert len(ids) == len(set(ids)), "an event is read twice"
    assert set(ids) == {e["event_id"] for e in events}


def run_to_completion(
    ns: KafkaNamespace,
    events: list[dict[str, Any]],
    timeout_s: float = 180,
    store: Store | None = None,
) -> None:
    expected = {k[0]: k for k in replay_alerts(events)}
    seen = wait_for_alert_ids(
        ns.bootstrap, ns.env(PARTITIONS)["TOPIC_ALERTS"], set(expected), timeout_s
    )
    missing = sorted(set(expected) - seen)
    if missing and store is not None:  # say where they got lost: before or after storage
        stored = {row[0] for row in stored_alerts(store)}
        pytest.fail(
            f"{len(missing)} alerts never published, e.g. {[expected[i][:7] for i in missing[:5]]}; "
            f"of those, stored in ClickHouse: {sorted(set(missing) & stored)[:5]}"
        )
    assert not missing, (
        f"{len(missing)} alerts never published, e.g. {[expected[i][:7] for i in missing[:5]]}"
    )


def test_backlog_out_of_order_across_topics_equals_replay(
    kafka_namespace: KafkaNamespace, server_store: Store, tmp_path: Path
) -> None:
    """A backlog produced topic by topic (cross-topic order scrambled), consumed long after.
    (On the server: ``test_sigkill_and_restart`` stores such a backlog on both engines.)"""
    ns = kafka_namespace
    store = server_store
    create_topics(ns, PARTITIONS)
    events = workload(400, seed=11)
    produce(ns.bootstrap, domain_names(ns), events, by_topic=True)
    worker = Worker(worker_env(ns, store, tmp_path), tmp_path / "worker").start()
    try:
        run_to_completion(ns, events, store=store)
        time.sleep(1.5)  # a few ticks after the last alert: nothing more may come
    finally:
        code = worker.stop()
    assert code == 0, worker.output()[-3000:]
    check_matches_replay(store, events)


def test_realtime_events_equal_replay(kafka_namespace: KafkaNamespace, tmp_path: Path) -> None:
    """Events produced as they happen (wall-clock times) while the worker runs."""
    ns = kafka_namespace
    create_topics(ns, PARTITIONS)
    store = Store(chdb_path=tmp_path / "chdb")
    worker = Worker(worker_env(ns, store, tmp_path), tmp_path / "worker").start()
    try:
        # A probe that raises an alert at once: the worker has joined its group and consumes.
        probe_event = {
            "event_id": "probe-1",
            "case_id": "PROBE",
            "process": "approval",
            "action": "reject",
            "occurred_at": "",
            "dept": "D01",
            "attrs": {"reason": ""},
        }
        probe = produce_realtime(ns.bootstrap, domain_names(ns), [probe_event], rate=100)
        run_to_completion(ns, probe, timeout_s=120)
        sent = probe + produce_realtime(
            ns.bootstrap, domain_names(ns), workload(300, seed=17), rate=150
        )
        run_to_completion(ns, sent)
        time.sleep(3)  # past the grace: cross-case facts of the last events are released
    finally:
        code = worker.stop()
    assert code == 0, worker.output()[-3000:]
    check_matches_replay(store, sent)


def test_dead_letter_and_rejection_limit(kafka_namespace: KafkaNamespace, tmp_path: Path) -> None:
    ns = kafka_namespace
    create_topics(ns, PARTITIONS)
    store = Store(chdb_path=tmp_path / "chdb")
    names = domain_names(ns)
    events = workload(60, seed=3)
    bad = invalid_messages()
    mixed: list[Any] = []
    for i, e in enumerate(events):
        mixed.append(e)
        if i % 20 == 5:
            mixed.append(("approval", b"bad-key", bad[(i // 20) % len(bad)]))
    produce(ns.bootstrap, names, mixed)
    env = worker_env(ns, store, tmp_path, DEADLETTER_MAX_CONSECUTIVE="40")
    worker = Worker(env, tmp_path / "worker").start()
    try:
        run_to_completion(ns, events, store=store)
    finally:
        assert worker.stop() == 0, worker.output()[-3000:]

    letters = read_topic(ns.bootstrap, ns.env(PARTITIONS)["TOPIC_DEADLETTER"])
    sent_bad = [m[2] for m in mixed if isinstance(m, tuple)]
    # The topic is at-least-once (a rebalance may re-send a letter); by origin, each bad
    # message is there, with its original bytes, and nothing else is.
    by_origin: dict[tuple[str, str], bytes] = {}
    for r in letters:
        headers = {k: v.decode() for k, v in r.headers}
        assert headers["source_topic"] == names["approval"] and headers["reason"]
        by_origin[(headers["source_partition"], headers["source_offset"])] = r.value
    assert sorted(by_origin.values()) == sorted(sent_bad)
    # What users read: one row per rejected message.
    rows = store.query("SELECT reason, topic, kafka_offset FROM deadletter FINAL")
    assert len(rows) == len(sent_bad)
    assert any("occurred_at" in r[0] for r in rows)
    check_matches_replay(store, events)

    # A broken upstream floods one inspection partition: the breaker stops that partition
    # only; the worker runs on and the other partitions go on (issue #13, F15). The valid
    # events sent beside it are approvals (no cross-case facts: their alerts do not depend
    # on when the flood is let through).
    produce(ns.bootstrap, names, [("inspection", b"k", b"{garbage") for _ in range(100)])
    more = [
        {**e, "event_id": f"m{e['event_id']}", "case_id": f"M{e['case_id']}"}
        for e in workload(40, seed=11)
        if e["process"] == "approval"
    ]
    assert more
    produce(ns.bootstrap, names, more)
    worker.start()
    tripped = wait_for_output(worker, r"rejection breaker tripped on (\S+)\[(\d+)\]", 120)
    assert tripped.group(1) == names["inspection"]
    # Case rules go on; cross-case rules wait for every source's horizon (F13), the stopped
    # partition's included, until the operator decides.
    cross = {rule.rule for rule in CROSS_RULES.values()}
    case_alerts = {k[0] for k in replay_alerts(events + more) if k[1] not in cross}
    alerts_topic = ns.env(PARTITIONS)["TOPIC_ALERTS"]
    assert wait_for_alert_ids(ns.bootstrap, alerts_topic, case_alerts, 180) >= case_alerts
    assert worker.alive(), worker.output()[-3000:]

    # The operator has looked and lets the flood through: it is dead-lettered, in full.
    skip = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "deadletter",
            "skip",
            "--topic",
            names["inspection"],
            "--partition",
            tripped.group(2),
            "--operator",
            "test",
        ],
        env={**os.environ, **worker.env},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert skip.returncode == 0, skip.stderr.decode()
    assert b"recorded in" in skip.stdout
    deadline = time.monotonic() + 120
    while True:
        letters = read_topic(ns.bootstrap, ns.env(PARTITIONS)["TOPIC_DEADLETTER"])
        flood = {dict(r.headers)["source_offset"] for r in letters if r.value == b"{garbage"}
        if len(flood) == 100 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(flood) == 100
    run_to_completion(ns, events + more)
    assert "resumes from its restart position" in worker.output()
    assert worker.stop() == 0, worker.output()[-3000:]
    flooded = store.query("SELECT count() FROM deadletter FINAL WHERE raw = '{garbage'")
    assert flooded == [(100,)]
    check_matches_replay(store, events + more)


def wait_for_output(worker: Worker, pattern: str, timeout_s: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = re.search(pattern, worker.output())
        if found is not None:
            return found
        assert worker.alive(), worker.output()[-3000:]
        assert time.monotonic() < deadline, f"no {pattern!r} in the worker's log"
        time.sleep(0.5)


def test_sigkill_and_restart(kafka_namespace: KafkaNamespace, store: Store, tmp_path: Path) -> None:
    """kill -9 at arbitrary moments while a backlog is processed; restart each time."""
    ns = kafka_namespace
    create_topics(ns, PARTITIONS)
    events = workload(1500, seed=5)
    produce(ns.bootstrap, domain_names(ns), events, by_topic=True)
    env = worker_env(ns, store, tmp_path, WORKER_BATCH_MAX="50", WORKER_BATCH_WITHIN_S="0.05")
    worker = Worker(env, tmp_path / "worker").start()
    kills = 0
    try:
        for delay in (8.0, 5.5, 6.3, 7.1):
            time.sleep(delay)
            if not worker.alive():
                break
            worker.kill()
            kills += 1
            worker.start()
        try:
            run_to_completion(ns, events, timeout_s=240, store=store)
        except (AssertionError, pytest.fail.Exception) as exc:  # keep what the workers said
            said = [
                line
                for line in worker.output().splitlines()
                if " WARNING " in line or " ERROR " in line or "FATAL" in line
            ]
            raise AssertionError(
                f"{exc}\n--- workers' warnings (last 40) ---\n" + "\n".join(said[-40:])
            ) from exc
        time.sleep(1.5)
    finally:
        code = worker.stop()
    assert kills >= 3
    assert code == 0, worker.output()[-3000:]
    check_matches_replay(store, events)


def _stored_any(store: Store) -> bool:
    try:
        return bool(stored_event_ids(store))
    except RuntimeError:  # the worker has not created the database yet
        return False


def test_clickhouse_outage(
    kafka_namespace: KafkaNamespace, clickhouse_server: Any, tmp_path: Path
) -> None:
    """ClickHouse killed mid-stream: the worker retries and pushes back; nothing is lost."""
    ns = kafka_namespace
    create_topics(ns, PARTITIONS)
    store = Store(url=clickhouse_server.url(f"live_{uuid.uuid4().hex[:8]}"))
    # Everything is produced first (a partition never looks caught up before its end), and in
    # batches of 20 (~500 stores) the outage lands mid-stream however fast the worker is: a
    # worker that finished first would have nothing to retry. The first stored row starts it.
    events = workload(3000, seed=9)
    produce(ns.bootstrap, domain_names(ns), events)
    env = worker_env(ns, store, tmp_path, WORKER_BATCH_MAX="20", WORKER_BATCH_WITHIN_S="0.05")
    worker = Worker(env, tmp_path / "worker").start()
    try:
        deadline = time.monotonic() + 90
        while not _stored_any(store):  # processing has begun
            assert time.monotonic() < deadline, worker.output()[-3000:]
            time.sleep(0.05)
        clickhouse_server.kill()
        try:
            # Retrying: what was stored before the outage has been published meanwhile.
            wait_for_output(worker, r"store rows failed \(attempt [3-9]", 60)
            time.sleep(2)
            assert worker.alive(), worker.output()[-3000:]
            stalled = len(read_topic(ns.bootstrap, ns.env(PARTITIONS)["TOPIC_ALERTS"]))
            time.sleep(3)
            # Pushing back: nothing more is published while nothing can be stored.
            assert len(read_topic(ns.bootstrap, ns.env(PARTITIONS)["TOPIC_ALERTS"])) == stalled
        finally:
            clickhouse_server.start()
        run_to_completion(ns, events, timeout_s=180, store=store)
        time.sleep(1.5)
    finally:
        code = worker.stop()
    assert code == 0
    assert "store rows failed (attempt" in worker.output()  # it did retry
    check_matches_replay(store, events)


def test_two_workers_share_partitions(
    kafka_namespace: KafkaNamespace, server_store: Store, tmp_path: Path
) -> None:
    """Two workers in one group produce exactly what one worker produces."""
    ns = kafka_namespace
    create_topics(ns, PARTITIONS)
    events = workload(800, seed=13)
    produce(ns.bootstrap, domain_names(ns), events, by_topic=True)
    env = worker_env(ns, server_store, tmp_path)
    a = Worker(env, tmp_path / "worker-a").start()
    time.sleep(3)  # A applies the migrations first
    b = Worker({**env, "WORKER_DATA_DIR": str(tmp_path / "faust-b")}, tmp_path / "worker-b").start()
    try:
        run_to_completion(ns, events, timeout_s=240, store=server_store)
        time.sleep(1.5)
        assert a.alive() and b.alive()
    finally:
        code_a, code_b = a.stop(), b.stop()
    assert (code_a, code_b) == (0, 0)
    check_matches_replay(server_store, events)


def test_shared_scenarios_through_the_live_service(
    kafka_namespace: KafkaNamespace, server_store: Store, tmp_path: Path
) -> None:
    """Every worked scenario of ../shared/scenarios, all at once: exactly the expected alerts, and
    the scenarios' bad lines dead-lettered."""
    import orjson

    from streams.engine import EventValidator, InvalidEvent, load_config
    from tests.scenarios import comparable, load_scenarios

    ns = kafka_namespace
    create_topics(ns, PARTITIONS)
    validator = EventValidator()
    events: list[dict[str, Any]] = []
    bad: list[tuple[str, bytes, bytes]] = []
    expected: list[tuple] = []
    for scenario in load_scenarios():
        expected += [comparable(a) for a in scenario.expected]
        for line in scenario.events.read_bytes().splitlines():
            if not line.strip():
                continue
            try:
                validator.parse(line)
            except InvalidEvent:
                bad.append(("approval", b"scenario-bad", line))
                continue
            events.append(orjson.loads(line))
    assert len(bad) == sum(s.rejected for s in load_scenarios())
    produce(ns.bootstrap, domain_names(ns), events, by_topic=True)
    produce(ns.bootstrap, domain_names(ns), bad)
    worker = Worker(worker_env(ns, server_store, tmp_path), tmp_path / "worker").start()
    try:
        run_to_completion(ns, events, store=server_store)
        time.sleep(1.5)
    finally:
        code = worker.stop()
    assert code == 0, worker.output()[-3000:]
    local = load_config().local
    rows = server_store.query(
        "SELECT rule, level, case_id, process, dept, raised_at_us, details FROM alerts_v"
    )
    stored = [
        comparable(
            {
                "rule": r[0],
                "level": r[1],
                "case_id": r[2],
                "process": r[3],
                "dept": r[4],
                "raised_at": local.format(int(r[5])),
                "details": orjson.loads(r[6]),
            }
        )
        for r in rows
    ]
    assert sorted(stored) == sorted(expected)
    letters = server_store.query("SELECT raw FROM deadletter FINAL")
    assert sorted(r[0].encode() if isinstance(r[0], str) else r[0] for r in letters) == sorted(
        b[2] for b in bad
    )
