"""Soak run (``make soak``, not in CI): one worker under a steady offered load with poison input.

Two clocks (``--clock``):

* ``sim`` (default): ``--years`` (3) of the seeded generator's cases, the years up to 2026
  (the generator's year; the earlier ones are other seeds' 2026 moved back whole weeks), sent in ``occurred_at`` order at ``--rate`` per second of
  wall time, so 30 minutes of wall time carry them all. The upstream publishes progress
  markers (events.md § Transport) after every 1,000 events; the worker follows them
  (``TOPIC_*_SOURCES``), so deadlines fall due, cross-case facts apply and leave their
  windows, and terminal cases leave the state (``terminal_retention_days``, 90 days) as in
  real years. What the rules keep longest is two windows of ``SPLIT_PURCHASE`` (a year each)
  and plan facts (``plan_retention_hours``, two years): from the third year on, the state
  holds as much as it ever will, but for the cases that never end (inspection plans that are
  never revoked), so that is where memory can be judged flat. Late events:
  a share of the valid events is held back until the upstream's other events are an hour to
  ten days (event time) past them, and sent with their original ``occurred_at``, after the
  markers that covered them.
* ``wall``: events as they happen (``occurred_at`` = send time), from 10,000-case chunks
  of the generator (ids made unique per chunk), late events 1-60 minutes in the past; the
  worker's horizon is the wall clock minus ``--upstream-delay``. Terminal cases stay for
  their 90-day retention, so the state grows by every case sent.

Mixed in, per 1,000 messages: 10 invalid JSON, 10 schema-invalid, 5 tombstones (null value),
1 oversized (300 KiB) and 20 late events. Every minute it prints the worker's RSS, its local
state on disk, open cases, consumer lag (the worker's own gauge), the p99 from an alert's
cause being sent (its newest evidence or, for a timed alert, the marker that passed its
instant) to the alert on the topic, and messages sent. At the end it lets the worker drain,
stops it, and compares what users read (alerts ``FINAL``, stored event ids) with ``replay``
of the valid events as of the worker's horizon. Figures are printed; nothing is asserted.

    python benchmarks/soak.py [--minutes 30] [--rate 2000] [--partitions 4] [--clock sim|wall]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import heapq
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
from datetime import date, datetime, timedelta
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
from streams.contract import PROGRESS_KEY, progress_marker, topic_for  # noqa: E402
from streams.engine.timeutil import parse_instant  # noqa: E402
from streams.live.table_store import tables_dir  # noqa: E402
from streams.workload import GenerateConfig, generate_events  # noqa: E402

CHUNK_CASES = 10_000
# Per 1,000 messages (the rest valid, on time).
POISON = {"not_json": 10, "schema": 10, "tombstone": 5, "oversized": 1, "late": 20}
SOURCE = "soak-upstream"
MARKER_EVERY = 1_000  # valid events between progress markers (sim clock)
EVENTS_PER_CASE = 3.56  # the generator's mean (measured), to size the years for the run
YEAR = (date(2026, 1, 5), date(2026, 11, 30))  # the generator's case starts
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# --clock sim: a late event is sent once the upstream's other events are this much (event
# time) past it: from an hour to ten days, within terminal_retention_days (a late event of a
# case evicted before it arrives starts a new case, by design: replay cannot agree with that)
LATE_BY_S = (3600.0, 10 * 86400.0)


def tagged(e: dict[str, Any], tag: str) -> dict[str, Any]:
    """``e`` with ids unique to its chunk (chunks come from different seeds)."""
    e = dict(e, event_id=tag + e["event_id"], case_id=tag + e["case_id"])
    attrs = e.get("attrs")
    if attrs and "plan_id" in attrs:
        e["attrs"] = dict(attrs, plan_id=tag + attrs["plan_id"])
    return e


def wall_events(seed: int) -> Iterator[dict[str, Any]]:
    """The generator's events, chunk after chunk (``occurred_at`` set at send time)."""
    chunk = 0
    while True:
        cfg = GenerateConfig(cases=CHUNK_CASES, seed=seed + chunk, order="feed", violation_rate=0.2)
        for e in generate_events(cfg):
            yield tagged(e, f"s{seed}-{chunk}-")
        chunk += 1


