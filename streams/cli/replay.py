"""``supervise replay``: offline evaluation of a JSON Lines file."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Annotated

import orjson
import typer

from streams.cli import app
from streams.engine import ConfigError, SupervisionConfig, alert_to_dict, load_config
from streams.engine.timeutil import InstantError, parse_instant
from streams.replay import Reject, ReplaySummary, replay
from streams.replay_flow import ACTIONS_INPUT, FlowReplay, FlowSummary
from streams.workflow import Decision


def _fail(message: str) -> typer.Exit:
    typer.echo(f"supervise replay: {message}", err=True)
    return typer.Exit(code=2)


def _reject_record(reject: Reject, source: str = "") -> bytes:
    record: dict[str, object] = (
        {"event_id": reject.event_id, "reason": reject.reason}
        if reject.event_id  # an event of a quarantined case: its line is not kept
        else {"line": reject.line, "reason": reject.reason}
    )
    if source:  # a line of another input than the events (--actions)
        record = {"input": source, **record}
    try:
        record["raw"] = reject.raw.decode("utf-8")
    except UnicodeDecodeError:
        import base64

        record["raw_base64"] = base64.b64encode(reject.raw).decode("ascii")
    return orjson.dumps(record) + b"\n"


PENDING_LISTED = 20  # pending cases named in the summary; the rest are counted


def _print_summary(summary: ReplaySummary, source: str, format_instant: object) -> None:
    echo = lambda text: typer.echo(text, err=True)  # noqa: E731
    as_of = format_instant(summary.as_of) if summary.as_of is not None else "-"  # type: ignore[operator]
    echo(
        f"replay {source}: read {summary.lines} lines, accepted {summary.accepted}, "
        f"rejected {summary.rejected}, duplicates dropped {summary.duplicates} "
        f"({summary.conflicting} with other content, in the rejects), blank {summary.blank}"
    )
    echo(
        f"as of {as_of}: {summary.alert_count} alerts; "
        f"{summary.beyond_as_of} events after as-of read and left out"
    )
    for (rule, level), count in sorted(summary.alerts.items()):
        echo(f"  {rule:<28} {level:<7} {count}")
    if summary.quarantined:
        echo(
            f"quarantined: {len(summary.quarantined)} cases the engine failed on; their "
            f"{summary.engine_errors} events were not evaluated and are rejects with reason "
            "engine_error (README: Quarantined cases)"
        )
        for key, reason in list(summary.quarantined.items())[:PENDING_LISTED]:
            echo(f"  {key.replace('|', ' ', 1)}: {reason}")
        if len(summary.quarantined) > PENDING_LISTED:
            echo(f"  ... and {len(summary.quarantined) - PENDING_LISTED} more")
    if summary.pending:
        years = ", ".join(
            f"{year} ({n} cases)" for year, n in sorted(summary.pending_years.items())
        )
        echo(
            f"pending: {len(summary.pending)} cases wait for calendar years without data: {years}; "
            "their timed alerts are not decided (rules.md §1.5). Add the years to a calendar "
            "file named in the configuration's [calendar] files (README: Missing calendar year)"
        )
        for case in summary.pending[:PENDING_LISTED]:
            years_needed = ", ".join(map(str, case.years))
            echo(f"  {case.process} {case.case_id}: {', '.join(case.waits)} (needs {years_needed})")
        if len(summary.pending) > PENDING_LISTED:
            echo(f"  ... and {len(summary.pending) - PENDING_LISTED} more")


def _flow(
    stack: ExitStack,
    cfg: SupervisionConfig,
    actions: Path | None,
    results: Path | None,
    workflows: Path | None,
    reject_sink: IO[bytes] | None,
) -> FlowReplay | None:
    """The workflow half of the replay (--actions), its outputs opened on ``stack``."""
    if actions is None:
        return None
    lines = stack.enter_context(open(actions, "rb"))  # noqa: SIM115
    result_sink = stack.enter_context(open(results, "wb")) if results else None  # noqa: SIM115
    state_sink = stack.enter_context(open(workflows, "wb")) if workflows else None  # noqa: SIM115

    def on_result(decision: Decision) -> None:
        if result_sink is not None:
            result_sink.write(orjson.dumps(decision.result.to_dict(cfg.local)) + b"\n")

    def on_reject(line: int, reason: str, raw: bytes) -> None:
        if reject_sink is not None:
            reject_sink.write(_reject_record(Reject(line, reason, raw), ACTIONS_INPUT))

    def on_workflow(state: dict[str, object]) -> None:
        if state_sink is not None:
            state_sink.write(orjson.dumps(state) + b"\n")

    return FlowReplay(cfg, lines, on_result, on_reject, on_workflow)


def _print_flow_summary(summary: FlowSummary, source: str) -> None:
    echo = lambda text: typer.echo(text, err=True)  # noqa: E731
    echo(
        f"actions {source}: read {summary.lines} lines, valid {summary.accepted}, "
        f"rejected {summary.rejected}, resent {summary.duplicates}, blank {summary.blank}, "
        f"after as-of {summary.beyond_as_of}; {summary.workflows} workflows"
    )
    for (status, reason), count in sorted(summary.results.items()):
        echo(f"  {status:<9} {reason or '-':<17} {count}")
    if summary.pending_years:
        years = ", ".join(f"{y} ({n} workflows)" for y, n in sorted(summary.pending_years.items()))
        echo(
            f"pending: workflow clocks wait for calendar years without data: {years} "
            "(rules.md §1.5; README: Missing calendar year)"
        )


@app.command("replay")
def replay_command(
    events: Annotated[
        str, typer.Argument(help="JSON Lines file of events, or - for standard input.")
    ],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="State as of this instant (RFC 3339 with offset): later events are left out, "
            "alerts raised up to it are given; default: latest event.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write alerts here (default: standard output).")
    ] = None,
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="Write rejected lines here (JSON Lines).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Supervision configuration (TOML).")
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Exit 2 when any case waits for a calendar year without data (rules.md §1.5).",
        ),
    ] = False,
    actions: Annotated[
        Path | None,
        typer.Option(
            "--actions",
            help="JSON Lines of 督办 workflow actions (schemas/action.schema.json), evaluated "
            "with the events in time order: every alert opens or joins a workflow, SUP_* "
            "alerts join the alerts output.",
        ),
    ] = None,
    results: Annotated[
        Path | None,
        typer.Option("--results", help="With --actions: write each action's result here."),
    ] = None,
    workflows: Annotated[
        Path | None,
        typer.Option(
            "--workflows", help="With --actions: write every workflow's state as of the end here."
        ),
    ] = None,
) -> None:
    """Evaluate every rule over a file of events and print the alerts, one JSON object per line."""
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise _fail(f"unusable configuration: {exc}") from None
    as_of_us = None
    if as_of is not None:
        try:
            as_of_us = parse_instant(as_of)
        except InstantError as exc:
            raise _fail(f"--as-of: {exc}") from None

    if (results or workflows) and actions is None:
        raise _fail("--results and --workflows need --actions")
    with ExitStack() as stack:
        try:
            source: IO[bytes] = (
                sys.stdin.buffer if events == "-" else stack.enter_context(open(events, "rb"))  # noqa: SIM115
            )
            sink: IO[bytes] = stack.enter_context(open(out, "wb")) if out else sys.stdout.buffer  # noqa: SIM115
            reject_sink = stack.enter_context(open(rejects, "wb")) if rejects else None  # noqa: SIM115
            flow = _flow(stack, cfg, actions, results, workflows, reject_sink)
        except OSError as exc:
            raise _fail(f"{exc.filename}: {exc.strerror}") from None

        def on_alert(alert: object) -> None:
            sink.write(orjson.dumps(alert_to_dict(alert, cfg.local)) + b"\n")  # type: ignore[arg-type]

        def on_reject(reject: Reject) -> None:
            if reject_sink is not None:
                reject_sink.write(_reject_record(reject))

        progress = None
        if sys.stderr.isatty():
            from rich.progress import Progress

            bar = stack.enter_context(Progress(transient=True, console=None))
            task = bar.add_task("replaying", total=None)
            progress = lambda done: bar.update(task, completed=done)  # noqa: E731
        summary = replay(
            source, cfg, on_alert, on_reject, as_of=as_of_us, progress=progress, flow=flow
        )
        sink.flush()
    _print_summary(summary, events, cfg.local.format)
    if flow is not None:
        _print_flow_summary(flow.summary, str(actions))
    if strict and summary.pending:
        years = ", ".join(map(str, sorted(summary.pending_years)))
        raise _fail(f"--strict: {len(summary.pending)} cases pending for calendar years {years}")
