"""Pure conversion of the product's data shapes into table rows.

No I/O here: each ``*_row`` function takes one object and returns one tuple in
the column order of ``tables.COLUMNS[table]``, or raises :class:`RowError` naming
what is wrong. Values are plain Python: ``str``, ``int`` (DateTime columns
take epoch seconds), ``None``, ``list[str]``, ``bytes``; a Decimal column
takes the checked decimal text (``"1200.50"``), which is what both engines
parse (clickhouse-driver converts with ``Decimal(str(value))``, chdb reads
JSON text). A bad value is refused, never coerced into a plausible one.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from streams.contract import DeadLetter as DeadLetter  # the one dead-letter shape, re-exported
from streams.engine.model import LEVELS, Alert, CaseStatus, Event
from streams.storage.tables import (
    ALERTS,
    CASE_STATUS,
    COLUMN_KEYS,
    COLUMNS,
    DEADLETTER,
    EVENTS,
    KEY_LABEL,
    SHADOW_ALERTS,
    WITHDRAWALS,
)

_NO_COLUMNS: dict[str, tuple[str | None, str | None]] = {}

_MAX_AMOUNT = Decimal("9999999999999999.99")  # Decimal(18, 2)
_MAX_DATETIME_S = 2**32 - 1  # DateTime is UInt32 seconds
_MAX_ID = 128
_NOT_WITHDRAWN: list[str] = []  # withdrawn_by of a row as raised (never changed)


class RowError(ValueError):
    """One object cannot become a row; the message says why."""


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


_dumps = orjson.dumps


def json_text(value: Any) -> str:
    """Compact JSON text of an attrs/details object (Decimals as strings)."""
    try:
        return _dumps(value, default=_json_default).decode()
    except TypeError as exc:
        raise RowError(f"not JSON-serializable: {exc}") from None


def seconds(us: int, what: str) -> int:
    """Epoch microseconds -> DateTime seconds (floor), refusing what DateTime cannot hold."""
    if not isinstance(us, int) or isinstance(us, bool):
        raise RowError(f"{what} must be integer epoch microseconds, got {us!r}")
    sec = us // 1_000_000
    if not 0 <= sec <= _MAX_DATETIME_S:
        raise RowError(f"{what} {us} is outside 1970-01-01..2106-02-07")
    return sec


def opt_seconds(us: int | None, what: str) -> int | None:
    return None if us is None else seconds(us, what)


_PLAIN_AMOUNT = re.compile(r"(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,2})?")
_plain_amount = _PLAIN_AMOUNT.fullmatch


def amount(value: Any, what: str = "amount") -> str:
    """The text of an exact non-negative decimal with at most 2 decimals (a JSON number or string).

    Plain text such as ``"1200.5"`` is returned as it is; anything else that is
    exact and in range as its canonical text with 2 decimals.
    """
    if type(value) is str and _plain_amount(value):
        return value  # the common case: already plain, exact and in range
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise RowError(f"{what} {value!r} is not a number")
    try:
        # str(float) is the shortest text that round-trips: 1999.99 -> "1999.99".
        dec = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise RowError(f"{what} {value!r} is not a decimal number") from None
    if not dec.is_finite() or dec < 0 or dec > _MAX_AMOUNT:
        raise RowError(f"{what} {value!r} is out of range 0..{_MAX_AMOUNT}")
    if dec != dec.quantize(Decimal("0.01")):
        raise RowError(f"{what} {value!r} has more than 2 decimals")
    return str(dec.quantize(Decimal("0.01")))


def _text(value: Any, what: str, max_len: int | None = None, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise RowError(f"{what} must be a string, got {value!r}")
    if not empty and not value:
        raise RowError(f"{what} is empty")
    if max_len is not None and len(value) > max_len:
        raise RowError(f"{what} is longer than {max_len} characters")
    return value


def event_row(event: Event, ingested_at_s: int) -> tuple[Any, ...]:
    # One pass with the checks inlined: this runs once per stored event.
    e = event.event_id
    c = event.case_id
    p = event.process
    a = event.action
    d = event.dept
    t = event.occurred_at_text
    if not (
        type(e) is str and 0 < len(e) <= _MAX_ID
        and type(c) is str and 0 < len(c) <= _MAX_ID
        and type(p) is str and p != ""
        and type(a) is str and a != ""
        and type(d) is str and 0 < len(d) <= 64
        and type(t) is str
    ):  # fmt: skip
        _text(e, "event_id", _MAX_ID)
        _text(c, "case_id", _MAX_ID)
        _text(p, "process")
        _text(a, "action")
        _text(d, "dept", 64)
        _text(t, "occurred_at_text", empty=True)
    attrs = event.attrs
    party = ""
    money = None
    if type(attrs) is not dict:
        if attrs is not None:
            raise RowError(f"attrs must be an object, got {type(attrs).__name__}")
        attrs = {}
    elif attrs:
        party_key, amount_key = COLUMN_KEYS.get(p, _NO_COLUMNS).get(a, (None, None))
        if party_key is not None:
            value = attrs.get(party_key)
            if type(value) is str:
                party = value
        if amount_key is not None:
            value = attrs.get(amount_key)
            if value is not None:
                if type(value) is str and _plain_amount(value):
                    money = value  # what amount() returns for it, without the call
                else:
                    money = amount(value, "attrs." + amount_key)
    actor = event.actor
    if actor is not None and (type(actor) is not str or len(actor) > 64):
        _text(actor, "actor", 64, empty=True)
    occurred_at = event.occurred_at
    sec = occurred_at // 1_000_000 if type(occurred_at) is int else -1
    if not 0 <= sec <= _MAX_DATETIME_S:
        seconds(occurred_at, "occurred_at")  # raises with the reason
    try:
        attrs_text = _dumps(attrs, default=_json_default).decode()
    except TypeError as exc:
        raise RowError(f"not JSON-serializable: {exc}") from None
    reported_at = event.reported_at
    arrived_at = event.arrived_at
    return (
        e, c, p, a, sec, occurred_at, t, d, actor, party, money, attrs_text, ingested_at_s,
        None if reported_at is None else seconds(reported_at, "reported_at"),
        reported_at,
        event.reported_at_text,
        None if arrived_at is None else seconds(arrived_at, "arrived_at"),
        arrived_at,
    )  # fmt: skip


def alert_row(alert: Alert, detected_at_s: int) -> tuple[Any, ...]:
    # One pass with the checks inlined: this runs once per stored alert.
    i = alert.alert_id
    r = alert.rule
    level = alert.level
    c = alert.case_id
    p = alert.process
    d = alert.dept
    m = alert.message
    v = alert.config_version
    if level not in LEVELS:
        raise RowError(f"level {level!r} is not one of {', '.join(LEVELS)}")
    if not (
        type(i) is str and i != ""
        and type(r) is str and r != ""
        and type(c) is str and 0 < len(c) <= _MAX_ID
        and type(p) is str and p != ""
        and type(d) is str and 0 < len(d) <= 64
        and type(m) is str
        and type(v) is str
    ):  # fmt: skip
        _text(i, "alert_id")
        _text(r, "rule")
        _text(c, "case_id", _MAX_ID)
        _text(p, "process")
        _text(d, "dept", 64)
        _text(m, "message", empty=True)
        _text(v, "config_version", empty=True)
    evidence = alert.evidence
    if type(evidence) is not list:
        if not isinstance(evidence, tuple):
            raise RowError(f"evidence must be a list of event ids, got {evidence!r}")
        evidence = list(evidence)
    for event_id in evidence:
        if type(event_id) is not str:
            raise RowError(f"evidence must be a list of event ids, got {evidence!r}")
    details = alert.details
    if type(details) is not dict:
        raise RowError(f"details must be an object, got {type(details).__name__}")
    raised_at = alert.raised_at
    sec = raised_at // 1_000_000 if type(raised_at) is int else -1
    if not 0 <= sec <= _MAX_DATETIME_S:
        seconds(raised_at, "raised_at")
    try:
        details_text = _dumps(details, default=_json_default).decode()
    except TypeError as exc:
        raise RowError(f"not JSON-serializable: {exc}") from None
    return (
        i, r, level, c, p, d, sec, raised_at, evidence, m, details_text, v, detected_at_s,
        None, "", _NOT_WITHDRAWN,
    )  # fmt: skip


_SHADOW_WIDTH = len(COLUMNS[SHADOW_ALERTS])


def shadow_alert_row(alert: Alert, detected_at_s: int) -> tuple[Any, ...]:
    """A shadow configuration's alert: the alert's columns up to ``detected_at``."""
    return alert_row(alert, detected_at_s)[:_SHADOW_WIDTH]


def case_status_row(status: CaseStatus) -> tuple[Any, ...]:
    if status.card_level not in ("", *LEVELS):
        raise RowError(f"card_level {status.card_level!r} is not '' or a level")
    if not isinstance(status.version, int) or status.version < 0:
        raise RowError(f"version must be a non-negative integer, got {status.version!r}")
    on_time = status.completed_on_time
    return (
        _text(status.process, "process"),
        _text(status.case_id, "case_id", _MAX_ID),
        _text(status.dept, "dept", 64),
        opt_seconds(status.started_at, "started_at"),
        opt_seconds(status.deadline, "deadline"),
        1 if status.terminal else 0,
        status.terminal_action or "",
        opt_seconds(status.closed_at, "closed_at"),
        status.card_level,
        None if on_time is None else int(bool(on_time)),
        seconds(status.updated_at, "updated_at"),
        status.version,
    )


def deadletter_row(letter: DeadLetter) -> tuple[Any, ...]:
    if not isinstance(letter.raw, bytes | bytearray):
        raise RowError(f"raw must be the original bytes, got {type(letter.raw).__name__}")
    return (
        letter.deadletter_id,
        bytes(letter.raw),
        _text(letter.reason, "reason"),
        letter.source,
        letter.topic,
        int(letter.partition),
        int(letter.offset),
        letter.file,
        int(letter.line),
        seconds(letter.received_at, "received_at"),
    )


def row_key(table: str, obj: Any) -> str:
    """A readable identity of an object, for error messages and dedup tokens."""
    if table == EVENTS:
        return f"event_id={getattr(obj, 'event_id', '?')}"
    if table == ALERTS:
        return f"alert_id={getattr(obj, 'alert_id', '?')}"
    if table == SHADOW_ALERTS:
        return f"{getattr(obj, 'config_version', '?')}/{getattr(obj, 'alert_id', '?')}"
    if table == CASE_STATUS:
        return (
            f"case={getattr(obj, 'process', '?')}/{getattr(obj, 'case_id', '?')}"
            f" version={getattr(obj, 'version', '?')}"
        )
    if table == DEADLETTER:
        return f"deadletter_id={obj.deadletter_id}" if isinstance(obj, DeadLetter) else "?"
    if table == WITHDRAWALS:
        return KEY_LABEL[WITHDRAWALS] + withdrawal_key(obj)
    return "?"


def withdrawal_key(withdrawal: Any) -> str:
    """What names a withdrawal among rows: its alert and its time (``withdrawn_at`` seconds).

    Two withdrawals of one alert at different times are different rows (and inserts)."""
    try:
        at: Any = seconds(withdrawal.withdrawn_at, "withdrawn_at")
    except (RowError, AttributeError):
        at = "?"
    return f"{getattr(withdrawal, 'alert_id', '?')} withdrawn {at}"


def to_rows(
    table: str, objects: list[Any], now_s: int
) -> tuple[list[tuple[Any, ...]], list[str], list[tuple[str, str]]]:
    """Convert objects of one table.

    Returns (rows, the rows' ids, [(labelled key, reason)] of refused objects).
    The ids identify rows for dedup tokens; ``tables.KEY_LABEL[table] + id`` names one
    in messages.
    """
    convert: Callable[..., tuple[Any, ...]]
    stamp: tuple[int, ...] = ()
    if table == EVENTS:
        convert, stamp = event_row, (now_s,)
    elif table == ALERTS:
        convert, stamp = alert_row, (now_s,)
    elif table == SHADOW_ALERTS:
        convert, stamp = shadow_alert_row, (now_s,)
    elif table == CASE_STATUS:
        convert = case_status_row
    elif table == DEADLETTER:
        convert = deadletter_row
    else:
        raise ValueError(f"unknown table {table!r}")
    bad: list[tuple[str, str]] = []
    try:  # the common case, every object good: one loop in C
        rows = list(map(convert, objects, *map(itertools.repeat, stamp)))
    except (RowError, AttributeError, TypeError):
        rows = []
        for obj in objects:
            try:
                rows.append(convert(obj, *stamp))
            except (RowError, AttributeError, TypeError) as exc:
                bad.append((row_key(table, obj), str(exc)))
    if table == CASE_STATUS:
        keys = [f"{r[0]}/{r[1]} version={r[11]}" for r in rows]
    elif table == SHADOW_ALERTS:  # one alert id per configuration version
        keys = [f"{r[11]}/{r[0]}" for r in rows]
    else:
        keys = [r[0] for r in rows]
    return rows, keys, bad
