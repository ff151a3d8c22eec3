"""Issue #13 end to end ("nothing valid lost, nothing halts"): a real `supervise worker`,
the Tansu broker and embedded chdb, fed what the transport allows and the contract does not.

- a tombstone among valid events (delivery-audit F9);
- a record near the producer's 1 MB request limit (F10);
- an event keyed other than by its case_id, on another partition (F7);
- a case whose deadline falls in a year the calendar lacks (rules.md §1.5).

Each checks what users and operators see: stored rows, the dead-letter topic, metrics,
/readyz, and that the worker is still running.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from streams.live.publish import partition_for
from tests.engine.harness import ev
from tests.fixtures_kafka import KafkaNamespace, create_topics, free_port
from tests.live.harness import (
    Store,
    Worker,
    read_topic,
    replay_alerts,
    stored_alerts,
    stored_event_ids,
)
from tests.live.workload import produce, workload

PARTITIONS = 4
WAIT_S = 120


def setup(ns: KafkaNamespace, tmp_path: Path) -> tuple[Store, dict[str, str], dict[str, str]]:
    create_topics(ns, PARTITIONS)
    store = Store(chdb_path=tmp_path / "chdb")
    env = {
        **ns.env(PARTITIONS),
        **store.env(),
        "WORKER_DATA_DIR": str(tmp_path / "faust"),
        "METRICS_PORT": str(free_port()),
    }
    names = {d: env[f"TOPIC_{d.upper()}"] for d in ("approval", "fund", "trade", "inspection")}
    return store, env, names


def scrape(env: dict[str, str], path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{env['METRICS_PORT']}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(env: dict[str, str]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, sorted labels); empty while not listening yet."""
    try:
        status, body = scrape(env, "/metrics")
    except OSError:
        return {}
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def total(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return sum(
        v
        for (n, ls), v in found.items()
        if n == name and all(dict(ls).get(k) == x for k, x in labels.items())
    )


def wait_until(worker: Worker, done: Any, what: str, timeout_s: float = WAIT_S) -> None:
    """Poll ``done()`` while the worker runs; fail at once if it stops."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert worker.alive(), (
            f"the worker stopped while waiting for {what}:\n" + worker.output()[-3000:]
        )
        if done():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}:\n" + worker.output()[-3000:])


def accepted(env: dict[str, str], topic: str, count: int) -> Any:
    return lambda: total(samples(env), "supervision_events_accepted_total", topic=topic) >= count


def recent(minutes_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(timespec="seconds")


def test_a_tombstone_is_dead_lettered_and_the_worker_goes_on(
    kafka_namespace: KafkaNamespace, tmp_path: Path
) -> None:
    ns = kafka_namespace
    store, env, names = setup(ns, tmp_path)
    events = [e for e in workload(30, seed=9) if e["process"] == "approval"]
    half = len(events) // 2
    items: list[Any] = [*events[:half], ("approval", b"C-gone", None), *events[half:]]
    produce(ns.bootstrap, names, items)
    worker = Worker(env, tmp_path / "worker").start()
    try:
        wait_until(worker, accepted(env, names["approval"], len(events)), "every valid event")
        wait_until(
            worker,
            lambda: (
                total(
                    samples(env),
                    "supervision_deadletter_messages_total",
                    topic=names["approval"],
                    reason="empty_value",
                )
                == 1
            ),
            "the tombstone's dead letter",
        )
        assert worker.alive()
    finally:
        code = worker.stop()
    assert code == 0, worker.output()[-3000:]
    assert sorted(stored_event_ids(store)) == sorted(e["event_id"] for e in events)
    assert set(stored_alerts(store)) == replay_alerts(events)
    rows = store.query("SELECT reason, raw FROM deadletter FINAL")
    assert len(rows) == 1 and rows[0][0].startswith("empty_value") and not rows[0][1]
    [letter] = read_topic(ns.bootstrap, env["TOPIC_DEADLETTER"])
    assert letter.key == b"C-gone" and not letter.value
    assert dict(letter.headers)["reason"].startswith(b"empty_value")


def test_a_record_near_the_message_limit_is_dead_lettered_by_reference(
    kafka_namespace: KafkaNamespace, tmp_path: Path
) -> None:
    """Its dead letter quoting it (a reason naming the value, then the value) would pass the
    producer's 1 MB max request size: publishing it was retried forever (F10)."""
    ns = kafka_namespace
    store, env, names = setup(ns, tmp_path)
    huge = orjson.dumps(ev("x" * 1_000_000, "BIG", "approval", "accept", "2026-03-02T09:00:00"))
    assert 1_000_000 < len(huge) < 1_048_576 - 1024  # near the producers' limit, under it
    after = [ev("a1", "BIG", "approval", "reject", "2026-03-02T10:00:00", reason="")]
    produce(ns.bootstrap, names, [("approval", b"BIG", huge), *after])
    worker = Worker(env, tmp_path / "worker").start()
    try:
        wait_until(worker, accepted(env, names["approval"], 1), "the event after it")
        wait_until(
            worker,
            lambda: (
                total(samples(env), "supervision_deadletter_messages_total", reason="oversized")
                == 1
            ),
            "the dead letter published",
        )
    finally:
        code = worker.stop()
    assert code == 0, worker.output()[-3000:]
    [letter] = read_topic(ns.bootstrap, env["TOPIC_DEADLETTER"])
    headers = dict(letter.headers)
    assert letter.value == huge[:1024] and letter.key == b"BIG"
    assert headers["original_size"] == str(len(huge) + 3).encode()
    assert headers["original_sha256"] == hashlib.sha256(huge).hexdigest().encode()
    assert headers["source_offset"] == b"0" and len(headers["reason"]) <= 512
    [(reason, raw)] = store.query("SELECT reason, raw FROM deadletter FINAL")
    assert reason.startswith("oversized") and len(raw) == 1024
    assert stored_event_ids(store) == ["a1"]


def test_an_event_keyed_other_than_its_case_is_evaluated_with_its_case(
    kafka_namespace: KafkaNamespace, tmp_path: Path
) -> None:
    """F7: `complete` keyed b"zz" lands on another partition than its case. It is re-published
    keyed by its case_id to the case's partition and evaluated there: no false SKIPPED_STEP."""
    ns = kafka_namespace
    store, env, names = setup(ns, tmp_path)
    home = partition_for(b"K1", PARTITIONS)
    wrong = next(k for k in (b"zz", b"zy", b"zx", b"zw") if partition_for(k, PARTITIONS) != home)
    case = [
        ev("k1", "K1", "approval", "accept", recent(40), time_limit_days=20),
        ev("k2", "K1", "approval", "review", recent(30)),
        ev("k3", "K1", "approval", "decide", recent(20), decision="approve"),
    ]
    done = ev("k4", "K1", "approval", "complete", recent(10))
    produce(ns.bootstrap, names, [*case, ("approval", wrong, orjson.dumps(done))])
    events = [*case, done]
    worker = Worker(env, tmp_path / "worker").start()
    try:
        wait_until(worker, accepted(env, names["approval"], len(events)), "every event evaluated")
        found = samples(env)
        assert total(found, "supervision_events_rerouted_total", topic=names["approval"]) == 1
        assert total(found, "supervision_events_consumed_total") == len(events) + 1  # + the copy
        time.sleep(2)  # a few ticks: nothing more may come
    finally:
        code = worker.stop()
    assert code == 0, worker.output()[-3000:]
    expected = replay_alerts(events)
    assert not any(a[1] == "SKIPPED_STEP" for a in expected)
    assert set(stored_alerts(store)) == expected
    ids = stored_event_ids(store)
    assert sorted(ids) == [e["event_id"] for e in events]  # each once
    records = read_topic(ns.bootstrap, names["approval"])
    [copy] = [r for r in records if dict(r.headers or []).get("rerouted_from")]
    assert (copy.key, copy.partition, copy.value) == (b"K1", home, orjson.dumps(done))


def test_a_case_waiting_for_a_calendar_year_keeps_the_worker_running(
    kafka_namespace: KafkaNamespace, tmp_path: Path
) -> None:
    """rules.md §1.5: an accept of 2026-12-01 with 30 working days needs the 2027 calendar.
    The worker stores the event, keeps running and ready, and says which year is missing."""
    ns = kafka_namespace
    store, env, names = setup(ns, tmp_path)
    waiting = ev("y1", "Y2027", "approval", "accept", "2026-12-01T09:00:00", time_limit_days=30)
    produce(ns.bootstrap, names, [waiting])
    worker = Worker(env, tmp_path / "worker").start()
    try:
        wait_until(
            worker,
            lambda: total(samples(env), "supervision_calendar_pending_cases", year="2027") == 1,
            "the pending-cases gauge",
        )
        detail: dict[str, Any] = {}

        def ready() -> bool:
            status, body = scrape(env, "/readyz")
            detail.update(json.loads(body))
            return status == 200

        wait_until(worker, ready, "ready", timeout_s=30)  # pending cases never make it unready
        assert detail["calendar"] == {"pending_cases": {"2027": 1}, "missing_years": [2027]}
        time.sleep(1)
        assert worker.alive()
    finally:
        code = worker.stop()
    assert code == 0, worker.output()[-3000:]
    assert stored_event_ids(store) == ["y1"]
