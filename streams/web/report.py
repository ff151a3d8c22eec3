"""A month's department report (绩效测评): what a bulletin freezes and what
``supervise query performance --month`` prints.

``month_report(backend, config, month)`` gives one row per department ranked that month
(``reads.month_scores``: score, grade, rank, the counts the score deducts for), with the
on-time rate of ``queries.performance`` over the month's local days beside it, the
month's cards (yellow and red alerts counted in the score) and the score trend over the
``TREND_MONTHS`` months ending with this one (the same formula, each month on its own).

The 督办 receipt and reply rates beside them (workflow.md § Scoring): of the department's
督办 the score counts that month (approved in it, not dismissed as void), the share
received (an accepted ``receive``) with no ``SUP_RECEIPT_OVERDUE`` raised for it, and the
share replied (an accepted ``reply``) with no ``SUP_REPLY_OVERDUE``; None without 督办.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from streams.engine.model import RED, YELLOW
from streams.engine.timeutil import format_month, month_first_day
from streams.scoring import month_of, monthly_scores
from streams.storage import queries
from streams.storage.backends import Backend
from streams.web.reads import all_workflows, counted_duban, month_bounds, scored_inputs
from streams.workflow.state import Workflow

TREND_MONTHS = 6
CARD_LEVELS = (YELLOW, RED)
RECEIPT_OVERDUE, REPLY_OVERDUE = "SUP_RECEIPT_OVERDUE", "SUP_REPLY_OVERDUE"

DONE_SQL = """
SELECT DISTINCT workflow_id, type
FROM workflow_actions FINAL
WHERE status = 'accepted' AND type IN ('receive', 'reply') AND has(%(ids)s, workflow_id)
"""


def month_number(month: str) -> int:
    """``YYYY-MM`` as a month index (year * 12 + month - 1)."""
    year, mon = (int(x) for x in month.split("-"))
    return year * 12 + mon - 1


def recent_months(month: str, count: int = TREND_MONTHS) -> list[str]:
    """The ``count`` months ending with ``month``, oldest first."""
    last = month_number(month)
    return [format_month(m) for m in range(last - count + 1, last + 1)]


def month_days(month: str) -> tuple[date, date]:
    """The first and the last local day of a month."""
    index = month_number(month)
    return (
        date.fromordinal(month_first_day(index)),
        date.fromordinal(month_first_day(index + 1) - 1),
    )


def month_report(backend: Backend, config: Any, month: str) -> list[dict[str, Any]]:
    """The month's rows, by rank (then department), as a bulletin freezes them."""
    months = recent_months(month)
    since_us = month_bounds(months[0], config)[0]
    first_us, until_us = month_bounds(month, config)
    workflows = all_workflows(backend)
    alerts, duban, depts = scored_inputs(backend, config, since_us, until_us, workflows)
    rates = duban_rates(backend, counted_duban(workflows, first_us, until_us))
    trend = monthly_scores(
        alerts, config.scoring, config.local, depts=depts, months=months, duban=duban
    )
    local = config.local
    current = [a for a in alerts if month_of(a.raised_at, local) == month]
    this_month = monthly_scores(
        current,
        config.scoring,
        local,
        depts=depts | {a.dept for a in current},
        months=[month],
        duban=[(d, at) for d, at in duban if first_us <= at],
    )
    first_day, last_day = month_days(month)
    performance = {r["dept"]: r for r in queries.performance(backend, first_day, last_day)}
    by_month = {m: {s.dept: str(s.score) for s in trend.get(m, [])} for m in months}
    rows = []
    for s in this_month.get(month, []):
        done = performance.get(s.dept, {})
        cards = [
            {
                "alert_id": a.alert_id,
                "rule": a.rule,
                "level": a.level,
                "case_id": a.case_id,
                "raised_at_us": a.raised_at,
            }
            for a in sorted(current, key=lambda a: (a.raised_at, a.alert_id))
            if a.dept == s.dept and a.level in CARD_LEVELS
        ]
        rows.append(
            {
                "rank": s.rank,
                "dept": s.dept,
                "score": str(s.score),
                "grade": s.grade,
                **s.tally.as_dict(),
                "completed": int(done.get("completed", 0)),
                "completed_on_time": int(done.get("completed_on_time", 0)),
                "on_time_rate": done.get("on_time_rate"),
                **rates.get(s.dept, {"receipt_rate": None, "reply_rate": None}),
                "cards": cards,
                "trend": {m: by_month[m][s.dept] for m in months if s.dept in by_month[m]},
            }
        )
    return rows


def duban_rates(backend: Backend, counted: list[Workflow]) -> dict[str, dict[str, float]]:
    """Per department: ``receipt_rate`` and ``reply_rate`` of the 督办 ``counted``."""
    ids = [wf.workflow_id for wf in counted]
    done = {(r[0], r[1]) for r in backend.query(DONE_SQL, {"ids": ids}).rows} if ids else set()
    tallies: dict[str, list[int]] = {}
    for wf in counted:
        tally = tallies.setdefault(wf.dept, [0, 0, 0])
        fired = {key.split("/")[0] for key in wf.fired}
        tally[0] += 1
        tally[1] += (wf.workflow_id, "receive") in done and RECEIPT_OVERDUE not in fired
        tally[2] += (wf.workflow_id, "reply") in done and REPLY_OVERDUE not in fired
    return {
        dept: {"receipt_rate": round(received / n, 4), "reply_rate": round(replied / n, 4)}
        for dept, (n, received, replied) in tallies.items()
    }
