"""Working days of the generated year, by index, over the engine's calendar.

The days themselves come from ``streams.engine.calendar.WorkCalendar`` (the
State Council schedule the rules use); this layer only numbers them, so that a
builder can say "three working days after the acceptance day" as ``index + 3``.
Anything past ``LAST_DAY`` raises ``OutOfYear``: the slot is then built again.
"""

from __future__ import annotations

from datetime import date

from streams.engine.calendar import CalendarYearMissing, WorkCalendar
from streams.workload.config import FIRST_DAY, LAST_DAY


class OutOfYear(Exception):
    """A case would need a day after LAST_DAY (no working-day data beyond 2026)."""


class WorkdayIndex:
    """The engine's working days between ``first`` and ``last``, numbered from 0."""

    def __init__(self, first: date = FIRST_DAY, last: date = LAST_DAY) -> None:
        self.engine_calendar = WorkCalendar.build()
        self.first = first.toordinal()
        self.last = last.toordinal()
        self.workdays: list[int] = self.engine_calendar.workdays_between(self.first, self.last)
        self._upto: list[int] = []  # working days with ordinal <= first + i
        index = 0
        for ordinal in range(self.first, self.last + 1):
            while index < len(self.workdays) and self.workdays[index] <= ordinal:
                index += 1
            self._upto.append(index)
        self._is_work = frozenset(self.workdays)

    def is_workday(self, ordinal: int) -> bool:
        return ordinal in self._is_work

    def check(self, ordinal: int) -> int:
        """``ordinal`` itself, or OutOfYear when it lies after the last day."""
        if ordinal > self.last:
            raise OutOfYear(ordinal)
        return ordinal

    def count_upto(self, ordinal: int) -> int:
        """Working days on or before ``ordinal``: the index of the first one after it."""
        if ordinal > self.last:
            raise OutOfYear(ordinal)
        return self._upto[ordinal - self.first] if ordinal >= self.first else 0

    def wd(self, index: int) -> int:
        """The ordinal of working day number ``index`` (0-based)."""
        if index >= len(self.workdays):
            raise OutOfYear(index)
        return self.workdays[index]

    def index_on_or_after(self, ordinal: int) -> int:
        return self.count_upto(ordinal - 1)

    def wd_after(self, ordinal: int, n: int) -> int:
        """The n-th working day strictly after ``ordinal`` (rules.md §1), within the year."""
        try:
            return self.check(self.engine_calendar.wd_after(ordinal, n))
        except CalendarYearMissing:
            raise OutOfYear(ordinal) from None
