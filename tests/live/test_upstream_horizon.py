"""The horizon of a partition's upstreams with a real broker (rules.md §1.4, issue #14).

A caught-up partition counts as consumed only up to the progress markers of the sources
configured for its topic, or, without sources, the wall clock minus ``UPSTREAM_DELAY``;
and not at all while its broker does not answer. So a completion that arrives after its
deadline instant has passed on the wall clock, but before its upstream said it had
published up to there, leaves no false card; and a broker that stops answering fetches
across a deadline instant fires no card in the meantime.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.contract import PROGRESS_KEY, progress_marker
from tests.fixtures_kafka import KafkaNamespace, TansuBroker, create_topics, free_port
from tests.live.harness import (
    Store,
    Worker,
    read_topic,
    replay_alerts,
    stored_alerts,
    wait_for_alert_ids,
)
from tests.live.stall_proxy import FetchStallProxy
from tests.live.workload import CST

PARTITIONS = 4
SOURCE = "approval-platform"


def approval(event_id: str, case: str, action: str, at: datetime, **attrs: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "case_id": case,
        "process": "approval",
        "action": action,
        "occurred_at": at.isoformat(timespec="seconds"),
        "dept": "D01",
        "attrs": attrs,
    }


def send(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> None:
    """Events keyed by their case, in order."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    for e in events:
        producer.send(topic, key=e["case_id"].encode(), value=orjson.dumps(e))
    producer.flush(60)
    producer.close()


