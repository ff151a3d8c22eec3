"""Events as JSON Lines bytes, with optional malformed lines for dead-letter tests."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import orjson

from streams.workload.config import OFFSET


class Line(NamedTuple):
    """One output line: its process (for the topic), Kafka key and bytes (no newline)."""

    process: str
    key: bytes | None
    value: bytes
    valid: bool


BAD_KINDS = (
    "invalid_json",
    "missing_field",
    "no_offset",
    "unknown_action",
    "extra_field",
    "unknown_process",
    "wrong_type",
)


def encode_lines(
    events: Iterable[dict[str, Any]], *, bad_rate: float = 0.0, seed: int = 1
) -> Iterator[Line]:
    """Serialize events (orjson); after each, with probability ``bad_rate``, add a malformed line.

    Malformed lines are derived from the event just written but carry their own
    ``event_id`` (``BAD{seed}-n``), so rejecting them never hides a valid event.
    """
    rng = random.Random(seed ^ 0xBAD)
    dumps = orjson.dumps
    bad_serial = 0
    for ev in events:
        key = ev["case_id"].encode()
        yield Line(ev["process"], key, dumps(ev), True)
        if bad_rate and rng.random() < bad_rate:
            bad_serial += 1
            yield Line(
                ev["process"], key, _malformed(ev, rng, f"BAD{seed}-{bad_serial:07d}"), False
            )


def _malformed(ev: dict[str, Any], rng: random.Random, event_id: str) -> bytes:
    bad = dict(ev)
    bad["event_id"] = event_id
    kind = rng.choice(BAD_KINDS)
    if kind == "invalid_json":
        text = orjson.dumps(bad)
        return text[: rng.randint(10, len(text) - 2)]
    if kind == "missing_field":
        del bad[rng.choice(("event_id", "case_id", "process", "action", "occurred_at", "dept"))]
    elif kind == "no_offset":
        bad["occurred_at"] = bad["occurred_at"].removesuffix(OFFSET)
    elif kind == "unknown_action":
        bad["action"] = rng.choice(("launch", "archive", "approve_all", "close"))
    elif kind == "extra_field":
        bad[rng.choice(("extra", "source_system", "ts"))] = 1
    elif kind == "unknown_process":
        bad["process"] = rng.choice(("petition", "audit", "licence"))
    else:  # wrong_type
        bad["dept"] = rng.choice((17, None, ""))
    return orjson.dumps(bad)


def hold_back_last(
    events: Iterable[dict[str, Any]], share: float, *, seed: int = 1
) -> Iterator[dict[str, Any]]:
    """``events`` with the last event of a ``share`` of their cases held back and sent after
    all the others, in their own order: an upstream that batches, or was down, delivers them
    late (rules.md §1.4). Cases are drawn with ``seed``, in order of their first event; the
    events are held in memory."""
    if share <= 0:
        yield from events
        return
    every = list(events)
    last: dict[tuple[str, str], int] = {}
    for i, ev in enumerate(every):
        last[(ev["process"], ev["case_id"])] = i
    rng = random.Random(seed ^ 0x1A7E)
    held = sorted(i for i in last.values() if rng.random() < share)
    late = set(held)
    yield from (ev for i, ev in enumerate(every) if i not in late)
    yield from (every[i] for i in held)
