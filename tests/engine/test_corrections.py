"""Late input is corrected (rules.md §1.4): the alerts not withdrawn equal replay's.

Each scenario is delivered late through the live-style path (``live_sim``) twice:
without corrections (the path before them: its result differs from replay, which
is the bug) and with them (equal to replay, ids, levels, ``raised_at`` and
details; the withdrawals name the late event).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from streams.engine.model import WITHDRAWN_LATE_INPUT
from streams.workload import GenerateConfig, generate_events
from tests.engine.harness import ev
from tests.engine.live_sim import LiveSim, instant, parse, replayed

HOUR = 3_600_000_000
DAY = 24 * HOUR


def deliver(
    events: list[dict[str, Any]], late: set[str], *, corrections: bool, until: int | None = None
) -> tuple[LiveSim, int]:
    """``events`` in occurred_at order, except those in ``late``: held back until the horizon
    has passed everything, then delivered. Processing time: a second after each instant
    read (late ones: a day after the end)."""
    ordered = sorted(events, key=lambda e: instant(e["occurred_at"]))
    end = until if until is not None else max(instant(e["occurred_at"]) for e in ordered)
    on_time = [
        (parse(e), instant(e["occurred_at"]) + 1_000_000)
        for e in ordered
        if e["event_id"] not in late
    ]
    held = [parse(e) for e in ordered if e["event_id"] in late]
    sim = LiveSim(corrections=corrections)
    sim.run(on_time, end)
    for n, event in enumerate(held):
        sim.arrive(event, end + DAY + n)
    sim.tick(end + 1, end + DAY + len(held))
    return sim, end


def converges(
    events: list[dict[str, Any]], late: set[str], *, corrections: bool
) -> tuple[LiveSim, list[dict[str, Any]], list[dict[str, Any]]]:
    sim, end = deliver(events, late, corrections=corrections)
    return sim, sim.active(), replayed(events, end)


# ---------------------------------------------------------------------- (a) completion


def completion_events() -> list[dict[str, Any]]:
    return [
        ev("a1", "AP1", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=3),
        ev("a2", "AP1", "approval", "review", "2026-03-03T09:00:00"),
        ev("a3", "AP1", "approval", "decide", "2026-03-03T15:00:00", decision="approve"),
        ev("a4", "AP1", "approval", "complete", "2026-03-04T10:00:00"),
        # another case keeps time moving well past AP1's red card
        ev("b1", "AP2", "approval", "accept", "2026-03-20T09:00:00", time_limit_days=5),
    ]


@pytest.mark.parametrize("corrections", [False, True])
def test_completion_published_after_its_deadline(corrections: bool) -> None:
    sim, live, official = converges(completion_events(), {"a4"}, corrections=corrections)
    assert not [a for a in official if a["case_id"] == "AP1"]
    if not corrections:  # the old path: notice, yellow and red for a case completed on time
        assert sorted(a["level"] for a in live if a["case_id"] == "AP1") == [
            "notice",
            "red",
            "yellow",
        ]
        assert live != official
        return
    assert live == official
    withdrawn = sorted(w.alert.level for w in sim.withdrawn.values())
    assert withdrawn == ["notice", "red", "yellow"]
    for w in sim.withdrawn.values():
        assert w.reason == WITHDRAWN_LATE_INPUT
        assert w.by == [["a4", instant("2026-03-04T10:00:00"), w.withdrawn_at]]


def test_late_intermediate_event_keeps_cards_that_still_hold() -> None:
    """A late review of a case that is still overdue: its cards stay (no withdrawal, no
    raise again), only the skipped-step card it disproves is withdrawn."""
    events = [
        ev("a1", "AP1", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=3),
        ev("a2", "AP1", "approval", "review", "2026-03-03T09:00:00"),
        ev("a3", "AP1", "approval", "decide", "2026-03-03T15:00:00", decision="approve"),
        ev("b1", "AP2", "approval", "accept", "2026-03-20T09:00:00", time_limit_days=5),
    ]
    sim, live, official = converges(events, {"a2"}, corrections=True)
    assert live == official
    assert [w.alert.rule for w in sim.withdrawn.values()] == ["SKIPPED_STEP"]
    raised = [i for kind, i in sim.history if kind == "raise"]
    assert len(raised) == len(set(raised))  # nothing raised twice


# ---------------------------------------------------------------------- (b) plan approval


def plan_events() -> list[dict[str, Any]]:
    plan = {
        "inspecting_dept": "D01",
        "enterprise_ids": ["ENT1", "ENT2"],
        "valid_from": "2026-03-01",
        "valid_to": "2026-06-30",
    }
    start = {"category": "routine", "plan_id": "PL1"}
    return [
        ev("p1", "PL1", "inspection_plan", "approve", "2026-03-09T09:00:00", **plan),
        ev(
            "i1", "IN1", "inspection", "start", "2026-03-09T09:03:00", enterprise_id="ENT1", **start
        ),
        ev("i2", "IN1", "inspection", "finish", "2026-03-10T09:00:00"),
        ev(
            "i3", "IN2", "inspection", "start", "2026-03-11T10:00:00", enterprise_id="ENT2", **start
        ),
        ev("i4", "IN2", "inspection", "finish", "2026-03-12T10:00:00"),
        ev(
            "i5", "IN3", "inspection", "start", "2026-03-16T10:00:00", enterprise_id="ENT9", **start
        ),
        ev("i6", "IN3", "inspection", "finish", "2026-03-17T10:00:00"),
        ev(
            "i7", "IN4", "inspection", "start", "2026-03-19T10:00:00", enterprise_id="ENT1", **start
        ),
        ev("i8", "IN4", "inspection", "finish", "2026-03-20T10:00:00"),
    ]


@pytest.mark.parametrize("corrections", [False, True])
def test_late_inspection_plan_approval(corrections: bool) -> None:
    """The approval arrives after three inspections under it were judged: every
    inspection is judged as replay judges it, the false red cards are withdrawn."""
    events = plan_events()
    ordered = sorted(events, key=lambda e: instant(e["occurred_at"]))
    # i1..i6 in order, then the late approval, then IN4 in order after it.
    first = [e for e in ordered if e["event_id"] not in {"p1", "i7", "i8"}]
    sim = LiveSim(corrections=corrections)
    sim.run(
        [(parse(e), instant(e["occurred_at"]) + 1_000_000) for e in first],
        instant("2026-03-18T00:00:00"),
    )
    late_at = instant("2026-03-18T08:00:00")
    sim.arrive(parse(events[0]), late_at)
    rest = [(parse(e), instant(e["occurred_at"]) + 1_000_000) for e in ordered[-2:]]
    end = instant("2026-03-21T00:00:00")
    sim.run(rest, end)
    official = replayed(events, end)
    reasons = {
        a["case_id"]: a["details"]["reason"]
        for a in official
        if a["rule"] == "UNAUTHORIZED_INSPECTION"
    }
    assert reasons == {"IN3": "enterprise_not_in_plan"}
    live = sim.active()
    if not corrections:
        live_reasons = {
            a["case_id"]: a["details"]["reason"]
            for a in live
            if a["rule"] == "UNAUTHORIZED_INSPECTION"
        }
        assert live_reasons == {c: "plan_not_approved" for c in ("IN1", "IN2", "IN3", "IN4")}
        return
    assert live == official
    withdrawn = {w.alert.case_id: w for w in sim.withdrawn.values()}
    assert sorted(withdrawn) == ["IN1", "IN2"]
    for w in withdrawn.values():
        assert w.by == [["p1", instant("2026-03-09T09:00:00"), late_at]]
        assert w.withdrawn_at == late_at
    # IN3's card holds with another reason: raised again under its id with replay's details
    revised = [
        a
        for kind, i in sim.history
        if kind == "raise"
        for a in [sim.records[i]]
        if a.case_id == "IN3"
    ]
    assert len(revised) == 2 and revised[-1].details["reason"] == "enterprise_not_in_plan"


# ---------------------------------------------------------------------- (c) disbursement


def fund_events() -> list[dict[str, Any]]:
    out = []
    for case, day in (("F1", 2), ("F2", 4)):
        out += [
            ev(
                f"{case}a",
                case,
                "fund_disbursement",
                "apply",
                f"2026-03-0{day}T09:00:00",
                amount="5000",
                program="P1",
                payee="X",
            ),
            ev(f"{case}r", case, "fund_disbursement", "review", f"2026-03-0{day}T10:00:00"),
            ev(
                f"{case}p",
                case,
                "fund_disbursement",
                "approve",
                f"2026-03-0{day}T11:00:00",
                approved_amount="5000",
                payee="X",
            ),
        ]
    out += [
        ev(
            "F1d",
            "F1",
            "fund_disbursement",
            "disburse",
            "2026-03-05T09:00:00",
            amount="5000",
            payee="X",
        ),
        ev(
            "F2d",
            "F2",
            "fund_disbursement",
            "disburse",
            "2026-03-06T09:00:00",
            amount="5000",
            payee="X",
        ),
        ev("F1z", "F1", "fund_disbursement", "publicize", "2026-03-09T09:00:00"),
        ev("F2z", "F2", "fund_disbursement", "publicize", "2026-03-09T10:00:00"),
    ]
    return out


@pytest.mark.parametrize("corrections", [False, True])
def test_late_disbursement_feeds_duplicate_disbursement(corrections: bool) -> None:
    sim, live, official = converges(fund_events(), {"F1d"}, corrections=corrections)
    dup = [a for a in official if a["rule"] == "DUPLICATE_DISBURSEMENT"]
    assert [(a["case_id"], a["raised_at"][:19]) for a in dup] == [("F2", "2026-03-06T09:00:00")]
    if not corrections:
        assert not [a for a in live if a["rule"] == "DUPLICATE_DISBURSEMENT"]
        assert sim.dropped_facts == 1
        return
    assert live == official


def test_retracted_fact_withdraws_its_card() -> None:
    """A late terminal event before a disbursement: that case's facts no longer alert
    (an ended case raises nothing), so the card its disbursement raised is withdrawn."""
    events = fund_events()
    events.append(ev("F2x", "F2", "fund_disbursement", "publicize", "2026-03-05T12:00:00"))
    sim, live, official = converges(events, {"F2x"}, corrections=True)
    assert not [a for a in official if a["rule"] == "DUPLICATE_DISBURSEMENT"]
    assert live == official
    assert [w.alert.rule for w in sim.withdrawn.values()] == ["DUPLICATE_DISBURSEMENT"]


# ---------------------------------------------------------------------- (d) a workload


def test_generated_workload_with_late_last_events() -> None:
    """A generated workload, the last event of one case in ten delivered after the horizon
    passed everything: the alerts not withdrawn equal replay's exactly."""
    events = list(generate_events(GenerateConfig(cases=400, seed=5, order="sorted")))
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for e in sorted(events, key=lambda e: instant(e["occurred_at"])):
        last[(e["process"], e["case_id"])] = e
    rnd = random.Random(3)
    late = {e["event_id"] for key, e in sorted(last.items()) if rnd.random() < 0.1}
    assert len(late) > 20
    old, old_live, official = converges(events, late, corrections=False)
    assert old_live != official
    sim, live, official = converges(events, late, corrections=True)
    assert sim.late_events > 0 and sim.withdrawn
    assert len(live) == len(official)
    assert live == official