def shifted(e: dict[str, Any], days: int) -> dict[str, Any]:
    """``e`` moved ``days`` back: its instants and the dates in its attrs (plan windows, due
    dates). Whole weeks: the weekdays stay; the worker's calendar decides the working days."""
    if not days:
        return e
    back = timedelta(days=days)
    e = dict(e)
    for name in ("occurred_at", "reported_at"):
        if name in e:
            e[name] = (datetime.fromisoformat(e[name]) - back).isoformat()
    attrs = e.get("attrs")
    if attrs:
        e["attrs"] = {
            k: (date.fromisoformat(v) - back).isoformat() if isinstance(v, str) and DATE.fullmatch(v) else v
            for k, v in attrs.items()
        }
    return e


def write_year(path: Path, seed: int, total: int, years: int = 1) -> None:
    """About ``total`` events of ``years`` years of cases (ending with 2026) written to
    ``path``, one JSON per line, in ``occurred_at`` order (run in a child process: the
    generator's memory goes with it).

    The generator's cases start in 2026 (its calendar); each earlier year is another seed's
    2026 moved back 52 or 104 weeks (``shifted``). Generated month by month (cases starting
    in that month, one seed each), each month appended to a scratch file; the months' events
    interleave, so the lines are then written again in time order (a stable sort of their
    instants)."""
    import numpy as np

    months = [date(2026, m, 1) for m in range(1, 13)] + [date(2026, 12, 31)]
    spans_of_months = [
        (max(months[m], YEAR[0]), min(months[m + 1] - timedelta(days=1), YEAR[1])) for m in range(12)
    ]
    spans_of_months = [(a, b) for a, b in spans_of_months if a <= b]
    cases = max(len(spans_of_months) * years, int(total / EVENTS_PER_CASE))
    at: list[int] = []
    spans: list[tuple[int, int]] = []
    scratch = path.with_suffix(".unsorted")
    with scratch.open("wb") as out:
        for k in range(years):
            back = 364 * (years - 1 - k)  # whole weeks: the oldest year first
            for m, (start, until) in enumerate(spans_of_months):
                cfg = GenerateConfig(cases=cases // (years * len(spans_of_months)),
                                     seed=seed + 100 * k + m, start=start, until=until,
                                     order="sorted", violation_rate=0.2)
                for e in generate_events(cfg):
                    e = shifted(tagged(e, f"y{seed}-{k}-{m}-"), back)
                    line = orjson.dumps(e) + b"\n"
                    at.append(parse_instant(e["occurred_at"]))
                    spans.append((out.tell(), len(line)))
                    out.write(line)
    order = np.argsort(np.array(at, dtype=np.int64), kind="stable")
    with scratch.open("rb") as src, path.open("wb") as out:
        for i in order:
            offset, size = spans[i]
            src.seek(offset)
            out.write(src.read(size))
    scratch.unlink()


def generate_year(path: Path, seed: int, total: int, years: int = 1) -> None:
    """``write_year`` in a child process: the generator's memory is returned when it exits."""
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(target=write_year, args=(path, seed, total, years))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"generating the year failed (exit {child.exitcode})")


def year_events_from(path: Path) -> Iterator[tuple[int, bytes]]:
    """The year's events as (occurred_at µs, JSON), read from ``path`` as they are sent."""
    with path.open("rb") as lines:
        for line in lines:
            yield parse_instant(orjson.loads(line)["occurred_at"]), line.rstrip(b"\n")


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
    out = {"lag": lag}
    for name in ("open_cases", "state_cases", "state_fact_keys"):
        found = re.search(rf"^supervision_{name} (\S+)", text, re.M)
        out[name] = float(found.group(1)) if found else float("nan")
    return out


Message = tuple[str, bytes, bytes | None, str | None]  # topic, key, value, valid event id


