"""Instants from RFC 3339 text: the cached fast path equals datetime.fromisoformat exactly."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from streams.engine import timeutil
from streams.engine.timeutil import InstantError, _parse_instant, parse_instant


def _reference(text: str) -> int:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def test_fast_path_equals_fromisoformat() -> None:
    rnd = random.Random(20261125)
    offsets = ["+08:00", "-05:30", "+00:00", "Z", "+14:00", "-12:00"]
    start = datetime(1999, 12, 25)
    for _ in range(20_000):
        moment = start + timedelta(seconds=rnd.randrange(40 * 366 * 86_400))
        text = moment.strftime("%Y-%m-%dT%H:%M:%S") + rnd.choice(offsets)
        # twice: the first fills the date's cache entry, the second uses it
        assert parse_instant(text) == _reference(text) == parse_instant(text), text


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-05T08:00:31.5+08:00",
        "2026-01-05T08:00:31.123456Z",
        "2026-01-05 08:00:31+08:00",
        "2024-02-29T23:59:59+08:00",
    ],
)
def test_other_accepted_forms_agree(text: str) -> None:
    assert parse_instant(text) == _reference(text) == _parse_instant(text)
    assert parse_instant(text) == _reference(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-05T24:00:00+08:00",
        "2026-01-05T23:60:00+08:00",
        "2026-01-05T23:59:60+08:00",  # leap second: not representable
        "2026-01-05T+1:00:00+08:00",
        "2026-01-05T0١:00:00+08:00",  # a non-ASCII digit
        "2026-02-30T08:00:00+08:00",
        "2026-01-05T08:00:00+25:00",
        "2026-01-05T08:00:00",  # no offset
        "2026-01-05t08:00:31z",
        "2026-01-05T08:00:00+0800x",
        "",
    ],
)
def test_invalid_text_is_refused_even_after_its_date_is_cached(text: str) -> None:
    parse_instant("2026-01-05T08:00:00+08:00")
    with pytest.raises(InstantError):
        parse_instant(text)


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeutil, "_MIDNIGHTS_MAX", 8)
    for day in range(1, 29):
        text = f"2026-02-{day:02d}T10:00:00+08:00"
        assert parse_instant(text) == _reference(text)
    assert len(timeutil._MIDNIGHTS) <= 8


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC", "Asia/Kolkata", "America/New_York"])
def test_format_equals_isoformat_in_the_zone(zone: str) -> None:
    local = timeutil.LocalTime(zone)
    rnd = random.Random(zone)
    instants = [rnd.randrange(-(10**15), 4 * 10**15) for _ in range(5000)]
    instants += [i - i % 1_000_000 for i in instants]  # whole seconds: no fraction written
    for instant in instants:
        expected = local._format_zoned(instant)
        assert local.format(instant) == expected == local._format(instant)
        assert parse_instant(expected) == instant
