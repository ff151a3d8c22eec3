"""The Faust-free core: a batch of messages in, rows, alerts, facts and state out."""

from __future__ import annotations

import orjson

from streams.engine import CaseEngine, CrossEngine, Fact
from streams.live.processor import CasePartition, FactPartition, Message, Output
from streams.live.state import case_table_key, cross_table_key
from tests.live.core import CONFIG, TOPICS, messages, pipeline
from tests.live.harness import alert_key, replay_alerts
from tests.live.workload import invalid_messages, workload


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


def test_replayed_facts_are_applied_once() -> None:
    sources = frozenset({"s:0"})
    part = FactPartition(0, CrossEngine(CONFIG), sources)
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
    again = FactPartition(0, CrossEngine(CONFIG), sources)
    again.load((k.decode().split("|", 1)[1], v) for _, k, v, _ in out.cross_states if v is not None)
    for i, f in enumerate(facts):
        again.add(i, f.to_bytes())
    again.gate.report({"s:0": 10})
    second = Output()
    again.release(second)
    assert second.alerts == [] and second.duplicates == 3
    assert [a.rule for a in first.alerts] == ["FREQUENT_INSPECTION"]


def test_a_late_plan_approval_corrects_the_checks_after_it() -> None:
    """A plan approval published after two inspection starts under it were judged (F4 of
    the delivery audit): it is applied, not dropped as a duplicate; the first start's
    false card is withdrawn, naming the approval; a later start raises nothing."""
    hour = 3_600_000_000
    sources = frozenset({"s:0"})
    part = FactPartition(0, CrossEngine(CONFIG), sources)
    plan = {
        "action": "approve",
        "inspecting_dept": "D1",
        "enterprise_ids": ["E1"],
        "valid_from": "1970-01-01",
        "valid_to": "1970-12-31",
    }

    def check(t: int, n: int) -> Fact:
        data = {
            "enterprise_id": "E1",
            "category": "routine",
            "plan_id": "PL1",
            "date": "1970-01-02",
        }
        return Fact("plan|PL1", t * hour, "check", data, f"i{n}", f"IN{n}", "D1", arrived_at=n)

    part.add(0, check(30, 1).to_bytes())
    part.gate.report({"s:0": 31 * hour})
    first = Output()
    part.release(first, now=100)
    assert [a.details["reason"] for a in first.alerts] == ["plan_not_approved"]
    approve = Fact("plan|PL1", 25 * hour, "plan", plan, "p1", "PL1", "D1", arrived_at=7)
    part.add(1, approve.to_bytes())
    part.add(2, check(40, 2).to_bytes())
    part.gate.report({"s:0": 41 * hour})
    late = Output()
    part.release(late, now=200)
    assert late.alerts == [] and late.duplicates == 0
    assert (first.rejudged, late.rejudged, late.beyond_log) == (0, 1, 0)
    assert [(w.alert.case_id, w.withdrawn_at, w.by) for w in late.withdrawals] == [
        ("IN1", 200, [["p1", 25 * hour, 7]])
    ]


def test_facts_read_again_after_their_key_expired_are_not_revived() -> None:
    """A restart re-reads facts from the first one still held; one whose key expired since
    (replay forgot it) must not come back and be compared with later facts."""
    day = 86_400_000_000
    sources = frozenset({"s:0"})
    part = FactPartition(0, CrossEngine(CONFIG), sources)

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
    again = FactPartition(0, CrossEngine(CONFIG), sources)
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
    revived = FactPartition(0, CrossEngine(CONFIG), sources)
    revived.add(0, old.to_bytes())
    revived.gate.report({"s:0": 42 * day})
    assert revived.release(Output()) == 1 and revived.cross.states


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
        part = restored.setdefault((topic, 0), CasePartition(topic, 0, CaseEngine(CONFIG)))
        prefix = f"0|{topic}|".encode()
        part.load(
            (k[len(prefix) :].decode(), v)
            for _, k, v, _ in out.case_states
            if v and k.startswith(prefix)
        )
    again = Output()
    pipeline(restored).run(msgs, again)
    assert again.alerts == [] and again.facts == []
    # Each was stored before its case's state was written: the repeats are counted, not
    # stored again (a repeat with other content must never replace the first's row).
    assert again.events == []
    assert sum(p.cases.duplicate_count for p in restored.values()) == len(events)


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
    assert [d.raw for d in out.dead_letters][:3] == bad
    assert "occurred_at" in out.dead_letters[1].reason
    assert "belong on topic" in out.dead_letters[3].reason
    assert out.dead_letters[3].kind == "wrong_topic"
    assert {d.kind for d in out.dead_letters[:3]} <= {"not_json", "not_object", "contract"}
    assert not out.events


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


