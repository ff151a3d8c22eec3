"""End-to-end benchmark of the live service against a real broker (``make bench``).

Measures, in one run, against Tansu on a loopback port (or ``KAFKA_BOOTSTRAP``):

1. baselines on the same backlog: an aiokafka consumer that consumes and
   JSON-decodes it (no group, no processing), and one and two bare Faust
   workers (``bare_faust.py``: the worker's Faust settings, agents that only
   iterate their streams) — events/s;
2. throughput: ``supervise worker`` processes the backlog with every rule, engine
   state in Faust tables and both ClickHouse writes (events, alerts) on; events/s
   from the first committed offset to the last (offsets are committed only after
   the rows are stored, so this is stored throughput); with 1 and with 2 workers
   in one group (2 workers need ``CLICKHOUSE_URL``: chdb is one process only;
   without it each worker gets its own chdb directory); the CPU the workers used
   (cores busy, events per worker CPU-second) and how busy the machine was. The
   backlog's cases start in the generator's last month, as a live worker's do;
   once more with one worker and cases over the whole year (a part per month and
   table per insert); once more with only the core rules; once more with one shadow
   configuration beside the active one (``SHADOW_CONFIGS``, issue #17): events/s and the
   CPU per event against none (goal: at most 1.6 times);
3. latency: events produced at a fixed rate with ``occurred_at`` = send time;
   produce -> alert published on the alerts topic (published after it is stored
   in ClickHouse), p50/p99, for alerts raised by events (timed alerts fire at
   their instants, not at a produce).

Timings on a shared machine are noisy: the figures are printed, never asserted.

    python benchmarks/bench_live.py [--cases 40000] [--start 2026-11-02] [--rate 5000] [--seconds 20]
                                    [--partitions 4] [--skip one,year,core,shadow,two,latency]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.contract import topic_for  # noqa: E402
from streams.live.topics import Topics, ensure_topics  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.workload import GenerateConfig, generate_events  # noqa: E402

CST = timezone(timedelta(hours=8))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Namespace:
    def __init__(self, bootstrap: str, partitions: int) -> None:
        tag = uuid.uuid4().hex[:6]
        self.bootstrap = bootstrap
        self.prefix = f"bench.{tag}"
        self.group = f"bench-{tag}"
        self.partitions = partitions

    def env(self) -> dict[str, str]:
        p = self.prefix
        return {
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "TOPIC_APPROVAL": f"{p}.approval", "TOPIC_FUND": f"{p}.fund", "TOPIC_TRADE": f"{p}.trade",
            "TOPIC_INSPECTION": f"{p}.inspection", "TOPIC_ALERTS": f"{p}.alerts",
            "TOPIC_DEADLETTER": f"{p}.deadletter", "TOPIC_FACTS": f"{p}.facts",
            "TOPIC_ACTIONS": f"{p}.actions", "TOPIC_ACTION_RESULTS": f"{p}.action-results",
            "TOPIC_PARTITIONS": str(self.partitions), "WORKER_GROUP_ID": self.group,
        }

    def topic(self, domain: str) -> str:
        return f"{self.prefix}.{domain}"

    def with_group(self, suffix: str) -> Namespace:
        """The same topics read by another consumer group."""
        other = Namespace(self.bootstrap, self.partitions)
        other.prefix, other.group = self.prefix, f"{self.group}-{suffix}"
        return other

    def create(self) -> None:
        settings = Settings(**{k.lower(): v for k, v in self.env().items()})  # type: ignore[arg-type]
        ensure_topics(self.bootstrap, Topics.from_settings(settings))


# A live worker reads the events of now: the backlog's cases start in the generator's last month
# (their events fall in two months). The "year" measurement spans the generator's whole year:
# each insert then writes a part per month of every partitioned table.
RECENT = date(2026, 11, 2)


def events(n_cases: int, seed: int = 3, start: date = RECENT) -> list[dict[str, Any]]:
    cfg = GenerateConfig(cases=n_cases, seed=seed, order="sorted", violation_rate=0.2, start=start)
    return list(generate_events(cfg))


async def produce_backlog(ns: Namespace, evs: list[dict[str, Any]]) -> float:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=ns.bootstrap, linger_ms=20, max_batch_size=512 * 1024, acks="all")
    await producer.start()
    t = time.perf_counter()
    try:
        futures = []
        for e in evs:
            futures.append(await producer.send(topic_for(e["process"], ns.prefix), orjson.dumps(e), key=e["case_id"].encode()))
            if len(futures) >= 20000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - t


async def raw_consume(ns: Namespace, total: int) -> float:
    """aiokafka consume + orjson decode of every event of the backlog; events/s."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=ns.bootstrap, enable_auto_commit=False, group_id=None,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        tps = [TopicPartition(ns.topic(d), p) for d in ("approval", "fund", "trade", "inspection")
               for p in range(ns.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        n = 0
        t = time.perf_counter()
        while n < total:
            batch = await consumer.getmany(timeout_ms=500, max_records=10000)
            for records in batch.values():
                for r in records:
                    orjson.loads(r.value)
                    n += 1
        return n / (time.perf_counter() - t)
    finally:
        await consumer.stop()


def committed(ns: Namespace) -> int:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=ns.bootstrap)
    try:
        offsets = admin.list_group_offsets(ns.group).get(ns.group, {})
    finally:
        admin.close()
    domain = {ns.topic(d) for d in ("approval", "fund", "trade", "inspection")}
    return sum(o.offset for tp, o in offsets.items() if tp.topic in domain and o.offset > 0)


