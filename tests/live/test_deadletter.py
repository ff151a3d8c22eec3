"""The error policy for bad input: the rejection-rate limit, the dead-letter shape."""

from __future__ import annotations

import pytest

from streams.contract import REJECTION_KINDS, WRONG_TOPIC, DeadLetter
from streams.live.deadletter import RejectionLimit, RejectionLimitExceeded


def letter(i: int = 0) -> DeadLetter:
    return DeadLetter(b"x", "bad", topic="t", partition=0, offset=i)


def test_rejection_limit_consecutive() -> None:
    limit = RejectionLimit(window=100, max_ratio=1.0, max_consecutive=3)
    limit.rejected(letter())
    limit.rejected(letter())
    limit.accepted()  # resets the run
    limit.rejected(letter())
    limit.rejected(letter())
    with pytest.raises(RejectionLimitExceeded, match="3 messages in a row"):
        limit.rejected(letter())


def test_rejection_limit_ratio_over_window() -> None:
    limit = RejectionLimit(window=10, max_ratio=0.5, max_consecutive=1000)
    for i in range(20):  # 50 %: at the limit, not above
        (limit.rejected if i % 2 else limit.accepted)(*([letter(i)] if i % 2 else []))
    with pytest.raises(RejectionLimitExceeded, match="of the last 10"):
        for i in range(3):
            limit.rejected(letter(i))


def test_a_dead_letter_carries_its_origin_in_headers_and_one_id_per_position() -> None:
    a = DeadLetter(b"{bad", "not JSON", topic="t.approval", partition=2, offset=9, key=b"k")
    assert a.headers() == [
        ("reason", b"not JSON"),
        ("source_topic", b"t.approval"),
        ("source_partition", b"2"),
        ("source_offset", b"9"),
    ]
    assert a.source == "t.approval/2@9"
    stored_later = DeadLetter(b"{bad", "not JSON", 123, topic="t.approval", partition=2, offset=9)
    assert stored_later.deadletter_id == a.deadletter_id
    assert DeadLetter(b"{bad", "not JSON", file="in.jsonl", line=3).source == "in.jsonl:3"


def test_rejection_kinds_are_the_validators_and_the_transports() -> None:
    from streams.contract import CONFLICTING_DUPLICATE, EMPTY_VALUE, OVERSIZED, PROGRESS_MARKER
    from streams.engine.validate import CONTRACT, NOT_JSON, NOT_OBJECT

    assert REJECTION_KINDS == (
        NOT_JSON,
        NOT_OBJECT,
        CONTRACT,
        WRONG_TOPIC,
        EMPTY_VALUE,
        OVERSIZED,
        CONFLICTING_DUPLICATE,
        PROGRESS_MARKER,
    )
