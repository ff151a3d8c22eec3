"""A ClickHouse server through clickhouse-driver (the native protocol).

``send_insert`` is the driver's own insert in two halves (query and data
sent, then the server's acknowledgement read), so the writer converts its
next batch while the server stores this one. The first-seen lookup reads on
a second connection (``side_query``) meanwhile. Errors come out as
:mod:`streams.storage.policy` classifies them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from streams.storage.backends.base import CAP_DEDUP_TOKEN, Backend, QueryResult, first_line
from streams.storage.backends.sql import substitute
from streams.storage.errors import StorageMisconfigured, StorageUnavailable
from streams.storage.policy import classify, value_refused

log = logging.getLogger(__name__)


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
            raise classify(exc.code, first_line(exc.message)) from None
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
                f"client: {type(exc).__name__}: {first_line(str(exc))}",
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
