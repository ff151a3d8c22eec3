"""Withdrawn alerts (rules.md §1.4, events.md § Alerts) on both engines: stored as a new row
version, left out of every default read and statistic, shown on request with the late
events behind them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from streams.engine.model import Event, Withdrawal
from streams.storage import MalformedRows, queries
from streams.storage.backends import Backend
from streams.storage.writer import Writer
from tests.storage.data import DAY, HOUR, T0, alert, events, status

FIRST_S, LATER_S = 1_800_000_000, 1_800_086_400


def late_completion() -> Event:
    """The completion of case AP-0001 (on time), recorded 3 days late, read from Kafka later."""
    return Event(
        event_id="late-1",
        case_id="AP-0001",
        process="approval",
        action="complete",
        occurred_at=T0 + 2 * DAY,
        dept="D0",
        occurred_at_text="2026-01-03T08:00:00+08:00",
        reported_at=T0 + 5 * DAY,
        reported_at_text="2026-01-06T08:00:00+08:00",
        arrived_at=T0 + 12 * DAY + 250_000,
    )


def overdue_yellow() -> object:
    card = alert(1, "yellow", "OVERDUE", dept="D0", raised_at=T0 + 10 * DAY)
    return replace(card, case_id="AP-0001", process="approval")


def withdrawal(at_s: int = LATER_S, reason: str = "completed on time (late event)") -> Withdrawal:
    return Withdrawal("a0001", "approval", "AP-0001", at_s * 1_000_000, reason, [late_completion()])


@pytest.fixture
def stored(migrated_backend: Backend) -> Backend:
    """Case AP-0001 overdue (a yellow card) and another case's red card, stored first."""
    Writer(migrated_backend, wall_clock=lambda: float(FIRST_S)).write(
        alerts=[overdue_yellow(), alert(2, "red", "PAYEE_MISMATCH", case=2, dept="D0")],
        case_status=[status(1, 1, dept="D0", card="yellow")],
    )
    return migrated_backend


def ids(backend: Backend, view: str) -> list[str]:
    return [r[0] for r in backend.query(f"SELECT alert_id FROM {view} ORDER BY alert_id").rows]


def correct(backend: Backend, version: int = 2) -> None:
    """What the corrections do when the late completion arrives: store it and the case's new
    status, withdraw the card it disproves."""
    Writer(backend, wall_clock=lambda: float(LATER_S)).write(
        events=[late_completion()],
        case_status=[status(1, version, dept="D0", terminal=True, on_time=True)],
        withdrawals=[withdrawal()],
    )


def test_a_withdrawn_alert_leaves_every_default_read(stored: Backend) -> None:
    correct(stored)
    assert ids(stored, "alerts_v") == ["a0002"]
    assert ids(stored, "alerts_withdrawn_v") == ["a0001"]
    assert [a["alert_id"] for a in queries.alerts(stored)] == ["a0002"]
    assert queries.timeline(stored, "AP-0001", "approval").alerts == []
    # nothing was updated in place: both versions are rows of alerts until merged
    assert stored.query("SELECT count() FROM alerts WHERE alert_id = 'a0001'").rows == [(2,)]
    row = stored.query(
        "SELECT toUInt32(detected_at), toUInt32(withdrawn_at), withdrawn_reason, withdrawn_by,"
        " message FROM alerts_withdrawn_v"
    ).rows
    assert row == [
        (FIRST_S, LATER_S, "completed on time (late event)", ["late-1"], "办件超时未办结")
    ]


def test_withdrawn_alerts_are_shown_on_request_with_the_late_events(stored: Backend) -> None:
    correct(stored)
    (shown,) = queries.alerts(stored, withdrawn=True)
    assert shown["alert_id"] == "a0001" and shown["rule"] == "OVERDUE"
    assert shown["withdrawn_at_us"] == LATER_S * 1_000_000
    assert shown["withdrawn_reason"] == "completed on time (late event)"
    event = late_completion()
    assert shown["withdrawn_by"] == [
        {
            "event_id": "late-1",
            "occurred_at_us": event.occurred_at,
            "reported_at_us": event.reported_at,
            "arrived_at_us": event.arrived_at,
        }
    ]
    everything = queries.timeline(stored, "AP-0001", "approval", withdrawn=True)
    assert [(a["alert_id"], a["withdrawn_reason"]) for a in everything.alerts] == [
        ("a0001", "completed on time (late event)")
    ]
    assert everything.events[0]["reported_at_text"] == "2026-01-06T08:00:00+08:00"