@contextmanager
def bench_broker() -> Iterator[str]:
    """Bootstrap of the benchmark's broker: ``KAFKA_BOOTSTRAP_BENCH``, or Tansu started on a
    free loopback port for the run (and stopped after it)."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_BENCH")
    if bootstrap:
        yield bootstrap
        return
    port = free_port()
    tansu = ["bash", str(ROOT / "scripts" / "tansu.sh")]
    started = subprocess.run([*tansu, "start", str(port)], check=True, capture_output=True, text=True)
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([*tansu, "stop", str(port)], check=False)


def bench_tmp(prefix: str) -> Path:
    """A new directory under .bench/ for one run's files."""
    bench_dir = ROOT / ".bench"
    bench_dir.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=bench_dir))


BARE_FAUST = [sys.executable, str(ROOT / "benchmarks" / "bare_faust.py")]


def start_worker(ns: Namespace, store_env: dict[str, str], data: Path, extra: dict[str, str] | None = None,
                 log: Path | None = None, profile: Path | None = None,
                 command: list[str] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **ns.env(), **store_env, "WORKER_DATA_DIR": str(data), "METRICS_PORT": "0",
           "WORKER_SESSION_TIMEOUT_S": "6", "WORKER_REBALANCE_TIMEOUT_S": "10", **(extra or {})}
    if profile is not None:
        env["SUPERVISE_PROFILE"] = str(profile)
    cmd = command or [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "warning"]
    out = open(log or os.devnull, "wb")  # noqa: SIM115
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def machine_cpu() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs of the machine so far."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)  # idle and iowait are not busy


def throughput(ns: Namespace, total: int, store_envs: list[dict[str, str]], tmp: Path,
               profile: Path | None = None, extra: dict[str, str] | None = None,
               command: list[str] | None = None, label: str = "worker") -> dict[str, Any]:
    """Stored events/s of the workers over the backlog, and what CPU they and the machine used.

    Events per worker CPU-second tells whether workers cost more per event when there are
    several (coordination); the machine's busy share tells whether cores ran out."""
    procs = []
    for i, env in enumerate(store_envs):
        if i and "CLICKHOUSE_URL" in env:
            time.sleep(3)  # the first one applies the migrations to the shared server
        name = f"{label}-{len(store_envs)}w-{i}"
        procs.append(start_worker(ns, env, tmp / f"faust-{name}", log=tmp / f"{name}.log",
                                  profile=profile if i == 0 else None, extra=extra, command=command))
    try:
        first_t = first_n = None
        first_cpu: list[float] = []
        first_machine = (0, 0)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            n = committed(ns)
            now = time.perf_counter()
            if first_t is None and n > 0:
                first_t, first_n = now, n
                first_cpu = [cpu_seconds(p.pid) for p in procs]
                first_machine = machine_cpu()
            if n >= total:
                assert first_t is not None and first_n is not None
                span = now - first_t
                cpu = [cpu_seconds(p.pid) - c for p, c in zip(procs, first_cpu, strict=True)]
                busy, ticks = (a - b for a, b in zip(machine_cpu(), first_machine, strict=True))
                return {
                    "events_per_s": (n - first_n) / span if span > 0 else float("nan"),
                    "seconds": span,
                    "worker_cores_busy": [round(c / span, 2) for c in cpu],
                    "events_per_worker_cpu_s": (n - first_n) / sum(cpu) if sum(cpu) > 0 else float("nan"),
                    "machine_cpu_busy": busy / ticks if ticks else float("nan"),
                }
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"worker exited; see {tmp}")
            time.sleep(0.25)
        raise RuntimeError("throughput run timed out")
    finally:
        for p in procs:
            stop(p)


