"""One interface, two engines: a ClickHouse server (clickhouse-driver) or chdb.

``open_backend(settings)`` picks the server when ``CLICKHOUSE_URL`` is set and
embedded chdb in ``CHDB_PATH`` otherwise. Both take the same SQL:

- ``execute(sql, params)`` / ``query(sql, params)``: ``params`` are substituted
  client-side in pyformat style (``%(name)s``), every value escaped as a SQL
  literal by :func:`literal` (clickhouse-driver's escaping rules), never
  pasted as text. 18.16 has no server-side query parameters, so the same
  substitution serves both engines.
- ``insert(table, columns, rows, dedup_token)``: rows as tuples of plain Python
  values (see :mod:`streams.storage.rows`). Where the engine supports
  ``insert_deduplication_token`` (detected at connect time) the token is sent;
  correctness never depends on it.
- ``send_insert(...)``: the same insert in two steps. It returns once the rows
  are on their way and gives back ``answer()``, which waits for the engine's
  acknowledgement and raises what ``insert`` would. In between the caller may
  do work of its own (the writer converts its next batch while the server
  stores this one); other threads wait for the backend until ``answer()``.
  The caller must call ``answer()``. The server does it with the driver's
  protocol steps; chdb stores on a worker thread (it releases the GIL).

Errors come out as :mod:`streams.storage.policy` classifies them:
:class:`StorageUnavailable` (retry later; :class:`StorageUnclassified` for an
error the policy does not know), :class:`StorageMisconfigured` or
:class:`StorageRefused` (a value of the data is wrong).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from streams.storage.errors import (
    StorageMisconfigured,
    StorageUnavailable,
)
from streams.storage.policy import classify, value_refused

log = logging.getLogger(__name__)

CAP_DEDUP_TOKEN = "insert_deduplication_token"
CAP_DEDUP_WINDOW = "non_replicated_deduplication_window"

_CODE = re.compile(r"Code: (\d+)")


_ESCAPES = {
    "\b": "\\b",
    "\f": "\\f",
    "\r": "\\r",
    "\n": "\\n",
    "\t": "\\t",
    "\0": "\\0",
    "\a": "\\a",
    "\v": "\\v",
    "\\": "\\\\",
    "'": "\\'",
}


def literal(value: Any) -> str:
    """A SQL literal for ``value`` (str, int, Decimal, date, None, bytes, list/tuple)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return f"'{value}'"
    if isinstance(value, str):
        return "'" + "".join(_ESCAPES.get(c, c) for c in value) + "'"
    if isinstance(value, bytes | bytearray):
        # Arbitrary bytes as \xHH escapes: the statement stays ASCII.
        out = []
        for b in value:
            if 0x20 <= b < 0x7F and b not in (0x27, 0x5C):
                out.append(chr(b))
            else:
                out.append(f"\\x{b:02X}")
        return "'" + "".join(out) + "'"
    if isinstance(value, datetime):
        raise TypeError("pass instants as integers, not datetime")
    if isinstance(value, date):
        return f"'{value.isoformat()}'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def substitute(sql: str, params: Mapping[str, Any] | None) -> str:
    """``sql % escaped(params)``, as clickhouse-driver does; no params, no substitution."""
    if not params:
        return sql
    return sql % {key: literal(value) for key, value in params.items()}


