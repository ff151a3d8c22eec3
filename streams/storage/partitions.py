"""Splitting a batch so that no insert touches more months than the engine allows.

ClickHouse refuses an insert block that touches more partitions than
max_partitions_per_insert_block (100 by default; chdb and servers since 19.x;
18.16 has no such limit and no such setting, so it cannot be raised per query
on both engines). The writer splits a batch so that each insert, and each
materialized view's insert it feeds, touches at most this many months.
"""

from __future__ import annotations

import time
from typing import Any

from streams.storage.tables import ALERTS, CASE_STATUS, EVENTS, SHADOW_ALERTS

MAX_PARTITIONS_PER_INSERT = 100
# Per partitioned table, the row columns (epoch seconds, Asia/Shanghai months) that choose a
# partition of the table or of a view's target: events (events, events_by_dept) by occurred_at,
# alerts by raised_at; case_status is not partitioned (its instants, started_at and closed_at,
# chose the months of the dept_daily views up to migration 0004: a harmless bound).
_PARTITION_COLUMNS: dict[str, tuple[int, ...]] = {
    EVENTS: (4,),
    ALERTS: (6,),
    SHADOW_ALERTS: (6,),
    CASE_STATUS: (3, 7),
}
_SHANGHAI_S = 8 * 3600  # Asia/Shanghai has kept UTC+8 without DST since 1991
_SHORTEST_SPAN_S = 28 * 86400  # instants less than (n - 1) * 28 days apart touch < n months


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
