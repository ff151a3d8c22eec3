"""Working days by index (``streams/workload/calendar.py``), over the engine's calendar."""

from __future__ import annotations

from datetime import date

import pytest

from streams.engine.calendar import WorkCalendar
from streams.workload import OutOfYear, WorkdayIndex
from streams.workload.config import FIRST_DAY, LAST_DAY


def test_working_days_are_the_engines() -> None:
    index = WorkdayIndex()
    engine = WorkCalendar.build()
    first, last = FIRST_DAY.toordinal(), LAST_DAY.toordinal()
    assert index.workdays == engine.workdays_between(first, last)
    for ordinal in range(first, last - 10, 7):
        assert index.wd_after(ordinal, 3) == engine.wd_after(ordinal, 3)
        assert index.wd(index.count_upto(ordinal)) == engine.wd_after(ordinal, 1)


def test_working_calendar_matches_the_state_council_schedule() -> None:
    calendar = WorkdayIndex()
    d = date.toordinal
    assert date.fromordinal(calendar.wd_after(d(date(2026, 9, 30)), 3)) == date(2026, 10, 10)
    assert date.fromordinal(calendar.wd_after(d(date(2026, 2, 13)), 2)) == date(2026, 2, 24)
    assert calendar.is_workday(d(date(2026, 2, 28)))  # 调休上班


def test_days_past_the_year_are_out_of_it() -> None:
    calendar = WorkdayIndex()
    with pytest.raises(OutOfYear):
        calendar.wd_after(date(2026, 12, 28).toordinal(), 3)
    with pytest.raises(OutOfYear):
        calendar.wd(len(calendar.workdays))
    with pytest.raises(OutOfYear):
        calendar.check(date(2026, 12, 31).toordinal())
