"""Alert withdrawals (rules.md §1.4, events.md § Alerts) as new versions of ``alerts`` rows.

A withdrawal never changes a stored row. The alert's current row is read
(``alerts FINAL``, by its case and id) and stored again with ``withdrawn_at``
(processing time), ``withdrawn_reason`` and ``withdrawn_by`` (the ids of the
events that disproved it) set, and its first ``detected_at`` kept. ``alerts``
is a ReplacingMergeTree without a version column: of the rows with one key, the
one stored last is what ``FINAL`` reads and merges keep, so the writer stores
withdrawals after the alerts of the same write, one insert after another. The
same withdrawal stored twice is one row to readers, like every other row.

The first withdrawal is kept, like the first ``detected_at``: a withdrawal of an
alert already stored as withdrawn with the same reason and late events (the
live service correcting a case again after a restart, at another processing
time) is stored with the first ``withdrawn_at``, and the ``Withdrawal`` given
is set to it, so what is published after the write says the same.

Default reads leave withdrawn alerts out (``alerts_v``, the department
statistics of ``dept_daily_v``); ``alerts_withdrawn_v`` and ``supervise query
alerts --withdrawn`` show them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from streams.engine.model import Withdrawal
from streams.storage.backends import QueryResult
from streams.storage.backends.sql import literal
from streams.storage.errors import RejectedRow
from streams.storage.partitions import split_by_partitions
from streams.storage.rows import RowError, row_key, seconds, withdrawal_key
from streams.storage.tables import ALERTS, WITHDRAWALS

LOOKUP_COLUMNS = (
    "alert_id, rule, level, case_id, process, dept, toUInt32(raised_at), raised_at_us,"
    " evidence, message, details, config_version, toUInt32(detected_at)"
)
_REASON_MAX = 1000


def first_sql(withdrawals: Sequence[Withdrawal]) -> str:
    """The first withdrawal time of each (alert, reason, late events) among all row versions."""
    return (
        "SELECT alert_id, withdrawn_reason, withdrawn_by, min(toUInt32(withdrawn_at))"
        f" FROM alerts WHERE {_among(withdrawals)} AND isNotNull(withdrawn_at)"
        " GROUP BY alert_id, withdrawn_reason, withdrawn_by"
    )


def _among(withdrawals: Sequence[Withdrawal]) -> str:
    def among(values: set[str]) -> str:
        return "(" + ", ".join(literal(v) for v in sorted(values)) + ")"

    return (
        f"process IN {among({w.process for w in withdrawals})}"
        f" AND case_id IN {among({w.case_id for w in withdrawals})}"
        f" AND alert_id IN {among({w.alert_id for w in withdrawals})}"
    )


def lookup_sql(withdrawals: Sequence[Withdrawal]) -> str:
    """The current rows of the withdrawn alerts, selected through the sort key."""
    return f"SELECT {LOOKUP_COLUMNS} FROM alerts FINAL WHERE {_among(withdrawals)}"


def check(withdrawal: Withdrawal) -> list[str]:
    """``withdrawn_by`` as event ids; raises ``RowError`` for a withdrawal that cannot be stored."""
    reason = withdrawal.reason
    if not isinstance(reason, str) or not reason.strip():
        raise RowError("withdrawn_reason is empty")
    if len(reason) > _REASON_MAX:
        raise RowError(f"withdrawn_reason is longer than {_REASON_MAX} characters")
    ids: list[str] = []
    for event in withdrawal.withdrawn_by or ():
        event_id = getattr(event, "event_id", None)
        if not isinstance(event_id, str) or not event_id:
            raise RowError("withdrawn_by must be the events that disproved the alert")
        ids.append(event_id)
    if not ids:
        raise RowError("withdrawn_by must name the events that disproved the alert")
    seconds(withdrawal.withdrawn_at, "withdrawn_at")
    return ids


def withdrawal_rows(
    withdrawals: Sequence[Withdrawal], query: Callable[[str], QueryResult]
) -> tuple[list[tuple[Any, ...]], list[str], list[tuple[str, str]]]:
    """(rows in ``tables.COLUMNS[ALERTS]`` order, their keys (``rows.withdrawal_key``),
    [(labelled key, reason)] of the withdrawals that cannot be stored: malformed, or of an
    alert not stored).

    ``query(sql)`` runs the lookups (the writer retries them). Of several withdrawals of one
    alert in a batch, the last given is stored. A withdrawal stored before (same alert,
    reason and late events) keeps its first ``withdrawn_at``: the row and the object given.
    """
    refused: list[tuple[str, str]] = []
    wanted: dict[str, tuple[Withdrawal, list[str]]] = {}
    for w in withdrawals:
        try:
            ids = check(w)
        except (RowError, AttributeError, TypeError) as exc:
            refused.append((row_key(WITHDRAWALS, w), str(exc)))
            continue
        wanted[w.alert_id] = (w, ids)
    found: dict[str, tuple[Any, ...]] = {}
    first: dict[tuple[str, str, tuple[str, ...]], int] = {}
    if wanted:
        given = [w for w, _ in wanted.values()]
        for row in query(lookup_sql(given)).rows:
            found[str(row[0])] = row
        for alert_id, reason, by, at in query(first_sql(given)).rows:
            first[(str(alert_id), str(reason), tuple(by))] = int(at)
    rows: list[tuple[Any, ...]] = []
    keys: list[str] = []
    for alert_id, (w, ids) in wanted.items():
        stored = found.get(alert_id)
        if stored is None or stored[4] != w.process or stored[3] != w.case_id:
            reason = f"no stored alert of case {w.process}/{w.case_id} to withdraw"
            refused.append((row_key(WITHDRAWALS, w), reason))
            continue
        withdrawn_at = seconds(w.withdrawn_at, "withdrawn_at")
        earlier = first.get((alert_id, w.reason, tuple(ids)))
        if earlier is not None and earlier != withdrawn_at:
            withdrawn_at = earlier
            w.withdrawn_at = earlier * 1_000_000
        row = (*stored[:8], list(stored[8]), *stored[9:12], int(stored[12]))
        rows.append((*row, withdrawn_at, w.reason, ids))
        keys.append(withdrawal_key(w))
    return rows, keys, refused


def withdrawal_inserts(
    withdrawals: Sequence[Withdrawal],
    batch_rows: int,
    query: Callable[[str, int], QueryResult],
    rejected: list[RejectedRow],
) -> list[tuple[list[tuple[Any, ...]], list[str]]]:
    """The new versions of the withdrawn alerts' rows, as (rows, keys) of the inserts into
    ``alerts`` (batches of ``batch_rows`` withdrawals, split by partitions); the withdrawals
    that cannot be stored go to ``rejected``. ``query(sql, nrows)`` runs a batch's lookup
    (the writer retries it)."""
    parts = []
    # Keys named per write: the insert deduplication (``dedup_token``) makes a retry of the
    # insert idempotent, but must not drop a later write of the same row over a newer version
    # (a batch read again stores its alert, then the same withdrawal, again).
    written = f" (write {time.time_ns()})"
    for start in range(0, len(withdrawals), batch_rows):
        batch = withdrawals[start : start + batch_rows]
        rows, keys, bad = withdrawal_rows(batch, _lookup(query, len(batch)))
        keys = [key + written for key in keys]
        rejected.extend(RejectedRow(WITHDRAWALS, key, reason) for key, reason in bad)
        parts += split_by_partitions(ALERTS, rows, keys) if rows else []
    return parts


def _lookup(query: Callable[[str, int], QueryResult], nrows: int) -> Callable[[str], QueryResult]:
    return lambda sql: query(sql, nrows)
