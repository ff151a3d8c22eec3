"""One interface, two engines: a ClickHouse server (clickhouse-driver) or chdb.

``open_backend(settings)`` picks the server when ``CLICKHOUSE_URL`` is set and
embedded chdb in ``CHDB_PATH`` otherwise. Both take the same SQL:

- ``execute(sql, params)`` / ``query(sql, params)``: ``params`` are substituted
  client-side in pyformat style (``%(name)s``), every value escaped as a SQL
  literal by :func:`~streams.storage.backends.sql.literal` (clickhouse-driver's
  escaping rules), never pasted as text. 18.16 has no server-side query
  parameters, so the same substitution serves both engines.
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

Modules: ``base`` (the :class:`Backend` interface, :class:`QueryResult`),
``sql`` (literals and substitution), ``server`` (:class:`ServerBackend`),
``chdb`` (:class:`ChdbBackend`); this one opens the configured one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from streams.storage.backends.base import Backend, QueryResult
from streams.storage.backends.chdb import ChdbBackend
from streams.storage.backends.server import ServerBackend
from streams.storage.errors import StorageMisconfigured, StorageUnavailable

if TYPE_CHECKING:
    from streams.settings import Settings

__all__ = [
    "Backend",
    "ChdbBackend",
    "QueryResult",
    "ServerBackend",
    "open_backend",
    "wait_until_ready",
]

log = logging.getLogger(__name__)


def open_backend(
    settings: Settings | None = None,
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
            connect_timeout_s=settings.clickhouse_connect_timeout_s,
            password=clickhouse_password(settings),
        )
    else:
        backend = ChdbBackend(
            settings.chdb_path, database=database or "default", settings=settings.chdb_settings
        )
    if wait:
        wait_until_ready(
            backend,
            initial_s=settings.clickhouse_retry_initial_s,
            max_s=settings.clickhouse_retry_max_s,
            max_wait_s=settings.clickhouse_max_wait_s,
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