@dataclass(slots=True)
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class Backend(ABC):
    """A connection to one database on one engine."""

    engine: str
    database: str
    version: str = ""
    capabilities: frozenset[str] = frozenset()

    def has(self, capability: str) -> bool:
        return capability in self.capabilities

    @property
    def takes_dedup_token(self) -> bool:
        """Whether ``insert`` uses its ``dedup_token`` (else callers may pass None)."""
        return self.has(CAP_DEDUP_TOKEN)

    @abstractmethod
    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    @abstractmethod
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult: ...

    @abstractmethod
    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        dedup_token: str | None = None,
    ) -> None: ...

    def send_insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        dedup_token: str | None = None,
    ) -> Callable[[], None]:
        """Start an insert; the returned ``answer()`` waits for it (see the module docstring)."""
        self.insert(table, columns, rows, dedup_token)
        return _answered

    def side_query(self, sql: str) -> QueryResult:
        """``query`` on a connection of its own, usable while an insert is in flight.

        For short reads next to the writer's inserts (the first-seen lookup);
        a backend without one raises :class:`StorageUnavailable` and the
        caller queries once the insert is answered.
        """
        raise StorageUnavailable(f"{self.engine} has no side connection")

    @abstractmethod
    def create_database(self) -> None:
        """Create the database if missing (migrations only)."""

    @abstractmethod
    def reconnect(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def describe(self) -> str:
        return f"{self.engine} {self.version} database {self.database}"

    def _detect(self) -> None:
        """Version and optional features, read once at connect time."""
        caps = set()
        try:
            self.version = str(self.query("SELECT version()").rows[0][0])
            rows = self.query(
                "SELECT name FROM system.settings WHERE name = 'insert_deduplication_token'"
            ).rows
            if rows:
                caps.add(CAP_DEDUP_TOKEN)
            rows = self.query(
                "SELECT name FROM system.merge_tree_settings"
                " WHERE name = 'non_replicated_deduplication_window'"
            ).rows
            if rows:
                caps.add(CAP_DEDUP_WINDOW)
        except StorageUnavailable:
            raise
        self.capabilities = frozenset(caps)
        log.info("storage: %s, capabilities %s", self.describe(), sorted(caps) or "none")


# --------------------------------------------------------------------------- server


@dataclass(frozen=True, slots=True)
class ServerAddress:
    host: str
    port: int
    user: str
    password: str
    database: str
    secure: bool

    @classmethod
    def parse(cls, url: str, password: str | None = None) -> ServerAddress:
        """Address of ``url``; ``password``, when given, replaces the URL's."""
        try:
            parts = urlsplit(url)
            scheme, port = parts.scheme, parts.port
        except ValueError:  # the message would quote the URL, password included
            raise ValueError(
                "CLICKHOUSE_URL is not a valid URL: percent-encode the password's special "
                "characters, or leave it out and set CLICKHOUSE_PASSWORD_FILE"
            ) from None
        if scheme not in ("clickhouse", "clickhouses"):
            raise ValueError("CLICKHOUSE_URL must start with clickhouse:// or clickhouses://")
        secure = scheme == "clickhouses"
        if password is None:
            password = unquote(parts.password) if parts.password else ""
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=port or (9440 if secure else 9000),
            user=unquote(parts.username) if parts.username else "default",
            password=password,
            database=parts.path.strip("/") or "default",
            secure=secure,
        )

    def __repr__(self) -> str:  # never show the password
        return f"ServerAddress({self.user}@{self.host}:{self.port}/{self.database})"


