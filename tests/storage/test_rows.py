from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from streams.engine.model import Event
from streams.engine.validate import load_schema
from streams.storage.rows import (
    DeadLetter,
    RowError,
    alert_row,
    amount,
    event_row,
    seconds,
    to_rows,
)
from streams.storage.tables import ALERTS, COLUMN_KEYS, COLUMNS, EVENTS
from tests.storage.data import T0, alert, events

PARTY_KEYS = {"payee", "supplier", "winner", "bidder", "enterprise_id"}


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
    row = dict(zip(COLUMNS[EVENTS], event_row(events(2)[1], 5), strict=True))
    assert row["party"] == "P1"
    assert row["amount"] == "1200.50"
    assert row["attrs"] == '{"amount":"1200.50","payee":"P1","program":"春耕"}'
    assert row["occurred_at"] == row["occurred_at_us"] // 1_000_000
    assert row["ingested_at"] == 5
    # no reported_at, not read from Kafka: NULL
    assert [row[c] for c in COLUMNS[EVENTS][13:]] == [None] * 5


def test_event_row_keeps_reported_at_as_written_and_the_arrival() -> None:
    event = events(1)[0]
    event.reported_at, event.reported_at_text = (
        1_772_500_000_123_456,
        "2026-03-03T09:06:40.123456+08:00",
    )
    event.arrived_at = 1_772_600_000_250_000
    row = dict(zip(COLUMNS[EVENTS], event_row(event, 5), strict=True))
    assert row["reported_at"] == 1_772_500_000 and row["reported_at_us"] == event.reported_at
    assert row["reported_at_text"] == "2026-03-03T09:06:40.123456+08:00"
    assert row["arrived_at"] == 1_772_600_000 and row["arrived_at_us"] == 1_772_600_000_250_000


def _declared_attrs() -> dict[tuple[str, str], dict[str, object]]:
    """{(process, action): {attrs key: its schema}} as schemas/event.schema.json declares them."""
    schema = load_schema("event.schema.json")
    out: dict[tuple[str, str], dict[str, object]] = {}
    for process in schema["properties"]["process"]["enum"]:
        for entry in schema["$defs"][f"process_{process}"]["allOf"]:
            if "if" not in entry:
                continue
            action = entry["if"]["properties"]["action"]["const"]
            attrs = entry["then"].get("properties", {}).get("attrs", {})
            out[(process, action)] = attrs.get("properties", {})
    return out


def test_columns_take_only_attrs_the_contract_declares_for_the_action() -> None:
    expected: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for (process, action), declared in _declared_attrs().items():
        amounts = [k for k, v in declared.items() if v == {"$ref": "#/$defs/amount"}]
        parties = [k for k in declared if k in PARTY_KEYS]
        assert len(amounts) <= 1 and len(parties) <= 1
        if amounts or parties:
            expected[(process, action)] = (
                parties[0] if parties else None,
                amounts[0] if amounts else None,
            )
    got = {(p, a): keys for p, by_action in COLUMN_KEYS.items() for a, keys in by_action.items()}
    assert got == expected


@pytest.mark.parametrize(
    "attrs",
    [
        {"amount": "n/a"},
        {"amount": -5, "budget": "1.234", "approved_amount": True},
        {"amount": {"value": 1}, "payee": ["P"], "enterprise_id": 7},
        {"approved_amount": "12.30", "payee": "P1"},  # declared for fund approve, not here
    ],
)
def test_an_undeclared_amount_or_party_key_is_kept_as_sent_never_parsed(
    attrs: dict[str, object],
) -> None:
    """events.md: unknown attrs keys are kept; storage never refuses or reinterprets them."""
    event = Event(
        event_id="e1", case_id="AP-1", process="approval", action="review", occurred_at=T0,
        dept="D01", actor=None, attrs=attrs, occurred_at_text="2026-01-01T08:00:00+08:00",
    )  # fmt: skip
    rows, keys, refused = to_rows(EVENTS, [event], 7)
    assert refused == [] and keys == ["e1"]
    row = dict(zip(COLUMNS[EVENTS], rows[0], strict=True))
    assert (row["party"], row["amount"]) == ("", None)
    assert row["attrs"] == orjson.dumps(attrs).decode()


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
    assert dict(zip(COLUMNS[ALERTS], row, strict=True))["withdrawn_at"] is None
    assert row[13:] == (None, "", [])  # as raised: not withdrawn


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("actor", "x" * 65, "actor is longer than 64"),
        ("case_id", "", "case_id is empty"),
        ("attrs", {"amount": True}, "attrs.amount True is not a number"),
        ("attrs", {"amount": "-3"}, "attrs.amount '-3' is out of range"),
    ],
)
def test_a_bad_event_is_refused_with_its_reason(field: str, value: object, reason: str) -> None:
    batch = events(3)
    setattr(batch[1], field, value)
    rows, keys, refused = to_rows(EVENTS, batch, 0)
    assert keys == ["e000000", "e000002"]
    assert [key for key, _ in refused] == ["event_id=e000001"]
    assert reason in refused[0][1]
