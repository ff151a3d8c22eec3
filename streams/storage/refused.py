"""Rows the engine refuses for good: found by bisection, stored as dead letters.

A batch the engine refuses (:class:`StorageRefused`, see
:mod:`streams.storage.policy`) is split in halves until the refused rows are
found; every other row is stored. Each refused event, case status or alert
then becomes a dead letter holding the object as JSON (an event as its
envelope) and the engine's reason, with source ``storage.<table>``: nothing
vanishes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from streams.storage.errors import RejectedRow, StorageRefused
from streams.storage.rows import DeadLetter, row_key
from streams.storage.tables import (
    ALERTS,
    CASE_STATUS,
    DEADLETTER,
    EVENTS,
    KEY_LABEL,
    SHADOW_ALERTS,
    WITHDRAWALS,
)

# What a refused row's dead letter holds: the object as JSON (an event as its envelope).
_DOCUMENT_FIELDS: dict[str, tuple[str, ...]] = {
    EVENTS: ("event_id", "case_id", "process", "action", "occurred_at_text", "dept", "actor",
             "reported_at_text", "attrs"),
    ALERTS: ("alert_id", "rule", "level", "case_id", "process", "dept", "raised_at", "evidence",
             "message", "details", "config_version"),
    CASE_STATUS: ("process", "case_id", "dept", "started_at", "deadline", "terminal",
                  "terminal_action", "closed_at", "card_level", "completed_on_time",
                  "updated_at", "version"),
    WITHDRAWALS: ("alert_id", "process", "case_id", "withdrawn_at", "reason", "withdrawn_by"),
}  # fmt: skip
_DOCUMENT_FIELDS[SHADOW_ALERTS] = _DOCUMENT_FIELDS[ALERTS]
_REASON_MAX = 1000


def insert_isolating(
    table: str,
    rows: Sequence[tuple[Any, ...]],
    keys: Sequence[str],
    insert: Callable[[Sequence[tuple[Any, ...]], Sequence[str], bool], None],
    rejected: list[RejectedRow],
) -> int:
    """Rows stored by ``insert(rows, keys, first)``; the refused ones are added to ``rejected``.

    ``insert`` stores (retrying while the engine is unavailable) or raises
    :class:`StorageRefused`; ``first`` is True for the whole batch only. When
    every row of a batch of several is refused, the rows are not to blame (a
    broken deploy must not quietly discard everything): that is raised as
    :class:`StorageRefused`, and nothing is reported malformed.
    """
    found: list[RejectedRow] = []
    written = _bisect(table, rows, keys, insert, found, True)
    if len(rows) > 1 and written == 0:
        raise StorageRefused(
            f"every one of {len(rows)} {table} rows refused, the engine rather than "
            f"the rows is the likely cause: {found[0].reason}"
        )
    rejected.extend(found)
    return written


def _bisect(
    table: str,
    rows: Sequence[tuple[Any, ...]],
    keys: Sequence[str],
    insert: Callable[[Sequence[tuple[Any, ...]], Sequence[str], bool], None],
    rejected: list[RejectedRow],
    first: bool = False,
) -> int:
    try:
        insert(rows, keys, first)
        return len(rows)
    except StorageRefused as exc:
        if len(rows) == 1:
            rejected.append(RejectedRow(table, KEY_LABEL[table] + keys[0], str(exc)))
            return 0
    mid = len(rows) // 2
    return _bisect(table, rows[:mid], keys[:mid], insert, rejected) + (
        _bisect(table, rows[mid:], keys[mid:], insert, rejected)
    )


def refused_as_dead_letters(
    objects: dict[str, list[Any]], rejected: list[RejectedRow], now_s: int
) -> list[DeadLetter]:
    """A dead letter for each refused event, case status, alert or withdrawal of ``objects``."""
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
    return letters


def _document(table: str, obj: Any) -> bytes:
    """The JSON of a refused object, for its dead letter (never fails)."""
    doc = {name: getattr(obj, name, None) for name in _DOCUMENT_FIELDS[table]}
    if table == EVENTS:
        doc["occurred_at"] = doc.pop("occurred_at_text")
        reported = doc.pop("reported_at_text")
        if reported is not None:
            doc["reported_at"] = reported
    elif table == WITHDRAWALS:
        doc["withdrawn_by"] = [getattr(e, "event_id", e) for e in doc["withdrawn_by"] or ()]
    try:
        return orjson.dumps(doc, default=str)
    except TypeError:  # e.g. nested deeper than JSON writers go
        return repr(doc).encode("utf-8", "backslashreplace")
