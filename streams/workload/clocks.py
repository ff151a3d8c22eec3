"""Case clocks (rules.md §2): when the terminal action falls, extensions, monthly reports.

``cur`` is the working-day index the case has reached, ``last`` the index of
its last allowed day; the planted tag decides whether the terminal action
lands before, on or after it.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from streams.workload.builder import Case, CaseBuilder
from streams.workload.calendar import OutOfYear
from streams.workload.reference import PROGRESS_SUMMARIES

COMPLIANT = ("OK", "OPEN")


def completion_index(b: CaseBuilder, tag: str, cur: int, last: int) -> int:
    """Working-day index of the terminal action, by the intended OVERDUE outcome."""
    if tag == "OVERDUE_N":
        return last
    if tag == "OVERDUE_Y":
        return last + b.rng.randint(1, 3)
    if tag == "OVERDUE_R":
        return last + b.rng.randint(4, 8)
    if last - 1 <= cur:
        return cur
    # compliant: mostly well before the last day
    span = last - 1 - cur
    return cur + min(span, int(span * b.rng.random() ** 1.6 + 0.5))


def extensions(
    b: CaseBuilder,
    case: Case,
    t: int,
    dept: str,
    actor: str | None,
    cur: int,
    last: int,
    late_days: tuple[int, int],
    timely_days: tuple[int, int],
    timely_share: float,
) -> tuple[int, int, int, int]:
    """A case clock's extension, if any: (time, current index, last day index, done index).

    LATEEXT cases extend 1-2 working days after the deadline (LATE_EXTENSION; the deadline
    stays); a few compliant cases extend before it, moving the last day.
    """
    rng, cal, tag = b.rng, b.cal, case.tag
    if tag == "LATEEXT":
        ext_idx = last + rng.randint(1, 2)
        t = b.ev(
            case,
            "extend",
            b.after(t, cal.wd(ext_idx)),
            dept,
            {"extension_days": rng.randint(*late_days), "approver": b.leader(dept)},
            actor,
        )
        return t, ext_idx, last, b.between(ext_idx, last + 3)
    if tag in COMPLIANT and last - 1 > cur and rng.random() < timely_share:
        ext_idx = b.between(cur, last - 1)
        ext = rng.randint(*timely_days)
        t = b.ev(
            case,
            "extend",
            b.after(t, cal.wd(ext_idx)),
            dept,
            {"extension_days": ext, "approver": b.leader(dept)},
            actor,
        )
        return t, ext_idx, last + ext, b.between(last, last + ext - 1)
    return t, cur, last, completion_index(b, tag, cur, last)


def extend_on(
    b: CaseBuilder,
    case: Case,
    t: int,
    dept: str,
    actor: str | None,
    index: int,
    last: int,
    days: tuple[int, int],
) -> tuple[int, int, int, int]:
    """An ``extend`` on working day ``index`` (before the deadline), moving the last day.

    Returns (time, current index, new last day index, done index); the case then
    finishes in time, before its new last day.
    """
    extension = b.rng.randint(*days)
    attrs = {"extension_days": extension, "approver": b.leader(dept)}
    t = b.ev(case, "extend", b.after(t, b.cal.wd(index)), dept, attrs, actor)
    return t, index, last + extension, b.between(index, last + extension - 1)


def monthly_report_days(
    b: CaseBuilder, start_day: int, done_day: int, due_day: int | None, first_day: int
) -> list[int]:
    """Days of the monthly progress reports a case must send (rules.md §3.6 REPORT_MISSING).

    One for each calendar month M after the month of ``start_day`` whose due instant
    the case is still open at: ``end`` of M's day ``due_day`` (None: M's last day)
    when the case finishes on ``done_day``. Each is a working day of M from day
    ``first_day`` up to the due day.
    """
    cal = b.cal
    days: list[int] = []
    when = date.fromordinal(start_day)
    year, month = when.year, when.month
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        last = calendar.monthrange(year, month)[1]
        due = date(year, month, min(due_day or last, last)).toordinal()
        if done_day <= due:  # finished before the due instant end(due)
            return days
        workdays = [
            o for o in range(date(year, month, first_day).toordinal(), due + 1) if cal.is_workday(o)
        ]
        if not workdays:
            raise OutOfYear(due)
        days.append(b.rng.choice(workdays))


def progress_attrs(b: CaseBuilder) -> dict[str, Any] | None:
    """A monthly progress report's attributes: mostly a one-line summary."""
    rng = b.rng
    if rng.random() < 0.15:
        return None
    summary = rng.choice(PROGRESS_SUMMARIES).format(pct=rng.randint(10, 95), n=rng.randint(1, 6))
    return {"summary": summary}