class Soak:
    def __init__(self, ns: Namespace, rate: float, seconds: float, clock: str, tmp: Path,
                 seed: int = 5, years: int = 3) -> None:
        self.ns, self.rate, self.seconds, self.clock = ns, rate, seconds, clock
        self.rnd = random.Random(seed)
        self.sent: list[bytes] = []  # --clock wall: valid events, in send order (replay's input)
        self.year_path: Path | None = None  # --clock sim: the year's events (replay's input)
        self.year_taken = 0  # --clock sim: the year's lines sent or held (all are sent)
        self.sent_at: dict[str, tuple[float, int]] = {}  # event id: (wall sent, occurred_at µs)
        self.marks: list[tuple[int, float]] = []  # (watermark µs, wall sent), ascending
        self.watermark: int | None = None  # the last watermark published (sim clock)
        self.held: list[tuple[float, int, bytes]] = []  # late events: (release µs, seq, JSON)
        self.latencies: list[float] = []  # this minute's, seconds
        self.by_rule: dict[str, list[float]] = {}  # the whole run's, per rule
        self.counts = {k: 0 for k in POISON} | {"valid": 0, "markers": 0}
        self.alerts = 0
        self.drained_at = 0.0  # wall time the worker had drained
        if clock == "sim":
            total = int(rate * seconds * (1000 - sum(POISON.values()) + POISON["late"]) / 1000) + 1000
            print(json.dumps({"generating": total}), flush=True)
            self.year_path = tmp / "year.jsonl"
            generate_year(self.year_path, seed, total, years)
            self.year = year_events_from(self.year_path)
            self.last_at = 0
            self.year_done = False
        else:
            self.events = wall_events(seed)

    # ------------------------------------------------------------------ messages

    def next_message(self, n: int) -> Message | None:
        """The n-th message (None: the sim clock's year is used up, or held back)."""
        draw = self.rnd.randrange(1000)
        for kind, share in POISON.items():
            if draw < share:
                self.counts[kind] += 1
                if kind == "late":
                    return self.late()
                suffix, key, value = poison(kind, self.rnd, n)
                return self.ns.topic(suffix), key, value, None
            draw -= share
        self.counts["valid"] += 1
        return self.on_time()

    def on_time(self) -> Message | None:
        if self.clock == "wall":
            return self.message(self.stamped(next(self.events), timedelta(0)))
        pair = next(self.year, None)
        if pair is None:
            self.year_done = True
            return None
        self.last_at = pair[0]
        self.year_taken += 1
        return self.message(pair[1])

    def late(self) -> Message | None:
        if self.clock == "wall":
            return self.message(self.stamped(next(self.events), timedelta(minutes=self.rnd.uniform(1, 60))))
        pair = next(self.year, None)  # held back, then sent as it was, past the markers
        self.year_done = pair is None
        if pair is not None:
            self.year_taken += 1
            release = pair[0] + int(self.rnd.uniform(*LATE_BY_S) * 1e6)
            heapq.heappush(self.held, (release, len(self.held), pair[1]))
        return None

    def released(self, upto: float) -> list[Message]:
        """The held-back events due once the upstream's events have reached ``upto`` (µs)."""
        out = []
        while self.held and self.held[0][0] <= upto:
            out.append(self.message(heapq.heappop(self.held)[2]))
        return out

    @staticmethod
    def stamped(e: dict[str, Any], late: timedelta) -> bytes:
        e["occurred_at"] = (datetime.now(CST) - late).isoformat(timespec="microseconds")
        return orjson.dumps(e)

    def message(self, raw: bytes) -> Message:
        e = orjson.loads(raw)
        if self.clock == "wall":
            self.sent.append(raw)
        self.sent_at[e["event_id"]] = (time.time(), parse_instant(e["occurred_at"]))
        return topic_for(e["process"], self.ns.prefix), e["case_id"].encode(), raw, e["event_id"]

    # ------------------------------------------------------------------ markers

    async def mark(self, producer: Any, watermark: int) -> None:
        """A progress marker on every partition of every event topic: everything of the
        upstream before ``watermark`` is published (but the events it holds back)."""
        if self.watermark is not None and watermark <= self.watermark:
            return
        await producer.flush()
        text = datetime.fromtimestamp(watermark / 1e6, CST).isoformat(timespec="microseconds")
        value = progress_marker(SOURCE, text)
        for domain in ("approval", "fund", "trade", "inspection"):
            for p in range(self.ns.partitions):
                await producer.send(self.ns.topic(domain), value, key=PROGRESS_KEY, partition=p)
        self.watermark = watermark
        self.marks.append((watermark, time.time()))
        self.counts["markers"] += 1

    async def produce(self) -> None:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=self.ns.bootstrap, linger_ms=5, acks="all",
                                    max_request_size=2 * 1024 * 1024)
        await producer.start()
        try:
            start, n, valid_at_mark = time.perf_counter(), 0, 0
            while time.perf_counter() - start < self.seconds:
                due = int((time.perf_counter() - start) * self.rate)
                while n < due:
                    msg = self.next_message(n)
                    n += 1
                    for topic, key, value, _ in ([msg] if msg else []) + self.released(self.last_at):
                        await producer.send(topic, value, key=key)
                    if self.clock == "sim" and self.counts["valid"] - valid_at_mark >= MARKER_EVERY:
                        valid_at_mark = self.counts["valid"]
                        await self.mark(producer, self.last_at)
                if self.clock == "sim" and self.year_done:
                    break  # the year is sent (what is held back follows at once)
                await asyncio.sleep(0.01)
            for topic, key, value, _ in self.released(float("inf")):
                await producer.send(topic, value, key=key)
            if self.clock == "sim":
                await self.mark(producer, self.last_at + 1_000_000)  # past everything sent
            await producer.flush()
        finally:
            await producer.stop()

    # ------------------------------------------------------------------ alerts

    def caused_at(self, alert: dict[str, Any]) -> float | None:
        """Wall time the alert's cause was sent: its newest evidence, or for an alert raised
        after that (a timed one), the first marker at or past its instant."""
        sent = [self.sent_at[i] for i in alert.get("evidence", []) if i in self.sent_at]
        if not sent:
            return None
        wall, occurred = max(s[0] for s in sent), max(s[1] for s in sent)
        raised = parse_instant(alert["raised_at"])
        if raised > occurred and self.marks:
            i = bisect.bisect_left(self.marks, (raised, 0.0))
            wall = max(wall, self.marks[min(i, len(self.marks) - 1)][1])
        return wall

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
                        cause = self.caused_at(a) if "raised_at" in a else None
                        if cause is not None:
                            lat = r.timestamp / 1000 - cause
                            self.latencies.append(lat)
                            self.by_rule.setdefault(a.get("rule", "?"), []).append(lat)
        finally:
            await consumer.stop()

    def replay_input(self) -> Iterator[bytes]:
        """The valid events sent: the year's lines taken (every one held back was sent at the
        end), or the wall clock's events as sent."""
        if self.year_path is None:
            yield from self.sent
            return
        with self.year_path.open("rb") as lines:
            for _, line in zip(range(self.year_taken), lines, strict=False):
                yield line.rstrip(b"\n")

    def as_of(self, upstream_delay: float) -> int:
        """The worker's horizon when it had drained: the last marker, but never past the wall
        clock (the generated year runs to its end of December: a timed card after now is not
        due yet), or the wall clock minus the delay (a little margin before it)."""
        if self.clock == "sim":
            return min(self.marks[-1][0], int((self.drained_at - 2) * 1e6))
        return int((self.drained_at - upstream_delay - 2) * 1e6)


