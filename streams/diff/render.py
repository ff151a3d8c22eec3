"""A diff for people and for tools: JSON, Markdown (a review), terminal tables (rich).

Markdown and the terminal show the same tables (``tables``); JSON carries every count
and sample in full, with instants as RFC 3339 text in each side's zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from streams.diff.compare import Cell, DeadlineShift, Diff, Sample, ScoreChange
from streams.diff.sides import EventBrief, Side
from streams.engine.model import Alert
from streams.engine.timeutil import HOUR_US
from streams.scoring import DeptScore

DAY_US = 24 * HOUR_US

CELL_SECTIONS = (
    ("added", "Alerts added (raised with the candidate only)"),
    ("removed", "Alerts removed (raised with the base only)"),
    ("relevelled", "Cases re-levelled (highest level of a rule, base → candidate)"),
    ("retimed", "Alerts raised at another instant"),
)


def format_shift(shift: int | None) -> str:
    """``+2d``, ``-1d 3h``, or ``—`` when one side has no clock."""
    if shift is None:
        return "—"
    sign = "+" if shift >= 0 else "-"
    days, rest = divmod(abs(shift), DAY_US)
    hours = round(rest / HOUR_US)
    return f"{sign}{days}d" + (f" {hours}h" if hours else "")


def _instant(side: Side, instant: int | None) -> str | None:
    return side.configuration.config.local.format(instant) if instant is not None else None


# ------------------------------------------------------------------ JSON
def _sample_json(diff: Diff, sample: Sample, briefs: Mapping[str, EventBrief]) -> dict[str, Any]:
    def alert(side: Side, found: Alert | None) -> dict[str, Any] | None:
        if found is None:
            return None
        return {
            "alert_id": found.alert_id,
            "level": found.level,
            "raised_at": _instant(side, found.raised_at),
            "message": found.message,
        }

    return {
        "process": sample.process,
        "case_id": sample.case_id,
        "base": alert(diff.base, sample.base),
        "candidate": alert(diff.candidate, sample.candidate),
        "events": [_brief_json(e, briefs) for e in sample.evidence()],
    }


def _brief_json(event_id: str, briefs: Mapping[str, EventBrief]) -> dict[str, str]:
    brief = briefs.get(event_id)
    if brief is None:
        return {"event_id": event_id}
    return {
        "event_id": event_id,
        "action": brief.action,
        "occurred_at": brief.occurred_at,
        "dept": brief.dept,
    }


def _cells_json(diff: Diff, cells: list[Cell], briefs: Mapping[str, EventBrief]) -> dict[str, Any]:
    return {
        "count": Diff.total(cells),
        "cells": [
            {
                "rule": c.rule,
                "dept": c.dept,
                "level": c.level,
                "count": c.count,
                "sample": [_sample_json(diff, s, briefs) for s in c.samples],
            }
            for c in cells
        ],
    }


def _side_json(side: Side) -> dict[str, Any]:
    summary = side.summary
    return {
        "configuration": side.configuration.name,
        "config_version": side.configuration.config.version,
        "alerts": len(side.alerts),
        "workflows": len(side.workflows) if side.workflows is not None else None,
        "quarantined_cases": len(summary.quarantined),
        "pending_cases": len(summary.pending),
    }


def _score_json(change: ScoreChange) -> dict[str, Any]:
    def row(s: DeptScore) -> dict[str, Any]:
        return {"score": float(s.score), "grade": s.grade, "rank": s.rank, **s.tally.as_dict()}

    return {
        "month": change.month,
        "dept": change.dept,
        "base": row(change.base),
        "candidate": row(change.candidate),
    }


def to_json(diff: Diff, briefs: Mapping[str, EventBrief], source: str, top: int) -> bytes:
    base, candidate = diff.base, diff.candidate
    summary = base.summary
    doc: dict[str, Any] = {
        "input": {
            "events": source,
            "lines": summary.lines,
            "accepted": summary.accepted,
            "rejected": summary.rejected,
            "beyond_as_of": summary.beyond_as_of,
            "as_of": _instant(base, summary.as_of),
        },
        "base": _side_json(base),
        "candidate": _side_json(candidate),
        "changed": diff.changed(),
        "config": [{"key": k.key, "base": k.base, "candidate": k.candidate} for k in diff.config],
    }
    for name, _ in CELL_SECTIONS:
        doc[name] = _cells_json(diff, getattr(diff, name), briefs)
    doc["deadlines"] = {
        "count": len(diff.deadlines),
        "largest": [
            {
                "process": d.process,
                "case_id": d.case_id,
                "dept": d.dept,
                "base": _instant(base, d.base),
                "candidate": _instant(candidate, d.candidate),
                "shift_seconds": d.shift // 1_000_000 if d.shift is not None else None,
            }
            for d in diff.deadlines[:top]
        ],
    }
    doc["scores"] = {"count": len(diff.scores), "changes": [_score_json(s) for s in diff.scores]}
    if base.workflows is not None:
        doc["orphaned_workflows"] = [
            {
                "workflow_id": wf.workflow_id,
                "rule": wf.rule,
                "process": wf.process,
                "case_id": wf.case_id,
                "dept": wf.dept,
                "level": wf.level,
                "state": wf.state,
            }
            for wf in diff.orphaned
        ]
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


# ------------------------------------------------------------------ tables
@dataclass(frozen=True, slots=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    note: str = ""


def _sample_text(diff: Diff, sample: Sample, briefs: Mapping[str, EventBrief]) -> str:
    events = []
    for event_id in sample.evidence():
        brief = briefs.get(event_id)
        events.append(f"{event_id} {brief.action} {brief.occurred_at}" if brief else event_id)
    change = ""
    if sample.base is not None and sample.candidate is not None:  # re-levelled or re-timed
        old, new = sample.base, sample.candidate
        change = (
            f" ({old.level} {_instant(diff.base, old.raised_at)} → "
            f"{new.level} {_instant(diff.candidate, new.raised_at)})"
        )
    return f"{sample.process} {sample.case_id}{change}: " + ", ".join(events)


def _cell_table(diff: Diff, name: str, title: str, briefs: Mapping[str, EventBrief]) -> Table:
    cells: list[Cell] = getattr(diff, name)
    rows = [
        (
            c.rule,
            c.dept,
            c.level,
            str(c.count),
            "; ".join(_sample_text(diff, s, briefs) for s in c.samples),
        )
        for c in cells
    ]
    return Table(
        f"{title}: {Diff.total(cells)}",
        ("rule", "dept", "level", "count", "sample cases and their events"),
        rows,
    )


def _deadline_rows(diff: Diff, shifts: Iterable[DeadlineShift]) -> list[tuple[str, ...]]:
    return [
        (
            d.process,
            d.case_id,
            d.dept,
            _instant(diff.base, d.base) or "—",
            _instant(diff.candidate, d.candidate) or "—",
            format_shift(d.shift),
        )
        for d in shifts
    ]


def tables(diff: Diff, briefs: Mapping[str, EventBrief], source: str, top: int) -> list[Table]:
    base, candidate = diff.base, diff.candidate
    summary = base.summary
    as_of = _instant(base, summary.as_of) or "—"
    out = [
        Table(
            f"supervise diff {source} as of {as_of}",
            ("", "configuration", "version", "alerts"),
            [
                (
                    "base",
                    base.configuration.name,
                    base.configuration.config.version,
                    str(len(base.alerts)),
                ),
                (
                    "candidate",
                    candidate.configuration.name,
                    candidate.configuration.config.version,
                    str(len(candidate.alerts)),
                ),
            ],
            note=f"{summary.accepted} events accepted, {summary.rejected} rejected, "
            f"{summary.beyond_as_of} after as-of left out",
        ),
        Table(
            f"Configuration keys changed: {len(diff.config)}",
            ("key", "base", "candidate"),
            [(k.key, _value(k.base), _value(k.candidate)) for k in diff.config],
        ),
    ]
    out += [_cell_table(diff, name, title, briefs) for name, title in CELL_SECTIONS]
    shown = diff.deadlines[:top]
    out.append(
        Table(
            f"Deadlines moved: {len(diff.deadlines)}",
            ("process", "case", "dept", "base D", "candidate D", "shift"),
            _deadline_rows(diff, shown),
            note=f"largest {len(shown)} shown" if len(shown) < len(diff.deadlines) else "",
        )
    )
    out.append(
        Table(
            f"Department scores changed: {len(diff.scores)}",
            ("month", "dept", "base: score grade rank", "candidate: score grade rank"),
            [(s.month, s.dept, _standing(s.base), _standing(s.candidate)) for s in diff.scores],
            note=(
                "督办 terms are 0: scores count alerts only (--actions adds the workflows)"
                if base.workflows is None
                else "with the recorded 督办 actions"
            ),
        )
    )
    if base.workflows is not None:
        out.append(
            Table(
                f"Open workflows whose alerts the candidate no longer raises: {len(diff.orphaned)}",
                ("workflow", "rule", "process", "case", "dept", "level", "state"),
                [
                    (wf.workflow_id, wf.rule, wf.process, wf.case_id, wf.dept, wf.level, wf.state)
                    for wf in diff.orphaned
                ],
            )
        )
    return out


def _standing(score: DeptScore) -> str:
    return f"{score.score} {score.grade} #{score.rank}"


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    return orjson.dumps(value).decode() if not isinstance(value, str) else value


# ------------------------------------------------------------------ Markdown
def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(diff: Diff, briefs: Mapping[str, EventBrief], source: str, top: int) -> str:
    parts: list[str] = []
    for i, table in enumerate(tables(diff, briefs, source, top)):
        parts.append(("# " if i == 0 else "## ") + table.title)
        parts.append("")
        if table.rows:
            parts.append("| " + " | ".join(table.headers) + " |")
            parts.append("|" + "---|" * len(table.headers))
            parts.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows)
        else:
            parts.append("None.")
        if table.note:
            parts += ["", f"_{table.note}_"]
        parts.append("")
    return "\n".join(parts)


# ------------------------------------------------------------------ terminal
def print_terminal(
    diff: Diff, briefs: Mapping[str, EventBrief], source: str, top: int, console: Any
) -> None:
    """Rich tables on ``console`` (a ``rich.console.Console``)."""
    from rich.table import Table as RichTable
    from rich.text import Text

    for table in tables(diff, briefs, source, top):
        if not table.rows and table.headers and not table.title.startswith("supervise"):
            console.print(Text(table.title, style="bold"))
            continue
        shown = RichTable(title=table.title, title_justify="left", caption=table.note or None)
        for header in table.headers:
            shown.add_column(header, overflow="fold")
        for row in table.rows:
            shown.add_row(*(Text(cell) for cell in row))
        console.print(shown)
