"""The web pages' reads from ClickHouse (beside ``storage.queries``, which they reuse).

``month_scores(backend, config, month)``: the month's department scores, grades and
ranks (``streams.scoring``) over the stored alerts raised in that local month (withdrawn
ones left out by ``queries.alerts``) and the 督办 approved in it, without the alerts
and 督办 of workflows dismissed as ``false_positive`` or ``duplicate`` (workflow.md §
Scoring); every department with a stored workflow or alert that month is ranked.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from streams.diff.sides import VOID_DISMISSALS
from streams.engine.model import Alert
from streams.scoring import DeptScore, monthly_scores
from streams.storage import queries
from streams.storage.backends import Backend
from streams.workflow.model import DISMISSED
from streams.workflow.state import Workflow, workflow_from_dict

WORKFLOW_DOCUMENTS_SQL = """
SELECT document FROM workflows_current
"""

# An alert's workflow: the one whose cards hold it, or the one a SUP_* alert is about.
WORKFLOW_OF_ALERT_SQL = """
SELECT workflow_id FROM workflows_current
WHERE position(document, %(needle)s) > 0
   OR workflow_id IN (SELECT visitParamExtractString(details, 'workflow_id') FROM alerts FINAL
                      WHERE alert_id = %(alert_id)s AND process = 'supervision')
ORDER BY workflow_id
LIMIT 1
"""


def workflow_of_alert(backend: Backend, alert_id: str) -> str | None:
    """The workflow an alert opened or joined (``alert_id``: 32 hex digits), or a SUP_*
    alert's workflow; None when none is stored."""
    params = {"alert_id": alert_id, "needle": f'"alert_id":"{alert_id}"'}
    rows = backend.query(WORKFLOW_OF_ALERT_SQL, params).rows
    return str(rows[0][0]) if rows else None


def all_workflows(backend: Backend) -> list[Workflow]:
    rows = backend.query(WORKFLOW_DOCUMENTS_SQL, {}).dicts()
    return [workflow_from_dict(orjson.loads(r["document"])) for r in rows]


def month_bounds(month: str, config: Any) -> tuple[int, int]:
    """[first instant, first instant of the next month) of a local ``YYYY-MM``."""
    year, mon = (int(x) for x in month.split("-"))
    first = date(year, mon, 1)
    after = date(year + mon // 12, mon % 12 + 1, 1)
    local = config.local
    return local.start_of(first.toordinal()), local.start_of(after.toordinal())


def counted_duban(workflows: list[Workflow], since_us: int, until_us: int) -> list[Workflow]:
    """The 督办 a score counts in [since, until): approved then, not dismissed as
    ``false_positive`` or ``duplicate``."""
    return [
        wf
        for wf in workflows
        if wf.approved_at is not None
        and since_us <= wf.approved_at < until_us
        and not (wf.state == DISMISSED and wf.dismissal in VOID_DISMISSALS)
    ]


def scored_inputs(
    backend: Backend,
    config: Any,
    since_us: int,
    until_us: int,
    workflows: list[Workflow] | None = None,
) -> tuple[list[Alert], list[tuple[str, int]], set[str]]:
    """What the scores of [since, until) count: the stored alerts raised then (withdrawn
    ones and those of void dismissals left out), the 督办 approved then (department,
    instant), and every department with a stored workflow created before ``until``
    (``workflows``: all stored ones, read here when not given)."""
    if workflows is None:
        workflows = all_workflows(backend)
    void = {
        card.alert_id
        for wf in workflows
        if wf.state == DISMISSED and wf.dismissal in VOID_DISMISSALS
        for card in wf.cards
    }
    rows = queries.alerts(backend, since_us=since_us, until_us=until_us, limit=1_000_000)
    alerts = [
        Alert(
            r["alert_id"],
            r["rule"],
            r["level"],
            r["case_id"],
            r["process"],
            r["dept"],
            r["raised_at_us"],
            list(r["evidence"]),
            r["message"],
            r["details"],
            r["config_version"],
        )  # fmt: skip
        for r in rows
        if r["alert_id"] not in void
    ]
    duban = [(wf.dept, wf.approved_at or 0) for wf in counted_duban(workflows, since_us, until_us)]
    return alerts, duban, {wf.dept for wf in workflows if wf.created_at < until_us}


def month_scores(backend: Backend, config: Any, month: str) -> list[DeptScore]:
    since_us, until_us = month_bounds(month, config)
    alerts, duban, depts = scored_inputs(backend, config, since_us, until_us)
    depts |= {a.dept for a in alerts}
    scores = monthly_scores(
        alerts, config.scoring, config.local, depts=depts, months=[month], duban=duban
    )
    return scores.get(month, [])
