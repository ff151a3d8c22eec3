"""``supervise diff``: replay two configurations over the same events and report the change."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from streams.cli import app
from streams.diff import DEFAULT, compare, evaluate, event_briefs, load_side_config
from streams.diff.render import print_terminal, to_json, to_markdown
from streams.engine import ConfigError
from streams.engine.timeutil import InstantError, parse_instant

CHANGED_EXIT = 1  # with --fail-on-change, when anything differs
USAGE_EXIT = 2


class Format(StrEnum):
    terminal = "terminal"
    markdown = "markdown"
    json = "json"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"supervise diff: {message}", err=True)
    return typer.Exit(code=USAGE_EXIT)


@app.command("diff")
def diff_command(
    events: Annotated[
        str, typer.Argument(help="JSON Lines file of events, or - for standard input.")
    ],
    base: Annotated[
        str,
        typer.Option("--base", help=f"The configuration in force (TOML, or '{DEFAULT}')."),
    ],
    candidate: Annotated[
        str,
        typer.Option("--candidate", help=f"The configuration proposed (TOML, or '{DEFAULT}')."),
    ],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Compare the state as of this instant (RFC 3339 with offset); "
            "default: latest event.",
        ),
    ] = None,
    actions: Annotated[
        Path | None,
        typer.Option(
            "--actions",
            help="Recorded 督办 workflow actions (JSON Lines), replayed with each side: "
            "scores count 督办 and dismissals, and open workflows whose alert the candidate "
            "no longer raises are listed.",
        ),
    ] = None,
    output_format: Annotated[
        Format, typer.Option("--format", help="terminal (tables), markdown, or json.")
    ] = Format.terminal,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the report here (default: standard output).")
    ] = None,
    sample: Annotated[
        int, typer.Option("--sample", min=0, help="Sample cases shown per rule × dept × level.")
    ] = 3,
    top: Annotated[
        int, typer.Option("--top", min=0, help="Moved deadlines listed, largest shift first.")
    ] = 20,
    fail_on_change: Annotated[
        bool,
        typer.Option(
            "--fail-on-change",
            help=f"Exit {CHANGED_EXIT} when anything differs (keys, alerts, deadlines, scores).",
        ),
    ] = False,
) -> None:
    """Compare what two configurations raise over the same events (exit 0 unless
    --fail-on-change)."""
    try:
        sides = (load_side_config(base), load_side_config(candidate))
    except ConfigError as exc:
        raise _fail(f"unusable configuration: {exc}") from None
    except OSError as exc:
        raise _fail(f"{exc.filename}: {exc.strerror}") from None
    as_of_us = None
    if as_of is not None:
        try:
            as_of_us = parse_instant(as_of)
        except InstantError as exc:
            raise _fail(f"--as-of: {exc}") from None
    try:
        if events == "-":
            lines = sys.stdin.buffer.readlines()
        else:
            with open(events, "rb") as source:
                lines = source.readlines()  # read once; both sides replay these lines
        action_lines = None
        if actions is not None:
            with open(actions, "rb") as recorded:
                action_lines = recorded.readlines()
    except OSError as exc:
        raise _fail(f"{exc.filename}: {exc.strerror}") from None

    old = evaluate(lines, sides[0], as_of_us, action_lines)
    new = evaluate(lines, sides[1], as_of_us, action_lines)
    diff = compare(old, new, sample_size=sample)
    wanted = {
        event_id
        for name in ("added", "removed", "relevelled", "retimed")
        for cell in getattr(diff, name)
        for s in cell.samples
        for event_id in s.evidence()
    }
    briefs = event_briefs(lines, wanted)
    source_name = events
    try:
        if output_format is Format.terminal and out is None:
            from rich.console import Console

            print_terminal(diff, briefs, source_name, top, Console())
        else:
            if output_format is Format.json:
                text = to_json(diff, briefs, source_name, top)
            elif output_format is Format.markdown:
                text = to_markdown(diff, briefs, source_name, top).encode()
            else:  # terminal tables into a file: plain text, no colours
                from rich.console import Console

                with open(out, "w", encoding="utf-8") as sink:  # type: ignore[arg-type]
                    print_terminal(diff, briefs, source_name, top, Console(file=sink, width=160))
                text = b""
            if out is None:
                sys.stdout.buffer.write(text)
                sys.stdout.buffer.flush()
            elif text:
                out.write_bytes(text)
    except OSError as exc:
        raise _fail(f"{exc.filename}: {exc.strerror}") from None
    if fail_on_change and diff.changed():
        raise typer.Exit(code=CHANGED_EXIT)
