from __future__ import annotations

from decimal import Decimal

import pytest

from streams.storage.rows import (
    ALERTS,
    EVENTS,
    DeadLetter,
    RowError,
    alert_row,
    amount,
    event_row,
    seconds,
    to_rows,
)
from tests.storage.data import alert, events


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.5", "12.5"),
        ("1200.50", "1200.50"),
        (99.9, "99.90"),
        (7, "7.00"),
        (Decimal("3.1"), "3.10"),
        ("0", "0"),
        ("1E+2", "100.00"),
    ],
)
def test_amounts_are_exact_decimal_text(value: object, expected: str) -> None:
    assert amount(value) == expected


@pytest.mark.parametrize("value", ["1.234", "-1", "abc", True, None, "1e400", "NaN"])
def test_bad_amounts_are_refused_not_coerced(value: object) -> None:
    with pytest.raises(RowError):
        amount(value)


def test_event_row_breaks_out_party_and_amount() -> None:
    row = dict(
        zip(
            (
                "event_id",
                "case_id",
                "process",
                "action",
                "occurred_at",
                "occurred_at_us",
                "occurred_at_text",
                "dept",
                "actor",
                "party",
                "amount",
                "attrs",
                "ingested_at",
            ),
            event_row(events(2)[1], 5),
            strict=True,
        )
    )
    assert row["party"] == "P1"
    assert row["amount"] == "1200.50"
    assert row["attrs"] == '{"amount":"1200.50","payee":"P1","program":"春耕"}'
    assert row["occurred_at"] == row["occurred_at_us"] // 1_000_000


def test_instants_outside_datetime_are_refused() -> None:
    with pytest.raises(RowError, match="outside"):
        seconds(-1, "occurred_at")
    with pytest.raises(RowError, match="integer"):
        seconds(1.5, "occurred_at")  # type: ignore[arg-type]


def test_to_rows_isolates_bad_objects() -> None:
    batch = events(3)
    batch[1].attrs = {"amount": "1.999"}
    rows, keys, bad = to_rows(EVENTS, batch, 0)
    assert keys == ["e000000", "e000002"]
    assert bad == [("event_id=e000001", "attrs.amount '1.999' has more than 2 decimals")]
    assert len(rows) == 2


def test_deadletter_id_is_deterministic() -> None:
    a = DeadLetter(b"\xff{", "invalid JSON", 1, topic="supervision.fund", partition=2, offset=9)
    b = DeadLetter(b"\xff{", "invalid JSON", 2, topic="supervision.fund", partition=2, offset=9)
    c = DeadLetter(b"\xff{", "invalid JSON", 1, file="in.jsonl", line=3)
    assert a.deadletter_id == b.deadletter_id != c.deadletter_id
    assert a.source == "supervision.fund/2@9" and c.source == "in.jsonl:3"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("level", "orange", "level 'orange' is not one of"),
        ("evidence", ["e000001", 7], "evidence must be a list of event ids"),
        ("dept", "", "dept is empty"),
        ("raised_at", -1, "raised_at -1 is outside"),
        ("details", {"at": object()}, "not JSON-serializable"),
    ],
)
def test_a_bad_alert_is_refused_with_its_reason(field: str, value: object, reason: str) -> None:
    bad = alert(1)
    setattr(bad, field, value)
    rows, keys, refused = to_rows(ALERTS, [alert(0), bad, alert(2)], 0)
    assert keys == ["a0000", "a0002"]
    assert [key for key, _ in refused] == ["alert_id=a0001"]
    assert reason in refused[0][1]


def test_alert_row() -> None:
    row = alert_row(alert(3), 5)
    assert row[8] == ["e000003"]
    assert row[10] == '{"deadline":"2026-01-10T00:00:00+08:00","amount":"12.30"}'
    assert row[6] == row[7] // 1_000_000 and row[12] == 5


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("actor", "x" * 65, "actor is longer than 64"),
        ("case_id", "", "case_id is empty"),
        ("attrs", {"amount": True}, "attrs.amount True is not a number"),
        ("attrs", {"budget": "-3"}, "attrs.budget '-3' is out of range"),
    ],
)
def test_a_bad_event_is_refused_with_its_reason(field: str, value: object, reason: str) -> None:
    batch = events(3)
    setattr(batch[1], field, value)
    rows, keys, refused = to_rows(EVENTS, batch, 0)
    assert keys == ["e000000", "e000002"]
    assert [key for key, _ in refused] == ["event_id=e000001"]
    assert reason in refused[0][1]
