"""Soak run (``make soak``, not in CI): one worker under a steady offered load with poison input.

For ``--minutes`` (default 30) events are produced at ``--rate`` per second (default 2,000),
as they happen (``occurred_at`` = send time), from the seeded generator's cases (ids made
unique per chunk). Mixed in, per 1,000 messages: 10 invalid JSON, 10 schema-invalid, 5
tombstones (null value), 1 oversized (300 KiB) and 20 late events (``occurred_at`` 1-60
minutes in the past). Every minute it prints the worker's RSS, its local state on disk,
open cases, consumer lag (the worker's own gauge), produce-to-alert p99 of the alerts
events raised that minute, and dead letters. At the end it lets the worker drain, stops
it, and compares what users read (alerts ``FINAL``, stored event ids) with ``replay`` of
the valid events as of the worker's horizon (wall clock minus ``--upstream-delay``, given to
the worker as ``UPSTREAM_DELAY``). Figures are printed; nothing is asserted.

    python benchmarks/soak.py [--minutes 30] [--rate 2000] [--partitions 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_live import (  # noqa: E402
    CST,
    Namespace,
    bench_broker,
    bench_config,
    bench_tmp,
    free_port,
    start_worker,
    stop,
)
from benchmarks.bench_recovery import du, rss_mib  # noqa: E402
from streams.contract import topic_for  # noqa: E402
from streams.live.table_store import tables_dir  # noqa: E402
from streams.workload import GenerateConfig, generate_events  # noqa: E402

CHUNK_CASES = 10_000
# Per 1,000 messages (the rest valid, on time).
POISON = {"not_json": 10, "schema": 10, "tombstone": 5, "oversized": 1, "late": 20}


def valid_events(seed: int) -> Iterator[dict[str, Any]]:
    """The generator's events, chunk after chunk, with ids unique across chunks."""
    chunk = 0
    while True:
        tag = f"s{seed}-{chunk}-"
        cfg = GenerateConfig(cases=CHUNK_CASES, seed=seed + chunk, order="feed", violation_rate=0.2)
        for e in generate_events(cfg):
            e = dict(e, event_id=tag + e["event_id"], case_id=tag + e["case_id"])
            attrs = e.get("attrs")
            if attrs and "plan_id" in attrs:
                e["attrs"] = dict(attrs, plan_id=tag + attrs["plan_id"])
            yield e
        chunk += 1


def poison(kind: str, rnd: random.Random, n: int) -> tuple[str, bytes, bytes | None]:
    key = f"poison-{n}".encode()
    if kind == "not_json":
        return "approval", key, b"{not json " + str(n).encode()
    if kind == "schema":
        return "fund", key, orjson.dumps({"event_id": f"bad{n}", "case_id": "X", "process": "fund"})
    if kind == "tombstone":
        return "trade", key, None
    return "inspection", key, b'{"event_id": "' + b"x" * (300 * 1024) + b'"}'


def scrape(port: int) -> dict[str, float]:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return {}
    lag = sum(float(v) for v in re.findall(r"^supervision_consumer_lag_messages\{[^}]*\} (\S+)", text, re.M))
    opened = re.search(r"^supervision_open_cases (\S+)", text, re.M)
    return {"lag": lag, "open_cases": float(opened.group(1)) if opened else float("nan")}


class Soak:
    def __init__(self, ns: Namespace, rate: float, seconds: float, seed: int = 5) -> None:
        self.ns, self.rate, self.seconds = ns, rate, seconds
        self.rnd = random.Random(seed)
        self.events = valid_events(seed)
        self.sent: list[bytes] = []  # valid events, in send order (replay's input)
        self.sent_at: dict[str, float] = {}
        self.latencies: list[float] = []
        self.counts = {k: 0 for k in POISON} | {"valid": 0}
        self.alerts = 0

    def next_message(self, n: int) -> tuple[str, bytes, bytes | None, str | None]:
        """(topic, key, value, event id or None) of the n-th message."""
        draw = self.rnd.randrange(1000)
        for kind, share in POISON.items():
            if draw < share:
                self.counts[kind] += 1
                if kind == "late":
                    return self.valid(timedelta(minutes=self.rnd.uniform(1, 60)))
                suffix, key, value = poison(kind, self.rnd, n)
                return self.ns.topic(suffix), key, value, None
            draw -= share
        self.counts["valid"] += 1
        return self.valid(timedelta(0))

    def valid(self, late: timedelta) -> tuple[str, bytes, bytes | None, str | None]:
        e = next(self.events)
        e["occurred_at"] = (datetime.now(CST) - late).isoformat(timespec="microseconds")
        raw = orjson.dumps(e)
        self.sent.append(raw)
        return topic_for(e["process"], self.ns.prefix), e["case_id"].encode(), raw, e["event_id"]

    async def produce(self) -> None:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=self.ns.bootstrap, linger_ms=5, acks="all",
                                    max_request_size=2 * 1024 * 1024)
        await producer.start()
        try:
            start, n = time.perf_counter(), 0
            while time.perf_counter() - start < self.seconds:
                due = int((time.perf_counter() - start) * self.rate)
                while n < due:
                    topic, key, value, event_id = self.next_message(n)
                    if event_id:
                        self.sent_at[event_id] = time.time()
                    await producer.send(topic, value, key=key)
                    n += 1
                await asyncio.sleep(0.01)
            await producer.flush()
        finally:
            await producer.stop()

    async def watch_alerts(self, stop_at: asyncio.Event) -> None:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(self.ns.topic("alerts"), bootstrap_servers=self.ns.bootstrap,
                                    group_id=None, auto_offset_reset="earliest")
        await consumer.start()
        try:
            while not stop_at.is_set():
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for r in records:
                        self.alerts += 1
                        a = orjson.loads(r.value)
                        sent = [self.sent_at[i] for i in a.get("evidence", []) if i in self.sent_at]
                        if sent:
                            self.latencies.append(r.timestamp / 1000 - max(sent))
        finally:
            await consumer.stop()


