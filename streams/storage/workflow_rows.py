"""Rows of the workflow tables (``schemas/clickhouse/0006_workflows.sql``).

``ActionRecord`` (an action as sent, with its result) becomes a ``workflow_actions``
row; ``WorkflowVersion`` (a workflow's stored form after a change, with the revision
that orders the changes within one version) a ``workflows`` row. Pure, like ``rows``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from streams.engine.timeutil import parse_instant
from streams.storage.rows import RowError, json_text, seconds
from streams.storage.tables import WORKFLOW_ACTIONS, WORKFLOWS
from streams.workflow.clocks import RUNS_WHILE, TIMER_RULES
from streams.workflow.model import TERMINAL

# SUP rule -> the stem of the clock that raises it (``clocks.RUNS_WHILE``).
_STEM: Final = {rule: name.split("_", 1)[0] for name, (rule, _) in TIMER_RULES.items()}


@dataclass(slots=True)
class ActionRecord:
    """An action as sent (its JSON document), with its result (``Result.to_dict``)."""

    document: dict[str, Any]
    result: dict[str, Any]


@dataclass(slots=True)
class WorkflowVersion:
    """A workflow's stored form (``WorkflowEngine.to_dict``) after a change; the highest
    ``revision`` of a version is its last content."""

    document: dict[str, Any]
    revision: int


def overdue(document: dict[str, Any]) -> bool:
    """A ``SUP_*`` clock ran out for the step the workflow is at (its alert fired)."""
    state = document["state"]
    for key in document["fired"]:
        stem = _STEM.get(key.split("/", 1)[0])
        if stem is None:
            continue
        states = RUNS_WHILE.get(stem)
        if (state not in TERMINAL) if states is None else (state in states):
            return True
    return False


def action_row(record: ActionRecord, recorded_at_s: int) -> tuple[Any, ...]:
    doc, result = record.document, record.result
    if not isinstance(doc, dict) or not isinstance(result, dict):
        raise RowError("an action record is a document and a result, both objects")
    try:
        acted_at = parse_instant(result["acted_at"])
        actor = doc.get("actor") or {}
        return (
            str(result["action_id"]),
            str(result["workflow_id"]),
            str(result["case_id"]),
            str(result["type"]),
            str(result["user_id"]),
            str(actor.get("role", "")),
            str(actor.get("dept", "")),
            seconds(acted_at, "acted_at"),
            acted_at,
            int(doc.get("expected_version", 0)),
            json_text(doc),
            str(result["status"]),
            str(result["reason"]),
            str(result["detail"]),
            int(result["version"]),
            str(result["state"]),
            json_text(result["due"]),
            recorded_at_s,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise RowError(f"action record: {exc!r}") from None


def workflow_row(version: WorkflowVersion) -> tuple[Any, ...]:
    doc = version.document
    try:
        created = parse_instant(doc["created_at"])
        updated = parse_instant(doc["updated_at"])
        dues = [parse_instant(t["at"]) for t in doc["timers"].values() if t["at"] is not None]
        due = min(dues) if dues else None
        return (
            str(doc["workflow_id"]),
            int(doc["version"]),
            int(version.revision),
            str(doc["rule"]),
            str(doc["process"]),
            str(doc["case_id"]),
            str(doc["dept"]),
            str(doc["level"]),
            str(doc["state"]),
            seconds(created, "created_at"),
            created,
            seconds(updated, "updated_at"),
            updated,
            str(doc["claimed_by"]),
            str(doc["drafter"]),
            str(doc["approved_by"]),
            None if due is None else seconds(due, "due_at"),
            due,
            int(overdue(doc)),
            [str(f) for f in doc["fired"]],
            json_text(doc),
        )
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise RowError(f"workflow version: {exc!r}") from None


def workflow_row_key(table: str, obj: Any) -> str:
    if table == WORKFLOW_ACTIONS and isinstance(obj, ActionRecord):
        return f"action={obj.result.get('workflow_id', '?')}/{obj.result.get('action_id', '?')}"
    if table == WORKFLOWS and isinstance(obj, WorkflowVersion):
        doc = obj.document
        wid, version = doc.get("workflow_id", "?"), doc.get("version", "?")
        return f"workflow={wid} version={version} revision={obj.revision}"
    return "?"
