"""Input the transport allows and the contract does not (issue #13, "nothing valid lost,
nothing halts"): tombstones, oversized records, keys other than the case_id, and event ids
repeated with other content — each handled in the live core without a broker.

events.md § Transport and § Rejected input; rules.md §1.3; delivery-audit F3b, F7, F9, F10.
"""

from __future__ import annotations

import hashlib

import orjson

from streams.contract import CONFLICTING_DUPLICATE, EMPTY_VALUE, OVERSIZED
from streams.live.deadletter import MESSAGE_MAX_BYTES, PREFIX_BYTES, REASON_MAX_BYTES
from streams.live.processor import Message, Output
from streams.live.publish import partition_for
from tests.engine.harness import ev
from tests.live.core import TOPICS, messages, pipeline


def accept(event_id: str, case_id: str, at: str = "2026-03-02T09:00:00") -> dict:
    return ev(event_id, case_id, "approval", "accept", at, time_limit_days=5)


def letter_size(letter: object) -> int:
    """Bytes of a dead letter as published: key, value and headers."""
    key, raw, headers = letter.key or b"", letter.raw, letter.headers()  # type: ignore[attr-defined]
    return len(key) + len(raw) + sum(len(k) + len(v) for k, v in headers)


def test_a_tombstone_is_dead_lettered_and_the_events_around_it_evaluated() -> None:
    """F9: a record with no value used to raise TypeError and stop the worker on every start."""
    before, after = accept("e1", "C1"), accept("e2", "C2")
    first, second = messages([before, after])
    second.offset = 2
    tombstone = Message(TOPICS.approval, 0, 1, b"C1", b"")
    out = Output()
    pipeline({}).run([first, tombstone, second], out)
    assert [s.event.event_id for s in out.events] == ["e1", "e2"]
    [letter] = out.dead_letters
    assert letter.kind == EMPTY_VALUE and letter.raw == b"" and letter.key == b"C1"
    assert letter.reason.startswith("empty_value") and letter.offset == 1


def test_an_oversized_record_is_dead_lettered_by_reference() -> None:
    """F10: a dead letter never carries a record near the broker's limit (nor a reason
    quoting it), so publishing it cannot exceed the producer's max request size."""
    huge = orjson.dumps(accept("x" * 1_000_000, "C1"))
    out = Output()
    pipeline({}).run([Message(TOPICS.approval, 0, 7, b"C1", huge)], out)
    [letter] = out.dead_letters
    assert letter.kind == OVERSIZED and not out.events
    assert letter.raw == huge[:PREFIX_BYTES]
    assert letter.original_size == len(huge) + 2
    assert letter.original_sha256 == hashlib.sha256(huge).hexdigest()
    headers = dict(letter.headers())
    assert headers["original_size"] == str(len(huge) + 2).encode()
    assert headers["original_sha256"] == hashlib.sha256(huge).hexdigest().encode()
    assert letter.source == f"{TOPICS.approval}/0@7"
    assert len(letter.reason.encode()) <= REASON_MAX_BYTES
    assert letter_size(letter) < 4 * 1024


def test_a_reason_is_short_whatever_it_quotes() -> None:
    """Below the size limit the record is kept whole, but its reason never grows with it."""
    long_id = "y" * 200_000  # event_id allows 128 characters: the validator quotes the value
    raw = orjson.dumps({**accept("e", "C1"), "event_id": long_id})
    assert len(raw) < MESSAGE_MAX_BYTES
    out = Output()
    pipeline({}).run([Message(TOPICS.approval, 0, 0, b"C1", raw)], out)
    [letter] = out.dead_letters
    assert letter.kind == "contract" and letter.raw == raw
    assert letter.reason.startswith("event_id") and len(letter.reason.encode()) <= REASON_MAX_BYTES
    assert letter_size(letter) <= len(raw) + 1024


def test_a_repeat_with_other_content_is_dead_lettered_and_the_first_kept() -> None:
    """rules.md §1.3 and F3b: the first read wins; a conflicting repeat is neither evaluated
    nor stored over the first, and auditors find it in the dead letters."""
    first = accept("X", "C1")
    conflicting = ev("X", "C1", "approval", "review", "2026-03-03T09:00:00", dept="D02")
    identical = dict(reversed(list(first.items())))  # same content, other key order
    parts: dict = {}
    out = Output()
    msgs = messages([first, conflicting, identical])
    pipeline(parts).run(msgs, out)
    assert [(s.event.event_id, s.event.action, s.offset) for s in out.events] == [
        ("X", "accept", 0)
    ]
    [letter] = out.dead_letters
    assert letter.kind == CONFLICTING_DUPLICATE and letter.offset == 1
    assert letter.raw == msgs[1].value and "X" in letter.reason
    [part] = parts.values()
    assert part.cases.duplicate_count == 1  # the identical repeat: a duplicate, not a letter
    assert not any(a.rule == "SKIPPED_STEP" for a in out.alerts)


def test_an_event_id_reused_by_another_case_of_the_partition_is_a_conflict() -> None:
    """Event ids are unique across cases (rules.md §1.3: first read wins, across all cases)."""
    out = Output()
    pipeline({}).run(messages([accept("X", "C1"), accept("X", "C2")]), out)
    assert [s.event.case_id for s in out.events] == ["C1"]
    assert [d.kind for d in out.dead_letters] == [CONFLICTING_DUPLICATE]


def test_a_message_keyed_other_than_its_case_is_rerouted_to_the_case_partition() -> None:
    """F7: an event read on a partition that is not its case's is not evaluated there; it is
    published again keyed by its case_id to its case's partition (the producer's partitioner)."""
    partitions = TOPICS.partitions
    assert partitions > 1
    home = partition_for(b"K1", partitions)
    elsewhere = (home + 1) % partitions
    raw = orjson.dumps(accept("e1", "K1"))
    parts: dict = {}
    out = Output()
    pipeline(parts).run([Message(TOPICS.approval, elsewhere, 5, b"zz", raw)], out)
    assert not out.events and not out.alerts and not out.dead_letters
    [reroute] = out.reroutes
    assert (reroute.topic, reroute.partition, reroute.key, reroute.value) == (
        TOPICS.approval,
        home,
        b"K1",
        raw,
    )
    assert reroute.headers() == [("rerouted_from", f"{TOPICS.approval}/{elsewhere}@5".encode())]
    assert parts[(TOPICS.approval, elsewhere)].cases.open_cases() == 0

    # The copy (or a wrong key that happens to map to the case's partition) is evaluated.
    out = Output()
    pipeline(parts).run([Message(TOPICS.approval, home, 0, None, raw)], out)
    assert [s.event.event_id for s in out.events] == ["e1"] and not out.reroutes
