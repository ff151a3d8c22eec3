"""SQL literals and client-side parameter substitution, shared by both engines.

ClickHouse 18.16 has no server-side query parameters, so ``params`` are
substituted in pyformat style (``%(name)s``), every value escaped as a SQL
literal by :func:`literal` (clickhouse-driver's escaping rules), never pasted
as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

_ESCAPES = {
    "\b": "\\b",
    "\f": "\\f",
    "\r": "\\r",
    "\n": "\\n",
    "\t": "\\t",
    "\0": "\\0",
    "\a": "\\a",
    "\v": "\\v",
    "\\": "\\\\",
    "'": "\\'",
}


def literal(value: Any) -> str:
    """A SQL literal for ``value`` (str, int, Decimal, date, None, bytes, list/tuple)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return f"'{value}'"
    if isinstance(value, str):
        return "'" + "".join(_ESCAPES.get(c, c) for c in value) + "'"
    if isinstance(value, bytes | bytearray):
        # Arbitrary bytes as \xHH escapes: the statement stays ASCII.
        out = []
        for b in value:
            if 0x20 <= b < 0x7F and b not in (0x27, 0x5C):
                out.append(chr(b))
            else:
                out.append(f"\\x{b:02X}")
        return "'" + "".join(out) + "'"
    if isinstance(value, datetime):
        raise TypeError("pass instants as integers, not datetime")
    if isinstance(value, date):
        return f"'{value.isoformat()}'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def substitute(sql: str, params: Mapping[str, Any] | None) -> str:
    """``sql % escaped(params)``, as clickhouse-driver does; no params, no substitution."""
    if not params:
        return sql
    return sql % {key: literal(value) for key, value in params.items()}
