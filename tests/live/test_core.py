"""The Faust-free core of the live service: limits, acks, horizons, the fact gate, stamps."""

from __future__ import annotations

import itertools
import random

import orjson
import pytest

from streams.engine import Engine, EventValidator, Fact, InvalidEvent, load_config
from streams.live.deadletter import DeadLetter, RejectionLimit, RejectionLimitExceeded
from streams.live.delivery import HOLE, OLD, PROCESS, OffsetGate, RecoveryWatch
from streams.live.horizon import FactGate, SourceClock, decode_facts_message, encode_horizons
from streams.live.processor import CasePartition, FactPartition, Message, Output, Pipeline
from streams.live.state import case_table_key, cross_table_key, pack_case, unpack_case
from streams.live.topics import Topics
from streams.settings import Settings
from tests.live.harness import alert_key, replay_alerts
from tests.live.workload import TOPIC_OF, invalid_messages, workload

CONFIG = load_config(None)
TOPICS = Topics.from_settings(Settings())


def letter(i: int = 0) -> DeadLetter:
    return DeadLetter(b"x", None, "bad", "t", 0, i)


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


def test_offset_gate_admits_in_exact_order_and_seeks_back_over_holes() -> None:
    now = [0.0]
    gate = OffsetGate(reseek_after_s=10, clock=lambda: now[0])
    gate.start("tp", 5)
    assert gate.admit("tp", 3) == (OLD, None)  # stored before the restart: skipped
    assert gate.admit("tp", 5) == (PROCESS, None)
    # Faust skipped 6..7 (flow control around a rebalance): never process past the hole.
    assert gate.admit("tp", 8) == (HOLE, 6)
    assert gate.admit("tp", 9) == (HOLE, None)  # seek requested once
    assert gate.admit("tp", 6) == (PROCESS, None)  # re-read after the seek
    assert gate.admit("tp", 7) == (PROCESS, None)
    assert gate.expected("tp") == 8


def test_offset_gate_asks_again_when_the_hole_persists() -> None:
    now = [0.0]
    gate = OffsetGate(reseek_after_s=10, clock=lambda: now[0])
    gate.start("tp", 10)
    assert gate.admit("tp", 12) == (HOLE, 10)
    now[0] = 5
    assert gate.admit("tp", 13) == (HOLE, None)
    now[0] = 11
    assert gate.admit("tp", 14) == (HOLE, 10)  # never skipped: asked again
    assert gate.expected("tp") == 10


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


def test_late_event_of_another_case_still_counts() -> None:
    """Per-case clocks move with the case's own events; the partition's only with the horizon."""
    from tests.engine.harness import ev

    events = [
        ev("a1", "A", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=1),
        ev("b1", "B", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=1),
        # B completes on time, but its event arrives after A's much later event.
        ev("a2", "A", "approval", "review", "2026-03-20T09:00:00"),
        ev("b2", "B", "approval", "complete", "2026-03-03T10:00:00"),
    ]
    parts: dict = {}
    out = Output()
    pipe = pipeline(parts, lateness_us=30 * 86_400_000_000)
    for p in pipe.run(messages(events), out):
        p.advance(p.clock.event_horizon() or 0, out)
    cards = {(a.case_id, a.level) for a in out.alerts if a.rule == "OVERDUE"}
    assert ("A", "yellow") in cards and ("B", "yellow") not in cards  # B's late completion counted
    assert {alert_key(a) for a in out.alerts} == replay_alerts(
        events, as_of_us=events_at(events[2])
    )


def events_at(e: dict) -> int:
    from streams.engine.timeutil import parse_instant

    return parse_instant(e["occurred_at"])


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
        part = FactPartition(0, Engine(CONFIG), sources, Fact)
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
    part = FactPartition(0, Engine(CONFIG), gate.sources, Fact)
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


def test_replayed_facts_are_applied_once() -> None:
    sources = frozenset({"s:0"})
    part = FactPartition(0, Engine(CONFIG), sources, Fact)
    facts = [
        Fact("ent|E1", t, "start", {"enterprise_id": "E1"}, f"e{t}", f"c{t}", "D1")
        for t in (1, 2, 3)
    ]
    for i, f in enumerate(facts):
        part.add(i, f.to_bytes())
    part.gate.report({"s:0": 10})
    first = Output()
    part.release(first)
    out = Output()
    part.collect(out, cross_table_key)
    # Restart: state restored from the table, the same facts are read again.
    again = FactPartition(0, Engine(CONFIG), sources, Fact)
    again.load((k.decode().split("|", 1)[1], v) for _, k, v, _ in out.cross_states if v is not None)
    for i, f in enumerate(facts):
        again.add(i, f.to_bytes())
    again.gate.report({"s:0": 10})
    second = Output()
    again.release(second)
    assert second.alerts == [] and second.duplicates == 3
    assert [a.rule for a in first.alerts] == ["FREQUENT_INSPECTION"]