def server_rss() -> dict[str, int]:
    """The ClickHouse server's RSS, when the worker stores on one started in ``CLICKHOUSE_DIR``
    (``scripts/clickhouse-server.sh``): its memory, apart from the worker's."""
    pidfile = Path(os.environ.get("CLICKHOUSE_DIR", ROOT / "var" / "clickhouse")) / "server.pid"
    if not os.environ.get("CLICKHOUSE_URL") or not pidfile.exists():
        return {}
    try:
        return {"server_rss_mib": round(rss_mib(int(pidfile.read_text().strip())))}
    except (OSError, ValueError):
        return {}


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else float("nan")


def latency_by_rule(by_rule: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Cause → alert over the run, per rule: what makes the p99."""
    return {rule: {"alerts": len(v), "p50_s": round(quantile(v, 50), 2), "p99_s": round(quantile(v, 99), 2),
                   "max_s": round(max(v), 2)}
            for rule, v in sorted(by_rule.items(), key=lambda kv: -quantile(kv[1], 99))}


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
            p99 = quantile(lat, 99)
            m = scrape(metrics_port)
            print(json.dumps({
                "minute": minute, "rss_mib": round(rss_mib(proc.pid)), **server_rss(),
                "state_disk_mib": round(du(data) / 2**20, 1), "open_cases": m.get("open_cases"),
                "state_cases": m.get("state_cases"), "state_fact_keys": m.get("state_fact_keys"),
                "lag_messages": m.get("lag"), "alerts_p99_s": round(p99, 3), "alerts_seen": soak.alerts,
                "event_time": (datetime.fromtimestamp(soak.watermark / 1e6, CST).date().isoformat()
                               if soak.watermark else None),
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
    soak.drained_at = time.time()
    print(json.dumps({"drained_in_s": round(time.monotonic() - deadline + 600, 1),
                      "rss_mib": round(rss_mib(proc.pid))}), flush=True)
    stop_at.set()
    await watcher
    print(json.dumps({"cause_to_alert_by_rule": latency_by_rule(soak.by_rule)}, indent=1), flush=True)


def compare_with_replay(soak: Soak, store: Any, config: Path, as_of: int) -> dict[str, Any]:
    """What users read against replay, both as of the worker's horizon at the end: a timed
    card past it is not due yet live."""
    from streams.engine import Alert, load_config
    from streams.replay import replay
    from tests.live.harness import alert_key, stored_alerts, stored_event_ids

    out: list[Alert] = []
    replay(soak.replay_input(), load_config(config), out.append, lambda r: None, as_of=as_of)
    expected = {alert_key(a) for a in out}
    rows = [r for r in stored_alerts(store) if r[6] <= as_of]  # raised_at_us
    got = set(rows)
    ids = stored_event_ids(store)
    sent_ids = set(soak.sent_at)  # every valid event sent
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
    parser.add_argument("--clock", choices=("sim", "wall"), default="sim",
                        help="sim: years of event time in the run, with progress markers; "
                        "wall: occurred_at = send time (see the module's docstring)")
    parser.add_argument("--years", type=int, default=3,
                        help="--clock sim: years of cases, ending with 2026 (the windows the rules "
                        "keep reach two years back: the third is the state's stationary one)")
    parser.add_argument("--late-per-1000", type=int, default=POISON["late"],
                        help="late events per 1,000 messages (0: none, to tell their effect apart)")
    parser.add_argument("--upstream-delay", type=float, default=5.0,
                        help="--clock wall: the worker's UPSTREAM_DELAY in seconds (its horizon: "
                        "wall clock minus it)")
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
                 "UPSTREAM_DELAY": str(args.upstream_delay), "METRICS_HOST": "127.0.0.1"}
        if args.clock == "sim":
            extra |= {f"TOPIC_{t}_SOURCES": SOURCE for t in ("APPROVAL", "FUND", "TRADE", "INSPECTION")}
        soak = Soak(ns, args.rate, args.minutes * 60, args.clock, tmp, years=args.years)
        proc = start_worker(ns, store.env(), data, extra=extra, log=tmp / "worker.log")
        print(json.dumps({"soak": {"minutes": args.minutes, "rate": args.rate, "clock": args.clock,
                                   "poison_per_1000": POISON, "dir": str(tmp)}}), flush=True)
        try:
            asyncio.run(run_soak(soak, proc, metrics_port, tables_dir(data, ns.group)))
        finally:
            stop(proc)
        result = compare_with_replay(soak, store, config, soak.as_of(args.upstream_delay))
        result["worker_exit"] = proc.returncode
        print(json.dumps({"users_read_vs_replay": result}, indent=2, default=str), flush=True)


if __name__ == "__main__":
    main()
