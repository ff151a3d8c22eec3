"""The stream (``streams/workload/stream.py``): seeded determinism, exact case counts, open
cases, output orders, re-sent events, bounded memory and the planted-case record."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import orjson
import pytest

from streams.engine import EventValidator
from streams.engine.timeutil import parse_instant
from streams.workload import (
    GenerateConfig,
    PlantedCase,
    WorkloadGenerator,
    generate_events,
    generate_workload,
)
from tests.workload.corpus import SCHEMA_PROCESSES, TERMINAL, engine_events, lines_of, run_replay


def test_same_seed_same_bytes() -> None:
    config = GenerateConfig(cases=800, seed=42, open_share=0.2, duplicate_rate=0.02)
    first = lines_of(config, bad_rate=0.03)
    assert first == lines_of(config, bad_rate=0.03)
    assert first != lines_of(
        GenerateConfig(cases=800, seed=43, open_share=0.2, duplicate_rate=0.02), 0.03
    )


@pytest.mark.parametrize("order", ["sorted", "feed", "shuffled"])
def test_event_ids_unique_and_deterministic(order: str) -> None:
    config = GenerateConfig(cases=1_500, seed=5, order=order)
    events = list(generate_events(config))
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids))
    assert ids == [e["event_id"] for e in generate_events(config)]
    assert all(i.startswith("E5-") for i in ids)


def test_bad_lines_and_duplicates_leave_the_valid_events_alone() -> None:
    config = GenerateConfig(cases=600, seed=8)
    plain = lines_of(config)
    noisy = lines_of(GenerateConfig(cases=600, seed=8, duplicate_rate=0.05), bad_rate=0.1)
    validator = EventValidator()
    valid = []
    for raw in noisy:
        try:
            validator.check(orjson.loads(raw))
        except Exception:
            continue
        valid.append(raw)
    known = [raw for raw in plain if orjson.loads(raw)["process"] in SCHEMA_PROCESSES]
    assert list(dict.fromkeys(valid)) == known  # re-sent copies are byte-identical


def test_the_record_is_the_same_whatever_the_order_and_noise() -> None:
    """What was planted depends on the seed only: order and re-sending change no case."""
    _, sorted_record = generate_workload(GenerateConfig(cases=500, seed=4, order="sorted"))
    _, noisy_record = generate_workload(
        GenerateConfig(cases=500, seed=4, order="shuffled", duplicate_rate=0.1)
    )
    assert sorted_record == noisy_record
    assert len({case.case_id for case in sorted_record}) == 500


def test_open_cases_have_no_terminal_event() -> None:
    record: list[PlantedCase] = []
    generator = WorkloadGenerator(
        GenerateConfig(cases=2_000, seed=3, open_share=0.5), record.append
    )
    events = list(generator.events())
    by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_case[event["case_id"]].append(event)
    open_cases = [case.case_id for case in record if case.open]
    assert all(not case.planted for case in record if case.open)
    assert len(open_cases) == generator.stats.open_cases
    assert 0.4 * 2_000 < len(open_cases) < 0.6 * 2_000
    for case_id in open_cases:
        assert not any(e["action"] in TERMINAL[e["process"]] for e in by_case[case_id])


def test_case_count_is_exact() -> None:
    for cases in (1, 9, 500):
        record: list[PlantedCase] = []
        generator = WorkloadGenerator(GenerateConfig(cases=cases, seed=cases), record.append)
        events = list(generator.events())
        assert len({e["case_id"] for e in events}) == cases == generator.stats.cases
        assert [case.case_id for case in record] == list(dict.fromkeys(c.case_id for c in record))
        assert {case.case_id for case in record} == {e["case_id"] for e in events}
        assert Counter(case.tag for case in record) == generator.stats.by_tag


def test_sorted_feed_and_shuffled_orders() -> None:
    config: dict[str, Any] = dict(cases=1_000, seed=12)
    ordered = list(generate_events(GenerateConfig(order="sorted", **config)))
    keys = [parse_instant(e["occurred_at"]) for e in ordered]
    assert keys == sorted(keys)

    feed = list(generate_events(GenerateConfig(order="feed", max_delay=600, **config)))
    assert sorted(e["event_id"] for e in feed) == sorted(e["event_id"] for e in ordered)
    assert [parse_instant(e["occurred_at"]) for e in feed] != keys  # locally out of order...
    last_seen: dict[str, int] = {}
    for event in feed:  # ...but each case's own events keep their order
        t = parse_instant(event["occurred_at"])
        assert t >= last_seen.get(event["case_id"], t)
        last_seen[event["case_id"]] = t

    shuffled = list(generate_events(GenerateConfig(order="shuffled", shuffle_window=50, **config)))
    assert shuffled != ordered
    assert sorted(e["event_id"] for e in shuffled) == sorted(e["event_id"] for e in ordered)


def test_duplicates_are_resent_events() -> None:
    generator = WorkloadGenerator(GenerateConfig(cases=1_000, seed=6, duplicate_rate=0.05))
    events = list(generator.events())
    counts = Counter(e["event_id"] for e in events)
    resent = sum(n - 1 for n in counts.values())
    assert resent == generator.stats.duplicates > 100
    _, rejected = run_replay([orjson.dumps(e) for e in engine_events(events)])
    assert rejected == 0


def test_output_streams_with_bounded_memory() -> None:
    generator = WorkloadGenerator(GenerateConfig(cases=20_000, seed=1))
    peak = 0
    total = 0
    for _ in generator.events():
        total += 1
        peak = max(peak, len(generator._heap))
    assert peak < total / 5
