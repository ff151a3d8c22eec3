"""Late events (rules.md §1.4): a case evaluated again as replay would, and the difference.

An event is late for its case when the case has been evaluated past its
instant (``CaseEngine.is_late``: a later event of the case, or a timed alert
after it). The caller reads the case's events from where they live (the live
service: storage; a test: a list) and calls ``correct_case``, which

- evaluates the case from its events as replay does (``occurred_at`` order,
  equal instants in arrival order, the timed alerts between them), once
  without the late event and once with it, both up to the instant the case
  had been evaluated to, so the first run is what the case has raised;
- installs the second run's state in the engine (its timers re-armed: alerts
  due later come from ``advance`` with their true instants);
- returns the difference: the alerts to withdraw, the alerts to raise (new, or
  with the same id and other content), and the facts that changed (added,
  revised or retracted, each naming the late event) for the cross-case half,
  which corrects its keys in turn (``crosslog``).

Cost: two evaluations of one case, whatever the number of open cases.
Deterministic: the result depends only on the events and the times given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.engine.cases import CaseEngine
from streams.engine.config import SupervisionConfig
from streams.engine.facts import Fact
from streams.engine.model import (
    WITHDRAWN_LATE_INPUT,
    Alert,
    Event,
    LateInput,
    Withdrawal,
    withdrawal_of,
)
from streams.engine.state import CaseState


@dataclass(slots=True)
class Correction:
    """What a late event changes of its case's alerts and facts."""

    withdrawals: list[Withdrawal] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)  # to raise: new, or revised (same id)
    facts: list[Fact] = field(default_factory=list)  # for the cross-case half, in order
    consistent: bool = True  # the run without the late event matched the state held


@dataclass(slots=True)
class CaseRun:
    """A case evaluated from its events, as replay would."""

    state: CaseState | None
    alerts: list[Alert]
    facts: list[Fact]


def evaluate_case(
    config: SupervisionConfig, key: str, events: list[Event], until: int | None
) -> CaseRun:
    """The case ``key`` evaluated from ``events`` (arrival order; ordered here by
    ``occurred_at``, stable), its timed alerts fired up to ``until`` too. An event id
    seen again is ignored (the first wins)."""
    engine = CaseEngine(config, track_changes=False)
    alerts: list[Alert] = []
    facts: list[Fact] = []
    for event in sorted(events, key=_instant):
        alerts.extend(engine.advance_case(key, event.occurred_at))
        engine.process_into(event, alerts, facts)
    if until is not None:
        alerts.extend(engine.advance_case(key, until))
    return CaseRun(engine.states.get(key), alerts, facts)


def _instant(event: Event) -> int:
    return event.occurred_at


def correct_case(
    cases: CaseEngine, late: Event, stored: list[Event], now: int, arrived_at: int | None = None
) -> Correction:
    """Correct the case of ``late`` (late for it: ``cases.is_late``), given the case's
    other events ``stored`` in arrival order. ``now``: the processing time (the
    withdrawals' ``withdrawn_at``); ``arrived_at``: when ``late`` arrived (default: its
    ``arrived_at``, else 0: not known)."""
    if arrived_at is None:
        arrived_at = late.arrived_at if late.arrived_at is not None else 0
    key = late.process + "|" + late.case_id
    held = cases.states[key]
    until = max(
        held.evaluated_to if held.evaluated_to is not None else held.updated_at,
        held.closed_at or 0,
        max((e.occurred_at for e in stored), default=0),
    )
    before = evaluate_case(cases.config, key, stored, until)
    after = evaluate_case(cases.config, key, [*stored, late], until)
    assert after.state is not None
    out = Correction(consistent=_matches(before.state, held))
    cases.replace(key, after.state)

    # a fact's stored form (``Fact.cause``)
    cause: list[Any] = [late.event_id, late.occurred_at, arrived_at, late.reported_at or 0]
    by = [LateInput(late.event_id, late.occurred_at, late.reported_at, arrived_at)]
    was = {alert.alert_id: alert for alert in before.alerts}
    now_raised = {alert.alert_id for alert in after.alerts}
    for alert in before.alerts:
        if alert.alert_id not in now_raised:
            out.withdrawals.append(withdrawal_of(alert, now, WITHDRAWN_LATE_INPUT, by))
    out.alerts = [a for a in after.alerts if was.get(a.alert_id) != a]

    old_facts = {_fact_id(f): f for f in before.facts}
    new_ids = set()
    for fact in after.facts:
        ident = _fact_id(fact)
        new_ids.add(ident)
        previous = old_facts.get(ident)
        if previous is None or not previous.same(fact):
            if fact.event_id == late.event_id:
                fact.arrived_at = arrived_at
                fact.reported_at = late.reported_at or 0
            else:
                fact.cause = cause
            out.facts.append(fact)
    for ident, fact in old_facts.items():
        if ident not in new_ids:
            fact.retracted = True
            fact.cause = cause
            out.facts.append(fact)
    return out


def _fact_id(fact: Fact) -> tuple[str, str, str]:
    return fact.key, fact.event_id, fact.kind


def _matches(run: CaseState | None, held: CaseState) -> bool:
    """Whether the case evaluated without the late event is the state held: what it
    raised, its clocks and its next timer (else its stored events or state are not what
    the engine evaluated, and the withdrawals may miss what it raised)."""
    if run is None:
        return False
    return (
        run.raised == held.raised
        and run.fired == held.fired
        and run.seen == held.seen
        and run.terminal == held.terminal
        and run.last == held.last
        and run.next_at == held.next_at
    )
