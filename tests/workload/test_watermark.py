"""The generator's progress watermark (``WorkloadGenerator.watermark``): what a well-behaved
upstream may say in its progress markers (events.md § Transport) after each event it sent."""

from __future__ import annotations

import pytest

from streams.engine.timeutil import parse_instant
from streams.workload import GenerateConfig, WorkloadGenerator


@pytest.mark.parametrize("order", ["sorted", "feed", "shuffled"])
def test_every_event_still_to_come_occurs_at_or_after_the_watermark(order: str) -> None:
    config = GenerateConfig(
        cases=400, seed=9, order=order, max_delay=900, shuffle_window=200, duplicate_rate=0.02
    )
    generator = WorkloadGenerator(config)
    sent: list[tuple[str, int]] = []  # (event_id, occurred_at) in output order
    marks: list[int | None] = []  # the watermark after each event
    for ev in generator.events():
        sent.append((ev["event_id"], parse_instant(ev["occurred_at"])))
        text = generator.watermark()
        marks.append(None if text is None else parse_instant(text))
    assert sum(m is not None for m in marks) > len(marks) * 0.9  # it says something early
    first = {}  # event id -> where it was first sent (later sends are re-sends)
    for i, (event_id, _) in enumerate(sent):
        first.setdefault(event_id, i)
    assert len(first) < len(sent)  # there are re-sends
    # Scanning backwards: the earliest occurrence among the first sends of what follows.
    earliest_after = 2**63
    for i in range(len(sent) - 1, -1, -1):
        mark = marks[i]
        if mark is not None:
            assert mark <= earliest_after, f"{order}: event after #{i} occurs before its mark"
        event_id, at = sent[i]
        if first[event_id] == i:
            earliest_after = min(earliest_after, at)
    known = [m for m in marks if m is not None]
    assert known == sorted(known), "a watermark never goes back"
    end = generator.end_watermark()
    assert end is not None and parse_instant(end) > max(at for _, at in sent)
    # Close to the events: in sorted order the mark is the last occurrence itself.
    if order == "sorted":
        assert marks[-1] == max(at for _, at in sent)