def core_rules_config(tmp: Path) -> Path:
    """The default configuration with the rule packs (rules.md §3.2–3.5) switched off."""
    from streams.engine.config import CORE_RULES, DEFAULT_CONFIG, RULES

    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    for rule in RULES:
        if rule not in CORE_RULES:
            on = f"[rules.{rule}]\nenabled = true"
            assert on in text, rule
            text = text.replace(on, f"[rules.{rule}]\nenabled = false")
    path = tmp / "supervision-core-rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def shadow_config(tmp: Path) -> Path:
    """A candidate beside the default configuration: red cards after 5 working days, not 3."""
    text = (ROOT / "streams" / "engine" / "defaults" / "supervision.toml").read_text("utf-8")
    path = tmp / "shadow.toml"
    path.write_text(text.replace("red_after_working_days = 3", "red_after_working_days = 5", 1), "utf-8")
    return path


def bench_config(tmp: Path) -> Path:
    """The default configuration plus a SYNTHETIC 2027 calendar (benchmark only).

    Events stamped now (late 2026) have deadlines in 2027, whose official schedule the
    built-in calendar lacks; the engine rightly refuses to guess. For load tests only, 2027
    is given its weekends plus New Year's Day as rest days.
    """
    from streams.engine.config import DEFAULT_CONFIG

    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace("files = []", 'files = ["calendar-2027-bench.toml"]', 1)
    (tmp / "calendar-2027-bench.toml").write_text(
        '# SYNTHETIC, benchmark only\n[years.2027]\nholidays = ["2027-01-01"]\nworkdays = []\n', encoding="utf-8"
    )
    path = tmp / "supervision-bench.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def latency(ns: Namespace, store_env: dict[str, str], tmp: Path, rate: float, seconds: float) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    evs = events(int(rate * seconds / 3) + 100, seed=11)
    proc = start_worker(ns, store_env, tmp / "faust-lat", log=tmp / "worker-lat.log",
                        # Real-time events, no progress markers: cross-case alerts wait for the
                        # wall clock minus UPSTREAM_DELAY (rules.md §1.4); 2 s as before it existed.
                        extra={"SUPERVISION_CONFIG": str(bench_config(tmp)), "UPSTREAM_DELAY": "2"})
    producer = AIOKafkaProducer(bootstrap_servers=ns.bootstrap, linger_ms=2, acks=1)
    consumer = AIOKafkaConsumer(ns.topic("alerts"), bootstrap_servers=ns.bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await producer.start()
    await consumer.start()
    sent_at: dict[str, float] = {}
    try:
        # Warm-up probe: wait until the worker has joined and stores alerts.
        probe = {"event_id": "probe", "case_id": "PROBE", "process": "approval", "action": "reject",
                 "occurred_at": datetime.now(CST).isoformat(timespec="microseconds"), "dept": "D01",
                 "attrs": {"reason": ""}}
        await producer.send_and_wait(ns.topic("approval"), orjson.dumps(probe), key=b"PROBE")
        while True:
            msg = await asyncio.wait_for(consumer.getone(), 180)
            if b"PROBE" in msg.value:
                break
        target = int(rate * seconds)
        start = time.perf_counter()
        n = 0
        tick = 0.01
        while n < target and n < len(evs):
            due = int((time.perf_counter() - start) * rate)
            while n < due and n < len(evs) and n < target:
                e = dict(evs[n], occurred_at=datetime.now(CST).isoformat(timespec="microseconds"))
                sent_at[e["event_id"]] = time.time()
                await producer.send(topic_for(e["process"], ns.prefix), orjson.dumps(e), key=e["case_id"].encode())
                n += 1
            await asyncio.sleep(tick)
        await producer.flush()
        offered = n / (time.perf_counter() - start)
        lat: list[float] = []
        lat_cross: list[float] = []
        cross = {"UNAUTHORIZED_INSPECTION", "DUPLICATE_DISBURSEMENT", "SPLIT_PURCHASE", "FREQUENT_INSPECTION"}
        end = time.monotonic() + 20
        while time.monotonic() < end:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for r in records:
                    a = json.loads(r.value)
                    produced = [sent_at[i] for i in a["evidence"] if i in sent_at]
                    if not produced:
                        continue
                    d = r.timestamp / 1000 - max(produced)
                    (lat_cross if a["rule"] in cross else lat).append(d)

        def pct(xs: list[float], q: float) -> float:
            return statistics.quantiles(xs, n=100)[q - 1] if len(xs) >= 2 else float("nan")

        return {"offered_events_per_s": offered, "events": n, "alerts": len(lat), "p50_s": pct(lat, 50),
                "p99_s": pct(lat, 99), "cross_alerts": len(lat_cross), "cross_p50_s": pct(lat_cross, 50),
                "cross_p99_s": pct(lat_cross, 99)}
    finally:
        await consumer.stop()
        await producer.stop()
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=40000,
                        help="cases in the backlog (about 3.6 events each; enough for a steady state of ~15 s)")
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--profile", action="store_true", help="cProfile the single worker (stats in .bench/)")
    parser.add_argument("--skip", default="", help="comma list of: one,year,core,shadow,two,latency")
    parser.add_argument("--start", type=date.fromisoformat, default=RECENT,
                        help="first day of the backlog's cases (default: the last month of the generator)")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    bench_dir = ROOT / ".bench"
    bench_dir.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-", dir=bench_dir))
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_BENCH")
    tansu_port = None
    if not bootstrap:
        tansu_port = free_port()
        bootstrap = subprocess.run(["bash", str(ROOT / "scripts" / "tansu.sh"), "start", str(tansu_port)],
                                   check=True, capture_output=True, text=True).stdout.strip()
    server = os.environ.get("CLICKHOUSE_URL")
    results: dict[str, Any] = {"broker": "tansu" if tansu_port else bootstrap,
                               "storage": "clickhouse-server" if server else "chdb"}

    def store_env(name: str) -> dict[str, str]:
        if server:
            base = server.rsplit("/", 1)[0]
            return {"CLICKHOUSE_URL": f"{base}/bench_{uuid.uuid4().hex[:6]}"}
        return {"CHDB_PATH": str(tmp / f"chdb-{name}")}

    try:
        evs = events(args.cases, start=args.start)
        total = len(evs)
        results["backlog_events"] = total
        if "one" not in skip:
            ns = Namespace(bootstrap, args.partitions)
            ns.create()
            results["produce_s"] = round(asyncio.run(produce_backlog(ns, evs)), 2)
            results["raw_aiokafka_consume_decode_events_per_s"] = round(asyncio.run(raw_consume(ns, total)))
            bare = throughput(ns.with_group("bare"), total, [{}], tmp, command=BARE_FAUST, label="bare")
            results["bare_faust_one_events_per_s"] = round(bare["events_per_s"])
            one = throughput(ns, total, [store_env("one")], tmp,
                             profile=(tmp / "worker.prof") if args.profile else None)
            results["one_worker_events_per_s"] = round(one["events_per_s"])
            results["one_worker_cores_busy"] = one["worker_cores_busy"]
            results["one_worker_events_per_cpu_s"] = round(one["events_per_worker_cpu_s"])
            results["one_worker_machine_cpu_busy"] = round(one["machine_cpu_busy"], 2)
            results["ratio_worker_vs_raw"] = round(
                one["events_per_s"] / results["raw_aiokafka_consume_decode_events_per_s"], 4
            )
            results["ratio_worker_vs_bare_faust"] = round(one["events_per_s"] / bare["events_per_s"], 2)
            print(json.dumps(results), flush=True)
        if "year" not in skip:  # cases over the whole year instead of the last month
            nsy = Namespace(bootstrap, args.partitions)
            nsy.create()
            year = events(args.cases, start=GenerateConfig().start)
            asyncio.run(produce_backlog(nsy, year))
            spread = throughput(nsy, len(year), [store_env("year")], tmp)
            results["one_worker_backlog_over_a_year_events_per_s"] = round(spread["events_per_s"])
            print(json.dumps(results), flush=True)
        if "core" not in skip:  # the same backlog with only the core rules (rules.md §3.1)
            nsc = Namespace(bootstrap, args.partitions)
            nsc.create()
            asyncio.run(produce_backlog(nsc, evs))
            core = throughput(nsc, total, [store_env("core")], tmp,
                              extra={"SUPERVISION_CONFIG": str(core_rules_config(tmp))})
            results["one_worker_core_rules_events_per_s"] = round(core["events_per_s"])
            print(json.dumps(results), flush=True)
        if "shadow" not in skip:  # the same backlog with one shadow configuration (issue #17)
            nss = Namespace(bootstrap, args.partitions)
            nss.create()
            asyncio.run(produce_backlog(nss, evs))
            shadowed = throughput(nss, total, [store_env("shadow")], tmp,
                                  extra={"SHADOW_CONFIGS": str(shadow_config(tmp))}, label="shadow")
            results["one_worker_one_shadow_events_per_s"] = round(shadowed["events_per_s"])
            results["one_worker_one_shadow_events_per_cpu_s"] = round(shadowed["events_per_worker_cpu_s"])
            if "one_worker_events_per_cpu_s" in results:  # goal: at most 1.6
                results["ratio_cpu_per_event_one_shadow_vs_none"] = round(
                    results["one_worker_events_per_cpu_s"] / shadowed["events_per_worker_cpu_s"], 2
                )
                results["ratio_events_per_s_one_shadow_vs_none"] = round(
                    shadowed["events_per_s"] / results["one_worker_events_per_s"], 2
                )
            print(json.dumps(results), flush=True)
        if "two" not in skip:
            ns2 = Namespace(bootstrap, args.partitions)
            ns2.create()
            asyncio.run(produce_backlog(ns2, evs))
            bare2 = throughput(ns2.with_group("bare"), total, [{}, {}], tmp, command=BARE_FAUST, label="bare")
            results["bare_faust_two_events_per_s"] = round(bare2["events_per_s"])
            shared = store_env("two")
            two = throughput(ns2, total, [shared, shared if server else store_env("two-b")], tmp)
            results["two_workers_events_per_s"] = round(two["events_per_s"])
            results["two_workers_cores_busy"] = two["worker_cores_busy"]
            results["two_workers_events_per_cpu_s"] = round(two["events_per_worker_cpu_s"])
            results["two_workers_machine_cpu_busy"] = round(two["machine_cpu_busy"], 2)
            if "one_worker_events_per_s" in results:
                results["scaling_two_vs_one_workers"] = round(
                    two["events_per_s"] / results["one_worker_events_per_s"], 2
                )
                results["scaling_two_vs_one_bare_faust"] = round(
                    bare2["events_per_s"] / results["bare_faust_one_events_per_s"], 2
                )
            print(json.dumps(results), flush=True)
        if "latency" not in skip:
            ns3 = Namespace(bootstrap, args.partitions)
            ns3.create()
            results["latency"] = asyncio.run(latency(ns3, store_env("lat"), tmp, args.rate, args.seconds))
        if args.profile:
            import pstats

            prof = tmp / "worker.prof"
            if prof.exists():
                with (tmp / "profile.txt").open("w") as fh:
                    pstats.Stats(str(prof), stream=fh).sort_stats("cumulative").print_stats(40)
                    pstats.Stats(str(prof), stream=fh).sort_stats("tottime").print_stats(40)
                results["profile"] = str(tmp / "profile.txt")
    finally:
        if tansu_port:
            subprocess.run(["bash", str(ROOT / "scripts" / "tansu.sh"), "stop", str(tansu_port)], check=False)
    print(json.dumps(results, indent=2, ensure_ascii=False))
    (tmp / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
