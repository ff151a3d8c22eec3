"""The contract's limits (events.md § Envelope): 256 KiB, attrs 16 levels deep, years 2000..2099.

Beyond them an event is invalid with a short reason (dead-lettered live, rejected by replay);
it never crashes the validator, whichever validator (whole or specialized) checks it.
"""

from __future__ import annotations

import orjson
import pytest

from streams.engine import EventValidator, InvalidEvent
from streams.engine.validate import MAX_ATTRS_DEPTH, MAX_MESSAGE_BYTES, nesting_depth

VALIDATOR = EventValidator()


def _event(**fields: object) -> dict[str, object]:
    return {
        "event_id": "e1",
        "case_id": "C1",
        "process": "penalty",
        "action": "register",
        "occurred_at": "2026-03-02T10:00:00+08:00",
        "dept": "D01",
        "attrs": {"enterprise_id": "E1"},
        **fields,
    }


def _nested(levels: int) -> bytes:
    """JSON text of an object ``levels`` deep (built as text: orjson cannot write it)."""
    return b'{"k":' * (levels - 1) + b"{}" + b"}" * (levels - 1)


def _sized(size: int, event_id: str = "e1") -> bytes:
    """A valid event of exactly ``size`` bytes (a long unknown attrs key ``note``)."""
    head = orjson.dumps(_event(event_id=event_id, attrs={"enterprise_id": "E1", "note": ""}))
    head = head[:-3]  # ... "note":"
    return head + b"x" * (size - len(head) - 3) + b'"}}'


def _refusal(raw: bytes | str) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        VALIDATOR.parse(raw)
    assert len(str(caught.value)) < 200, "the reason is short"
    return caught.value


def test_a_message_over_256_kib_is_invalid_and_one_at_the_limit_is_valid() -> None:
    at_limit = _sized(MAX_MESSAGE_BYTES)
    assert len(at_limit) == MAX_MESSAGE_BYTES
    assert VALIDATOR.parse(at_limit).attrs["note"].startswith("xxx")
    reason = str(_refusal(_sized(MAX_MESSAGE_BYTES + 1)))
    assert reason == "message of 262145 bytes, more than the 262144 (256 KiB) allowed"
    # Text is measured in UTF-8 bytes: 87 382 CJK characters are 262 146 bytes.
    assert "more than the 262144" in str(
        _refusal(orjson.dumps(_event(note="我" * 87_382)).decode())
    )


@pytest.mark.parametrize("process, action", [("penalty", "register"), ("approval", "review")])
def test_attrs_16_levels_deep_are_valid_17_are_not(process: str, action: str) -> None:
    for validator in (VALIDATOR, EventValidator()):  # specialized and first-use paths alike
        raw = orjson.dumps(_event(process=process, action=action))[:-2]  # {..."E1"
        ok = raw + b',"deep":' + _nested(MAX_ATTRS_DEPTH - 1) + b"}}"
        assert nesting_depth(validator.parse(ok).attrs, 99) == MAX_ATTRS_DEPTH
        for levels in (MAX_ATTRS_DEPTH, 300, 1000):  # 255+ used to parse and then fail storage
            deep = raw + b',"deep":' + _nested(levels) + b"}}"
            with pytest.raises(InvalidEvent) as caught:
                validator.parse(deep)
            assert str(caught.value) == "attrs: nested more than 16 levels deep"
            assert caught.value.field == "attrs"
    arrays = orjson.dumps(_event(attrs={"a": [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}))
    assert str(_refusal(arrays)) == "attrs: nested more than 16 levels deep"


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"occurred_at": "1999-12-31T23:59:59+08:00"}, "occurred_at"),
        ({"occurred_at": "1969-12-31T23:59:59Z"}, "occurred_at"),
        ({"occurred_at": "2100-01-01T00:00:00+08:00"}, "occurred_at"),
        ({"occurred_at": "2106-02-08T00:00:00Z"}, "occurred_at"),
        ({"occurred_at": "0001-01-01T00:00:00Z"}, "occurred_at"),
        (
            {"process": "inspection_plan", "action": "approve", "attrs": {
                "inspecting_dept": "D2", "enterprise_ids": ["E1"],
                "valid_from": "2026-01-01", "valid_to": "2100-01-01"}},
            "attrs.valid_to",
        ),
        (
            {"process": "tender", "action": "announce", "attrs": {
                "method": "open", "budget": 1, "bid_deadline": "1999-01-01T00:00:00Z"}},
            "attrs.bid_deadline",
        ),
    ],
)  # fmt: skip
def test_dates_outside_2000_to_2099_are_invalid(fields: dict[str, object], field: str) -> None:
    refused = _refusal(orjson.dumps(_event(**fields)))
    assert refused.field == field
    assert "in years 2000..2099" in str(refused)


def test_the_first_and_last_instants_of_the_range_are_valid() -> None:
    for text in ("2000-01-01T00:00:00+14:00", "2099-12-31T23:59:59.999999-12:00"):
        assert VALIDATOR.parse(orjson.dumps(_event(occurred_at=text))).occurred_at_text == text


def test_read_lines_rejects_over_bound_lines_with_their_number() -> None:
    ok = orjson.dumps(_event())
    lines = [
        ok + b"\n",
        _sized(MAX_MESSAGE_BYTES, "e2") + b"\r\n",  # the line break does not count
        _sized(MAX_MESSAGE_BYTES + 2, "e3") + b"\n",
        orjson.dumps(_event(event_id="e4"))[:-2] + b',"deep":' + _nested(400) + b"}}\n",
        orjson.dumps(_event(event_id="e5", occurred_at="1960-01-01T00:00:00Z")) + b"\n",
    ]
    rejects: list[tuple[int, str, bytes]] = []
    events, counts = VALIDATOR.read_lines(lines, lambda *r: rejects.append(r))
    assert [e.event_id for e in events] == ["e1", "e2"]
    assert counts.rejected == 3
    assert [(n, reason.split(":")[0]) for n, reason, _ in rejects] == [
        (3, "message of 262146 bytes, more than the 262144 (256 KiB) allowed"),
        (4, "attrs"),
        (5, "occurred_at"),
    ]
