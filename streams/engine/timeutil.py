"""Instants (int epoch microseconds) and local calendar dates (int ordinals).

The rule book reasons in local dates ("date of t", ``start(d)``, ``end(d)``);
the engine keeps both as integers so state stays small and comparisons exact.
A date is ``datetime.date.toordinal()``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final
from zoneinfo import ZoneInfo

US: Final = 1_000_000
HOUR_US: Final = 3600 * US
DAY_US: Final = 24 * HOUR_US
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL: Final = 719_163  # date(1970, 1, 1).toordinal()
_FORMAT_CACHE: Final = 1 << 16
# The years in which LocalTime checks whether a zone's offset is fixed.
_FIXED_FROM: Final = 946_771_200 * US  # 2000-01-02T00:00:00Z
_FIXED_TO: Final = 2_240_438_400 * US  # 2040-12-30T00:00:00Z


class InstantError(ValueError):
    """Text that is not an RFC 3339 date-time with offset."""


# Midnight of a date at an offset, for parse_instant's fast path:
# "2026-03-02" -> ("+08:00", instant). One offset per date: inputs use one offset.
_MIDNIGHTS: dict[str, tuple[str, int]] = {}
_MIDNIGHTS_MAX = 1 << 16


def _two_digits(text: str, at: int) -> int:
    """The number written by the two ASCII digits at ``at``, or -1."""
    high = ord(text[at]) - 48
    low = ord(text[at + 1]) - 48
    if 0 <= high <= 9 and 0 <= low <= 9:
        return high * 10 + low
    return -1


def parse_instant(text: str) -> int:
    """RFC 3339 text with offset -> epoch microseconds (exact).

    The common whole-second forms (``2026-03-02T10:00:00+08:00``, ``…Z``) add the
    time of day to the cached midnight of their date and offset; everything else
    (and the first text of each date) goes through ``datetime.fromisoformat``.
    """
    size = len(text)
    if (
        (size == 25 or size == 20)
        and text.isascii()
        and text[13] == ":"
        and text[16] == ":"
        and text[10] in "Tt"
        and text[19] in "+-Zz"
    ):
        hour = _two_digits(text, 11)
        minute = _two_digits(text, 14)
        second = _two_digits(text, 17)
        if 0 <= hour < 24 and 0 <= minute < 60 and 0 <= second < 60:
            time_us = ((hour * 60 + minute) * 60 + second) * US
            day = text[:10]
            cached = _MIDNIGHTS.get(day)
            if cached is not None:
                offset, midnight = cached
                if len(offset) == size - 19 and text.startswith(offset, 19):
                    return midnight + time_us
            instant = _parse_instant(text)
            if len(_MIDNIGHTS) >= _MIDNIGHTS_MAX:
                _MIDNIGHTS.clear()
            _MIDNIGHTS[day] = (text[19:], instant - time_us)
            return instant
    return _parse_instant(text)


def _parse_instant(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InstantError(f"not an RFC 3339 date-time: {text!r}") from exc
    if moment.tzinfo is None:
        raise InstantError(f"date-time without offset: {text!r}")
    delta = moment - EPOCH
    return delta.days * DAY_US + delta.seconds * US + delta.microseconds


class LocalTime:
    """Conversions between instants and local dates in one zone."""

    def __init__(self, zone: str) -> None:
        self.zone_name = zone
        self.zone: tzinfo = ZoneInfo(zone)
        # Zones without offset changes since 2000 (Asia/Shanghai) use arithmetic.
        probes = [
            datetime(y, m, 1, tzinfo=self.zone).utcoffset()
            for y in range(2000, 2041)
            for m in (1, 7)
        ]
        self._fixed_offset_us: int | None = None
        if len(set(probes)) == 1 and probes[0] is not None:
            self._fixed_offset_us = int(probes[0].total_seconds()) * US
        # The offset as isoformat() writes it ("+08:00"), for zones with a fixed one.
        self._offset_text = ""
        if self._fixed_offset_us is not None:
            self._offset_text = self._format_zoned(0)[19:]
        # Zones with offset changes format through datetime: each instant once (bounded).
        self._formatted: dict[int, str] = {}

    def date_of(self, instant: int) -> int:
        """Local calendar date (ordinal) of an instant."""
        if self._fixed_offset_us is not None:
            return (instant + self._fixed_offset_us) // DAY_US + _EPOCH_ORDINAL
        moment = (EPOCH + timedelta(microseconds=instant)).astimezone(self.zone)
        return moment.date().toordinal()

    def start_of(self, day: int) -> int:
        """``start(d)``: 00:00 local of date d, as an instant."""
        if self._fixed_offset_us is not None:
            return (day - _EPOCH_ORDINAL) * DAY_US - self._fixed_offset_us
        d = date.fromordinal(day)
        moment = datetime(d.year, d.month, d.day, tzinfo=self.zone)
        delta = moment - EPOCH
        return delta.days * DAY_US + delta.seconds * US + delta.microseconds

    def end_of(self, day: int) -> int:
        """``end(d)``: 24:00 local of date d (00:00 of the next day)."""
        return self.start_of(day + 1)

    def format(self, instant: int) -> str:
        """An instant as RFC 3339 text in the local zone, e.g. 2026-03-05T00:00:00+08:00."""
        offset = self._fixed_offset_us
        if offset is not None and _FIXED_FROM <= instant < _FIXED_TO:
            return self._format_fixed(instant + offset)
        text = self._formatted.get(instant)
        if text is None:
            if len(self._formatted) >= _FORMAT_CACHE:
                self._formatted.clear()
            text = self._formatted[instant] = self._format_zoned(instant)
        return text

    def _format(self, instant: int) -> str:
        """``format`` without its cache."""
        offset = self._fixed_offset_us
        if offset is None or not _FIXED_FROM <= instant < _FIXED_TO:
            return self._format_zoned(instant)
        return self._format_fixed(instant + offset)

    def _format_fixed(self, local: int) -> str:
        day = local // DAY_US
        rest = local - day * DAY_US
        seconds = rest // US
        micros = rest - seconds * US
        minutes = seconds // 60
        second = seconds - minutes * 60
        hour = minutes // 60
        minute = minutes - hour * 60
        two = _TWO_DIGITS
        clock = f"{two[hour]}:{two[minute]}:{two[second]}"
        if micros:
            clock = f"{clock}.{micros:06d}"
        return f"{format_date(day + _EPOCH_ORDINAL)}T{clock}{self._offset_text}"

    def _format_zoned(self, instant: int) -> str:
        moment = (EPOCH + timedelta(microseconds=instant)).astimezone(self.zone)
        return moment.isoformat()


_TWO_DIGITS = [f"{n:02d}" for n in range(60)]
# Texts of recent dates (alert details and instants repeat a few hundred dates).
_DATES: dict[int, str] = {}
_DATES_MAX = 1 << 12


def format_date(day: int) -> str:
    """A date ordinal as ``YYYY-MM-DD``."""
    text = _DATES.get(day)
    if text is None:
        if len(_DATES) >= _DATES_MAX:
            _DATES.clear()
        text = _DATES[day] = date.fromordinal(day).isoformat()
    return text


def parse_date(text: str) -> int:
    return date.fromisoformat(text).toordinal()


# Months as indices (year * 12 + month - 1): the monthly report periods (rules.md §3.6).
def month_index(day: int) -> int:
    """The month of a date ordinal."""
    d = date.fromordinal(day)
    return d.year * 12 + d.month - 1


def month_first_day(month: int) -> int:
    """The first day (date ordinal) of a month index."""
    return date(month // 12, month % 12 + 1, 1).toordinal()


def month_due_day(month: int, day: int) -> int:
    """Day ``day`` of a month index (its last day when ``day`` is 0 or past its end)."""
    last = month_first_day(month + 1) - 1
    if day <= 0:
        return last
    return min(month_first_day(month) + day - 1, last)


def format_month(month: int) -> str:
    """A month index as ``YYYY-MM``."""
    return f"{month // 12:04d}-{month % 12 + 1:02d}"