def test_facts_read_again_after_their_key_expired_are_not_revived() -> None:
    """A restart re-reads facts from the first one still held; one whose key expired since
    (replay forgot it) must not come back and be compared with later facts."""
    day = 86_400_000_000
    sources = frozenset({"s:0"})
    part = FactPartition(0, Engine(CONFIG), sources, Fact)

    def disbursement(days: int, n: int) -> Fact:
        data = {"program": "P1", "payee": "PAYEE", "amount": "100.00"}
        return Fact("dup|P1|PAYEE|100.00", days * day, "disburse", data, f"e{n}", f"c{n}", "D1")

    old = disbursement(1, 1)
    part.add(0, old.to_bytes())
    part.gate.report({"s:0": 2 * day})
    part.release(Output())
    part.expire(40 * day)  # 30-day window: the key is forgotten
    out = Output()
    part.collect(out, cross_table_key)
    assert any(v is None for _, _, v, _ in out.cross_states)  # the key's tombstone
    # Restart: only what the table holds; the old fact is read again (a fact held at offset 0
    # kept the partition's restart offset there), then a new disbursement of the same key.
    again = FactPartition(0, Engine(CONFIG), sources, Fact)
    table = {k: v for _, k, v, _ in out.cross_states}
    again.load(
        (k.decode().split("|", 1)[1], v)
        for k, v in table.items()
        if v is not None and b"@" not in k
    )
    again.expired_at = int(table[b"0|@expired"])
    new = disbursement(41, 2)
    again.add(0, old.to_bytes())
    again.add(1, new.to_bytes())
    again.gate.report({"s:0": 42 * day})
    released = Output()
    assert again.release(released) == 2
    assert released.duplicates == 1 and released.alerts == []
    # Without the stored horizon the old fact comes back (what this guards against).
    revived = FactPartition(0, Engine(CONFIG), sources, Fact)
    revived.add(0, old.to_bytes())
    revived.gate.report({"s:0": 42 * day})
    assert revived.release(Output()) == 1 and revived.cross.states


def pipeline(parts: dict, lateness_us: int = 0) -> Pipeline:
    def case_partition(topic: str, partition: int) -> CasePartition:
        part = parts.get((topic, partition))
        if part is None:
            part = parts[(topic, partition)] = CasePartition(
                topic, partition, Engine(CONFIG), lateness_us
            )
        return part

    return Pipeline(
        TOPICS, EventValidator(), InvalidEvent, RejectionLimit(100, 0.9, 50), case_partition
    )


def messages(events: list[dict]) -> list[Message]:
    out = []
    offsets: dict[str, int] = {}
    for e in events:
        topic = TOPICS.for_process(e["process"])
        assert topic
        o = offsets.get(topic, 0)
        offsets[topic] = o + 1
        out.append(Message(topic, 0, o, e["case_id"].encode(), orjson.dumps(e)))
    return out


def test_case_state_stamps_make_a_replay_after_a_crash_exact() -> None:
    events = workload(80, seed=4)
    msgs = messages(events)
    parts: dict = {}
    out = Output()
    touched = pipeline(parts).run(msgs, out)
    for p in touched:
        p.collect(out, case_table_key)
    assert not out.dead_letters and out.alerts
    # The state was written, the offsets were not committed: a new worker reads it all again.
    restored: dict = {}
    for topic in TOPICS.domain:
        part = restored.setdefault((topic, 0), CasePartition(topic, 0, Engine(CONFIG)))
        prefix = f"0|{topic}|".encode()
        part.load(
            (k[len(prefix) :].decode(), v)
            for _, k, v, _ in out.case_states
            if v and k.startswith(prefix)
        )
    again = Output()
    pipeline(restored).run(msgs, again)
    assert again.alerts == [] and again.facts == []
    assert len(again.events) == len(events)  # rows are stored again (idempotent), never lost


def test_pipeline_dead_letters_with_origin_and_wrong_topic() -> None:
    bad = invalid_messages()
    good = workload(5, seed=1)[0]
    msgs = [Message(TOPICS.approval, 2, i, b"k", raw) for i, raw in enumerate(bad)]
    wrong = dict(
        good, process="tender", action="announce", attrs={"method": "direct", "budget": "1"}
    )
    msgs.append(Message(TOPICS.approval, 2, 9, b"k", orjson.dumps(wrong)))
    out = Output()
    pipeline({}).run(msgs, out)
    assert [d.offset for d in out.dead_letters] == [0, 1, 2, 9]
    assert [d.original for d in out.dead_letters][:3] == bad
    assert "occurred_at" in out.dead_letters[1].reason
    assert "belong on topic" in out.dead_letters[3].reason
    assert out.dead_letters[3].kind == "wrong_topic"
    assert {d.kind for d in out.dead_letters[:3]} <= {"not_json", "not_object", "contract"}
    assert not out.events