def test_statistics_are_corrected_not_double_counted(stored: Backend) -> None:
    january = (date(2026, 1, 1), date(2026, 1, 31))
    (before,) = queries.performance(stored, *january)
    assert (before["yellow_cards"], before["overdue"], before["red_cards"]) == (1, 1, 1)
    assert (before["completed"], before["on_time_rate"]) == (0, None)
    correct(stored)
    correct(stored)  # a retried write changes nothing
    (after,) = queries.performance(stored, *january)
    assert (after["yellow_cards"], after["overdue"], after["red_cards"]) == (0, 0, 1)
    assert (after["accepted"], after["completed"], after["completed_on_time"]) == (1, 1, 1)
    assert (after["completed_late"], after["on_time_rate"]) == (0, 1.0)
    daily = stored.query(
        "SELECT sum(yellow_cards), sum(overdue), sum(red_cards) FROM dept_daily_v"
    ).rows
    assert daily == [(0, 0, 1)]
    for table in ("alerts", "case_status"):
        stored.execute(f"OPTIMIZE TABLE {table} FINAL")
    assert queries.performance(stored, *january) == [after]
    assert ids(stored, "alerts_v") == ["a0002"]


def test_a_case_whose_status_a_correction_moves_counts_once_where_it_now_is(
    stored: Backend,
) -> None:
    """Closed late on 01-13, then (a late, earlier terminal event) on time on 01-03."""
    late = replace(status(1, 2, dept="D0", terminal=True, on_time=False), closed_at=T0 + 12 * DAY)
    Writer(stored).write(case_status=[late])
    assert (
        queries.performance(stored, date(2026, 1, 1), date(2026, 1, 31))[0]["completed_late"] == 1
    )
    correct(stored, version=3)
    (d0,) = queries.performance(stored, date(2026, 1, 1), date(2026, 1, 31))
    assert (d0["completed"], d0["completed_on_time"], d0["completed_late"]) == (1, 1, 0)
    by_day = stored.query(
        "SELECT toString(day), completed FROM dept_daily_v WHERE completed > 0"
    ).rows
    assert by_day == [("2026-01-03", 1)]


def test_an_alert_and_its_withdrawal_in_one_write(migrated_backend: Backend) -> None:
    Writer(migrated_backend).write(alerts=[overdue_yellow()], withdrawals=[withdrawal()])
    assert ids(migrated_backend, "alerts_v") == []
    assert ids(migrated_backend, "alerts_withdrawn_v") == ["a0001"]


def test_alerts_stored_again_after_a_merge_stay_withdrawn(stored: Backend) -> None:
    correct(stored)
    stored.execute("OPTIMIZE TABLE alerts FINAL")
    assert stored.query("SELECT count() FROM alerts WHERE alert_id = 'a0001'").rows == [(1,)]
    assert ids(stored, "alerts_withdrawn_v") == ["a0001"]
    # a later withdrawal of the same alert (another reason) is its newest version
    Writer(stored).write(withdrawals=[withdrawal(LATER_S + HOUR // 1_000_000, "second look")])
    assert stored.query("SELECT withdrawn_reason FROM alerts_withdrawn_v").rows == [
        ("second look",)
    ]


def test_a_withdrawal_that_cannot_be_stored_is_refused_and_dead_lettered(
    stored: Backend,
) -> None:
    unknown = Withdrawal(
        "nope", "approval", "AP-0001", LATER_S * 1_000_000, "x", [late_completion()]
    )
    blank = replace(withdrawal(), alert_id="a0002", process="fund_disbursement",
                    case_id="FD-0002", reason=" ")  # fmt: skip
    with pytest.raises(MalformedRows) as caught:
        Writer(stored).write(withdrawals=[unknown, withdrawal(), blank], events=events(2))
    refused = {r.key: r.reason for r in caught.value.rejected}
    assert set(refused) == {
        f"withdrawal of alert_id=nope withdrawn {LATER_S}",
        f"withdrawal of alert_id=a0002 withdrawn {LATER_S}",
    }
    assert "no stored alert" in refused[f"withdrawal of alert_id=nope withdrawn {LATER_S}"]
    assert ids(stored, "alerts_withdrawn_v") == ["a0001"]  # the good one is stored
    letters = stored.query(
        "SELECT source, reason FROM deadletter FINAL WHERE file = 'storage.alert_withdrawals'"
        " ORDER BY reason"
    ).rows
    assert len(letters) == 2 and all("alert_withdrawals" in r[1] for r in letters)


def first_withdrawal(backend: Backend) -> list[tuple[object, ...]]:
    return backend.query(
        "SELECT alert_id, toUInt32(withdrawn_at), withdrawn_by FROM alerts_withdrawn_v"
    ).rows


def test_the_same_withdrawal_stored_again_keeps_the_first(stored: Backend) -> None:
    """A correction made again after a restart (another processing time) is the first one:
    stored and given back with the first ``withdrawn_at``."""
    correct(stored)
    again = withdrawal(LATER_S + 3600)
    Writer(stored).write(withdrawals=[again])
    assert again.withdrawn_at == LATER_S * 1_000_000
    assert first_withdrawal(stored) == [("a0001", LATER_S, ["late-1"])]
    # the alert stored again in the same write as its withdrawal (a batch read again)
    twice = withdrawal(LATER_S + 7200)
    Writer(stored).write(alerts=[overdue_yellow()], withdrawals=[twice])
    assert twice.withdrawn_at == LATER_S * 1_000_000
    assert first_withdrawal(stored) == [("a0001", LATER_S, ["late-1"])]
