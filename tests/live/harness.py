"""Run real workers as subprocesses, read what they stored, compare with replay."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streams.engine import Alert, load_config
from streams.replay import replay

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable

# Fast ticks and short group timeouts keep the tests quick; semantics are unchanged.
TEST_ENV = {
    "WORKER_TICK_S": "0.3",
    "WORKER_BATCH_WITHIN_S": "0.1",
    "UPSTREAM_DELAY": "1.0",
    "WORKER_SESSION_TIMEOUT_S": "6",
    "WORKER_REBALANCE_TIMEOUT_S": "10",
    "WORKER_HEARTBEAT_S": "0.5",
    "STORE_RETRY_INITIAL_S": "0.2",
    "STORE_RETRY_MAX_S": "1.0",
    "CLICKHOUSE_MAX_WAIT_S": "2",
    "METRICS_PORT": "0",
    "METRICS_HOST": "127.0.0.1",
}


@dataclass
class Store:
    """Where a worker stores: a ClickHouse server database or a chdb directory."""

    url: str | None = None
    chdb_path: Path | None = None

    def env(self) -> dict[str, str]:
        if self.url:
            return {"CLICKHOUSE_URL": self.url}
        assert self.chdb_path is not None
        return {"CHDB_PATH": str(self.chdb_path)}

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of a query (see ``queries``)."""
        return self.queries(sql)[0]

    def queries(self, *sqls: str) -> list[list[tuple[Any, ...]]]:
        """Rows of each query, as plain JSON values (``RuntimeError`` if one fails).

        The server is read in this process; chdb in one subprocess for all of them (one chdb
        directory per process, and the worker's is not this one's)."""
        if self.url:
            return [_plain(rows) for rows in _server_queries(self.url, sqls)]
        code = (
            "import sys, json, orjson\n"
            "from streams.settings import Settings\n"
            "from streams.storage import open_backend\n"
            "b = open_backend(Settings(**json.loads(sys.argv[1])))\n"
            "r = [[list(x) for x in b.query(q).rows] for q in sys.argv[2:]]\n"
            "sys.stdout.buffer.write(orjson.dumps(r, default=str))\n"
        )
        settings = {"chdb_path": str(self.chdb_path)}
        done = subprocess.run(
            [PY, "-c", code, json.dumps(settings), *sqls],
            capture_output=True,
            cwd=ROOT,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"query failed: {done.stderr.decode()[-2000:]}")
        return [[tuple(r) for r in rows] for rows in orjson.loads(done.stdout)]


def _server_queries(url: str, sqls: tuple[str, ...]) -> list[list[Any]]:
    """Rows of each query on the ClickHouse server at ``url`` (waiting up to 120 s for it)."""
    from streams.settings import Settings
    from streams.storage import open_backend

    try:
        backend = open_backend(
            Settings(clickhouse_url=url, clickhouse_max_wait_s=120)  # type: ignore[arg-type]
        )
        try:
            return [list(backend.query(sql).rows) for sql in sqls]
        finally:
            backend.close()
    except Exception as exc:  # noqa: BLE001 - as the subprocess of chdb reports it
        raise RuntimeError(f"query failed: {exc!r}") from exc


def _plain(rows: list[Any]) -> list[tuple[Any, ...]]:
    """Rows as chdb's subprocess gives them: JSON values (dates as text, arrays as lists)."""
    return [tuple(r) for r in orjson.loads(orjson.dumps([list(x) for x in rows], default=str))]


@dataclass
class Worker:
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)
    launcher: tuple[str, ...] = ("-m", "streams.cli")  # after the interpreter

    def start(self) -> Worker:
        n = len(self.logs)
        path = self.log_path.with_name(f"{self.log_path.stem}-{n}.log")
        self.logs.append(path)
        env = {**os.environ, **TEST_ENV, **self.env}
        with path.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    PY,
                    *self.launcher,
                    "worker",
                    "--loglevel",
                    os.environ.get("LIVE_TEST_LOGLEVEL", "warning"),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self, timeout: float = 60) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        return self.proc.returncode

    def wait_exit(self, timeout: float) -> int | None:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())


def alert_key(a: Alert | dict[str, Any]) -> tuple[Any, ...]:
    """What users read of an alert, comparable between replay (Alert) and storage (row dict)."""
    if isinstance(a, dict):
        return (
            a["alert_id"],
            a["rule"],
            a["level"],
            a["case_id"],
            a["process"],
            a["dept"],
            int(a["raised_at_us"]),
            tuple(a["evidence"]),
        )
    return (
        a.alert_id,
        a.rule,
        a.level,
        a.case_id,
        a.process,
        a.dept,
        a.raised_at,
        tuple(a.evidence),
    )