def test_a_late_cross_case_fact_s_withdrawal_names_its_arrival_and_reported_at() -> None:
    """A plan approval that is on time for its own case but late at its plan's key (an
    inspection under the plan was judged before it arrived): the false card is withdrawn,
    and the withdrawal, as published, names the approval with its occurred_at, reported_at
    and arrival (the Kafka record's timestamp)."""
    from streams.engine.model import WITHDRAWN_LATE_INPUT
    from streams.engine.timeutil import parse_instant
    from streams.live.publish import withdrawal_json
    from tests.engine.harness import ev

    plan = {"inspecting_dept": "D01", "enterprise_ids": ["ENT1"],
            "valid_from": "2026-03-01", "valid_to": "2026-06-30"}
    start = ev("i1", "IN1", "inspection", "start", "2026-03-09T09:03:00",
               enterprise_id="ENT1", category="routine", plan_id="PL1")
    approve = {**ev("p1", "PL1", "inspection_plan", "approve", "2026-03-09T09:00:00", **plan),
               "reported_at": "2026-03-11T08:00:00+08:00"}
    arrived = parse_instant("2026-03-11T08:00:02.5+08:00")
    parts: dict = {}
    pipe = pipeline(parts)
    first, late = Output(), Output()
    pipe.run(messages([start]), first)
    (message,) = messages([approve])
    message.arrived_at = arrived
    pipe.run([message], late)

    sources = frozenset({"s:0"})
    facts = FactPartition(0, CrossEngine(CONFIG), sources)
    facts.add(0, first.facts[0].to_bytes())
    facts.gate.report({"s:0": parse_instant("2026-03-10T00:00:00+08:00")})
    judged = Output()
    facts.release(judged, now=100)
    (card,) = judged.alerts
    assert card.rule == "UNAUTHORIZED_INSPECTION" and card.case_id == "IN1"
    facts.add(1, late.facts[0].to_bytes())  # through the facts topic's bytes
    facts.gate.report({"s:0": parse_instant("2026-03-12T00:00:00+08:00")})
    corrected = Output()
    facts.release(corrected, now=200_000_000)
    (withdrawal,) = corrected.withdrawals
    assert withdrawal.alert_id == card.alert_id and withdrawal.reason == WITHDRAWN_LATE_INPUT
    assert withdrawal.by == [["p1", parse_instant("2026-03-09T09:00:00+08:00"), arrived]]
    record = withdrawal_json(card, withdrawal, CONFIG.local)
    assert record["withdrawn_by"] == [
        {
            "event_id": "p1",
            "occurred_at": "2026-03-09T09:00:00+08:00",
            "reported_at": "2026-03-11T08:00:00+08:00",
            "arrived_at": "2026-03-11T08:00:02.500000+08:00",
        }
    ]


def test_late_facts_are_counted_by_outcome() -> None:
    """``supervision_fact_corrections_total``: declared at 0, then what a batch judged again
    and what it found older than the key's log keeps."""
    from prometheus_client import CollectorRegistry

    from streams.observability.metrics import Metrics

    metrics = Metrics(CollectorRegistry(), process_metrics=False)
    metrics.declare([], [], [])
    counted = metrics.fact_corrections
    assert [counted.labels(o)._value.get() for o in ("rejudged", "beyond_log")] == [0, 0]
    metrics.record_fact_corrections(2, 1)
    assert [counted.labels(o)._value.get() for o in ("rejudged", "beyond_log")] == [2, 1]


def test_a_fact_older_than_its_key_s_log_keeps_is_counted_not_judged() -> None:
    sources = frozenset({"s:0"})
    part = FactPartition(0, CrossEngine(CONFIG), sources)
    day = 86_400_000_000
    out = Output()
    for i, t in enumerate((400 * day, 400 * day + 1, day)):  # the last read after the others
        fact = Fact("ent|E1", t, "start", {"enterprise_id": "E1"}, f"e{i}", f"c{i}", "D1")
        part.add(i, fact.to_bytes())
        part.gate.report({"s:0": 401 * day})
        out = Output()
        part.release(out)
    assert (out.beyond_log, out.duplicates, out.rejudged) == (1, 0, 0)
