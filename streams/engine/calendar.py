"""Working days per the State Council's yearly schedule.

Data comes from ``chinese-calendar`` for the years it covers, and from TOML
calendar files that operators can add or override per year without a code
change (``[years.2027] holidays = [...]  workdays = [...]``). A year of an
override file replaces the library's data for that year.

A working day is not an official rest day, and is either Monday–Friday or an
adjusted working weekend day (调休上班). Asking about a year with no data
raises ``CalendarYearMissing`` naming the year: never a weekends-only guess.
"""

from __future__ import annotations

import tomllib
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any


class CalendarError(ValueError):
    """Calendar data that cannot be used."""


class CalendarYearMissing(CalendarError):
    """A computation needed a year the calendar has no data for."""

    def __init__(self, year: int) -> None:
        super().__init__(
            f"no working-day calendar data for year {year}: add [years.{year}] with its "
            "holidays and adjusted working days to a calendar file named in the configuration"
        )
        self.year = year


@dataclass(frozen=True, slots=True)
class YearData:
    holidays: frozenset[date]  # official rest days (statutory holidays and moved rest days)
    workdays: frozenset[date]  # adjusted working weekend days (调休上班)


def library_years() -> dict[int, YearData]:
    """The years ``chinese-calendar`` covers, as YearData."""
    from chinese_calendar import constants

    years: dict[int, YearData] = {}
    first = min(constants.holidays).year
    last = max(constants.holidays).year
    for year in range(first, last + 1):
        years[year] = YearData(
            holidays=frozenset(d for d in constants.holidays if d.year == year),
            workdays=frozenset(d for d in constants.workdays if d.year == year),
        )
    return years


def parse_calendar_data(data: Mapping[str, Any], source: str) -> dict[int, YearData]:
    """``{"years": {"2027": {"holidays": [...], "workdays": [...]}}}`` -> YearData per year."""
    years: dict[int, YearData] = {}
    table = data.get("years", {})
    if not isinstance(table, Mapping):
        raise CalendarError(f"{source}: 'years' must be a table")
    for key, entry in table.items():
        try:
            year = int(key)
        except ValueError:
            raise CalendarError(f"{source}: year {key!r} is not a number") from None
        if not isinstance(entry, Mapping):
            raise CalendarError(f"{source}: years.{key} must be a table")
        unknown = set(entry) - {"holidays", "workdays"}
        if unknown:
            raise CalendarError(f"{source}: years.{key}: unknown keys {sorted(unknown)}")
        parsed: dict[str, frozenset[date]] = {}
        for field in ("holidays", "workdays"):
            days: set[date] = set()
            for text in entry.get(field, []):
                try:
                    day = date.fromisoformat(str(text))
                except ValueError:
                    raise CalendarError(
                        f"{source}: years.{key}.{field}: {text!r} is not a date"
                    ) from None
                if day.year != year:
                    raise CalendarError(f"{source}: years.{key}.{field}: {text} is not in {year}")
                days.add(day)
            parsed[field] = frozenset(days)
        both = parsed["holidays"] & parsed["workdays"]
        if both:
            raise CalendarError(
                f"{source}: years.{key}: {sorted(map(str, both))} both holiday and workday"
            )
        years[year] = YearData(parsed["holidays"], parsed["workdays"])
    return years


def load_calendar_file(path: Path) -> dict[int, YearData]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise CalendarError(f"cannot read calendar file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"calendar file {path} is not valid TOML: {exc}") from None
    return parse_calendar_data(data, str(path))


class WorkCalendar:
    """Working-day arithmetic over date ordinals."""

    def __init__(self, years: Mapping[int, YearData]) -> None:
        if not years:
            raise CalendarError("calendar has no years")
        self.years = frozenset(years)
        self.first_year = min(years)
        self.last_year = max(years)
        workdays: list[int] = []
        for year in sorted(years):
            data = years[year]
            day = date(year, 1, 1).toordinal()
            end = date(year + 1, 1, 1).toordinal()
            while day < end:
                d = date.fromordinal(day)
                if d in data.workdays or (d.weekday() < 5 and d not in data.holidays):
                    workdays.append(day)
                day += 1
        self._workdays = workdays
        self._workday_set = frozenset(workdays)
        # The contiguous run of covered years around the library's range: no checks needed inside it.
        first = last = max(years)
        while first - 1 in years:
            first -= 1
        self._fast_first = date(first, 1, 1).toordinal()
        self._fast_end = date(last + 1, 1, 1).toordinal()

    @classmethod
    def build(cls, extra: Iterable[Mapping[int, YearData]] = ()) -> WorkCalendar:
        years = library_years()
        for table in extra:
            years.update(table)
        return cls(years)

    def _check_years(self, first_day: int, last_day: int) -> None:
        if self._fast_first <= first_day and last_day < self._fast_end:
            return
        for year in range(date.fromordinal(first_day).year, date.fromordinal(last_day).year + 1):
            if year not in self.years:
                raise CalendarYearMissing(year)

    def workdays_between(self, first_day: int, last_day: int) -> list[int]:
        """The working days d with first_day <= d <= last_day, in order."""
        self._check_years(first_day, last_day)
        return self._workdays[
            bisect_left(self._workdays, first_day) : bisect_right(self._workdays, last_day)
        ]

    def is_workday(self, day: int) -> bool:
        self._check_years(day, day)
        return day in self._workday_set

    def wd_after(self, day: int, n: int) -> int:
        """The n-th working day strictly after date ``day`` (n >= 1)."""
        if n < 1:
            raise ValueError("n must be >= 1")
        self._check_years(day, day)
        index = bisect_right(self._workdays, day) + n - 1
        if index >= len(self._workdays):
            raise CalendarYearMissing(self.last_year + 1)
        result = self._workdays[index]
        self._check_years(day, result)
        return result

    def wd_before(self, day: int, n: int) -> int:
        """The n-th working day strictly before date ``day`` (n >= 1; rules.md §2)."""
        if n < 1:
            raise ValueError("n must be >= 1")
        self._check_years(day, day)
        index = bisect_left(self._workdays, day) - n
        if index < 0:
            raise CalendarYearMissing(self.first_year - 1)
        result = self._workdays[index]
        self._check_years(result, day)
        return result

    def count_workdays(self, first_day: int, end_day: int) -> int:
        """Working days d with first_day <= d < end_day."""
        if end_day <= first_day:
            return 0
        self._check_years(first_day, end_day - 1)
        return bisect_left(self._workdays, end_day) - bisect_left(self._workdays, first_day)