def shuffled_run(restart_every: int = 0, *, corrections: bool = True) -> tuple[LiveSim, int]:
    events = list(
        generate_events(GenerateConfig(cases=300, seed=8, order="shuffled", shuffle_window=60))
    )
    end = max(instant(e["occurred_at"]) for e in events)
    sim = LiveSim(corrections=corrections)
    sim.run([(parse(e), n) for n, e in enumerate(events)], end, restart_every)
    return sim, end


def test_shuffled_arrival_converges_across_restarts() -> None:
    """Events of a generated workload arriving shuffled (cases' own events swapped too), the
    horizon following the newest instant read, the worker restarting from its stored states:
    replay's alerts exactly; the same arrival order gives the same withdrawals."""
    events = list(
        generate_events(GenerateConfig(cases=300, seed=8, order="shuffled", shuffle_window=60))
    )
    old, end = shuffled_run(corrections=False)
    official = replayed(events, end)
    assert old.active() != official
    sim, _ = shuffled_run(restart_every=97)
    assert sim.late_events > 100
    assert sim.active() == official
    again, _ = shuffled_run(restart_every=97)
    assert again.history == sim.history
    assert {i: (w.withdrawn_at, w.by) for i, w in again.withdrawn.items()} == {
        i: (w.withdrawn_at, w.by) for i, w in sim.withdrawn.items()
    }