def test_codecs() -> None:
    assert unpack_case(pack_case(42, b"blob")) == (42, b"blob")
    assert decode_facts_message(encode_horizons({"a:1": 5})) == ("horizons", {"a:1": 5})
    with pytest.raises(ValueError):
        decode_facts_message(b"?")


def test_alert_key_matches_between_replay_and_rows() -> None:
    alerts = replay_alerts(workload(30, seed=2))
    assert all(len(k) == 8 for k in alerts)
    assert alert_key(
        {
            "alert_id": "a",
            "rule": "R",
            "level": "red",
            "case_id": "c",
            "process": "p",
            "dept": "d",
            "raised_at_us": "5",
            "evidence": ["e"],
        }
    ) == ("a", "R", "red", "c", "p", "d", 5, ("e",))


def test_recovery_watch_rereads_a_stalled_changelog_partition_then_gives_up() -> None:
    now = [0.0]
    watch = RecoveryWatch(stall_s=30, attempts=2, clock=lambda: now[0])
    remaining = {"cl-0": 5, "cl-1": 3, "cl-2": 0}
    offsets = {"cl-0": 10, "cl-1": -1, "cl-2": 7}
    assert watch.check(remaining, offsets) == {}
    now[0] = 29
    assert watch.check(remaining, offsets) == {}
    now[0] = 31  # cl-0 moved meanwhile: only cl-1 stalled (nothing read yet: from offset 0)
    assert watch.check(remaining, {**offsets, "cl-0": 12}) == {"cl-1": 0}
    assert watch.exhausted() == []
    now[0] = 62
    assert watch.check(remaining, {**offsets, "cl-0": 12}) == {"cl-0": 13, "cl-1": 0}
    assert watch.exhausted() == ["cl-1"]
    now[0] = 63  # cl-1 done meanwhile; a new recovery starts clean
    assert watch.check({"cl-0": 1, "cl-1": 0}, {"cl-0": 14, "cl-1": 20}) == {}
    assert watch.exhausted() == []
    watch.reset()
    assert watch.check(remaining, offsets) == {}


