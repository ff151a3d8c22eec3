"""Events as JSON Lines bytes, with optional malformed lines for dead-letter tests."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
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


def _cases_last(every: list[dict[str, Any]], share: float, salt: int) -> list[int]:
    """Indices of the last event of a ``share`` of the cases of ``every`` (seeded by ``salt``;
    cases drawn in order of their first event), ascending."""
    last: dict[tuple[str, str], int] = {}
    for i, ev in enumerate(every):
        last[(ev["process"], ev["case_id"])] = i
    rng = random.Random(salt)
    return sorted(i for i in last.values() if rng.random() < share)


def hold_back_last(
    events: Iterable[dict[str, Any]], share: float, *, seed: int = 1
) -> Iterator[dict[str, Any]]:
    """``events`` with the last event of a ``share`` of their cases held back and sent after
    all the others, in their own order: an upstream that batches, or was down, delivers them
    late (rules.md §1.4). Cases are drawn with ``seed``; the events are held in memory."""
    if share <= 0:
        yield from events
        return
    every = list(events)
    held = _cases_last(every, share, seed ^ 0x1A7E)
    late = set(held)
    yield from (ev for i, ev in enumerate(every) if i not in late)
    yield from (every[i] for i in held)


REPORTED_LATE_BY = timedelta(days=2)  # past LATE_REPORTED's default 24 hours


def report_late(
    events: Iterable[dict[str, Any]], share: float, *, seed: int = 1
) -> Iterator[dict[str, Any]]:
    """``events`` with the last event of a ``share`` of their cases recorded two days after it
    occurred (``reported_at``): LATE_REPORTED cards (rules.md §3.1). Cases are drawn with
    ``seed``; the events are held in memory."""
    if share <= 0:
        yield from events
        return
    every = list(events)
    chosen = set(_cases_last(every, share, seed ^ 0x2E90))
    for i, ev in enumerate(every):
        if i in chosen and "reported_at" not in ev:
            at = datetime.fromisoformat(ev["occurred_at"]) + REPORTED_LATE_BY
            ev = {**ev, "reported_at": at.isoformat()}
        yield ev
