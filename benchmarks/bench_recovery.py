"""Recovery of one worker holding many open cases, from its local store and from the changelog.

The case-state changelog of ``--cases`` open approval cases (accepted and reviewed a few
days ago, deadlines ahead: nothing falls due while measuring) is built offline with the
worker's own code (``CasePartition`` over the engine, ``pack_case``, the table keys) and
produced to the changelog topic, as a worker that processed those events would have
written it. Then one ``supervise worker`` starts, three times, and the time from its start
until every source partition's states are loaded into the engine is measured:

1. ``memory`` store (the baseline: the whole changelog read into memory, as before);
2. ``rocksdb`` store, empty data directory (the whole changelog read into RocksDB);
3. ``rocksdb`` store, the directory of run 2 after a clean stop, with ``--tail`` more
   changelog records written since (another owner's or a crash's tail): local store +
   tail.

Printed: seconds per run, changelog records each run read, ratios to the baseline, state
bytes per open case (changelog value and key, RocksDB on disk, worker memory), RSS.
Timings on a shared machine are noisy: printed, never asserted. The goal (issue #13) is
a restart under 60 s with 1,000,000 open cases.

    python benchmarks/bench_recovery.py [--cases 1000000] [--tail 10000] [--partitions 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
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
    start_worker,
    stop,
)
from streams.live.table_store import tables_dir  # noqa: E402

RESTORED = re.compile(r"^\[([\d-]+ [\d:,]+)\].*source (\S+)\[(\d+)\]: (\d+) case states restored")
READ = re.compile(r"table case-state recovered: (\d+) changelog records read")


def build_states(ns: Namespace, cases: int, config: Path) -> tuple[list[list[tuple[bytes, bytes]]], int]:
    """Table records of ``cases`` open approval cases, per changelog partition, as the worker
    writes them; and the number of events they hold."""
    from streams.engine import CaseEngine, EventValidator, load_config
    from streams.live.processor import CasePartition, Output
    from streams.live.publish import partition_for
    from streams.live.state import case_table_key, next_offset_key

    cfg = load_config(config)
    validator = EventValidator()
    topic = ns.topic("approval")
    parts = [CasePartition(topic, p, CaseEngine(cfg)) for p in range(ns.partitions)]
    start = datetime.now(CST) - timedelta(days=3)
    events = 0
    offsets = [0] * ns.partitions
    for i in range(cases):
        case_id = f"AP-{i:08d}"
        p = partition_for(case_id.encode(), ns.partitions)
        t = start + timedelta(seconds=i % 86400)
        for action, attrs, dt in (
            ("accept", {"time_limit_days": 20}, timedelta(0)),
            ("review", {}, timedelta(hours=2)),
        ):
            raw = orjson.dumps({
                "event_id": f"{case_id}-{action}", "case_id": case_id, "process": "approval",
                "action": action, "occurred_at": (t + dt).isoformat(timespec="seconds"),
                "dept": f"D{i % 40:02d}", "attrs": attrs,
            })
            parts[p].process(validator.parse(raw), offsets[p], Output())
            offsets[p] += 1
            events += 1
    records: list[list[tuple[bytes, bytes]]] = []
    for p, part in enumerate(parts):
        out = Output()
        part.collect(out, case_table_key)
        rows = [(key, value) for _, key, value, _ in out.case_states if value is not None]
        rows.append((next_offset_key(p, topic), b"0"))  # no source events: read from the start
        records.append(rows)
    return records, events


async def produce_changelog(bootstrap: str, topic: str, records: list[list[tuple[bytes, bytes]]]) -> float:
    from aiokafka import AIOKafkaProducer

    from streams.live.publish import BatchPublisher

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_batch_size=1024 * 1024,
                                linger_ms=5)
    await producer.start()
    t = time.perf_counter()
    try:
        publisher = BatchPublisher(producer)
        for p, rows in enumerate(records):
            # The last record in a batch of its own: Tansu reports a partition's end as its last
            # batch's first offset + 1, and Faust's recovery reads up to the reported end.
            for i in range(0, len(rows) - 1, 50_000):
                chunk = rows[i : min(i + 50_000, len(rows) - 1)]
                await asyncio.gather(*await publisher.send(topic, [(p, k, v, ()) for k, v in chunk]))
            key, value = rows[-1]
            await asyncio.gather(*await publisher.send(topic, [(p, key, value, ())]))
    finally:
        await producer.stop()
    return time.perf_counter() - t


def create_changelog(ns: Namespace) -> str:
    from kafka.admin import KafkaAdminClient, NewTopic

    name = f"{ns.group}-case-state-changelog"
    admin = KafkaAdminClient(bootstrap_servers=ns.bootstrap)
    try:
        admin.create_topics([NewTopic(name, ns.partitions, 1)])
    finally:
        admin.close()
    return name


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def recover(ns: Namespace, store_env: dict[str, str], data: Path, log: Path, store: str,
            config: Path, cases: int, timeout_s: float = 1800) -> dict[str, Any]:
    """Start a worker; seconds until every approval partition's states are in the engine."""
    extra = {"WORKER_TABLE_STORE": store, "SUPERVISION_CONFIG": str(config)}
    started = time.time()
    proc = start_worker(ns, store_env, data, extra=extra, log=log,
                        command=[sys.executable, "-m", "streams.cli", "worker", "--loglevel", "info"])
    try:
        deadline = time.monotonic() + timeout_s
        approval = ns.topic("approval")
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited {proc.returncode}; see {log}")
            text = log.read_text(errors="replace") if log.exists() else ""
            loaded: dict[int, tuple[str, int]] = {}
            for line in text.splitlines():
                m = RESTORED.match(line)
                if m and m.group(2) == approval:
                    loaded[int(m.group(3))] = (m.group(1), int(m.group(4)))
            if len(loaded) == ns.partitions:
                last = max(datetime.strptime(at, "%Y-%m-%d %H:%M:%S,%f") for at, _ in loaded.values())
                read = READ.search(text)
                return {
                    "seconds": round(last.timestamp() - started, 1),
                    "cases_loaded": sum(n for _, n in loaded.values()),
                    "changelog_records_read": int(read.group(1)) if read else None,
                    "rss_mib": round(rss_mib(proc.pid)),
                }
            time.sleep(0.5)
        raise RuntimeError(f"recovery did not finish in {timeout_s} s; see {log}")
    finally:
        stop(proc)


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--tail", type=int, default=10_000, help="changelog records written after run 2")
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()

    tmp = bench_tmp("recovery-")
    results: dict[str, Any] = {"open_cases": args.cases, "partitions": args.partitions}
    with bench_broker() as bootstrap:
        ns = Namespace(bootstrap, args.partitions)
        ns.create()
        config = bench_config(tmp)
        t0 = time.perf_counter()
        records, events = build_states(ns, args.cases, config)
        results["build_states_s"] = round(time.perf_counter() - t0, 1)
        results["events_in_state"] = events
        values = [len(v) for rows in records for _, v in rows[:-1]]
        keys = [len(k) for rows in records for k, _ in rows[:-1]]
        results["state_value_bytes_per_case"] = round(sum(values) / len(values), 1)
        results["state_key_bytes_per_case"] = round(sum(keys) / len(keys), 1)
        changelog = create_changelog(ns)
        results["produce_changelog_s"] = round(asyncio.run(produce_changelog(bootstrap, changelog, records)), 1)
        results["changelog_records"] = sum(len(rows) for rows in records)
        print(json.dumps(results), flush=True)
        store_env = {"CHDB_PATH": str(tmp / "chdb")}

        memory = recover(ns, store_env, tmp / "faust-memory", tmp / "memory.log", "memory", config, args.cases)
        results["from_changelog_memory_store"] = memory
        print(json.dumps(results), flush=True)
        empty = recover(ns, store_env, tmp / "faust", tmp / "rocksdb-empty.log", "rocksdb", config, args.cases)
        results["from_changelog_rocksdb_empty"] = empty
        local = tables_dir(tmp / "faust", ns.group)
        results["rocksdb_disk_bytes_per_case"] = round(du(local) / args.cases, 1)
        print(json.dumps(results), flush=True)
        # A tail: states of --tail cases written again after the clean stop.
        tail = [rows[: args.tail // args.partitions] + rows[-1:] for rows in records]
        asyncio.run(produce_changelog(bootstrap, changelog, tail))
        warm = recover(ns, store_env, tmp / "faust", tmp / "rocksdb-local.log", "rocksdb", config, args.cases)
        results["from_local_store_plus_tail"] = warm
        base = memory["seconds"]
        results["ratio_local_vs_changelog_only"] = round(warm["seconds"] / base, 3) if base else None
        results["ratio_rocksdb_empty_vs_memory"] = round(empty["seconds"] / base, 3) if base else None
        idle = recover(ns.with_group("idle"), store_env, tmp / "faust-idle", tmp / "idle.log", "rocksdb",
                       config, 0)
        results["idle_worker_rss_mib"] = idle["rss_mib"]
        for name, run in (("memory", memory), ("rocksdb_empty", empty), ("rocksdb_local", warm)):
            grown = (run["rss_mib"] - idle["rss_mib"]) * 2**20
            results[f"worker_memory_bytes_per_case_{name}"] = round(grown / args.cases)
        results["goal_under_60_s"] = warm["seconds"] < 60
    print(json.dumps(results, indent=2, ensure_ascii=False))
    (tmp / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
