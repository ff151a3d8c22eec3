"""First detection is kept: a row stored again carries the time it was first stored.

A replay after a restart stores rows again; before a batch is sent, the ids
already stored are looked up (one indexed query per batch of events, alerts
or dead letters) and each such row gets its first (smallest)
``ingested_at`` / ``detected_at`` / ``received_at``, so readers never see it
as new. The lookup selects by the batch's sort-key values (its cases: far
fewer than its ids and as selective through the primary key) within the
batch's time range, and is chunked to stay below the engine's
``max_query_size``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from streams.storage.backends import QueryResult
from streams.storage.errors import StorageError
from streams.storage.tables import ALERTS, DEADLETTER, EVENTS, SHADOW_ALERTS

# Per table: the index and name of the stamped column and of the id column, the sort-key columns
# the lookup selects by (IN the batch's values) and the exact instant column bounding it to the
# batch's time range (None: none).
_FIRST_SEEN: dict[
    str, tuple[int, str, int, str, tuple[tuple[str, int], ...], tuple[str, int] | None]
] = {
    EVENTS: (12, "ingested_at", 0, "event_id", (("process", 2), ("case_id", 1)), ("occurred_at_us", 5)),
    ALERTS: (12, "detected_at", 0, "alert_id", (("process", 4), ("case_id", 3)), ("raised_at_us", 7)),
    DEADLETTER: (9, "received_at", 0, "deadletter_id", (("deadletter_id", 0),), None),
    SHADOW_ALERTS: (12, "detected_at", 0, "alert_id", (("config_version", 11), ("process", 4), ("case_id", 3)), ("raised_at_us", 7)),
}  # fmt: skip
_LOOKUP_BYTES = 180_000  # literals per lookup query: below max_query_size (256 KiB)


def keep_first_seen(
    table: str,
    rows: list[tuple[Any, ...]],
    query: Callable[[str, int], QueryResult],
) -> list[tuple[Any, ...]]:
    """``rows`` with the stamp of each row already stored set to its first (smallest) one.

    ``query(sql, nrows)`` runs one lookup for ``nrows`` rows (the writer
    retries it, or reads on the backend's side connection); its errors pass
    through.
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
        found = query(sql, len(chunk))
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


def keep_first_seen_beside(
    table: str, rows: list[tuple[Any, ...]], side_query: Callable[[str], QueryResult]
) -> list[tuple[Any, ...]] | None:
    """``keep_first_seen`` read once on the backend's side connection (``side_query``) while
    an insert is in flight; None when that did not work: call ``keep_first_seen`` again
    once the insert is answered (then the lookup retries like an insert)."""
    try:
        return keep_first_seen(table, rows, lambda sql, _: side_query(sql))
    except StorageError:
        return None


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
