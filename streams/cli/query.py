"""``supervise query``: timeline, alerts and department performance from ClickHouse."""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import orjson
import typer

from streams.cli import app
from streams.engine.timeutil import InstantError, LocalTime, parse_instant
from streams.engine.validate import process_titles
from streams.storage import queries
from streams.storage.backends import Backend, open_backend
from streams.storage.errors import StorageError

query_app = typer.Typer(
    help="Read alerts, timelines and performance from ClickHouse.", no_args_is_help=True
)
app.add_typer(query_app, name="query")

ZONE = LocalTime("Asia/Shanghai")
# Display names of the contract's processes (schemas/event.schema.json), e.g. 重点工作督办事项.
PROCESS_NAMES = process_titles()
PROCESS_HELP = "Process template name: " + ", ".join(PROCESS_NAMES) + "."


class Format(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    events = "events"


FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="table, csv or json (JSON Lines).")
]
EventsFormatOption = Annotated[
    Format,
    typer.Option(
        "--format",
        "-f",
        help="table, csv, json (JSON Lines), or events: the events as upstream sent them "
        "(the event contract, JSON Lines; with reported_at), the input of supervise replay.",
    ),
]
WithdrawnOption = Annotated[
    bool,
    typer.Option(
        "--withdrawn",
        help="Withdrawn alerts (rules.md §1.4; left out otherwise), with the reason and the "
        "late events that disproved them.",
    ),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"supervise query: {message}", err=True)
    return typer.Exit(code=2)


def _instant(text: str | None, default: int, end: bool = False) -> int:
    """RFC 3339 with offset, or a local date (start of it; with ``end``, its end)."""
    if not text:
        return default
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            return parse_instant(text)
        except InstantError as exc:
            raise _fail(str(exc)) from None
    ordinal = day.toordinal()
    return ZONE.end_of(ordinal) if end else ZONE.start_of(ordinal)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value, default=str).decode()
    return str(value)


def _emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: Format, title: str) -> None:
    if fmt is Format.json:
        for row in rows:
            typer.echo(
                orjson.dumps({c: row.get(c) for c in columns}, default=_json_default).decode()
            )
        return
    if fmt is Format.csv:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
        typer.echo(buf.getvalue(), nl=False)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c, overflow="fold")
    for row in rows:
        table.add_row(*[_cell(row.get(c)) for c in columns])
    Console().print(table)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal | date):
        return str(value)
    raise TypeError(type(value).__name__)


def _with_backend(fn: Any) -> Any:
    backend: Backend | None = None
    try:
        backend = open_backend()
        return fn(backend)
    except StorageError as exc:
        raise _fail(str(exc)) from None
    finally:
        if backend is not None:
            backend.close()


def _times(rows: list[dict[str, Any]], key: str, out: str) -> None:
    for row in rows:
        row[out] = ZONE.format(row[key])


def _withdrawals(rows: list[dict[str, Any]]) -> None:
    """Local times of withdrawn alerts: ``withdrawn_at`` and each late event's times."""
    for row in rows:
        at = row.pop("withdrawn_at_us", None)
        row["withdrawn_at"] = None if at is None else ZONE.format(at)
        late = []
        for event in row["withdrawn_by"]:
            if isinstance(event, dict):
                event = {
                    "event_id": event["event_id"],
                    **{
                        name: None
                        if event[f"{name}_us"] is None
                        else ZONE.format(event[f"{name}_us"])
                        for name in ("occurred_at", "reported_at", "arrived_at")
                    },
                }
            late.append(event)
        row["withdrawn_by"] = late


def _not_for(fmt: Format, command: str) -> None:
    if fmt is Format.events:
        raise _fail(f"--format events is for `supervise query events`, not {command}")


def _process_names(rows: list[dict[str, Any]]) -> None:
    """``process_name``: the Chinese name of the row's process (the name itself when unknown)."""
    for row in rows:
        row["process_name"] = PROCESS_NAMES.get(row["process"], row["process"])


