"""ClickHouse fixtures (owned by the storage work).

- ``clickhouse_server`` (session): starts Debian's clickhouse-server (18.16)
  with ``scripts/clickhouse-server.sh`` on a free loopback port, config and
  data under ``var/clickhouse-pytest-<pid>/``; stops it and removes the data
  afterwards. Installing it is not its job (``make test`` runs
  ``scripts/clickhouse-server.sh install`` first); it never skips.
- ``chdb_path`` (session): the embedded engine's data directory. chdb allows
  ONE data directory per process, so every test using chdb must use this one
  (separate tests by database, not by directory).
- ``storage_backend``: parametrized over ``server`` and ``chdb``; a fresh,
  empty database on that engine (not migrated), dropped afterwards.
- ``migrated_backend``: the same with every migration applied.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from streams.storage.backends import Backend, ChdbBackend, ServerBackend
from streams.storage.migrations import migrate

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "clickhouse-server.sh"


@dataclass
class ClickHouseServer:
    """A clickhouse-server process this test session owns."""

    directory: Path
    port: int = 0

    def _run(self, *args: str) -> str:
        cmd = [str(SCRIPT), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def start(self) -> None:
        """Start (or restart after ``kill``) on the same port with the same data."""
        args = ["start", str(self.directory)] + ([str(self.port)] if self.port else [])
        url = self._run(*args)
        self.port = int(url.rsplit(":", 1)[1].split("/", 1)[0])

    def stop(self) -> None:
        self._run("stop", str(self.directory))

    def kill(self) -> None:
        """SIGKILL the server (crash tests)."""
        self._run("kill", str(self.directory))

    def url(self, database: str = "default") -> str:
        return f"clickhouse://127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="session")
def clickhouse_server() -> Iterator[ClickHouseServer]:
    server = ClickHouseServer(REPO / "var" / f"clickhouse-pytest-{os.getpid()}")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


def _fresh_database() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def migrated_chdb(chdb_path: Path, prefix: str = "t") -> Iterator[ChdbBackend]:
    """A fresh database on the process's chdb directory, migrated, dropped afterwards."""
    database = f"{prefix}_{uuid.uuid4().hex[:10]}"
    backend = ChdbBackend(chdb_path, database=database)
    try:
        migrate(backend)
        yield backend
    finally:
        try:
            backend.execute(f"DROP DATABASE IF EXISTS `{database}`")
        finally:
            backend.close()


@pytest.fixture(params=["server", "chdb"])
def storage_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    database = _fresh_database()
    backend: Backend
    if request.param == "server":
        server: ClickHouseServer = request.getfixturevalue("clickhouse_server")
        backend = ServerBackend(server.url(database), connect_timeout_s=2.0)
    else:
        backend = ChdbBackend(request.getfixturevalue("chdb_path"), database=database)
    try:
        yield backend
    finally:
        try:
            backend.execute(f"DROP DATABASE IF EXISTS `{database}`")
        finally:
            backend.close()


@pytest.fixture
def migrated_backend(storage_backend: Backend) -> Backend:
    migrate(storage_backend)
    return storage_backend
