"""Storage benchmark: rows/s through the Writer vs a raw bulk insert of the same rows.

    python benchmarks/bench_storage.py [--events N] [--alerts N] [--batch N]

Server: uses CLICKHOUSE_URL when set, else starts Debian's clickhouse-server
with scripts/clickhouse-server.sh under var/clickhouse-bench/ and stops it
afterwards. chdb: a temporary directory. Each figure is the best of
``--repeat`` runs into a truncated table, the two alternating; ``paired`` is
the median of the rounds' own writer/raw ratios (steadier when other work on
the machine comes and goes).

- writer: ``Writer.write(events=[Event, ...])`` -- validation, conversion to
  rows, batching, dedup token (where the engine takes one), insert, counters.
- raw (server): ``clickhouse_driver.Client.execute("INSERT ... VALUES", rows)``
  with the rows already built as tuples, same batch size.
- raw (chdb): ``INSERT ... FORMAT JSONCompactEachRow`` of the same prebuilt
  rows (one ``orjson.dumps`` per batch), same batch size -- chdb has no
  clickhouse-driver.
ratio = writer time / raw time (goal: <= 1.5).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streams.engine.model import Alert, Event  # noqa: E402
from streams.storage.backends import Backend, ChdbBackend, ServerBackend  # noqa: E402
from streams.storage.migrations import migrate  # noqa: E402
from streams.storage.rows import alert_row, event_row  # noqa: E402
from streams.storage.tables import ALERTS, COLUMNS, EVENTS  # noqa: E402
from streams.storage.writer import Writer  # noqa: E402

T0 = 1_767_225_600_000_000


def make_events(n: int) -> list[Event]:
    return [
        Event(
            event_id=f"bench-e{i:08d}",
            case_id=f"FD-{i % 5000:06d}",
            process="fund_disbursement",
            action=("apply", "review", "approve", "disburse")[i % 4],
            occurred_at=T0 + i * 997_000,
            dept=f"D{i % 40:02d}",
            actor=f"officer{i % 300}",
            attrs={
                "amount": f"{(i % 100000) / 100:.2f}",
                "payee": f"P{i % 900}",
                "program": "春耕补贴",
            },
            occurred_at_text="2026-01-01T08:00:00+08:00",
        )
        for i in range(n)
    ]


def make_alerts(n: int) -> list[Alert]:
    return [
        Alert(
            alert_id=f"bench-a{i:08d}",
            rule=("OVERDUE", "SKIPPED_STEP", "PAYEE_MISMATCH")[i % 3],
            level=("notice", "yellow", "red")[i % 3],
            case_id=f"FD-{i % 5000:06d}",
            process="fund_disbursement",
            dept=f"D{i % 40:02d}",
            raised_at=T0 + i * 1_000_000,
            evidence=[f"bench-e{i:08d}", f"bench-e{i + 1:08d}"],
            message="拨付金额超过批准金额",
            details={"approved_amount": "1000.00", "disbursed_total": "1200.00"},
            config_version="bench",
        )
        for i in range(n)
    ]


def best(fn: Callable[[], None], prepare: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        prepare()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def batches(rows: list[Any], size: int) -> list[list[Any]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def bench_engine(
    name: str,
    backend: Backend,
    raw_insert: Callable[[str, list[tuple[Any, ...]]], None],
    objs: dict[str, list[Any]],
    batch: int,
    repeat: int,
) -> list[tuple[str, str, int, float, float, float]]:
    migrate(backend)
    results = []
    for table, items in objs.items():
        to_row = event_row if table == EVENTS else alert_row
        rows = [to_row(o, int(time.time())) for o in items]

        def truncate(table: str = table) -> None:
            backend.execute(f"TRUNCATE TABLE {table}")

        def raw(table: str = table, rows: list[tuple[Any, ...]] = rows) -> None:
            for chunk in batches(rows, batch):
                raw_insert(table, chunk)

        def through_writer(table: str = table, items: list[Any] = items) -> None:
            writer = Writer(backend, batch_rows=batch)
            writer.write(**{table: items})

        # Alternate the two so drift on a shared machine hits both alike; keep the best.
        # Each round's own ratio too: their median resists load that comes and goes.
        t_raw = t_writer = float("inf")
        paired = []
        for _ in range(repeat):
            round_raw = best(raw, truncate, 1)
            round_writer = best(through_writer, truncate, 1)
            t_raw, t_writer = min(t_raw, round_raw), min(t_writer, round_writer)
            paired.append(round_writer / round_raw)
        results.append((name, table, len(items), t_writer, t_raw, statistics.median(paired)))
    return results


def start_server() -> tuple[str, Path | None]:
    if os.environ.get("CLICKHOUSE_URL"):
        return os.environ["CLICKHOUSE_URL"], None
    directory = REPO / "var" / "clickhouse-bench"
    script = REPO / "scripts" / "clickhouse-server.sh"
    url = subprocess.run(
        [str(script), "start", str(directory)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return url, directory


def stop_server(directory: Path | None) -> None:
    if directory is not None:
        subprocess.run(
            [str(REPO / "scripts" / "clickhouse-server.sh"), "stop", str(directory)], check=False
        )
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    objs = {EVENTS: make_events(args.events), ALERTS: make_alerts(args.alerts)}
    results = []

    url, directory = start_server()
    try:
        base = url.rsplit("/", 1)[0]
        server = ServerBackend(f"{base}/bench_storage")
        from clickhouse_driver import Client

        client = Client.from_url(f"{base}/bench_storage")

        def server_raw(table: str, rows: list[tuple[Any, ...]]) -> None:
            client.execute(f"INSERT INTO {table} ({', '.join(COLUMNS[table])}) VALUES", rows)

        results += bench_engine(
            f"server {server.version}", server, server_raw, objs, args.batch, args.repeat
        )
        server.execute("DROP DATABASE bench_storage")
        client.disconnect()
        server.close()
    finally:
        stop_server(directory)

    tmp = tempfile.mkdtemp(prefix="bench-chdb-")
    try:
        embedded = ChdbBackend(tmp, database="bench_storage")
        embedded.create_database()

        def chdb_raw(table: str, rows: list[tuple[Any, ...]]) -> None:
            # The fastest plain encoding: one orjson call, rows separated by commas.
            body = orjson.dumps(rows, default=str)[1:-1].decode()
            columns = ", ".join(COLUMNS[table])
            embedded._run(f"INSERT INTO {table} ({columns}) FORMAT JSONCompactEachRow\n{body}")

        results += bench_engine(
            f"chdb {embedded.version}", embedded, chdb_raw, objs, args.batch, args.repeat
        )
        embedded.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    head = ("engine", "table", "rows", "writer rows/s", "raw rows/s", "ratio", "paired")
    print(
        f"{head[0]:<26} {head[1]:<8} {head[2]:>7} {head[3]:>14} {head[4]:>12}"
        f" {head[5]:>6} {head[6]:>6}"
    )
    for engine, table, n, t_writer, t_raw, paired in results:
        ratio = t_writer / t_raw
        flag = "" if ratio <= 1.5 else "  (above 1.5x goal)"
        rates = f"{n / t_writer:>14,.0f} {n / t_raw:>12,.0f}"
        print(f"{engine:<26} {table:<8} {n:>7} {rates} {ratio:>6.2f} {paired:>6.2f}{flag}")
    print(
        f"ratio = best writer time / best raw bulk insert time of the same rows (batch "
        f"{args.batch}, best of {args.repeat}); paired = median of each round's own ratio"
    )


if __name__ == "__main__":
    main()