def replay_alerts(
    events: Iterable[dict[str, Any] | bytes], as_of_us: int | None = None
) -> set[tuple[Any, ...]]:
    cfg = load_config(None)
    out: list[Alert] = []
    lines = [e if isinstance(e, bytes) else orjson.dumps(e) for e in events]
    replay(lines, cfg, out.append, lambda r: None, as_of=as_of_us or int(time.time() * 1e6))
    return {alert_key(a) for a in out}


ALERTS_READ = (
    "SELECT alert_id, rule, level, case_id, process, dept, raised_at_us, evidence FROM alerts_v"
)
EVENT_IDS_READ = "SELECT event_id FROM events FINAL"


def _alert_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6]), tuple(r[7])) for r in rows]


def stored_alerts(store: Store) -> list[tuple[Any, ...]]:
    """Alerts as users read them (FINAL view), one tuple per row returned."""
    return _alert_rows(store.query(ALERTS_READ))


def stored_event_ids(store: Store) -> list[str]:
    return [r[0] for r in store.query(EVENT_IDS_READ)]


def stored_alerts_and_event_ids(store: Store) -> tuple[list[tuple[Any, ...]], list[str]]:
    """``stored_alerts`` and ``stored_event_ids`` in one read."""
    alerts, events = store.queries(ALERTS_READ, EVENT_IDS_READ)
    return _alert_rows(alerts), [r[0] for r in events]


class TopicReader:
    """Reads a topic from the beginning, without a group, and keeps reading as it grows.

    ``read_to_end`` returns only once every partition's position has reached the
    end offsets taken at the call (it raises on timeout): a slow broker or a
    loaded machine never passes a partial read off as the whole topic.
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        from kafka import KafkaConsumer, TopicPartition

        # A fetch with nothing to return is answered after fetch_max_wait_ms: short, so that
        # read_to_end's empty polls (and the loops around it) take little time.
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            group_id=None,
            fetch_max_wait_ms=50,
        )
        self.topic = topic
        parts: set[int] = set()
        deadline = time.monotonic() + 30
        while not parts and time.monotonic() < deadline:
            parts = self.consumer.partitions_for_topic(topic) or set()
            if not parts:
                time.sleep(0.2)
        if not parts:
            self.consumer.close()
            raise RuntimeError(f"topic {topic} has no partitions (does it exist?)")
        self.tps = [TopicPartition(topic, p) for p in sorted(parts)]
        self.consumer.assign(self.tps)
        self.consumer.seek_to_beginning(*self.tps)
        self.records: list[Any] = []

    def read_to_end(self, timeout_s: float = 60.0) -> list[Any]:
        """Every record up to the current end of each partition (all read so far, in order).

        Tansu answers ListOffsets(latest) with the base offset of a partition's last
        record batch plus one, not the true end: so after reaching the reported end
        offsets, polling goes on until the fetches come back empty.
        """
        consumer = self.consumer
        end = consumer.end_offsets(self.tps)
        deadline = time.monotonic() + timeout_s
        empty = 0
        while empty < 2 or any(consumer.position(tp) < end[tp] for tp in self.tps):
            if time.monotonic() > deadline:
                behind = {tp.partition: end[tp] - consumer.position(tp) for tp in self.tps}
                raise TimeoutError(
                    f"reading {self.topic}: still behind by {behind} after {timeout_s}s"
                )
            polled = consumer.poll(timeout_ms=200)
            for batch in polled.values():
                self.records.extend(batch)
            empty = 0 if polled else empty + 1
        return self.records

    def close(self) -> None:
        self.consumer.close()


def read_topic(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list[Any]:
    """Every record of a topic (all partitions, from the beginning), without a group."""
    reader = TopicReader(bootstrap, topic)
    try:
        return reader.read_to_end(timeout_s)
    finally:
        reader.close()


def wait_for_alert_ids(
    bootstrap: str, topic: str, expected: set[str], timeout_s: float
) -> set[str]:
    """Alert ids seen on the alerts topic, once they cover ``expected`` (or at the timeout)."""
    deadline = time.monotonic() + timeout_s
    reader = TopicReader(bootstrap, topic)
    try:
        while True:
            seen = {
                r.key.decode() for r in reader.read_to_end(max(5.0, deadline - time.monotonic()))
            }
            if expected <= seen or time.monotonic() > deadline:
                return seen
            time.sleep(0.2)
    finally:
        reader.close()