def test_service_rereads_stalled_recovery_and_stops_when_that_does_not_help(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio
    from collections import Counter
    from types import SimpleNamespace

    from streams.live import service as service_module

    now = [0.0]
    recovery = SimpleNamespace(
        active_offsets=Counter({"cl-3": 41}), active_remaining=lambda: Counter({"cl-3": 9})
    )
    seeks: list[tuple[str, int]] = []

    async def seek_to(tp: str, offset: int) -> None:
        seeks.append((tp, offset))

    fake = SimpleNamespace(
        app=SimpleNamespace(tables=SimpleNamespace(recovery=recovery), in_recovery=True),
        recovery_watch=RecoveryWatch(stall_s=30, attempts=2, clock=lambda: now[0]),
        _seek_to=seek_to,
    )

    def die(reason: str) -> None:
        raise SystemExit(reason)

    monkeypatch.setattr(service_module, "die", die)
    watch = service_module.LiveService._watch_recovery
    for t in (0, 31, 62):
        now[0] = t
        if t < 62:
            asyncio.run(watch(fake))  # type: ignore[arg-type]
    assert seeks == [("cl-3", 42)]
    with pytest.raises(SystemExit, match="cl-3"):
        asyncio.run(watch(fake))  # type: ignore[arg-type]
    assert seeks == [("cl-3", 42), ("cl-3", 42)]
    fake.app.in_recovery = False  # recovery over: nothing is watched
    asyncio.run(watch(fake))  # type: ignore[arg-type]
    assert fake.recovery_watch.exhausted() == []


def test_health_probe_reports_broker_and_idle_storage_without_waiting_on_the_pipeline() -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from prometheus_client import CollectorRegistry

    from streams.live.service import LiveService
    from streams.observability.health import HealthState
    from streams.observability.metrics import Metrics
    from streams.settings import Settings

    broker_up = [True]
    pings: list[str] = []
    storage_up = [True]

    class Client:
        async def fetch_all_metadata(self) -> object:
            if not broker_up[0]:
                raise ConnectionError("no broker")
            return SimpleNamespace(brokers=lambda: [1])

    def ping() -> None:
        pings.append("ping")
        if not storage_up[0]:
            raise OSError("refused")

    health = HealthState(metrics=Metrics(CollectorRegistry(), process_metrics=False))
    fake = SimpleNamespace(
        health=health,
        settings=Settings(health_probe_interval_s=5, health_probe_timeout_s=2),
        app=SimpleNamespace(
            producer=SimpleNamespace(_ensure_producer=lambda: SimpleNamespace(client=Client()))
        ),
        store=SimpleNamespace(ping=ping),
        executor=ThreadPoolExecutor(1),
        _storage_seen=0.0,
        _unpersisted=0,
        _ping=None,
        lock=asyncio.Lock(),
        metrics=None,
    )
    fake._ping_storage = lambda p, t: LiveService._ping_storage(fake, p, t)  # type: ignore[arg-type]

    async def run() -> None:
        async with fake.lock:  # the pipeline holds its lock: the probe does not care
            await LiveService.probe(fake)  # type: ignore[arg-type]
            await fake._ping
        assert health.readiness()[1]["broker"]["connected"] is True
        assert health.readiness()[1]["storage"] == {**health.storage.as_json(), "connected": True}
        assert health.last_loop_heartbeat is not None
        await LiveService.probe(fake)  # type: ignore[arg-type]  # storage just reported: no ping
        assert pings == ["ping"]
        broker_up[0], storage_up[0] = False, False
        fake._storage_seen = 0.0
        await LiveService.probe(fake)  # type: ignore[arg-type]
        await fake._ping
        ready, body = health.readiness()
        assert not ready
        assert body["broker"]["detail"] == "ConnectionError"
        assert body["storage"]["detail"] == "OSError"
        fake._storage_seen, fake._unpersisted = 0.0, 1  # a batch in flight: never ping beside it
        await LiveService.probe(fake)  # type: ignore[arg-type]
        assert len(pings) == 2

    try:
        asyncio.run(run())
    finally:
        fake.executor.shutdown()


def test_consumer_lag_follows_the_broker_when_the_workers_fetches_stop() -> None:
    """A stuck fetcher keeps its last high watermark; the lag must still grow, from the
    log end the broker reports to the health probe (and never shrink below the fetch's)."""
    import asyncio
    from types import SimpleNamespace

    from aiokafka.structs import TopicPartition
    from prometheus_client import CollectorRegistry

    from streams.live.service import LiveService
    from streams.observability.metrics import Metrics

    approval, facts = TopicPartition("t.approval", 0), TopicPartition("t.facts", 0)
    log_end = {approval: 50}

    class LogEnds:
        asked: list[list[TopicPartition]] = []

        async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
            self.asked.append(tps)
            return {tp: log_end[tp] for tp in tps}

    metrics = Metrics(CollectorRegistry(), process_metrics=False)
    fake = SimpleNamespace(
        app=SimpleNamespace(
            consumer=SimpleNamespace(
                assignment=lambda: {approval, facts},
                highwater=lambda tp: 10,  # stale
            )
        ),
        domain={"t.approval"},
        offsets=SimpleNamespace(known=lambda tp: True, expected=lambda tp: 10),
        metrics=metrics,
        settings=None,
        _log_end={},
        _log_end_client=LogEnds(),
    )
    fake._report_lag = lambda tp, hw: LiveService._report_lag(fake, tp, hw)  # type: ignore[arg-type]

    def lag() -> float | None:
        return metrics.registry.get_sample_value(
            "supervision_consumer_lag_messages", {"topic": "t.approval", "partition": "0"}
        )

    asyncio.run(LiveService._refresh_log_ends(fake, 1.0))  # type: ignore[arg-type]
    assert LogEnds.asked == [[approval]]  # event partitions only: the worker writes facts itself
    assert lag() == 40
    LiveService._report_lag(fake, approval, 10)  # type: ignore[arg-type]  # the tick, stale
    assert lag() == 40
    LiveService._report_lag(fake, approval, 70)  # type: ignore[arg-type]  # fetches resumed
    assert lag() == 60


def test_timed_alerts_are_noted_for_timer_lag_wherever_they_fire() -> None:
    # Timed alerts fire on a tick (advance) or when input makes them due (process);
    # both count for timer lag, alerts an event raises itself do not.
    events = workload(80, seed=4)
    msgs = messages(events)
    parts: dict = {}
    out = Output()
    touched = pipeline(parts).run(msgs, out)
    timed_rules = {"OVERDUE", "STEP_OVERDUE"}
    assert out.timed, "the workload has events that arrive after a deadline"
    assert sorted(out.timed) == sorted(a.raised_at for a in out.alerts if a.rule in timed_rules)
    later = Output()
    for part in touched:
        part.advance(2**62, later)
    assert later.alerts and later.timed == [a.raised_at for a in later.alerts]
    assert {a.rule for a in later.alerts} <= timed_rules


def test_events_read_twice_are_counted_as_duplicates() -> None:
    events = workload(40, seed=7)
    msgs = messages(events)
    parts: dict = {}
    pipeline(parts).run(msgs, Output())
    assert sum(p.cases.duplicate_count for p in parts.values()) == 0
    again = Output()
    pipeline(parts).run(msgs, again)
    assert again.alerts == []
    assert sum(p.cases.duplicate_count for p in parts.values()) == len(events)
