"""The storage writer: idempotent, batched, retrying writes to either engine.

API (for the live worker, replay and tools)
-------------------------------------------
``open_writer(settings=None) -> Writer`` builds a writer on the configured backend.

``Writer.write(*, events=(), alerts=(), case_status=(), deadletters=()) -> int``
    Stores the given objects and returns the number of rows stored, only once
    the engine has acknowledged every one of them. Synchronous and
    thread-safe: call it from a thread executor in asyncio code
    (``await loop.run_in_executor(None, functools.partial(writer.write, events=...))``).
    While the engine is unreachable it retries with exponential backoff
    (``retry_initial_s`` doubling up to ``retry_max_s``) and blocks: that is
    the back-pressure. With ``max_wait_s`` set, it gives up after that long
    with :class:`StorageUnavailable` (``retry_after`` set); nothing is lost,
    call again with the same objects. Which engine error is transient and
    which is the row's fault is decided by :mod:`streams.storage.policy`; an
    error it does not know is retried (and counted), never blamed on a row.
    A malformed object is isolated (rows are converted one by one; a batch
    the engine refuses is split in halves until the bad rows are found),
    every other row is written, each refused event / case status / alert is
    stored as a dead letter with the reason, then :class:`MalformedRows`
    names each refused row and why. Inserts go one at a time, in batches of
    ``batch_rows`` (split so that none touches more than
    ``MAX_PARTITIONS_PER_INSERT`` months), and each batch is converted while
    the engine stores the one before it.

``Writer.add(...)`` buffers; a batch is written when ``batch_rows`` rows are
    buffered or the oldest buffered row is ``flush_interval_s`` old (checked on
    ``add`` and ``flush_if_due()``; call that from a timer). ``flush()`` writes
    the buffer now; ``close()`` flushes. ``add`` blocks while a due flush
    retries, which pushes back on the caller.

Idempotency: rows carry deterministic ids (event_id, alert_id, case + version,
dead-letter id = hash of source position and bytes); every table is a
ReplacingMergeTree read with FINAL, and the statistics store id sets, so a
batch written twice, or re-batched after a restart, shows once to readers.
First detection is kept: before a batch is sent, the ids already stored are
looked up (one indexed query per batch of events, alerts or dead letters)
and a row stored again carries its first ``ingested_at`` / ``detected_at`` /
``received_at``, so a replay after a restart never looks new.

Counters (``writer.stats``, a :class:`WriterStats`): ``rows_written``,
``rows_by_table``, ``batches_written``, ``retries``, ``rows_rejected``,
``rows_deadlettered`` (refused rows stored as dead letters), ``unclassified``
(failed attempts with an error the policy does not know),
``last_latency_s``, ``total_latency_s``, ``max_latency_s``, ``unavailable``
(True while retrying). Nothing here creates or alters tables: run
``supervise db migrate`` first.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson

from streams.engine.model import Alert, CaseStatus, Event
from streams.storage.backends import Backend, open_backend
from streams.storage.errors import (
    MalformedRows,
    RejectedRow,
    StorageError,
    StorageRefused,
    StorageUnavailable,
    StorageUnclassified,
)
from streams.storage.rows import (
    ALERTS,
    CASE_STATUS,
    COLUMNS,
    DEADLETTER,
    EVENTS,
    KEY_LABEL,
    DeadLetter,
    row_key,
    to_rows,
)

log = logging.getLogger(__name__)

# Write order: facts first, so an alert never refers to an event not yet stored.
TABLE_ORDER = (EVENTS, CASE_STATUS, ALERTS, DEADLETTER)

# ClickHouse refuses an insert block that touches more partitions than
# max_partitions_per_insert_block (100 by default; chdb and servers since 19.x; 18.16 has no
# such limit and no such setting, so it cannot be raised per query on both engines). The writer
# splits a batch so that each insert, and each materialized view's insert it feeds, touches at
# most this many months.
MAX_PARTITIONS_PER_INSERT = 100
# Per partitioned table, the row columns (epoch seconds, Asia/Shanghai months) that choose a
# partition of the table or of a view's target: events (events, events_by_dept) by occurred_at,
# alerts (alerts, dept_daily) by raised_at, case_status (dept_daily) by started_at and closed_at.
_PARTITION_COLUMNS: dict[str, tuple[int, ...]] = {EVENTS: (4,), ALERTS: (6,), CASE_STATUS: (3, 7)}
_SHANGHAI_S = 8 * 3600  # Asia/Shanghai has kept UTC+8 without DST since 1991
_SHORTEST_SPAN_S = 28 * 86400  # instants less than (n - 1) * 28 days apart touch < n months

# First detection is kept: a row stored again (a replay after a restart) carries the time it
# was first stored, looked up by its id, so readers never see it as new. Per table: the index
# and name of the stamped column and of the id column, the sort-key columns the lookup selects
# by (IN the batch's values: the cases, far fewer than the ids and as selective through the
# primary key) and the exact instant column bounding it to the batch's time range (None: none).
_FIRST_SEEN: dict[
    str, tuple[int, str, int, str, tuple[tuple[str, int], ...], tuple[str, int] | None]
] = {
    EVENTS: (12, "ingested_at", 0, "event_id", (("process", 2), ("case_id", 1)), ("occurred_at_us", 5)),
    ALERTS: (12, "detected_at", 0, "alert_id", (("process", 4), ("case_id", 3)), ("raised_at_us", 7)),
    DEADLETTER: (9, "received_at", 0, "deadletter_id", (("deadletter_id", 0),), None),
}  # fmt: skip
_LOOKUP_BYTES = 180_000  # literals per lookup query: below max_query_size (256 KiB)

# What a refused row's dead letter holds: the object as JSON (an event as its envelope).
_DOCUMENT_FIELDS: dict[str, tuple[str, ...]] = {
    EVENTS: ("event_id", "case_id", "process", "action", "occurred_at_text", "dept", "actor",
             "attrs"),
    ALERTS: ("alert_id", "rule", "level", "case_id", "process", "dept", "raised_at", "evidence",
             "message", "details", "config_version"),
    CASE_STATUS: ("process", "case_id", "dept", "started_at", "deadline", "terminal",
                  "terminal_action", "closed_at", "card_level", "completed_on_time",
                  "updated_at", "version"),
}  # fmt: skip
_REASON_MAX = 1000
_T = TypeVar("_T")


@dataclass(slots=True)
class WriterStats:
    rows_written: int = 0
    rows_by_table: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLE_ORDER, 0))
    batches_written: int = 0
    retries: int = 0
    rows_rejected: int = 0
    rows_deadlettered: int = 0
    unclassified: int = 0
    last_latency_s: float = 0.0
    total_latency_s: float = 0.0
    max_latency_s: float = 0.0
    unavailable: bool = False


class Writer:
    """See the module docstring."""

    def __init__(
        self,
        backend: Backend,
        *,
        batch_rows: int = 5000,
        flush_interval_s: float = 1.0,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 10.0,
        max_wait_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        observer: Any = None,
    ) -> None:
        self.backend = backend
        # Told of every table batch written (record_storage_batch), every failed attempt
        # (record_storage_failure) and every row refused for good (record_storage_refused):
        # streams.observability.Metrics, or None.
        self.observer = observer
        self.batch_rows = batch_rows
        self.flush_interval_s = flush_interval_s
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.max_wait_s = max_wait_s
        self.stats = WriterStats()
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._lock = threading.RLock()
        self._buffer: dict[str, list[Any]] = {t: [] for t in TABLE_ORDER}
        self._buffered = 0
        self._oldest: float | None = None

    # ------------------------------------------------------------------ direct

    def write(
        self,
        *,
        events: Iterable[Event] = (),
        alerts: Iterable[Alert] = (),
        case_status: Iterable[CaseStatus] = (),
        deadletters: Iterable[DeadLetter] = (),
    ) -> int:
        """Store everything given; return rows stored. See the module docstring."""
        objects: dict[str, list[Any]] = {
            EVENTS: list(events),
            CASE_STATUS: list(case_status),
            ALERTS: list(alerts),
            DEADLETTER: list(deadletters),
        }
        with self._lock:
            return self._write_tables(objects)

    # --------------------------------------------------------------- buffered

    def add(
        self,
        *,
        events: Iterable[Event] = (),
        alerts: Iterable[Alert] = (),
        case_status: Iterable[CaseStatus] = (),
        deadletters: Iterable[DeadLetter] = (),
    ) -> int:
        """Buffer objects; write the buffer when it is full or old. Returns rows written now."""
        with self._lock:
            for table, objs in (
                (EVENTS, events),
                (CASE_STATUS, case_status),
                (ALERTS, alerts),
                (DEADLETTER, deadletters),
            ):
                before = len(self._buffer[table])
                self._buffer[table].extend(objs)
                self._buffered += len(self._buffer[table]) - before
            if self._buffered and self._oldest is None:
                self._oldest = self._clock()
            return self.flush_if_due()

    def flush_if_due(self) -> int:
        with self._lock:
            if self._buffered >= self.batch_rows or (
                self._oldest is not None and self._clock() - self._oldest >= self.flush_interval_s
            ):
                return self.flush()
            return 0

    def flush(self) -> int:
        """Write everything buffered now (blocks while the engine is down)."""
        with self._lock:
            if not self._buffered:
                return 0
            objects = self._buffer
            try:
                written = self._write_tables(objects)
            except MalformedRows:
                self._reset_buffer()  # good rows are stored; bad ones are reported
                raise
            except StorageUnavailable:
                raise  # keep the buffer: nothing is dropped, the next flush retries
            self._reset_buffer()
            return written

    def close(self) -> None:
        self.flush()

    @property
    def buffered(self) -> int:
        return self._buffered

    def _reset_buffer(self) -> None:
        self._buffer = {t: [] for t in TABLE_ORDER}
        self._buffered = 0
        self._oldest = None

    # ---------------------------------------------------------------- internals

    def _write_tables(self, objects: dict[str, list[Any]]) -> int:
        """Convert and insert batch by batch, in table order.

        Pipelined: batch N+1 is converted while the engine stores batch N
        (sent with ``Backend.send_insert``), and batch N's answer is read
        before batch N+1 is sent, so inserts stay one at a time and in order.
        A row the engine refuses for good (see :mod:`streams.storage.policy`)
        is stored as a dead letter with the reason, with the dead letters.
        """
        now_s = int(self._wall_clock())
        rejected: list[RejectedRow] = []
        written = 0
        in_flight: _Sent | None = None
        try:
            for table in TABLE_ORDER:
                objs = objects.get(table) or []
                if table == DEADLETTER:
                    if in_flight is not None:  # every refusal of the other tables is known
                        sent, in_flight = in_flight, None
                        written += self._write_isolating(sent, rejected)
                    objs = [*objs, *self._refused_as_dead_letters(objects, rejected, now_s)]
                for start in range(0, len(objs), self.batch_rows):
                    rows, keys, bad = to_rows(table, objs[start : start + self.batch_rows], now_s)
                    rejected.extend(RejectedRow(table, key, reason) for key, reason in bad)
                    for part_rows, part_keys in split_by_partitions(table, rows, keys):
                        # The first-seen lookup reads on the backend's side connection while
                        # the batch before is stored; without one, once it is answered.
                        stamped = self._keep_first_seen(table, part_rows, in_flight is not None)
                        if in_flight is not None:
                            sent, in_flight = in_flight, None
                            written += self._write_isolating(sent, rejected)
                        if stamped is None:
                            stamped = self._keep_first_seen(table, part_rows, False)
                        assert stamped is not None
                        in_flight = self._send(table, stamped, part_keys)
            if in_flight is not None:
                sent, in_flight = in_flight, None
                written += self._write_isolating(sent, rejected)
        finally:
            if in_flight is not None:  # an unexpected error while converting: settle the insert
                try:
                    in_flight.answer()
                except StorageError:
                    log.exception(
                        "storage: %d %s rows in flight", len(in_flight.rows), in_flight.table
                    )
        if rejected:
            self.stats.rows_rejected += len(rejected)
            for r in rejected:
                log.error("storage refused %s", r)
                if self.observer is not None:
                    self.observer.record_storage_refused(r.table)
            raise MalformedRows(rejected)
        return written

    def _refused_as_dead_letters(
        self, objects: dict[str, list[Any]], rejected: list[RejectedRow], now_s: int
    ) -> list[DeadLetter]:
        """A dead letter for each refused event, case status or alert: nothing vanishes."""
        reasons: dict[str, dict[str, str]] = {}
        for r in rejected:
            if r.table != DEADLETTER:
                reasons.setdefault(r.table, {})[r.key] = r.reason
        letters: list[DeadLetter] = []
        for table, by_key in reasons.items():
            for obj in objects.get(table) or []:
                reason = by_key.pop(row_key(table, obj), None)
                if reason is not None:
                    letters.append(
                        DeadLetter(
                            raw=_document(table, obj),
                            reason=f"storage refused the {table} row: {reason}"[:_REASON_MAX],
                            received_at=now_s * 1_000_000,
                            file=f"storage.{table}",
                        )
                    )
        self.stats.rows_deadlettered += len(letters)
        return letters

    def _keep_first_seen(
        self, table: str, rows: list[tuple[Any, ...]], beside_insert: bool
    ) -> list[tuple[Any, ...]] | None:
        """``rows`` with the stamp of each row already stored set to its first (smallest) one.

        ``beside_insert``: an insert is in flight, so read on the backend's
        side connection, once; None when that did not work (call again
        without, once the insert is answered: then it retries like an insert).
        """
        spec = _FIRST_SEEN.get(table)
        if spec is None or not rows:
            return rows
        stamp_at, stamp, id_at, id_column, narrow, span = spec
        first: dict[str, int] = {}
        for chunk in _lookup_chunks(rows, [at for _, at in narrow]):
            conditions = [
                f"{name} IN ({', '.join(map(_quoted, dict.fromkeys(r[at] for r in chunk)))})"
                for name, at in narrow
            ]
            if span is not None:
                name, at = span
                conditions.append(
                    f"{name} BETWEEN {min(r[at] for r in chunk)} AND {max(r[at] for r in chunk)}"
                )
            sql = (
                f"SELECT {id_column}, toUInt32(min({stamp})) FROM {table}"
                f" WHERE {' AND '.join(conditions)} GROUP BY {id_column}"
            )
            if beside_insert:
                try:
                    found = self.backend.side_query(sql)
                except StorageError:
                    return None
            else:
                query = functools.partial(self.backend.query, sql)
                found = self._retry(table, len(chunk), query)
            first.update((str(key), int(sec)) for key, sec in found.rows)
        if not first:
            return rows
        out = []
        for row in rows:
            sec = first.get(row[id_at])
            if sec is not None and sec < row[stamp_at]:
                row = (*row[:stamp_at], sec, *row[stamp_at + 1 :])
            out.append(row)
        return out

    def _send(self, table: str, rows: list[tuple[Any, ...]], keys: list[str]) -> _Sent:
        """Start inserting a batch; its first attempt is settled by ``_write_isolating``."""
        started = self._clock()
        try:
            answer = self.backend.send_insert(
                table, COLUMNS[table], rows, dedup_token=self._dedup_token(table, keys)
            )
        except (StorageUnavailable, StorageRefused) as exc:
            answer = functools.partial(_reraise, exc)
        return _Sent(table, rows, keys, started, answer)

    def _dedup_token(self, table: str, keys: Sequence[str]) -> str | None:
        return dedup_token(table, keys) if self.backend.takes_dedup_token else None

    def _write_isolating(self, sent: _Sent, rejected: list[RejectedRow]) -> int:
        """Settle a sent batch; on refusal split in halves until the refused rows are found.

        The answer to the send is the first attempt, retried and bisected like
        any other. When every row of a batch of several is refused, the rows
        are not to blame (a broken deploy must not quietly discard
        everything): that is raised as :class:`StorageRefused`, and nothing is
        reported malformed.
        """
        table, rows = sent.table, sent.rows
        found: list[RejectedRow] = []
        written = self._bisect(table, rows, sent.keys, found, sent)
        if len(rows) > 1 and written == 0:
            raise StorageRefused(
                f"every one of {len(rows)} {table} rows refused, the engine rather than "
                f"the rows is the likely cause: {found[0].reason}"
            )
        rejected.extend(found)
        return written

    def _bisect(
        self,
        table: str,
        rows: Sequence[tuple[Any, ...]],
        keys: Sequence[str],
        rejected: list[RejectedRow],
        sent: _Sent | None = None,
    ) -> int:
        try:
            self._insert_retrying(table, rows, keys, sent)
            return len(rows)
        except StorageRefused as exc:
            if len(rows) == 1:
                rejected.append(RejectedRow(table, KEY_LABEL[table] + keys[0], str(exc)))
                return 0
        mid = len(rows) // 2
        return self._bisect(table, rows[:mid], keys[:mid], rejected) + (
            self._bisect(table, rows[mid:], keys[mid:], rejected)
        )

    def _insert_retrying(
        self,
        table: str,
        rows: Sequence[tuple[Any, ...]],
        keys: Sequence[str],
        sent: _Sent | None = None,
    ) -> None:
        started = self._clock() if sent is None else sent.started
        answer = sent.answer if sent is not None else None

        def attempt() -> None:
            nonlocal answer
            if answer is not None:
                first, answer = answer, None
                first()  # the pipelined first attempt
            else:
                self.backend.insert(
                    table, COLUMNS[table], rows, dedup_token=self._dedup_token(table, keys)
                )

        self._retry(table, len(rows), attempt, started)
        latency = self._clock() - started
        self.stats.rows_written += len(rows)
        self.stats.rows_by_table[table] += len(rows)
        self.stats.batches_written += 1
        self.stats.last_latency_s = latency
        self.stats.total_latency_s += latency
        if self.observer is not None:
            self.observer.record_storage_batch(table, len(rows), latency)
        self.stats.max_latency_s = max(self.stats.max_latency_s, latency)

    def _retry(
        self, table: str, nrows: int, attempt: Callable[[], _T], started: float | None = None
    ) -> _T:
        """``attempt()`` until it works, with back-off while the engine is unavailable.

        Unavailable includes what the error policy does not know
        (:class:`StorageUnclassified`): retried like the rest and counted,
        never blamed on the rows. Gives up only after ``max_wait_s``.
        """
        started = self._clock() if started is None else started
        delay = self.retry_initial_s
        while True:
            try:
                result = attempt()
                self.stats.unavailable = False
                return result
            except StorageUnavailable as exc:
                waited = self._clock() - started
                self.stats.unavailable = True
                if isinstance(exc, StorageUnclassified):
                    self.stats.unclassified += 1
                if self.observer is not None:
                    self.observer.record_storage_failure(table, exc)
                if self.max_wait_s is not None and waited + delay > self.max_wait_s:
                    raise StorageUnavailable(
                        f"storage unavailable for {waited:.1f}s, {nrows} {table} rows "
                        f"not written (call again): {exc}",
                        retry_after=delay,
                    ) from None
                self.stats.retries += 1
                log.warning(
                    "storage unavailable (%s); retry %d of %d %s rows in %.1fs",
                    exc,
                    self.stats.retries,
                    nrows,
                    table,
                    delay,
                )
                self._sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
                self.backend.reconnect()


@dataclass(frozen=True, slots=True)
class _Sent:
    """A batch whose insert is under way; ``answer()`` waits for the engine."""

    table: str
    rows: list[tuple[Any, ...]]
    keys: list[str]
    started: float
    answer: Callable[[], None]


def _reraise(exc: StorageError) -> None:
    raise exc


def split_by_partitions(
    table: str, rows: list[tuple[Any, ...]], keys: list[str], limit: int = MAX_PARTITIONS_PER_INSERT
) -> list[tuple[list[tuple[Any, ...]], list[str]]]:
    """(rows, keys) parts of one batch, each touching at most ``limit`` months.

    Rows are grouped by month (the order of rows within a write does not
    matter: every row is stored before ``write`` returns), so a backfill
    spanning years costs one insert per ``limit`` months.
    """
    columns = _PARTITION_COLUMNS.get(table)
    if not columns or len(rows) * len(columns) <= limit:
        return [(rows, keys)]
    instants = [row[c] for c in columns for row in rows if row[c] is not None]
    if not instants or max(instants) - min(instants) < _SHORTEST_SPAN_S * (limit - 1):
        return [(rows, keys)]  # the common case: too short a span to touch ``limit`` months
    months = [[_month(row[c]) for c in columns if row[c] is not None] or [0] for row in rows]
    if len({m for ms in months for m in ms}) <= limit:
        return [(rows, keys)]
    order = sorted(range(len(rows)), key=lambda i: months[i][0])
    parts: list[tuple[list[tuple[Any, ...]], list[str]]] = []
    seen: set[int] = set()
    part_rows: list[tuple[Any, ...]] = []
    part_keys: list[str] = []
    for i in order:
        if len(seen.union(months[i])) > limit:
            parts.append((part_rows, part_keys))
            seen, part_rows, part_keys = set(), [], []
        seen.update(months[i])
        part_rows.append(rows[i])
        part_keys.append(keys[i])
    parts.append((part_rows, part_keys))
    return parts


def _month(seconds: int) -> int:
    """YYYYMM of an instant in Asia/Shanghai (the tables' partition month)."""
    t = time.gmtime(seconds + _SHANGHAI_S)
    return t.tm_year * 100 + t.tm_mon


def _lookup_chunks(
    rows: list[tuple[Any, ...]], columns: Sequence[int]
) -> Iterable[list[tuple[Any, ...]]]:
    """Rows in runs whose ids and sort keys make a lookup query of at most ``_LOOKUP_BYTES``."""
    if sum(_quoted_size(v) for c in columns for v in {row[c] for row in rows}) < _LOOKUP_BYTES:
        yield rows  # the common case: one query
        return
    chunk: list[tuple[Any, ...]] = []
    size = 0
    for row in rows:
        size += sum(_quoted_size(row[c]) for c in columns)
        chunk.append(row)
        if size >= _LOOKUP_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _quoted_size(text: str) -> int:
    """At least the bytes of ``_quoted(text)`` and its separator: each character escaped is
    two, and a character beyond ASCII is at most 4 bytes in UTF-8."""
    return (2 * len(text) if text.isascii() else 4 * len(text)) + 4


# literal()'s escapes, as one C-level translation (ids are looked up thousands at a time).
_ESCAPE_TABLE = str.maketrans(
    {
        "\\": "\\\\",
        "'": "\\'",
        "\b": "\\b",
        "\f": "\\f",
        "\r": "\\r",
        "\n": "\\n",
        "\t": "\\t",
        "\0": "\\0",
        "\a": "\\a",
        "\v": "\\v",
    }
)


def _quoted(text: str) -> str:
    """``literal(text)`` for a string, faster."""
    return "'" + text.translate(_ESCAPE_TABLE) + "'"


def _document(table: str, obj: Any) -> bytes:
    """The JSON of a refused object, for its dead letter (never fails)."""
    doc = {name: getattr(obj, name, None) for name in _DOCUMENT_FIELDS[table]}
    if table == EVENTS:
        doc["occurred_at"] = doc.pop("occurred_at_text")
    try:
        return orjson.dumps(doc, default=str)
    except TypeError:  # e.g. nested deeper than JSON writers go
        return repr(doc).encode("utf-8", "backslashreplace")


def dedup_token(table: str, keys: Sequence[str]) -> str:
    """Same table and same row identities -> same token (engines that dedup use it)."""
    digest = hashlib.sha256(table.encode())
    for key in keys:
        digest.update(b"\n")
        digest.update(key.encode())
    return digest.hexdigest()[:32]


def open_writer(settings: Any = None, backend: Backend | None = None) -> Writer:
    """A writer on the configured backend with the configured batching and retry."""
    if settings is None:
        from streams.settings import get_settings

        settings = get_settings()
    return Writer(
        backend or open_backend(settings),
        batch_rows=getattr(settings, "clickhouse_batch_rows", 5000),
        flush_interval_s=getattr(settings, "clickhouse_flush_interval_s", 1.0),
        retry_initial_s=getattr(settings, "clickhouse_retry_initial_s", 0.2),
        retry_max_s=getattr(settings, "clickhouse_retry_max_s", 10.0),
        max_wait_s=getattr(settings, "clickhouse_max_wait_s", None),
    )
