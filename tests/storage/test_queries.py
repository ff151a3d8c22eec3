"""The read queries return exactly what was written, on both engines."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from streams.storage import queries
from streams.storage.backends import Backend
from streams.storage.writer import Writer
from tests.storage.data import DAY, HOUR, T0, alert, events, status


@pytest.fixture
def loaded(migrated_backend: Backend) -> Backend:
    writer = Writer(migrated_backend)
    writer.write(
        events=events(30),
        alerts=[
            alert(1, "notice", case=0, dept="D0", raised_at=T0 + 1),
            alert(2, "yellow", case=0, dept="D0", raised_at=T0 + DAY),
            alert(3, "red", "PAYEE_MISMATCH", case=1, dept="D1", raised_at=T0 + 2 * DAY),
            alert(4, "yellow", "OVERDUE", case=2, dept="D2", raised_at=T0 + 40 * DAY),
        ],
        case_status=[
            status(1, 2, dept="D0", terminal=True, on_time=True),
            status(2, 2, dept="D0", terminal=True, on_time=False, card="yellow"),
            status(3, 1, dept="D1"),
        ],
    )
    return migrated_backend


def test_timeline_returns_the_case_exactly(loaded: Backend) -> None:
    written = [e for e in events(30) if e.case_id == "FD-0003"]
    found = queries.timeline(loaded, "FD-0003")
    assert [e["event_id"] for e in found.events] == [e.event_id for e in written]
    for row, event in zip(found.events, written, strict=True):
        assert row["occurred_at_us"] == event.occurred_at
        assert row["occurred_at_text"] == event.occurred_at_text
        assert row["attrs"] == event.attrs
        assert row["actor"] == event.actor
        assert row["dept"] == event.dept and row["action"] == event.action
        assert row["amount"] == Decimal(str(event.attrs["amount"])).quantize(Decimal("0.01"))
        assert row["party"] == event.attrs["payee"]
    assert found.alerts == []
    with_alerts = queries.timeline(loaded, "FD-0000", "fund_disbursement")
    assert [a["alert_id"] for a in with_alerts.alerts] == ["a0001", "a0002"]
    first = with_alerts.alerts[0]
    assert first == {
        "alert_id": "a0001",
        "rule": "OVERDUE",
        "level": "notice",
        "case_id": "FD-0000",
        "process": "fund_disbursement",
        "dept": "D0",
        "raised_at_us": T0 + 1,
        "evidence": ["e000001"],
        "message": "办件超时未办结",
        "details": {"deadline": "2026-01-10T00:00:00+08:00", "amount": "12.30"},
        "config_version": "cfg-1",
        "withdrawn_at_us": None,
        "withdrawn_reason": "",
        "withdrawn_by": [],
    }


def test_alert_filters(loaded: Backend) -> None:
    def ids(**filters: object) -> list[str]:
        return [a["alert_id"] for a in queries.alerts(loaded, **filters)]  # type: ignore[arg-type]

    assert ids() == ["a0001", "a0002", "a0003", "a0004"]
    assert ids(level="yellow") == ["a0002", "a0004"]
    assert ids(rule="PAYEE_MISMATCH") == ["a0003"]
    assert ids(dept="D0") == ["a0001", "a0002"]
    assert ids(process="approval") == []
    assert ids(since_us=T0 + 1, until_us=T0 + 2 * DAY) == ["a0001", "a0002"]
    assert ids(since_us=T0 + 2, until_us=T0 + 2 * DAY + 1) == ["a0002", "a0003"]
    assert ids(limit=1) == ["a0001"]
    # user text is a parameter, never SQL
    assert ids(rule="' OR 1 = 1 --") == []
    assert ids(rule="100%% %(rule)s") == []
    assert ids(dept="D0\\' OR \\'1\\'=\\'1") == []


def test_performance_for_a_period(loaded: Backend) -> None:
    january = queries.performance(loaded, date(2026, 1, 1), date(2026, 1, 31))
    assert [(r["rank"], r["dept"]) for r in january] == [(1, "D0"), (2, "D1")]
    d0, d1 = january
    assert (d0["accepted"], d0["completed"], d0["completed_on_time"], d0["completed_late"]) == (
        2,
        2,
        1,
        1,
    )
    assert d0["on_time_rate"] == 0.5
    assert (d0["notices"], d0["yellow_cards"], d0["red_cards"], d0["overdue"]) == (1, 1, 0, 1)
    assert (d1["accepted"], d1["completed"], d1["red_cards"], d1["on_time_rate"]) == (1, 0, 1, None)
    february = queries.performance(loaded, date(2026, 2, 1), date(2026, 2, 28), dept="D2")
    assert [(r["dept"], r["yellow_cards"], r["overdue"]) for r in february] == [("D2", 1, 1)]
    assert queries.performance(loaded, date(2025, 1, 1), date(2025, 12, 31)) == []


def test_on_time_rate_counts_only_cases_with_a_deadline(loaded: Backend) -> None:
    # Penalties, tenders and other cases without a case clock are completed,
    # neither on time nor late: they must not lower the rate.
    clockless = [
        replace(status(50 + i, 1, dept="D5", terminal=True), started_at=None, deadline=None)
        for i in range(3)
    ]
    Writer(loaded).write(
        case_status=[status(49, 1, dept="D5", terminal=True, on_time=True), *clockless]
    )
    [d5] = queries.performance(loaded, date(2026, 1, 1), date(2026, 1, 31), dept="D5")
    assert (d5["completed"], d5["completed_on_time"], d5["completed_late"]) == (4, 1, 0)
    assert d5["on_time_rate"] == 1.0


def test_daily_statistics_count_each_case_once_across_versions(loaded: Backend) -> None:
    # The same case closed again (newer versions, replays) stays one completed case.
    Writer(loaded).write(
        case_status=[
            replace(status(1, 3, dept="D0", terminal=True, on_time=True), card_level="notice"),
            status(1, 2, dept="D0", terminal=True, on_time=True),
        ]
    )
    d0 = queries.performance(loaded, date(2026, 1, 1), date(2026, 1, 31), dept="D0")[0]
    assert (d0["accepted"], d0["completed"], d0["completed_on_time"]) == (2, 2, 1)


def test_event_audit_filters(loaded: Backend) -> None:
    def ids(**filters: object) -> list[str]:
        return [e["event_id"] for e in queries.events(loaded, **filters)]  # type: ignore[arg-type]

    assert len(ids()) == 30
    assert ids(party="P3") == ["e000003", "e000013", "e000023"]
    assert ids(party="P3", action="disburse") == ["e000003", "e000013", "e000023"]
    assert ids(dept="D0", action="apply") == [
        "e000000",
        "e000006",
        "e000010",
        "e000016",
        "e000020",
        "e000026",
    ]
    assert ids(since_us=T0 + 1_000_001, until_us=T0 + 3_000_003) == ["e000001", "e000002"]
    assert ids(party="P3' OR '1'='1") == []
    first = queries.events(loaded, party="P1", limit=1)[0]
    assert first["amount"] == Decimal("1200.50") and first["attrs"]["program"] == "春耕"


def test_days_are_local_dates_in_shanghai(migrated_backend: Backend) -> None:
    # T0 is 08:00 on 1 January in Shanghai: T0 + 16 h is 00:00 on 2 January there
    # (still 1 January in UTC).
    Writer(migrated_backend).write(
        alerts=[
            alert(1, "red", case=1, raised_at=T0 + 16 * HOUR - 1),
            alert(2, "red", case=2, raised_at=T0 + 16 * HOUR),
        ]
    )
    jan1 = queries.performance(migrated_backend, date(2026, 1, 1), date(2026, 1, 1))
    jan2 = queries.performance(migrated_backend, date(2026, 1, 2), date(2026, 1, 2))
    assert [r["red_cards"] for r in jan1] == [1]
    assert [r["red_cards"] for r in jan2] == [1]


def test_case_events_reads_exactly_the_cases_asked(loaded: Backend) -> None:
    """The corrections' read (rules.md §1.4): every stored event of the given cases, no other."""
    rows = queries.case_events(
        loaded,
        [
            ("fund_disbursement", "FD-0003"),
            ("fund_disbursement", "FD-0007"),
            ("approval", "FD-0003"),
        ],  # fmt: skip
    )
    expected = {f"e{i:06d}" for i in range(30) if i % 10 in (3, 7)}
    assert sorted(r["event_id"] for r in rows) == sorted(expected)
    first = next(r for r in rows if r["event_id"] == "e000003")
    assert first["case_id"] == "FD-0003" and first["attrs"]["payee"] == "P3"
    assert queries.case_events(loaded, []) == []


def test_case_events_reads_an_event_stored_twice_once(loaded: Backend) -> None:
    """A replay after a restart stores an event again; until the engine merges the two rows,
    the corrections' read (without FINAL) still gives the event once."""
    loaded.execute("SYSTEM STOP MERGES events")  # the two rows stay two
    Writer(loaded).write(events=[e for e in events(30) if e.event_id == "e000003"])
    assert loaded.query("SELECT count() FROM events WHERE event_id = 'e000003'").rows == [(2,)]
    rows = queries.case_events(loaded, [("fund_disbursement", "FD-0003")])
    assert sorted(r["event_id"] for r in rows) == ["e000003", "e000013", "e000023"]


def test_case_events_in_chunks(loaded: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queries, "CASE_EVENTS_CHUNK", 3)
    cases = [("fund_disbursement", f"FD-{c:04d}") for c in range(10)]
    assert len(queries.case_events(loaded, cases)) == 30
