"""Instants (int epoch microseconds) and local calendar dates (int ordinals).

The rule book reasons in local dates ("date of t", ``start(d)``, ``end(d)``);
the engine keeps both as integers so state stays small and comparisons exact.
A date is ``datetime.date.toordinal()``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

US = 1_000_000
HOUR_US = 3600 * US
DAY_US = 24 * HOUR_US
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_FORMAT_CACHE = 1 << 16
# The years in which LocalTime checks whether a zone's offset is fixed.
_FIXED_FROM = int((datetime(2000, 1, 2, tzinfo=UTC) - EPOCH).total_seconds()) * 1_000_000
_FIXED_TO = int((datetime(2040, 12, 30, tzinfo=UTC) - EPOCH).total_seconds()) * 1_000_000


class InstantError(ValueError):
    """Text that is not an RFC 3339 date-time with offset."""


# Midnight of a date at an offset ("2026-03-02+08:00" -> instant), for parse_instant's fast path.
_MIDNIGHTS: dict[str, int] = {}
_MIDNIGHTS_MAX = 1 << 16


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
        and text[19] in "+-Zz"
    ):
        key = text[:10] + text[19:]
        midnight = _MIDNIGHTS.get(key)
        hh, mm, ss = text[11:13], text[14:16], text[17:19]
        if hh.isdigit() and mm.isdigit() and ss.isdigit():
            hour, minute, second = int(hh), int(mm), int(ss)
            if hour < 24 and minute < 60 and second < 60 and text[10] in "Tt":
                time_us = ((hour * 60 + minute) * 60 + second) * US
                if midnight is not None:
                    return midnight + time_us
                instant = _parse_instant(text)
                if len(_MIDNIGHTS) >= _MIDNIGHTS_MAX:
                    _MIDNIGHTS.clear()
                _MIDNIGHTS[key] = instant - time_us
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
        # Alert instants repeat (midnights, deadlines): format each once (bounded).
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
        text = self._formatted.get(instant)
        if text is None:
            if len(self._formatted) >= _FORMAT_CACHE:
                self._formatted.clear()
            text = self._formatted[instant] = self._format(instant)
        return text

    def _format(self, instant: int) -> str:
        offset = self._fixed_offset_us
        if offset is None or not _FIXED_FROM <= instant < _FIXED_TO:
            return self._format_zoned(instant)
        local = instant + offset
        day, rest = divmod(local, DAY_US)
        seconds, micros = divmod(rest, US)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        fraction = f".{micros:06d}" if micros else ""
        return (
            f"{format_date(day + _EPOCH_ORDINAL)}T{hour:02d}:{minute:02d}:{second:02d}"
            f"{fraction}{self._offset_text}"
        )

    def _format_zoned(self, instant: int) -> str:
        moment = (EPOCH + timedelta(microseconds=instant)).astimezone(self.zone)
        return moment.isoformat()


def format_date(day: int) -> str:
    return date.fromordinal(day).isoformat()


def parse_date(text: str) -> int:
    return date.fromisoformat(text).toordinal()
