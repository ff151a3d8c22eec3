"""Department scores per month (绩效测评, workflow.md § Scoring): a pure function of alerts.

    score(dept, month) = base − notice × notices − yellow × yellows − red × reds
                         − duban × 督办 − sup_receipt_reply × (SUP_RECEIPT/REPLY_OVERDUE)
                         − sup_rectify × SUP_RECTIFY_OVERDUE

with the weights and grade bounds of the configuration's ``[scoring]`` table
(``ScoringSection``; defaults 100, 0, 1.0, 1.5, 0.5, 0.5, 1.0; 优秀 ≥ 90, 良好 ≥ 80,
合格 ≥ 60, else 不合格). Read literally: every alert counts by its level, ``SUP_*``
alerts included, and the ``SUP_*`` terms come on top of their level. An alert counts in
the month (local time of the configuration) it was raised in, at its ``dept``; a 督办
in the month it was dispatched, at the workflow's department. Ranks are per month,
highest score first; equal scores share a rank (1, 2, 2, 4), listed by department.

Withdrawn alerts and workflows dismissed as ``false_positive`` or ``duplicate`` count 0:
callers leave them out of what they pass in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from streams.engine.configfile import ScoringSection
from streams.engine.model import NOTICE, RED, YELLOW, Alert
from streams.engine.timeutil import LocalTime, format_month, month_index

EXCELLENT, GOOD, PASSING, FAILING = "优秀", "良好", "合格", "不合格"
GRADES = (EXCELLENT, GOOD, PASSING, FAILING)
SUP_RECEIPT_REPLY = frozenset({"SUP_RECEIPT_OVERDUE", "SUP_REPLY_OVERDUE"})
SUP_RECTIFY = "SUP_RECTIFY_OVERDUE"


def _decimal(value: float) -> Decimal:
    """A weight as the decimal it was written as (1.5, not 1.5000000000000000001)."""
    return Decimal(repr(value))


@dataclass(slots=True)
class Tally:
    """What counts against one department in one month."""

    notice: int = 0
    yellow: int = 0
    red: int = 0
    duban: int = 0
    sup_receipt_reply: int = 0
    sup_rectify: int = 0

    def add_alert(self, rule: str, level: str) -> None:
        if level == NOTICE:
            self.notice += 1
        elif level == YELLOW:
            self.yellow += 1
        elif level == RED:
            self.red += 1
        if rule in SUP_RECEIPT_REPLY:
            self.sup_receipt_reply += 1
        elif rule == SUP_RECTIFY:
            self.sup_rectify += 1

    def as_dict(self) -> dict[str, int]:
        return {
            "notice": self.notice,
            "yellow": self.yellow,
            "red": self.red,
            "duban": self.duban,
            "sup_receipt_reply": self.sup_receipt_reply,
            "sup_rectify": self.sup_rectify,
        }


def score(tally: Tally, scoring: ScoringSection) -> Decimal:
    """The formula, exactly (decimal arithmetic on the weights as written)."""
    points = (
        _decimal(scoring.notice) * tally.notice
        + _decimal(scoring.yellow) * tally.yellow
        + _decimal(scoring.red) * tally.red
        + _decimal(scoring.duban) * tally.duban
        + _decimal(scoring.sup_receipt_reply) * tally.sup_receipt_reply
        + _decimal(scoring.sup_rectify) * tally.sup_rectify
    )
    return _decimal(scoring.base) - points


def grade(value: Decimal, scoring: ScoringSection) -> str:
    if value >= _decimal(scoring.excellent):
        return EXCELLENT
    if value >= _decimal(scoring.good):
        return GOOD
    if value >= _decimal(scoring.passing):
        return PASSING
    return FAILING


@dataclass(frozen=True, slots=True)
class DeptScore:
    month: str  # YYYY-MM
    dept: str
    score: Decimal
    grade: str
    rank: int
    tally: Tally = field(compare=False)


def month_of(instant: int, local: LocalTime) -> str:
    """The local month (``YYYY-MM``) of an instant."""
    return format_month(month_index(local.date_of(instant)))


def monthly_scores(
    alerts: Iterable[Alert],
    scoring: ScoringSection,
    local: LocalTime,
    *,
    depts: Iterable[str] = (),
    months: Iterable[str] = (),
    duban: Iterable[tuple[str, int]] = (),
) -> dict[str, list[DeptScore]]:
    """Scores and ranks per month (``YYYY-MM``), ranked within the month.

    ``depts`` and ``months`` are scored even without anything against them (100 points
    at the defaults); ``duban`` gives (department, dispatch instant) of each 督办 counted.
    """
    tallies: dict[tuple[str, str], Tally] = {}
    every_dept = set(depts)
    every_month = set(months)

    def tally(month: str, dept: str) -> Tally:
        found = tallies.get((month, dept))
        if found is None:
            found = tallies[(month, dept)] = Tally()
        return found

    for alert in alerts:
        month = month_of(alert.raised_at, local)
        tally(month, alert.dept).add_alert(alert.rule, alert.level)
        every_dept.add(alert.dept)
        every_month.add(month)
    for dept, dispatched_at in duban:
        month = month_of(dispatched_at, local)
        tally(month, dept).duban += 1
        every_dept.add(dept)
        every_month.add(month)
    out: dict[str, list[DeptScore]] = {}
    for month in sorted(every_month):
        scored = [(score(tally(month, d), scoring), d) for d in every_dept]
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        rows: list[DeptScore] = []
        rank = 0
        for position, (value, dept) in enumerate(scored, start=1):
            if not rows or value != rows[-1].score:
                rank = position
            rows.append(
                DeptScore(month, dept, value, grade(value, scoring), rank, tally(month, dept))
            )
        out[month] = rows
    return out
