"""The storage writer: idempotent, batched, retrying writes to either engine.

API (for the live worker, replay and tools)
-------------------------------------------
``open_writer(settings=None) -> Writer`` builds a writer on the configured backend.

``Writer.write(*, events=(), alerts=(), case_status=(), deadletters=(), withdrawals=(),
shadow_alerts=(), workflow_actions=(), workflows=()) -> int``
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
    names each refused row and why (:mod:`streams.storage.refused`). Inserts
    go one at a time, in batches of ``batch_rows`` (split so that none touches
    more than ``MAX_PARTITIONS_PER_INSERT`` months:
    :mod:`streams.storage.partitions`), and each batch is converted while the
    engine stores the one before it. Withdrawals (``engine.model.Withdrawal``) are
    new versions of stored alert rows, after the write's alerts (:mod:`.withdrawals`).

Idempotency: rows carry deterministic ids (event_id, alert_id, case + version,
dead-letter id = hash of source position and bytes); every table is a
ReplacingMergeTree read with FINAL, and the statistics store id sets, so a
batch written twice, or re-batched after a restart, shows once to readers.
First detection is kept: a row stored again carries its first ``ingested_at``
/ ``detected_at`` / ``received_at`` (:mod:`streams.storage.first_seen`). An alert
id of a cross-case rule raised at two instants is stored once, at the first
(:mod:`streams.storage.first_raised`).

Counters: ``writer.stats`` (:class:`WriterStats`); ``writer.observer``
(:class:`streams.observability.Metrics`, or None) is told of every table batch
written (``record_storage_batch``), every failed attempt
(``record_storage_failure``) and every row refused for good
(``record_storage_refused``). Nothing here creates or alters tables: run
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
from typing import TYPE_CHECKING, Any, TypeVar

from streams.engine.model import Alert, CaseStatus, Event, Withdrawal
from streams.storage.backends import Backend, open_backend
from streams.storage.errors import (
    MalformedRows,
    RejectedRow,
    StorageError,
    StorageRefused,
    StorageUnavailable,
    StorageUnclassified,
)
from streams.storage.first_raised import keep_first_raised, repair_first_raised
from streams.storage.first_seen import keep_first_seen, keep_first_seen_beside
from streams.storage.partitions import split_by_partitions
from streams.storage.refused import insert_isolating, refused_as_dead_letters
from streams.storage.rows import DeadLetter, to_rows
from streams.storage.tables import (
    ALERTS,
    CASE_STATUS,
    COLUMNS,
    DEADLETTER,
    EVENTS,
    SHADOW_ALERTS,
    TABLE_ORDER,
    WITHDRAWALS,
    WORKFLOW_ACTIONS,
    WORKFLOWS,
)
from streams.storage.withdrawals import withdrawal_inserts
from streams.storage.workflow_rows import ActionRecord, WorkflowVersion

if TYPE_CHECKING:
    from streams.settings import Settings

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(slots=True)
class WriterStats:
    """What the writer did. ``rows_deadlettered``: refused rows stored as dead letters;
    ``unclassified``: failed attempts with an error the policy does not know;
    ``unavailable``: True while retrying."""

    rows_written: int = 0
    rows_by_table: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (EVENTS, CASE_STATUS, ALERTS, SHADOW_ALERTS, DEADLETTER), 0
        )
    )
    batches_written: int = 0
    retries: int = 0
    rows_rejected: int = 0
    rows_deadlettered: int = 0
    unclassified: int = 0
    last_latency_s: float = 0.0
    total_latency_s: float = 0.0
    max_latency_s: float = 0.0
    unavailable: bool = False

    def record_batch(self, table: str, nrows: int, latency_s: float) -> None:
        """A batch of ``nrows`` stored in ``table``, acknowledged ``latency_s`` after it began."""
        self.rows_written += nrows
        self.rows_by_table[table] = self.rows_by_table.get(table, 0) + nrows
        self.batches_written += 1
        self.last_latency_s = latency_s
        self.total_latency_s += latency_s
        self.max_latency_s = max(self.max_latency_s, latency_s)


class Writer:
    """See the module docstring."""

    def __init__(
        self,
        backend: Backend,
        *,
        batch_rows: int = 5000,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 10.0,
        max_wait_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        observer: Any = None,
    ) -> None:
        self.backend = backend
        self.observer = observer  # see the module docstring
        self.batch_rows = batch_rows
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.max_wait_s = max_wait_s
        self.stats = WriterStats()
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._lock = threading.RLock()

    def write(
        self,
        *,
        events: Iterable[Event] = (),
        alerts: Iterable[Alert] = (),
        case_status: Iterable[CaseStatus] = (),
        deadletters: Iterable[DeadLetter] = (),
        withdrawals: Iterable[Withdrawal] = (),
        shadow_alerts: Iterable[Alert] = (),
        workflow_actions: Iterable[ActionRecord] = (),
        workflows: Iterable[WorkflowVersion] = (),
    ) -> int:
        """Store everything given; return rows stored. See the module docstring."""
        objects: dict[str, list[Any]] = {
            EVENTS: list(events),
            CASE_STATUS: list(case_status),
            ALERTS: list(alerts),
            WITHDRAWALS: list(withdrawals),
            SHADOW_ALERTS: list(shadow_alerts),
            WORKFLOW_ACTIONS: list(workflow_actions),
            WORKFLOWS: list(workflows),
            DEADLETTER: list(deadletters),
        }
        with self._lock:
            # One alert id, one row: the first raised wins (``first_raised``).
            repairs = {}
            for t in (ALERTS, SHADOW_ALERTS):
                objects[t], repairs[t] = keep_first_raised(objects[t], self._query(t), t)
            written = self._write_tables(objects)
            for t, repair in repairs.items():
                if repair and repair_first_raised(repair, self._query(t), self._execute, t):
                    log.info("storage: later repeats of cross-case alert ids deleted (%s)", t)
            return written

    def _query(self, table: str) -> Callable[[str, int], Any]:
        def query(sql: str, nrows: int) -> Any:
            return self._retry(table, nrows, functools.partial(self.backend.query, sql))

        return query

    def _execute(self, sql: str) -> None:
        self._retry(ALERTS, 0, functools.partial(self.backend.execute, sql))

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

        def settle() -> int:
            """Rows stored of the batch in flight, if any (see ``_write_isolating``)."""
            nonlocal in_flight
            sent, in_flight = in_flight, None
            return 0 if sent is None else self._write_isolating(sent, rejected)

        try:
            for table in TABLE_ORDER:
                objs = objects.get(table) or []
                if table == DEADLETTER:
                    written += settle()  # every refusal of the other tables is known
                    letters = refused_as_dead_letters(objects, rejected, now_s)
                    self.stats.rows_deadlettered += len(letters)
                    objs = [*objs, *letters]
                elif table == WITHDRAWALS:
                    written += settle()  # looked up once this write's alerts are stored
                    parts = withdrawal_inserts(objs, self.batch_rows, self._query(ALERTS), rejected)
                    for part_rows, part_keys in parts:
                        written += settle()
                        in_flight = self._send(ALERTS, part_rows, part_keys, WITHDRAWALS)
                    continue
                for start in range(0, len(objs), self.batch_rows):
                    rows, keys, bad = to_rows(table, objs[start : start + self.batch_rows], now_s)
                    rejected.extend(RejectedRow(table, key, reason) for key, reason in bad)
                    for part_rows, part_keys in split_by_partitions(table, rows, keys):
                        # The first-seen lookup reads on the backend's side connection while
                        # the batch before is stored; without one, once it is answered.
                        stamped = None
                        if in_flight is not None:
                            side = self.backend.side_query
                            stamped = keep_first_seen_beside(table, part_rows, side)
                        written += settle()
                        if stamped is None:
                            stamped = keep_first_seen(table, part_rows, self._query(table))
                        in_flight = self._send(table, stamped, part_keys)
            written += settle()
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

    def _send(
        self, table: str, rows: list[tuple[Any, ...]], keys: list[str], label: str = ""
    ) -> _Sent:
        """Start inserting a batch; its first attempt is settled by ``_write_isolating``.
        ``label``: what its refused rows are reported as (default: ``table``)."""
        started = self._clock()
        try:
            answer = self.backend.send_insert(
                table, COLUMNS[table], rows, dedup_token=self._dedup_token(table, keys)
            )
        except (StorageUnavailable, StorageRefused) as exc:
            answer = functools.partial(_reraise, exc)
        return _Sent(table, rows, keys, started, answer, label or table)

    def _dedup_token(self, table: str, keys: Sequence[str]) -> str | None:
        return dedup_token(table, keys) if self.backend.takes_dedup_token else None

    def _write_isolating(self, sent: _Sent, rejected: list[RejectedRow]) -> int:
        """Settle a sent batch, isolating refused rows (:func:`refused.insert_isolating`).

        The answer to the send is the first attempt, retried and bisected like any other.
        """

        def insert(rows: Sequence[tuple[Any, ...]], keys: Sequence[str], first: bool) -> None:
            self._insert_retrying(sent.table, rows, keys, sent if first else None)

        return insert_isolating(sent.label, sent.rows, sent.keys, insert, rejected)

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
        self.stats.record_batch(table, len(rows), latency)
        if self.observer is not None:
            self.observer.record_storage_batch(table, len(rows), latency)

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
    label: str  # what refused rows are reported as: the table, or WITHDRAWALS


def _reraise(exc: StorageError) -> None:
    raise exc


def dedup_token(table: str, keys: Sequence[str]) -> str:
    """Same table and same row identities -> same token (engines that dedup use it)."""
    digest = hashlib.sha256(table.encode())
    for key in keys:
        digest.update(b"\n")
        digest.update(key.encode())
    return digest.hexdigest()[:32]


def open_writer(settings: Settings | None = None, backend: Backend | None = None) -> Writer:
    """A writer on the configured backend with the configured batching and retry."""
    if settings is None:
        from streams.settings import get_settings

        settings = get_settings()
    return Writer(
        backend or open_backend(settings),
        batch_rows=settings.clickhouse_batch_rows,
        retry_initial_s=settings.clickhouse_retry_initial_s,
        retry_max_s=settings.clickhouse_retry_max_s,
        max_wait_s=settings.clickhouse_max_wait_s,
    )