@query_app.command("timeline")
def timeline_command(
    case_id: Annotated[str, typer.Argument(help="The case (办件编号, 拨付单号, 项目编号, ...).")],
    process: Annotated[
        str, typer.Option("--process", help=f"Only this process. {PROCESS_HELP}")
    ] = "",
    withdrawn: WithdrawnOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """A case's events in time order, then its alerts (with --withdrawn, the withdrawn too)."""
    _not_for(fmt, "timeline")
    found = _with_backend(lambda b: queries.timeline(b, case_id, process, withdrawn=withdrawn))
    if not found.events and not found.alerts:
        raise _fail(f"no events or alerts for case {case_id!r}")
    _times(found.events, "occurred_at_us", "occurred_at")
    _times(found.alerts, "raised_at_us", "raised_at")
    _process_names(found.events)
    if fmt is Format.json:
        for e in found.events:
            e["kind"] = "event"
        for a in found.alerts:
            a["kind"] = "alert"
    ev_cols = [
        "occurred_at",
        "process",
        "process_name",
        "action",
        "dept",
        "actor",
        "party",
        "amount",
        "event_id",
        "attrs",
    ]
    al_cols = ["raised_at", "rule", "level", "dept", "alert_id", "evidence", "message"]
    if withdrawn:
        _withdrawals(found.alerts)
        al_cols += ["withdrawn_at", "withdrawn_reason", "withdrawn_by"]
    if fmt is Format.json:
        _emit(found.events, ["kind", *ev_cols], fmt, "")
        _emit(found.alerts, ["kind", *al_cols, "details", "config_version"], fmt, "")
        return
    _emit(found.events, ev_cols, fmt, f"case {case_id}: events")
    if fmt is Format.csv:
        typer.echo("")
    _emit(found.alerts, al_cols, fmt, f"case {case_id}: alerts")


@query_app.command("alerts")
def alerts_command(
    rule: Annotated[str, typer.Option("--rule", help="Rule code, e.g. OVERDUE.")] = "",
    level: Annotated[str, typer.Option("--level", help="notice, yellow or red.")] = "",
    dept: Annotated[str, typer.Option("--dept", help="Department code.")] = "",
    process: Annotated[str, typer.Option("--process", help=PROCESS_HELP)] = "",
    since: Annotated[
        str | None, typer.Option("--since", help="From (local date or RFC 3339), inclusive.")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="To (local date: through its end; or RFC 3339), exclusive."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many alerts.")] = 1000,
    withdrawn: WithdrawnOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Alerts matching every given filter, oldest first (not withdrawn, unless --withdrawn)."""
    _not_for(fmt, "alerts")
    since_us = _instant(since, 0)
    until_us = _instant(until, queries.MAX_US, end=True)
    rows = _with_backend(
        lambda b: queries.alerts(
            b,
            rule=rule,
            level=level,
            dept=dept,
            process=process,
            since_us=since_us,
            until_us=until_us,
            limit=limit,
            withdrawn=withdrawn,
        )
    )
    _times(rows, "raised_at_us", "raised_at")
    _process_names(rows)
    cols = [
        "raised_at",
        "rule",
        "level",
        "process",
        "process_name",
        "case_id",
        "dept",
        "alert_id",
        "message",
    ]
    if fmt is not Format.table:
        cols += ["evidence", "details", "config_version"]
    if withdrawn:
        _withdrawals(rows)
        cols += ["withdrawn_at", "withdrawn_reason", "withdrawn_by"]
    _emit(rows, cols, fmt, f"{len(rows)} {'withdrawn ' if withdrawn else ''}alerts")


@query_app.command("events")
def events_command(
    dept: Annotated[str, typer.Option("--dept", help="Department code.")] = "",
    process: Annotated[str, typer.Option("--process", help=PROCESS_HELP)] = "",
    action: Annotated[str, typer.Option("--action", help="Action, e.g. disburse.")] = "",
    party: Annotated[
        str, typer.Option("--party", help="Payee, supplier, winner, bidder or enterprise id.")
    ] = "",
    since: Annotated[
        str | None, typer.Option("--since", help="From (local date or RFC 3339).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="To (local date: through its end; or RFC 3339).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="At most this many events (1000; all for events)."),
    ] = None,
    fmt: EventsFormatOption = Format.table,
) -> None:
    """Events matching every given filter (bulk audits), oldest first; --format events exports
    them as the event contract's JSON Lines, which `supervise replay` reads."""
    since_us = _instant(since, 0)
    until_us = _instant(until, queries.MAX_US, end=True)
    rows = _with_backend(
        lambda b: queries.events(
            b,
            dept=dept,
            process=process,
            action=action,
            party=party,
            since_us=since_us,
            until_us=until_us,
            limit=limit or (queries.MAX_ROWS if fmt is Format.events else 1000),
        )
    )
    if fmt is Format.events:
        for row in rows:
            typer.echo(orjson.dumps(queries.contract_event(row)).decode())
        return
    _times(rows, "occurred_at_us", "occurred_at")
    _process_names(rows)
    cols = [
        "occurred_at",
        "process",
        "process_name",
        "case_id",
        "action",
        "dept",
        "party",
        "amount",
        "event_id",
    ]
    if fmt is not Format.table:
        cols += ["actor", "attrs", "reported_at_text", "arrived_at"]
        for row in rows:
            at = row["arrived_at_us"]
            row["arrived_at"] = None if at is None else ZONE.format(at)
    _emit(rows, cols, fmt, f"{len(rows)} events")


@query_app.command("performance")
def performance_command(
    since: Annotated[str, typer.Option("--since", help="First local date (YYYY-MM-DD).")] = "",
    until: Annotated[
        str, typer.Option("--until", help="Last local date (YYYY-MM-DD), inclusive.")
    ] = "",
    dept: Annotated[str, typer.Option("--dept", help="Only this department.")] = "",
    process: Annotated[
        str, typer.Option("--process", help=f"Only this process. {PROCESS_HELP}")
    ] = "",
    month: Annotated[
        str,
        typer.Option(
            "--month",
            help="A local month (YYYY-MM) instead of --since/--until: the month's scores "
            "(workflow.md § Scoring: rank by score, grade, the counts deducted for) with the "
            "month's on-time rate beside them, as a bulletin freezes them.",
        ),
    ] = "",
    fmt: FormatOption = Format.table,
) -> None:
    """Department performance (绩效测评) over a period: counts, on-time rate, rank (withdrawn
    alerts left out); with --month, the month's scores."""
    _not_for(fmt, "performance")
    if month:
        if since or until or dept or process:
            raise _fail("--month goes without --since, --until, --dept and --process")
        from streams.cli.bulletin import print_month_scores

        print_month_scores(month, fmt)
        return
    if not since or not until:
        raise _fail("give --since and --until, or --month")
    try:
        first, last = date.fromisoformat(since), date.fromisoformat(until)
    except ValueError as exc:
        raise _fail(f"dates are YYYY-MM-DD: {exc}") from None
    rows = _with_backend(lambda b: queries.performance(b, first, last, dept=dept, process=process))
    cols = [
        "rank",
        "dept",
        "accepted",
        "completed",
        "completed_on_time",
        "completed_late",
        "on_time_rate",
        "overdue",
        "notices",
        "yellow_cards",
        "red_cards",
    ]
    _emit(rows, cols, fmt, f"department performance {first} .. {last}")