def test_backdated_completion_is_withdrawn_and_reported_late() -> None:
    """A completion recorded (``reported_at``) a week after it happened and after the
    deadline passed: the cards it disproves are withdrawn, naming it, and LATE_REPORTED
    says it came late, at its ``reported_at``: as replay."""
    events = completion_events()
    events[3]["reported_at"] = "2026-03-12T16:00:00+08:00"
    sim, live, official = converges(events, {"a4"}, corrections=True)
    assert [(a["rule"], a["raised_at"][:19]) for a in official if a["case_id"] == "AP1"] == [
        ("LATE_REPORTED", "2026-03-12T16:00:00")
    ]
    assert live == official
    assert sorted(w.alert.level for w in sim.withdrawn.values()) == ["notice", "red", "yellow"]


# ---------------------------------------------------------------------- (e) a fact still gated


def test_case_corrected_while_its_fact_waits_in_the_gate() -> None:
    """The soak's pattern: an inspection start judged unauthorized (outside its plan's
    window), then its case's ``finish``, dated before the start, arriving right after it,
    before the horizon passed the start. The correction revises the start's fact (an ended
    case raises nothing) while the original still waits in the fact gate at the same
    instant: the gate must apply the original first, whatever their digests, so that no
    red card remains that replay does not raise. Several cases, so that some revision's
    digest sorts before its original's."""
    plan = {
        "inspecting_dept": "D01",
        "valid_from": "2026-01-01",
        "valid_to": "2026-01-31",
    }
    events: list[dict[str, Any]] = []
    arrivals: list[tuple[str, int]] = []
    for k in range(1, 9):
        day = f"2026-03-{k + 1:02d}"
        pid, cid = f"PL{k}", f"IN{k}"
        approve = dict(plan, enterprise_ids=[f"ENT{k}"])
        start = {"enterprise_id": f"ENT{k}", "category": "routine", "plan_id": pid}
        events += [
            ev(f"p{k}", pid, "inspection_plan", "approve", f"{day}T09:00:00", **approve),
            ev(f"s{k}", cid, "inspection", "start", f"{day}T09:00:01", **start),
            ev(f"f{k}", cid, "inspection", "finish", f"{day}T08:30:00"),
        ]
        at = instant(f"{day}T09:00:01")
        arrivals += [(f"p{k}", at), (f"s{k}", at + 1), (f"f{k}", at + 2)]
    by_id = {e["event_id"]: parse(e) for e in events}
    end = instant("2026-03-10T00:00:00")
    sim = LiveSim()
    sim.run([(by_id[i], now) for i, now in arrivals], end)
    official = replayed(events, end)
    assert not [a for a in official if a["rule"] == "UNAUTHORIZED_INSPECTION"]
    assert sim.late_events == 8
    live = sim.active()
    assert [a for a in live if a["rule"] == "UNAUTHORIZED_INSPECTION"] == []
    assert live == official