async def run_soak(soak: Soak, proc: subprocess.Popen[bytes], metrics_port: int, data: Path) -> None:
    stop_at = asyncio.Event()
    watcher = asyncio.create_task(soak.watch_alerts(stop_at))
    producer = asyncio.create_task(soak.produce())
    started = time.monotonic()
    minute = 0
    while not producer.done():
        await asyncio.sleep(1)
        if time.monotonic() - started >= 60 * (minute + 1):
            minute += 1
            lat, soak.latencies = soak.latencies, []
            p99 = statistics.quantiles(lat, n=100)[98] if len(lat) >= 2 else float("nan")
            m = scrape(metrics_port)
            print(json.dumps({
                "minute": minute, "rss_mib": round(rss_mib(proc.pid)),
                "state_disk_mib": round(du(data) / 2**20, 1), "open_cases": m.get("open_cases"),
                "lag_messages": m.get("lag"), "alerts_p99_s": round(p99, 3), "alerts_seen": soak.alerts,
                "sent": dict(soak.counts),
            }), flush=True)
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited {proc.returncode}")
    await producer
    # Drain: lag back to 0 and no new alert for 10 s (at most 10 minutes).
    deadline, quiet, seen = time.monotonic() + 600, 0, soak.alerts
    while time.monotonic() < deadline and quiet < 10:
        await asyncio.sleep(1)
        lag = scrape(metrics_port).get("lag", 1.0)
        quiet = quiet + 1 if lag == 0 and soak.alerts == seen else 0
        seen = soak.alerts
    print(json.dumps({"drained_in_s": round(time.monotonic() - deadline + 600, 1)}), flush=True)
    stop_at.set()
    await watcher


def compare_with_replay(soak: Soak, store: Any, config: Path, upstream_delay: float) -> dict[str, Any]:
    """What users read against replay, both as of the worker's horizon now (wall clock minus
    ``UPSTREAM_DELAY``, a little margin before it): a timed card past it is not due yet live."""
    from streams.engine import Alert, load_config
    from streams.replay import replay
    from tests.live.harness import alert_key, stored_alerts, stored_event_ids

    as_of = int((time.time() - upstream_delay - 2) * 1e6)
    out: list[Alert] = []
    replay(soak.sent, load_config(config), out.append, lambda r: None, as_of=as_of)
    expected = {alert_key(a) for a in out}
    rows = [r for r in stored_alerts(store) if r[6] <= as_of]  # raised_at_us
    got = set(rows)
    ids = stored_event_ids(store)
    sent_ids = {orjson.loads(r)["event_id"] for r in soak.sent}
    return {
        "alerts_replay": len(expected), "alerts_stored": len(rows), "alerts_equal": got == expected,
        "alerts_missing": len(expected - got), "alerts_unexpected": len(got - expected),
        "alerts_read_twice": len(rows) - len(got), "events_sent_valid": len(sent_ids),
        "events_stored": len(set(ids)), "events_equal": set(ids) == sent_ids,
        "missing_examples": sorted(expected - got)[:3], "unexpected_examples": sorted(got - expected)[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--late-per-1000", type=int, default=POISON["late"],
                        help="late events per 1,000 messages (0: none, to tell their effect apart)")
    parser.add_argument("--upstream-delay", type=float, default=5.0,
                        help="the worker's UPSTREAM_DELAY in seconds (its horizon: wall clock minus it)")
    args = parser.parse_args()
    POISON["late"] = args.late_per_1000
    from tests.live.harness import Store

    tmp = bench_tmp("soak-")
    server = os.environ.get("CLICKHOUSE_URL")
    store = Store(url=f"{server.rsplit('/', 1)[0]}/soak_{os.getpid()}") if server else Store(
        chdb_path=tmp / "chdb"
    )
    with bench_broker() as bootstrap:
        ns = Namespace(bootstrap, args.partitions)
        ns.create()
        config = bench_config(tmp)
        metrics_port = free_port()
        data = tmp / "faust"
        extra = {"SUPERVISION_CONFIG": str(config), "METRICS_PORT": str(metrics_port),
                 "UPSTREAM_DELAY": str(args.upstream_delay),
                 "METRICS_HOST": "127.0.0.1"}
        proc = start_worker(ns, store.env(), data, extra=extra, log=tmp / "worker.log")
        print(json.dumps({"soak": {"minutes": args.minutes, "rate": args.rate, "poison_per_1000": POISON,
                                   "dir": str(tmp)}}), flush=True)
        soak = Soak(ns, args.rate, args.minutes * 60)
        try:
            asyncio.run(run_soak(soak, proc, metrics_port, tables_dir(data, ns.group)))
        finally:
            stop(proc)
        result = compare_with_replay(soak, store, config, args.upstream_delay)
        result["worker_exit"] = proc.returncode
        print(json.dumps({"users_read_vs_replay": result}, indent=2, default=str), flush=True)


if __name__ == "__main__":
    main()
