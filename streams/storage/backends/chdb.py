"""Embedded ClickHouse (chdb) storing in a directory.

Results come back as JSONCompact and are converted to the Python values
clickhouse-driver returns, so callers see the same rows on both engines.
``send_insert`` stores on a worker thread (chdb releases the GIL), and
``side_query`` reads on a second session of the same directory. Errors come
out as :mod:`streams.storage.policy` classifies them (by the ``Code: N`` in
chdb's message).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from streams.storage.backends.base import (
    CAP_DEDUP_TOKEN,
    Backend,
    QueryResult,
    answered,
    first_line,
)
from streams.storage.backends.sql import literal, substitute
from streams.storage.errors import StorageError, StorageMisconfigured
from streams.storage.policy import classify, value_refused

log = logging.getLogger(__name__)

_CODE = re.compile(r"Code: (\d+)")

# Engine (server) settings of the embedded engine, its connection string's parameters: the
# caches chdb sizes as a server's (5 GiB each) bounded to what a worker's lookups need
# (README: Storage memory). The engine reads them once per process, at its start.
SETTINGS = "&".join(
    (
        "mark_cache_size=67108864",
        "index_mark_cache_size=16777216",
        "primary_index_cache_size=16777216",
        "query_condition_cache_size=16777216",
        # Its entries cost about 370 bytes each against the 64 it counts, so a cap of 16 MiB
        # held about 95 MiB; the worker's lookups never repeat a condition (README: Storage
        # memory).
        "use_query_condition_cache=0",
    )
)


def _chdb_value(value: Any, type_name: str) -> Any:
    """A JSONCompact value of ``type_name`` as the Python value clickhouse-driver returns."""
    if value is None:
        return None
    base = type_name
    if base.startswith("Nullable("):
        base = base[9:-1]
    if base.startswith("Array("):
        inner = base[6:-1]
        return [_chdb_value(v, inner) for v in value]
    if base.startswith(("Int", "UInt")):
        return int(value)
    if base.startswith("Decimal"):
        return Decimal(str(value))
    if base.startswith("Float"):
        return float(value)
    if base == "Date":
        return date.fromisoformat(value)
    return value


class ChdbBackend(Backend):
    """Embedded ClickHouse (chdb) storing in a directory.

    chdb allows one data directory per process; every ChdbBackend of a process
    must use the same path. Each backend has its own session (own current
    database); calls are serialized by a lock, so one backend may be shared by
    threads.
    """

    engine = "chdb"

    def __init__(
        self, path: Path | str, *, database: str = "default", settings: str = SETTINGS
    ) -> None:
        self.path = str(path)
        self.database = database
        # chdb.connect's argument: the directory, then its settings as URL parameters.
        self._settings = settings
        self._target = f"{self.path}?{settings}" if settings else self.path
        self._lock = threading.RLock()
        self._conn: Any = None
        self._worker: ThreadPoolExecutor | None = None
        self._side_lock = threading.Lock()
        self._side_conn: Any = None
        Path(self.path).mkdir(parents=True, exist_ok=True)
        self._open()
        self._detect()

    def _open(self) -> None:
        import chdb

        try:
            self._conn = chdb.connect(self._target)
        except Exception as exc:  # chdb raises RuntimeError / ChdbError
            raise self._refused_settings(exc) from None
        self._use_database()

    def _refused_settings(self, exc: Exception) -> StorageError:
        """A failed start: a value of CHDB_SETTINGS the engine cannot parse is a
        misconfiguration (not retried), anything else as the policy classifies it."""
        text = first_line(str(exc))
        if self._settings and "setting" in text:
            return StorageMisconfigured(f"chdb settings {self._settings!r} refused: {text}")
        return _classified(exc)

    def _use_database(self) -> None:
        try:
            self._conn.query(f"USE `{self.database}`")
        except Exception:  # noqa: BLE001 - the database appears with the first migration
            log.debug("chdb: database %s does not exist yet", self.database)

    def _run(self, sql: str, fmt: str = "CSV") -> Any:
        with self._lock:
            return self._run_locked(sql, fmt)

    def _run_locked(self, sql: str, fmt: str = "CSV") -> Any:
        """``_run`` for a caller that holds the lock (possibly on another thread's behalf)."""
        if self._conn is None:
            self._open()
        try:
            return self._conn.query(sql, fmt)
        except Exception as exc:  # chdb raises RuntimeError / ChdbError
            raise _classified(exc) from None

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(substitute(sql, params))

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        return _json_compact(self._run(substitute(sql, params), "JSONCompact"))

    def side_query(self, sql: str) -> QueryResult:
        """A second session on the same directory: it reads while the first one inserts."""
        import chdb

        with self._side_lock:
            try:
                if self._side_conn is None:
                    self._side_conn = chdb.connect(self._target)
                    self._side_conn.query(f"USE `{self.database}`")
                res = self._side_conn.query(sql, "JSONCompact")
            except Exception as exc:  # chdb raises RuntimeError / ChdbError
                raise _classified(exc) from None
        return _json_compact(res)

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        dedup_token: str | None = None,
    ) -> None:
        if rows:
            self._run(self._insert_sql(table, columns, rows, dedup_token))

    def send_insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        dedup_token: str | None = None,
    ) -> Callable[[], None]:
        """Encode the rows here, store them on the backend's worker thread.

        chdb releases the GIL while it parses and stores, so the caller's own
        work runs meanwhile. The lock is held until ``answer()``.
        """
        if not rows:
            return answered
        sql = self._insert_sql(table, columns, rows, dedup_token)
        self._lock.acquire()
        try:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(1, thread_name_prefix="chdb-insert")
            stored = self._worker.submit(self._run_locked, sql)
        except BaseException:
            self._lock.release()
            raise

        def answer() -> None:
            try:
                stored.result()
            finally:
                self._lock.release()

        return answer

    def _insert_sql(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        dedup_token: str | None,
    ) -> str:
        head = f"INSERT INTO {table} ({', '.join(columns)})"
        if dedup_token and self.has(CAP_DEDUP_TOKEN):
            head += f" SETTINGS insert_deduplication_token = {literal(dedup_token)}"
        if any(isinstance(v, bytes | bytearray) for v in rows[0]):
            # Original bytes cannot travel in JSON: literals with \xHH escapes.
            values = ",".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
            return f"{head} VALUES {values}"
        try:
            # One call for the whole batch: "[[row],[row]]"; rows separated by commas
            # are valid JSONCompactEachRow input once the outer brackets are dropped.
            body = orjson.dumps(
                rows if isinstance(rows, list) else list(rows), default=_json_default
            )
        except TypeError as exc:
            raise value_refused(exc) from None
        return f"{head} FORMAT JSONCompactEachRow\n{body[1:-1].decode()}"

    def create_database(self) -> None:
        self._run(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
        with self._lock:
            self._use_database()

    def reconnect(self) -> None:
        with self._lock:
            self.close()
            self._open()

    def close(self) -> None:
        with self._side_lock:
            if self._side_conn is not None:
                try:
                    self._side_conn.close()
                finally:
                    self._side_conn = None
        with self._lock:
            if self._worker is not None:
                self._worker.shutdown()
                self._worker = None
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None


def _classified(exc: Exception) -> StorageError:
    """A chdb error as the policy classifies it, by the ``Code: N`` in its message."""
    text = first_line(str(exc))
    match = _CODE.search(text)
    return classify(int(match.group(1)) if match else None, text)


def _json_compact(res: Any) -> QueryResult:
    """A chdb JSONCompact result as the rows clickhouse-driver would return."""
    raw = res.bytes() if hasattr(res, "bytes") else bytes(res)
    if not raw.strip():
        return QueryResult([], [], [])
    doc = orjson.loads(raw)
    meta = doc["meta"]
    names = [m["name"] for m in meta]
    types = [m["type"] for m in meta]
    rows = [
        tuple(_chdb_value(v, t) for v, t in zip(row, types, strict=True)) for row in doc["data"]
    ]
    return QueryResult(names, types, rows)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
