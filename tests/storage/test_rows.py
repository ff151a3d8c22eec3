from __future__ import annotations

from decimal import Decimal

import pytest

from streams.storage.rows import (
    EVENTS,
    DeadLetter,
    RowError,
    amount,
    event_row,
    seconds,
    to_rows,
)
from tests.storage.data import events


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.5", Decimal("12.50")),
        (99.9, Decimal("99.90")),
        (7, Decimal("7.00")),
        ("0", Decimal("0.00")),
    ],
)
def test_amounts_are_exact_decimals(value: object, expected: Decimal) -> None:
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
    assert row["amount"] == Decimal("1200.50")
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
