"""The engine dies mid-stream and comes back: nothing lost, nothing doubled."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import orjson

from streams.storage.backends import ServerBackend
from streams.storage.migrations import migrate
from streams.storage.writer import Writer
from tests.fixtures_clickhouse import REPO, ClickHouseServer
from tests.storage.data import events

N = 2000


def _wait(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_server_killed_mid_stream_and_restarted(clickhouse_server: ClickHouseServer) -> None:
    database = f"t_{uuid.uuid4().hex[:12]}"
    backend = ServerBackend(clickhouse_server.url(database), connect_timeout_s=1.0, timeout_s=5.0)
    migrate(backend)
    writer = Writer(backend, batch_rows=50, retry_initial_s=0.05, retry_max_s=0.5)
    stream = events(N)
    failures: list[BaseException] = []

    def produce() -> None:
        try:
            for start in range(0, N, 50):
                writer.write(events=stream[start : start + 50])
                time.sleep(0.01)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    thread = threading.Thread(target=produce)
    thread.start()
    try:
        _wait(lambda: writer.stats.rows_written >= 500)
        clickhouse_server.kill()
        time.sleep(0.5)  # the writer keeps calling while the server is gone
        assert writer.stats.unavailable
        clickhouse_server.start()
    finally:
        thread.join(timeout=120)
    assert not failures, failures
    assert writer.stats.retries >= 1
    rows = backend.query("SELECT count(), count(DISTINCT event_id) FROM events FINAL").rows[0]
    assert rows == (N, N)
    backend.execute(f"DROP DATABASE `{database}`")
    backend.close()


def _child(path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.storage.chdb_child", str(path), *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_chdb_process_killed_mid_stream_and_restarted(tmp_path: Path) -> None:
    path = tmp_path / "chdb-crash"
    writer = _child(path, "write", str(N))
    assert writer.stdout is not None
    for line in writer.stdout:
        if int(line.split()[1]) >= 500:
            writer.kill()  # SIGKILL mid-stream
            break
    writer.wait(timeout=30)
    assert writer.returncode != 0
    # restarted: the source rewinds to its last commit (here: the beginning) and re-sends
    again = _child(path, "write", str(N))
    again.communicate(timeout=120)
    assert again.returncode == 0
    count = _child(path, "count")
    out, _ = count.communicate(timeout=60)
    assert orjson.loads(out) == [N, N, "e000000", f"e{N - 1:06d}"]
