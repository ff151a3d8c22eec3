"""What rules.md says a case raises, read from its events alone, for the checks by construction.

A small, independent reading of rules.md §1.1, §2 and §3.6 for the processes
whose cases never pause (``leader_assignment`` and issue #19's ``key_task``,
``proposal``, ``meeting_item``): the case clock with its extensions and their
notice periods, OVERDUE, LATE_EXTENSION, REPORT_MISSING and RISK_NOT_REPORTED.
It lets the tests check what the generator planted whatever the engine of this
checkout knows; it is not the engine (that is ``streams.engine``), and only
the engine's calendar gives it working days.

``RISK_NOT_REPORTED`` is judged at the due date's end: the generated cases that
extend a key task report the risk in time, so the D of an extended clock would
give the same answer.
"""

from __future__ import annotations

import calendar
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from streams.engine.calendar import WorkCalendar

LOCAL = timezone(timedelta(hours=8))
CAL = WorkCalendar.build()
START_ACTION = {"leader_assignment": "accept", "key_task": "assign"}
TERMINAL = {"complete"}
LEADER_LIMITS = {"urgent": 1, "important": 3, "general": 5}
RED_AFTER = 3
REPORT_DAY = {"key_task": None, "proposal": 28}  # None: the month's last day
RISK_NOTICE = timedelta(days=10)


def instant(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["occurred_at"])


def start_of(day: int) -> datetime:
    return datetime.combine(date.fromordinal(day), time(), LOCAL)


def end_of(day: int) -> datetime:
    return start_of(day + 1)


def local_date(event: dict[str, Any]) -> date:
    return instant(event).astimezone(LOCAL).date()


def wd_before(day: int, n: int) -> int:
    """The n-th working day strictly before ``day`` (``day`` itself for n = 0)."""
    while n:
        day -= 1
        n -= CAL.is_workday(day)
    return day


def notice_period(process: str, start_attrs: dict[str, Any]) -> int:
    """``extension_notice_working_days`` of rules.md §2."""
    if process == "meeting_item":
        return 3
    if process == "leader_assignment" and start_attrs.get("joint") is True:
        return 1
    return 0


def first_last_day(process: str, start: dict[str, Any]) -> int:
    attrs = start.get("attrs", {})
    if process == "key_task":
        return date.fromisoformat(attrs["due_date"]).toordinal()
    if process == "leader_assignment" and "time_limit_days" not in attrs:
        limit = 10 if attrs.get("joint") is True else LEADER_LIMITS[attrs["priority"]]
    else:
        limit = attrs["time_limit_days"]
    return CAL.wd_after(local_date(start).toordinal(), limit)


def alerts_of(events: list[dict[str, Any]]) -> Counter[str]:
    """The alert keys (``OVERDUE:notice``, ``LATE_EXTENSION``, ...) a finished case raises;
    REPORT_MISSING once per month missed."""
    events = sorted(events, key=instant)  # stable: equal instants keep their order
    start = events[0]
    process = start["process"]
    assert start["action"] == START_ACTION.get(process, "assign"), start
    notice = notice_period(process, start.get("attrs", {}))
    last = first_last_day(process, start)
    raised: Counter[str] = Counter()
    finished: datetime | None = None

    def due(level: str) -> datetime:
        if level == "notice":
            return start_of(last)
        if level == "yellow":
            return end_of(last)
        return end_of(CAL.wd_after(last, RED_AFTER))

    for event in events[1:]:
        t = instant(event)
        for level in ("notice", "yellow", "red"):
            if f"OVERDUE:{level}" not in raised and due(level) <= t:
                raised[f"OVERDUE:{level}"] += 1
        if event["action"] == "extend":
            deadline = end_of(last)
            if t >= end_of(wd_before(last, notice)):
                raised["LATE_EXTENSION"] = 1
            if t < deadline:
                last = CAL.wd_after(last, event["attrs"]["extension_days"])
        if event["action"] in TERMINAL:
            finished = t
            break
    assert finished is not None, "an open case: its alerts depend on the as-of instant"

    if process == "key_task":
        due_date = date.fromisoformat(start["attrs"]["due_date"]).toordinal()
        risk_by = end_of(due_date) - RISK_NOTICE
        in_time = any(e["action"] == "risk_report" and instant(e) < risk_by for e in events)
        if finished >= end_of(due_date) and not in_time:
            raised["RISK_NOT_REPORTED"] = 1
    if process in REPORT_DAY:
        raised["REPORT_MISSING"] = len(missing_months(events, finished))
    return +raised  # drop zero counts


def missing_months(events: list[dict[str, Any]], finished: datetime) -> list[str]:
    """The months (``YYYY-MM``) whose progress report is missing (rules.md §3.6)."""
    start = events[0]
    report_day = REPORT_DAY[start["process"]]
    when = local_date(start)
    year, month = when.year, when.month
    missing: list[str] = []
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        day = report_day or calendar.monthrange(year, month)[1]
        due = end_of(date(year, month, day).toordinal())
        if finished < due:
            return missing
        if not any(
            e["action"] == "progress"
            and (local_date(e).year, local_date(e).month) == (year, month)
            and instant(e) < due
            for e in events
        ):
            missing.append(f"{year:04d}-{month:02d}")