class ServerBackend(Backend):
    """A ClickHouse server through clickhouse-driver (native protocol)."""

    engine = "clickhouse-server"

    def __init__(
        self,
        url: str,
        *,
        database: str | None = None,
        connect_timeout_s: float = 5.0,
        timeout_s: float = 60.0,
        password: str | None = None,
    ) -> None:
        self._address = ServerAddress.parse(url, password)
        self.database = database or self._address.database
        self._connect_timeout_s = connect_timeout_s
        self._timeout_s = timeout_s
        self._lock = threading.RLock()
        self._client = self._new_client(self.database)
        self._side_lock = threading.Lock()
        self._side_client: Any = None
        self._detected = False
        try:
            self._ensure_detected()
        except StorageUnavailable as exc:
            # The writer retries; features are detected on the first call that works.
            log.warning("storage: %s", exc)

    @property
    def takes_dedup_token(self) -> bool:
        return not self._detected or self.has(CAP_DEDUP_TOKEN)  # unknown until detected

    def _ensure_detected(self) -> None:
        if self._detected:
            return
        try:
            self._detect()
        except StorageMisconfigured:
            # Unknown database before the first migration: detect on 'default'.
            admin = self._client
            self._client = self._new_client("default")
            try:
                self._detect()
            finally:
                self._client.disconnect()
                self._client = admin
        self._detected = True

    def _new_client(self, database: str) -> Any:
        from clickhouse_driver import Client

        a = self._address
        return Client(
            host=a.host,
            port=a.port,
            user=a.user,
            password=a.password,
            database=database,
            secure=a.secure,
            connect_timeout=self._connect_timeout_s,
            send_receive_timeout=self._timeout_s,
            sync_request_timeout=self._connect_timeout_s,
            settings={"strings_as_bytes": False},
        )

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._guarded(self._client, fn, *args, **kwargs)

    def _guarded(self, client: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(...)`` on ``client``, its errors as the policy classifies them."""
        from clickhouse_driver import errors as ch

        try:
            return fn(*args, **kwargs)
        except ch.ServerException as exc:
            client.disconnect()
            raise classify(exc.code, _first_line(exc.message)) from None
        except (ch.NetworkError, ch.SocketTimeoutError, EOFError, OSError) as exc:
            client.disconnect()
            raise StorageUnavailable(
                f"{self._address.host}:{self._address.port} unreachable: {exc}"
            ) from None
        except ch.Error as exc:
            # Client-side errors carry a code too: TypeMismatchError (53) blames a value,
            # UnexpectedPacketFromServerError (102) or an unknown one is retried.
            client.disconnect()
            code = getattr(exc, "code", None)
            raise classify(
                code if isinstance(code, int) else None,
                f"client: {type(exc).__name__}: {_first_line(str(exc))}",
            ) from None
        except (TypeError, ValueError, OverflowError, ArithmeticError) as exc:
            # Raised while serializing a value into a column: bad data.
            client.disconnect()
            raise value_refused(exc) from None

    def side_query(self, sql: str) -> QueryResult:
        with self._side_lock:
            if self._side_client is None:
                self._side_client = self._new_client(self.database)
            client = self._side_client
            rows, types = self._guarded(client, client.execute, sql, with_column_types=True)
        return QueryResult([n for n, _ in types], [t for _, t in types], [tuple(r) for r in rows])

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._call(self._client.execute, substitute(sql, params))

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        rows, types = self._call(
            self._client.execute, substitute(sql, params), with_column_types=True
        )
        return QueryResult([n for n, _ in types], [t for _, t in types], [tuple(r) for r in rows])

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        dedup_token: str | None = None,
    ) -> None:
        self.send_insert(table, columns, rows, dedup_token)()

    def send_insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        dedup_token: str | None = None,
    ) -> Callable[[], None]:
        """Send the rows; ``answer()`` reads the server's acknowledgement.

        The driver's own insert (``Client.execute``) in two halves: the server
        stores the block between them while this process is free. The
        connection is busy until ``answer()``, so the backend's lock is held
        until then.
        """
        self._ensure_detected()
        settings: dict[str, Any] = {}
        if dedup_token and self.has(CAP_DEDUP_TOKEN):
            settings["insert_deduplication_token"] = dedup_token
        query = f"INSERT INTO {table} ({', '.join(columns)}) VALUES"
        data = rows if isinstance(rows, list | tuple) else list(rows)
        self._lock.acquire()
        try:
            steps = self._insert_steps(query, data, settings or None)
            self._call(next, steps, None)
        except BaseException:
            self._lock.release()
            raise

        def answer() -> None:
            try:
                self._call(next, steps, None)
            finally:
                self._lock.release()

        return answer

    def _insert_steps(
        self, query: str, rows: Sequence[tuple[Any, ...]], settings: dict[str, Any] | None
    ) -> Iterator[None]:
        """What ``Client.execute(query, rows)`` does, pausing once the data is sent."""
        client = self._client
        with client.disconnect_on_error(query, settings):
            client.connection.send_query(query)
            client.connection.send_external_tables(None)
            sample_block = client.receive_sample_block()
            if sample_block:
                client.send_data(sample_block, rows)
                yield  # the server is storing the block
                client.receive_end_of_insert_query()

    def create_database(self) -> None:
        admin = self._new_client("default")
        try:
            exists = self._call(
                admin.execute,
                substitute(
                    "SELECT count() FROM system.databases WHERE name = %(db)s",
                    {"db": self.database},
                ),
            )[0][0]
            if not exists:  # a user without CREATE DATABASE can still migrate an existing one
                self._call(admin.execute, f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
        finally:
            admin.disconnect()

    def reconnect(self) -> None:
        with self._lock:
            self._client.disconnect()
        self._close_side()

    def close(self) -> None:
        with self._lock:
            self._client.disconnect()
        self._close_side()

    def _close_side(self) -> None:
        with self._side_lock:
            if self._side_client is not None:
                self._side_client.disconnect()
                self._side_client = None


# --------------------------------------------------------------------------- chdb


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

    def __init__(self, path: Path | str, *, database: str = "default") -> None:
        self.path = str(path)
        self.database = database
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

        self._conn = chdb.connect(self.path)
        self._use_database()

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
            text = _first_line(str(exc))
            match = _CODE.search(text)
            raise classify(int(match.group(1)) if match else None, text) from None

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
                    self._side_conn = chdb.connect(self.path)
                    self._side_conn.query(f"USE `{self.database}`")
                res = self._side_conn.query(sql, "JSONCompact")
            except Exception as exc:  # chdb raises RuntimeError / ChdbError
                text = _first_line(str(exc))
                match = _CODE.search(text)
                raise classify(int(match.group(1)) if match else None, text) from None
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
            return _answered
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


def _answered() -> None:
    """The answer of an insert that already completed."""


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if text and text.strip() else "(no message)"


def open_backend(
    settings: Any = None,
    *,
    database: str | None = None,
    wait: bool = True,
    on_wait: Callable[[StorageUnavailable, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Backend:
    """The configured backend: the server at ``CLICKHOUSE_URL``, else chdb in ``CHDB_PATH``.

    With ``wait`` (the default) it returns once the engine answers: a worker
    or command started while ClickHouse is down waits with back-off (see
    :func:`wait_until_ready`) instead of failing on its first statement.
    """
    if settings is None:
        from streams.settings import get_settings

        settings = get_settings()
    backend: Backend
    if settings.clickhouse_url is not None:
        from streams.settings import clickhouse_password

        backend = ServerBackend(
            settings.clickhouse_url.get_secret_value(),
            database=database,
            connect_timeout_s=getattr(settings, "clickhouse_connect_timeout_s", 5.0),
            password=clickhouse_password(settings),
        )
    else:
        backend = ChdbBackend(settings.chdb_path, database=database or "default")
    if wait:
        wait_until_ready(
            backend,
            initial_s=getattr(settings, "clickhouse_retry_initial_s", 0.2),
            max_s=getattr(settings, "clickhouse_retry_max_s", 10.0),
            max_wait_s=getattr(settings, "clickhouse_max_wait_s", None),
            on_wait=on_wait,
            sleep=sleep,
            clock=clock,
        )
    return backend


def wait_until_ready(
    backend: Backend,
    *,
    initial_s: float = 0.2,
    max_s: float = 10.0,
    max_wait_s: float | None = None,
    on_wait: Callable[[StorageUnavailable, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Block until the engine answers ``SELECT 1``, retrying with exponential back-off.

    Each failed attempt is logged (one warning line: the engine, why, the
    next delay) and given to ``on_wait(error, delay)``, where a caller can
    report itself not ready. Only an unavailable engine is waited for; a
    missing database or a refused account answers, so it returns (migrations
    or the first write report those). After ``max_wait_s`` (None: forever)
    the last :class:`StorageUnavailable` is raised.
    """
    started = clock()
    delay = initial_s
    attempt = 0
    while True:
        attempt += 1
        try:
            backend.query("SELECT 1")
        except StorageUnavailable as exc:
            waited = clock() - started
            if max_wait_s is not None and waited + delay > max_wait_s:
                raise
            log.warning(
                "storage: %s not ready (%s); attempt %d, retrying in %.1fs",
                backend.describe(),
                exc,
                attempt,
                delay,
            )
            if on_wait is not None:
                on_wait(exc, delay)
            sleep(delay)
            delay = min(delay * 2, max_s)
            backend.reconnect()
            continue
        except StorageMisconfigured:
            pass  # reachable: the schema or account is the caller's next concern
        if attempt > 1:
            log.info("storage: %s ready after %.1fs", backend.describe(), clock() - started)
        return
