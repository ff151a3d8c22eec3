"""Reading JSON Lines: blank lines, whitespace around an event, rejects with numbers, duplicates."""

from __future__ import annotations

import orjson

from streams.engine import EventValidator


def _event(event_id: str) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "case_id": "CP-1",
            "process": "complaint",
            "action": "accept",
            "occurred_at": "2026-01-05T08:00:31+08:00",
            "dept": "RXZX",
            "attrs": {"category": "simple"},
        }
    )


def test_read_lines_counts_everything_it_does_not_return() -> None:
    lines = [
        _event("e1") + b"\n",
        b"  \t\r\n",
        b"\x0c" + _event("e2") + b"\x0b\r\n",  # ASCII whitespace JSON itself does not allow
        b"not json\r\n",
        b" " + _event("e1") + b"\n",  # a duplicate, read second: dropped
        b'{"event_id": "e3"}\n',
        _event("e4"),  # the last line without a line break
    ]
    rejects: list[tuple[int, str, bytes]] = []
    events, counts = EventValidator().read_lines(lines, lambda *r: rejects.append(r))
    assert [e.event_id for e in events] == ["e1", "e2", "e4"]
    assert (counts.lines, counts.blank, counts.rejected, counts.duplicates) == (7, 1, 2, 1)
    assert [(n, raw) for n, _, raw in rejects] == [(4, b"not json"), (6, b'{"event_id": "e3"}')]
    assert "not valid JSON" in rejects[0][1] and "required" in rejects[1][1]


def test_a_repeat_with_other_content_is_reported_and_the_first_stands() -> None:
    """rules.md §1.3: the first read wins; a repeat that differs is also rejected."""
    first = orjson.loads(_event("e1"))
    reordered = orjson.dumps(dict(reversed(list(first.items()))))  # same content
    changed = orjson.dumps({**first, "dept": "OTHER"})
    rejected: list[tuple[int, str, bytes]] = []
    events, counts = EventValidator().read_lines(
        [_event("e1"), reordered, changed], lambda *r: rejected.append(r)
    )
    assert [e.dept for e in events] == ["RXZX"]
    assert counts.duplicates == 2 and counts.conflicting == 1
    assert [(n, reason.split(":")[0], raw) for n, reason, raw in rejected] == [
        (3, "conflicting_duplicate", changed)
    ]


def test_the_reason_is_a_dead_letter_kind_of_the_contract() -> None:
    from streams.contract import REJECTION_KINDS
    from streams.engine.validate import CONFLICTING_DUPLICATE

    assert CONFLICTING_DUPLICATE in REJECTION_KINDS
