"""Time in the live service: source clocks, the fact gate, the facts-topic codec."""

from __future__ import annotations

import itertools
import random

import orjson
import pytest

from streams.engine import CrossEngine, Engine, EventValidator, Fact
from streams.live.horizon import (
    FactGate,
    PendingFact,
    SourceClock,
    decode_facts_message,
    encode_horizons,
    fact_order_key,
)
from streams.live.processor import FactPartition, Output
from tests.live.core import CONFIG
from tests.live.harness import replay_alerts
from tests.live.workload import TOPIC_OF, workload


def test_source_clock_horizon() -> None:
    clock = SourceClock(lateness_us=50)
    assert clock.horizon(caught_up=False, idle_horizon=900) is None
    clock.observed(0, 500)
    clock.observed(1, 400)  # another case's late event: the horizon does not go back
    assert clock.horizon(False, 900) == 450  # newest read minus the lateness allowance
    assert clock.caught_up(highwater=2)
    assert not clock.caught_up(highwater=3)
    assert clock.horizon(True, 900) == 900
    assert clock.horizon(False, 950) == 900  # caught up at 900 once: consumed up to it for good
    assert clock.horizon(True, None) == 900
    assert SourceClock().caught_up(highwater=7, position=7)


def test_source_clock_remembers_when_a_batch_left_it_caught_up() -> None:
    clock = SourceClock(lateness_us=50)
    clock.observed(0, 500)
    assert clock.horizon(True, None) == 450
    clock.note_caught_up(False, 800)  # more was waiting: nothing learnt
    assert clock.horizon(False, 950) == 450
    clock.note_caught_up(True, 700)  # a batch emptied the partition when the idle horizon was 700
    assert clock.horizon(False, 950) == 700
    clock.note_caught_up(True, 600)  # never goes back
    assert clock.horizon(False, 950) == 700


def facts_of(events: list[dict], case_alerts: list | None = None) -> list[tuple[str, Fact]]:
    """(source, fact) in per-source order, as the case halves emit them."""
    v = EventValidator()
    engines: dict[str, Engine] = {}
    out: list[tuple[str, Fact]] = []
    for d in events:
        e = v.parse(orjson.dumps(d))
        source = f"{TOPIC_OF[e.process]}:{hash(e.case_id) % 3}"
        eng = engines.setdefault(source, Engine(CONFIG))
        eng.cases.advance(e.occurred_at)
        alerts, facts = eng.cases.process(e)
        if case_alerts is not None:
            case_alerts.extend(alerts)
        out.extend((source, f) for f in facts)
    return out


def test_fact_gate_answer_does_not_depend_on_read_order() -> None:
    events = workload(300, seed=21)
    case_side: list = []
    emitted = facts_of(events, case_side)
    sources = frozenset(s for s, _ in emitted)
    by_source: dict[str, list[Fact]] = {}
    for s, f in emitted:
        by_source.setdefault(s, []).append(f)

    def run(seed: int) -> set[str]:
        """Interleave sources randomly, with horizon reports after each source's facts."""
        rnd = random.Random(seed)
        part = FactPartition(0, CrossEngine(CONFIG), sources)
        cursors = {s: 0 for s in by_source}
        offsets = itertools.count()
        out = Output()
        while cursors:
            s = rnd.choice(sorted(cursors))
            i = cursors[s]
            chunk = by_source[s][i : i + rnd.randint(1, 5)]
            for f in chunk:
                part.add(next(offsets), f.to_bytes())
            cursors[s] = i + len(chunk)
            if cursors[s] >= len(by_source[s]):
                del cursors[s]
                part.gate.report({s: 2**62})
            else:
                part.gate.report({s: by_source[s][cursors[s]].occurred_at})
            part.release(out)
        assert len(part.gate) == 0
        return {a.alert_id for a in out.alerts}

    first = run(0)
    assert first and all(run(seed) == first for seed in range(1, 6))
    # ... and it is the offline answer for the cross-case rules.
    cross_rules = {
        "UNAUTHORIZED_INSPECTION",
        "DUPLICATE_DISBURSEMENT",
        "SPLIT_PURCHASE",
        "FREQUENT_INSPECTION",
    }
    offline = {k[0] for k in replay_alerts(events) if k[1] in cross_rules}
    assert first | {a.alert_id for a in case_side if a.rule in cross_rules} == offline


def test_fact_gate_waits_for_every_source() -> None:
    gate = FactGate(frozenset({"a:0", "b:0"}))
    part = FactPartition(0, CrossEngine(CONFIG), gate.sources)
    part.gate = gate
    fact = Fact("ent|E1", 100, "start", {"enterprise_id": "E1"}, "e1", "c1", "D1")
    part.add(7, fact.to_bytes())
    gate.report({"a:0": 1000})
    assert part.release(Output()) == 0 and gate.missing_sources() == ["b:0"]
    assert part.held_from() == 7
    gate.report({"b:0": 100})  # exactly at the fact: not yet (strictly before the horizon)
    assert part.release(Output()) == 0
    gate.report({"b:0": 101})
    assert part.release(Output()) == 1 and part.held_from() is None


def test_fact_gate_applies_a_fact_before_its_corrections() -> None:
    """A fact's revision and retraction (rules.md §1.4) share its instant; whatever their
    bytes, the gate releases them after the original, in offset order (issue #14: a
    revision released first left the original's red card standing)."""
    gate = FactGate(frozenset({"a:0"}))
    for n in range(16):
        original = Fact("plan|P1", 100, "check", {"date": "2026-03-02"}, f"s{n}", f"c{n}", "D1")
        revised = Fact.from_bytes(original.to_bytes())
        revised.may_alert, revised.cause = False, [f"f{n}", 90, 200]
        retracted = Fact.from_bytes(revised.to_bytes())
        retracted.retracted = True
        for offset, fact in enumerate((original, revised, retracted)):
            gate.add(PendingFact(fact_order_key(fact), 3 * n + offset, fact))
    gate.report({"a:0": 101})
    released = gate.release()
    assert len(released) == 48
    by_event: dict[str, list[int]] = {}
    for pending in released:
        by_event.setdefault(pending.fact.event_id, []).append(pending.offset)
    assert all(offsets == sorted(offsets) for offsets in by_event.values())


def test_facts_topic_codec() -> None:
    assert decode_facts_message(encode_horizons({"a:1": 5})) == ("horizons", {"a:1": 5})
    with pytest.raises(ValueError):
        decode_facts_message(b"?")