def send_markers(bootstrap: str, topic: str, watermark: datetime, partitions: int) -> None:
    """The upstream's progress marker on every partition of ``topic``."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    value = progress_marker(SOURCE, watermark.isoformat())
    for p in range(partitions):
        producer.send(topic, key=PROGRESS_KEY, value=value, partition=p)
    producer.flush(60)
    producer.close()


def alert_ids(ns: KafkaNamespace) -> set[str]:
    return {r.key.decode() for r in read_topic(ns.bootstrap, ns.env(PARTITIONS)["TOPIC_ALERTS"])}


def test_progress_markers_hold_a_partition_back_and_release_it(
    kafka_namespace: KafkaNamespace, tmp_path: Path
) -> None:
    ns = kafka_namespace
    create_topics(ns, PARTITIONS)
    topic = ns.env(PARTITIONS)["TOPIC_APPROVAL"]
    d0 = (datetime.now(CST) - timedelta(days=20)).replace(hour=9, minute=0, second=0)
    probe = approval("probe", "PROBE", "reject", d0 - timedelta(hours=1), reason="")
    # Case A is completed on the day it was accepted, but its upstream publishes the review,
    # decision and completion late: long after the wall clock passed A's deadline instants.
    accept_a = approval("a1", "A", "accept", d0, time_limit_days=1)
    late_a = [
        approval("a2", "A", "review", d0 + timedelta(hours=1)),
        approval("a3", "A", "decide", d0 + timedelta(hours=2), decision="approve"),
        approval("a4", "A", "complete", d0 + timedelta(hours=3)),
    ]
    accept_b = approval("b1", "B", "accept", d0 + timedelta(minutes=1), time_limit_days=1)
    events = [probe, accept_a, accept_b, *late_a]
    expected = {k[0]: k for k in replay_alerts(events)}
    by = {(k[3], k[1], k[2]): k for k in expected.values()}
    assert set(by) == {
        ("PROBE", "REFUSAL_WITHOUT_REASON", "yellow"),
        ("B", "OVERDUE", "notice"),
        ("B", "OVERDUE", "yellow"),
        ("B", "OVERDUE", "red"),
    }, "replay raises nothing for A: completed on time"
    notice_b = by[("B", "OVERDUE", "notice")]

    store = Store(chdb_path=tmp_path / "chdb")
    env = {
        **ns.env(PARTITIONS),
        **store.env(),
        "WORKER_DATA_DIR": str(tmp_path / "faust"),
        "TOPIC_APPROVAL_SOURCES": SOURCE,
    }
    worker = Worker(env, tmp_path / "worker").start()
    try:
        send_markers(ns.bootstrap, topic, d0 - timedelta(days=1), PARTITIONS)
        send(ns.bootstrap, topic, [accept_a, accept_b, probe])
        seen = wait_for_alert_ids(ns.bootstrap, env["TOPIC_ALERTS"], {probe_id(by)}, 120)
        assert probe_id(by) in seen, worker.output()[-3000:]
        time.sleep(5)  # many ticks; the wall clock is long past every instant of A and B
        assert alert_ids(ns) == {probe_id(by)}, "no timed card before the upstream's watermark"

        send(ns.bootstrap, topic, late_a)
        # Past B's notice instant, before its yellow one: the notice only.
        notice_at = datetime.fromtimestamp(notice_b[6] / 1e6, CST)
        send_markers(ns.bootstrap, topic, notice_at + timedelta(hours=1), PARTITIONS)
        seen = wait_for_alert_ids(ns.bootstrap, env["TOPIC_ALERTS"], {notice_b[0]}, 60)
        assert notice_b[0] in seen
        time.sleep(2)
        assert alert_ids(ns) == {probe_id(by), notice_b[0]}

        send_markers(ns.bootstrap, topic, datetime.now(CST), PARTITIONS)
        seen = wait_for_alert_ids(ns.bootstrap, env["TOPIC_ALERTS"], set(expected), 60)
        assert seen == set(expected)
        time.sleep(1.5)
    finally:
        code = worker.stop()
    assert code == 0, worker.output()[-3000:]
    rows = stored_alerts(store)
    assert sorted(rows) == sorted(expected.values())  # replay's alerts, each once
    stored_ids = {r[0] for r in store.query("SELECT event_id FROM events FINAL")}
    assert stored_ids == {e["event_id"] for e in events}  # the markers are not events


def probe_id(by: dict[tuple[str, str, str], tuple[Any, ...]]) -> str:
    return str(by[("PROBE", "REFUSAL_WITHOUT_REASON", "yellow")][0])


# The worker starts this long before the instant (it needs 10-30 s to start and raise the
# probe's card): the first lead is what a quiet machine needs; a worker slower than that
# leaves too little time before the instant, and the run is made again with the second.
LEADS_S = (40.0, 90.0)


def test_a_stalled_broker_across_a_deadline_instant_fires_no_card(
    clickhouse_server: Any, tmp_path: Path
) -> None:
    """The worker's wall clock is set some seconds before a past deadline instant (local
    midnight: ``shifted_clock``). A few seconds before the instant the broker stops answering
    the worker's fetches (``stall_proxy``: a stalled partition leader; the group coordinator,
    producers and commits still answer) and goes on not answering well past the instant plus
    ``UPSTREAM_DELAY``: the partition still looks caught up by its last fetch, but no card
    fires meanwhile. Once the broker answers again, the card fires at its true instant."""
    for n, lead_s in enumerate(LEADS_S):
        if stall_across_the_instant(clickhouse_server, tmp_path / f"run{n}", lead_s):
            return
    pytest.fail(f"the worker took over {LEADS_S[-1] - 6:.0f} s to start")


def stall_across_the_instant(clickhouse_server: Any, tmp_path: Path, lead_s: float) -> bool:
    """The test's run with the worker started ``lead_s`` before the instant (False: it took
    so long to start that too little time was left before the instant; nothing checked)."""
    tmp_path.mkdir()
    d0 = (datetime.now(CST) - timedelta(days=7)).replace(hour=9, minute=0, second=0)
    accept = approval("s1", "S", "accept", d0, time_limit_days=1)
    probe = approval("sp", "S-PROBE", "reject", d0 - timedelta(hours=1), reason="")
    notice = next(k for k in replay_alerts([accept]) if k[2] == "notice")
    instant_s = notice[6] / 1e6
    shift = instant_s - lead_s - time.time()

    def fake_now() -> float:
        return time.time() + shift

    def sleep_until(fake_s: float) -> None:
        time.sleep(max(0.0, fake_s - fake_now()))

    broker_port = free_port()
    proxy = FetchStallProxy(broker_port)
    broker = TansuBroker(broker_port, tmp_path / "tansu.log", advertised_port=proxy.port)
    broker.start()
    proxy.start()
    store = Store(url=clickhouse_server.url(f"stall_{uuid.uuid4().hex[:8]}"))
    ns = KafkaNamespace(proxy.bootstrap, "sv.stall", "live-stall")
    try:
        create_topics(ns, 1)
        env = {
            **ns.env(1),
            **store.env(),
            "WORKER_DATA_DIR": str(tmp_path / "faust"),
            "UPSTREAM_DELAY": "2",
            "SHIFT_CLOCK_S": str(shift),
        }
        worker = Worker(env, tmp_path / "worker", launcher=("-m", "tests.live.shifted_clock"))
        worker.start()
        try:
            topic = env["TOPIC_APPROVAL"]
            send(proxy.bootstrap, topic, [accept, probe])
            probe_alert = next(iter(replay_alerts([probe])))[0]
            seen = wait_for_alert_ids(proxy.bootstrap, env["TOPIC_ALERTS"], {probe_alert}, 90)
            assert probe_alert in seen, worker.output()[-3000:]
            if fake_now() > instant_s - 6:
                return False  # the worker took over lead_s - 6 s to start
            sleep_until(instant_s - 4)
            proxy.hold.set()
            sleep_until(instant_s + 12)  # 6 times UPSTREAM_DELAY past the instant
            held = store.query("SELECT rule, level FROM alerts FINAL WHERE case_id = 'S'")
            assert proxy.held, "the worker's fetches were not held"
            proxy.hold.clear()
            assert held == [], "a card fired while the broker did not answer"
            deadline = time.monotonic() + 60
            rows: list[tuple[Any, ...]] = []
            while time.monotonic() < deadline and not rows:
                time.sleep(1)
                rows = [r for r in stored_alerts(store) if r[3] == "S"]
            assert [alert_key_of(r) for r in rows] == [alert_key_of(notice)], worker.output()[
                -3000:
            ]
        finally:
            code = worker.stop()
        assert code == 0, worker.output()[-3000:]
    finally:
        proxy.stop()
        broker.stop()
    return True


def alert_key_of(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Id, rule, level and instant: what the card says."""
    return row[0], row[1], row[2], row[6]
