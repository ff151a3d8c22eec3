"""ClickHouse storage: one schema on a ClickHouse server and on embedded chdb.

Where things live
-----------------
- ``schemas/clickhouse/NNNN_*.sql``  numbered DDL migrations (the only DDL).
- :mod:`streams.storage.backends`    a connection to either engine (``open_backend``):
  ``base`` (the ``Backend`` interface), ``sql`` (literals), ``server``, ``chdb``.
- :mod:`streams.storage.policy`      which engine error is retried, misconfigured or refused.
- :mod:`streams.storage.migrations`  ``migrate(backend)``: applies what is missing.
- :mod:`streams.storage.tables`      table names, column order (``COLUMNS``), row labels.
- :mod:`streams.storage.rows`        pure conversion of ``Event``/``Alert``/... to rows.
- :mod:`streams.storage.writer`      ``Writer``: idempotent, batched, retrying writes, with
  ``partitions`` (months per insert), ``first_seen`` (first detection kept) and
  ``refused`` (refused rows isolated and stored as dead letters).
- :mod:`streams.storage.queries`     parameterized reads (timeline, alerts, events, performance).

Tables (read them with ``FINAL`` or through the ``*_v`` views)
---------------------------------------------------------------
Instants are ``DateTime('Asia/Shanghai')`` (seconds) with the exact epoch
microseconds next to them in ``*_us`` Int64 columns.

``events`` / ``events_v``  every accepted event, unique by ``event_id``.
    event_id, case_id, process, action, occurred_at, occurred_at_us,
    occurred_at_text (as written upstream), dept, actor (Nullable), party (the
    counterparty the action names: the attrs payee / supplier / winner / bidder /
    enterprise_id the contract declares for that action, else ''), amount
    (Nullable Decimal(18,2): the attrs amount / approved_amount / budget the
    contract declares for that action, else NULL; ``tables.COLUMN_KEYS``; an
    undeclared key of the same name stays in attrs only), attrs (JSON text),
    ingested_at (when first stored: the writer keeps it when a row is stored again),
    reported_at / reported_at_us / reported_at_text (the envelope's, as sent; NULL
    without), arrived_at / arrived_at_us (the Kafka record timestamp; NULL when not
    read from Kafka). Partitioned by month of occurred_at; ordered by
    (process, case_id, occurred_at_us, event_id): a case timeline is a range read.
``events_by_dept``  the same rows ordered by (dept, occurred_at, event_id) for
    department-by-time scans (kept by ``events_by_dept_mv``; read with FINAL).
``alerts`` / ``alerts_v``  unique by ``alert_id``: rule, level
    (notice/yellow/red), case_id, process, dept, raised_at, raised_at_us,
    evidence Array(String), message, details (JSON text), config_version,
    detected_at (processing time of the first write; kept when stored again),
    withdrawn_at / withdrawn_reason / withdrawn_by (set on the row version a
    withdrawal stores: :mod:`streams.storage.withdrawals`). ``alerts_v`` has the
    alerts not withdrawn, ``alerts_withdrawn_v`` the withdrawn ones.
``deadletter``  rejected input: deadletter_id, raw (original bytes), reason,
    source (human-readable position), topic, kafka_partition, kafka_offset,
    file, line, received_at (the first reception; kept when stored again). A
    row the engine refuses for good is stored here too (source
    ``storage.<table>:0``, the object as JSON, the reason).
``case_status`` / ``case_status_v``  one row per (process, case_id), highest
    ``version`` wins: dept, started_at, deadline, terminal (0/1),
    terminal_action, closed_at, card_level ('' / notice / yellow / red),
    completed_on_time (Nullable 0/1), updated_at, version.
``dept_daily_v``  department performance (绩效测评) per (day = Asia/Shanghai
    date, dept, process): accepted, completed, completed_on_time,
    completed_late, overdue (cases with an OVERDUE yellow card that day),
    notices, yellow_cards, red_cards, computed from the current rows
    (case_status and alerts FINAL, withdrawn alerts left out), so duplicate
    writes, withdrawals and corrected statuses never count twice; over a period
    sum it (each case / alert lands on exactly one day).
``scoring_config`` / ``dept_month_scores_v``  department scores per local month
    (workflow.md § Scoring) as ``streams.scoring.monthly_scores`` counts them, under the
    ``[scoring]`` recorded last (:mod:`streams.storage.scoring_config`; 0008_scores.sql).
``schema_migrations``  bookkeeping of ``supervise db migrate``.

Choosing the engine: ``CLICKHOUSE_URL=clickhouse://user:pass@host:9000/db``
selects the server; unset, embedded chdb stores in ``CHDB_PATH``.
"""

from streams.storage.backends import Backend, open_backend
from streams.storage.errors import (
    MalformedRows,
    RejectedRow,
    StorageError,
    StorageMisconfigured,
    StorageRefused,
    StorageUnavailable,
)
from streams.storage.rows import DeadLetter
from streams.storage.writer import Writer, WriterStats, open_writer

__all__ = [
    "Backend",
    "DeadLetter",
    "MalformedRows",
    "RejectedRow",
    "StorageError",
    "StorageMisconfigured",
    "StorageRefused",
    "StorageUnavailable",
    "Writer",
    "WriterStats",
    "open_backend",
    "open_writer",
]
