"""Key tasks (重点工作督办): a due date, a progress report every month, a risk report in time.

A key task is assigned with a due date (mostly a month's end, 1-8 months
ahead); its clock is by date (rules.md §2: ``last`` = the due date). It reports
progress in every calendar month after the assignment's that ends before it is
done (at some working day from the 20th). A task that will be late reports so
in writing at least 10 days before the due date (``risk_report``); some
compliant ones are then granted an extension before the due date and finish
within it. Violations: OVERDUE_N (done on the due date),
OVERDUE_Y/R (1-3 / 4-8 working days late, the risk reported in time), NOREPORT
(one month's report missing) and NORISK (1-3 working days late with no risk
report, or one less than 10 days ahead).
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from streams.workload.builder import Case, CaseBuilder
from streams.workload.calendar import OutOfYear
from streams.workload.clocks import COMPLIANT, monthly_report_days, progress_attrs
from streams.workload.reference import KEY_TASK_DEPTS, KEY_TASKS, RISK_MEASURES

RISK_NOTICE_DAYS = 10  # calendar days


def _due_date(b: CaseBuilder, start: date, at_least: int) -> int:
    """A due date ``at_least``..8 months after ``start``'s month: its end, sometimes its 15th."""
    rng = b.rng
    months = range(start.month + at_least, start.month + 9)
    month = rng.choices(months, [3 if m % 3 == 0 else 1 for m in months])[0]  # quarter ends
    if month > 12:
        raise OutOfYear(start.toordinal())
    if month == 12 or rng.random() < 0.25:  # "12月中旬前": the year end leaves no room
        return date(start.year, month, 15).toordinal()
    return date(start.year, month, calendar.monthrange(start.year, month)[1]).toordinal()


def _workday(b: CaseBuilder, first: int, last: int) -> int:
    """A working day in [first, last] (ordinals); none (a long holiday): built again."""
    days = [o for o in range(first, last + 1) if b.cal.is_workday(o)]
    if not days:
        raise OutOfYear(last)
    return b.rng.choice(days)


def build_key_task(b: CaseBuilder, t0: int, tag: str) -> Case:
    rng, cal = b.rng, b.cal
    source, title = rng.choice(KEY_TASKS)
    dept = rng.choice(KEY_TASK_DEPTS)
    case = b.new_case("key_task", tag, t0, dept)
    actor = b.officer(dept)
    start_day = b.day(t0)
    due = _due_date(b, date.fromordinal(start_day), 2 if tag == "NOREPORT" else 1)
    cal.wd_after(due, 3)  # the red card's day lies within the year
    attrs: dict[str, Any] = {"due_date": b.date(due), "title": title}
    if rng.random() < 0.8:
        attrs["source"] = source

    # (day, action, attrs) of what follows the assignment; ordered by day below
    plan: list[tuple[int, int, str, dict[str, Any] | None]] = []
    risk_by = due - RISK_NOTICE_DAYS  # a risk report in time falls on this day or before
    if tag in ("OVERDUE_Y", "OVERDUE_R", "NORISK"):
        late = rng.randint(1, 3) if tag != "OVERDUE_R" else rng.randint(4, 8)
        done = cal.wd_after(due, late)
        if tag != "NORISK":
            risk = _workday(b, max(start_day, due - 30), risk_by)
        elif rng.random() < 0.5:  # reported, but too late
            risk = _workday(b, risk_by + 1, due)
        else:
            risk = 0
        if risk:
            plan.append((risk, 1, "risk_report", _risk_attrs(b, cal.wd_after(due, late + 2))))
    elif tag == "OVERDUE_N":
        done = due  # on the due date itself (a weekend's overtime, if need be)
    elif tag in COMPLIANT and rng.random() < 0.15:  # risk reported in time, extension granted
        risk = _workday(b, max(start_day, due - 30), risk_by)
        extension = rng.randint(10, 30)
        new_last = cal.wd_after(due, extension)
        cal.wd_after(new_last, 3)
        plan.append((risk, 1, "risk_report", _risk_attrs(b, new_last)))
        asked = _workday(b, risk, due)
        plan.append((asked, 2, "extend", {"extension_days": extension, "approver": b.leader(dept)}))
        done = _workday(b, asked, new_last - 1)
    else:  # in time: mostly in the last weeks before the due date
        window = 20 if tag == "NOREPORT" else 45
        done = _workday(b, max(start_day + 1, due - window), due - 1)
    b.date(done)
    reports = monthly_report_days(b, start_day, done, None, 20)
    if tag == "NOREPORT":
        if not reports:
            raise OutOfYear(done)
        del reports[rng.randrange(len(reports))]
    plan.extend((day, 0, "progress", progress_attrs(b)) for day in reports)
    plan.append((done, 3, "complete", None))

    t = b.ev(case, "assign", t0, dept, attrs, actor)
    for day, _, action, action_attrs in sorted(plan, key=lambda step: step[:2]):
        t = b.ev(case, action, b.after(t, day), dept, action_attrs, actor)
    return case


def _risk_attrs(b: CaseBuilder, proposed: int) -> dict[str, Any]:
    attrs: dict[str, Any] = {"proposed_due_date": b.date(proposed)}
    if b.rng.random() < 0.8:
        attrs["measures"] = b.rng.choice(RISK_MEASURES)
    return attrs
