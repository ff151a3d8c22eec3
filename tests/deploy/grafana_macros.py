"""Expands a Grafana ClickHouse panel query the way Grafana and the plugin do.

Order, as in Grafana: dashboard template variables first (the plugin's
``$__conditionalAll`` included), then the plugin's backend macros
(grafana/clickhouse-datasource ``pkg/macros``): ``$__timeFilter``,
``$__timeFilter_ms``, ``$__dateFilter``, ``$__dateTimeFilter``/``$__dt``,
``$__timeInterval``, ``$__timeInterval_ms``, ``$__interval_s``,
``$__fromTime``, ``$__toTime``, ``$__fromTime_ms``, ``$__toTime_ms``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

ALL = "$__all"


@dataclass
class Context:
    start: datetime
    end: datetime
    interval_s: int = 3600
    # name -> selected values (list), a single value (str), or ALL
    values: dict[str, list[str] | str] = field(default_factory=dict)
    # name -> every option (what "All" expands to)
    options: dict[str, list[str]] = field(default_factory=dict)


def _call_args(text: str, open_paren: int) -> tuple[list[str], int]:
    """Arguments of the call whose '(' is at ``open_paren``; returns (args, index after ')')."""
    depth, quote, args, current = 0, "", [], []
    i = open_paren
    while i < len(text):
        ch = text[i]
        if quote:
            current.append(ch)
            if ch == "\\":
                current.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == "(":
            depth += 1
            if depth > 1:
                current.append(ch)
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append("".join(current).strip())
                return args, i + 1
            current.append(ch)
        elif ch == "," and depth == 1:
            args.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    raise ValueError(f"unbalanced parentheses in {text[open_paren : open_paren + 80]!r}")


def _replace_calls(text: str, name: str, render: Callable[[list[str]], str]) -> str:
    pattern = re.compile(re.escape(name) + r"\s*\(")
    while match := pattern.search(text):
        args, end = _call_args(text, match.end() - 1)
        text = text[: match.start()] + render(args) + text[end:]
    return text


def _selected(ctx: Context, name: str) -> list[str] | str:
    if name not in ctx.values:
        raise KeyError(f"template variable ${name} is not defined by the dashboard")
    return ctx.values[name]


def _is_all(value: list[str] | str) -> bool:
    return value == ALL or value == [ALL]


def _format(ctx: Context, name: str, fmt: str | None) -> str:
    value = _selected(ctx, name)
    values = (
        ctx.options.get(name, [])
        if _is_all(value)
        else ([value] if isinstance(value, str) else value)
    )
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt == "sqlstring":
        return ",".join("'" + v.replace("'", "''") + "'" for v in values)
    if fmt == "percentencode":  # encodeURIComponentStrict; an array as "{a,b}"
        one = isinstance(value, str) and not _is_all(value)
        return quote(value if one else "{" + ",".join(values) + "}", safe="-_.~")
    if fmt in (None, "raw", "text"):
        if len(values) == 1:
            return values[0]
        return "{" + ",".join(values) + "}"
    raise ValueError(f"unsupported variable format {fmt}")


def _conditional_all(ctx: Context, args: list[str]) -> str:
    if len(args) != 2:
        raise ValueError(f"$__conditionalAll takes 2 arguments, got {args}")
    condition, variable = args
    name = variable.strip().lstrip("$").strip("{}")
    return "1=1" if _is_all(_selected(ctx, name)) else condition


def _datetime(t: datetime) -> str:
    return f"toDateTime({int(t.timestamp())})"


def _datetime64(t: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(t.timestamp() * 1000)})"


def _date(t: datetime) -> str:
    return f"toDate('{t.astimezone(UTC).strftime('%Y-%m-%d')}')"


def _one(args: list[str], macro: str) -> str:
    if len(args) != 1:
        raise ValueError(f"{macro} takes 1 argument, got {args}")
    return args[0]


def expand(sql: str, ctx: Context) -> str:
    s, e = ctx.start, ctx.end
    text = _replace_calls(sql, "$__conditionalAll", lambda a: _conditional_all(ctx, a))
    text = re.sub(
        r"\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)",
        lambda m: _format(ctx, m.group(1) or m.group(3), m.group(2)),
        text,
    )
    text = _replace_calls(
        text,
        "$__timeFilter_ms",
        lambda a: f"{_one(a, 'timeFilter_ms')} >= {_datetime64(s)} AND {a[0]} <= {_datetime64(e)}",
    )
    text = _replace_calls(
        text,
        "$__timeFilter",
        lambda a: f"{_one(a, 'timeFilter')} >= {_datetime(s)} AND {a[0]} <= {_datetime(e)}",
    )
    text = _replace_calls(
        text,
        "$__dateFilter",
        lambda a: f"{_one(a, 'dateFilter')} >= {_date(s)} AND {a[0]} <= {_date(e)}",
    )
    for name in ("$__dateTimeFilter", "$__dt"):
        text = _replace_calls(
            text,
            name,
            lambda a: (
                f"({a[0]} >= {_date(s)} AND {a[0]} <= {_date(e)}) AND "
                f"({a[1]} >= {_datetime(s)} AND {a[1]} <= {_datetime(e)})"
            ),
        )
    text = _replace_calls(
        text,
        "$__timeInterval_ms",
        lambda a: (
            f"toStartOfInterval(toDateTime64({_one(a, 'timeInterval_ms')}, 3), "
            f"INTERVAL {max(ctx.interval_s * 1000, 1)} millisecond)"
        ),
    )
    text = _replace_calls(
        text,
        "$__timeInterval",
        lambda a: (
            f"toStartOfInterval(toDateTime({_one(a, 'timeInterval')}), INTERVAL {max(ctx.interval_s, 1)} second)"
        ),
    )
    text = text.replace("$__interval_s", str(max(ctx.interval_s, 1)))
    text = text.replace("$__fromTime_ms", _datetime64(s)).replace("$__toTime_ms", _datetime64(e))
    text = text.replace("$__fromTime", _datetime(s)).replace("$__toTime", _datetime(e))
    if "$" in text:
        raise ValueError(f"unexpanded Grafana syntax left in query: {text}")
    return text
