"""The live service's use of the engine, in memory: arrival order, horizon, fact gate.

``LiveSim`` drives the two halves of the engine as the live service does
(``streams.live.processor``): each event is evaluated with its case when it
arrives, after its case's timed alerts up to its instant; the other cases'
timed alerts and the cross-case facts wait for the horizon (``tick``; facts
strictly before it, in the fact gate's order: ``horizon.fact_order_key``, then
arrival as the facts partition's offset). Stored events are a list per case (the
live service: the ``events`` table); alerts and withdrawals are records keyed by ``alert_id``,
the last one wins (the ``supervision.alerts`` topic and table).

``corrections=False`` is the path before corrections existed: a late event is
evaluated like any other, and a fact older than the newest applied at its key
is dropped as a duplicate (the fact partition's marker). The tests run both,
so that each scenario shows the old path wrong and the new one equal to replay.
"""

from __future__ import annotations

import heapq
from typing import Any

import orjson

from streams.engine import CaseEngine, CrossEngine, EventValidator, SupervisionConfig, load_config
from streams.engine.alerts import alert_to_dict
from streams.engine.corrections import correct_case
from streams.engine.facts import Fact
from streams.engine.model import Alert, Event, Withdrawal
from streams.engine.timeutil import parse_instant
from streams.live.horizon import fact_order_key

CONFIG = load_config()
_VALIDATOR = EventValidator()


def parse(event: dict[str, Any]) -> Event:
    return _VALIDATOR.parse(orjson.dumps(event))


def instant(text: str) -> int:
    if "+" not in text and not text.endswith("Z"):
        text += "+08:00"
    return parse_instant(text)


class LiveSim:
    def __init__(self, config: SupervisionConfig = CONFIG, *, corrections: bool = True) -> None:
        self.config = config
        self.corrections = corrections
        self.cases = CaseEngine(config)
        self.cross = CrossEngine(config, log=corrections)
        self.stored: dict[str, list[Event]] = {}
        self.records: dict[str, Alert] = {}
        self.withdrawn: dict[str, Withdrawal] = {}
        self.history: list[tuple[str, str]] = []  # ("raise" | "withdraw", alert_id), in order
        self.horizon: int | None = None
        self._gate: list[tuple[tuple[int, bytes], int, Fact]] = []
        self._seq = 0
        self._marker: dict[str, int] = {}  # corrections=False: newest fact applied per key
        self.late_events = 0
        self.dropped_facts = 0

    # ------------------------------------------------------------------ records
    def _raise(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self.records[alert.alert_id] = alert
            self.withdrawn.pop(alert.alert_id, None)
            self.history.append(("raise", alert.alert_id))

    def _withdraw(self, withdrawals: list[Withdrawal]) -> None:
        for w in withdrawals:
            self.withdrawn[w.alert.alert_id] = w
            self.history.append(("withdraw", w.alert.alert_id))

    def active(self) -> list[dict[str, Any]]:
        """The alerts not withdrawn, as users read them (events.md JSON form), by id."""
        local = self.config.local
        return sorted(
            (alert_to_dict(a, local) for i, a in self.records.items() if i not in self.withdrawn),
            key=lambda a: a["alert_id"],
        )

    def restart(self) -> None:
        """A worker restarted: both halves loaded from their stored form (the changelogs)."""
        cases = CaseEngine(self.config)
        for key, state in self.cases.states.items():
            cases.load(key, state.to_bytes())
        cross = CrossEngine(self.config, log=self.corrections)
        for key, blob in self.cross.states.items():
            cross.load(key, orjson.dumps(blob))
        self.cases, self.cross = cases, cross

    # ------------------------------------------------------------------ input
    def arrive(self, event: Event, now: int) -> None:
        """``event`` read at processing time ``now`` (also its arrival)."""
        key = event.process + "|" + event.case_id
        stored = self.stored.setdefault(key, [])
        if any(e.event_id == event.event_id for e in stored):
            return  # read again: the first wins
        if self.corrections and self.cases.is_late(event):
            self.late_events += 1
            fix = correct_case(self.cases, event, stored, now, now)
            self._withdraw(fix.withdrawals)
            self._raise(fix.alerts)
            facts = fix.facts
        else:
            self._raise(self.cases.advance_case(key, event.occurred_at))
            alerts, facts = self.cases.process(event)
            self._raise(alerts)
            for fact in facts:
                fact.arrived_at = now
        stored.append(event)
        for fact in facts:
            self._seq += 1
            heapq.heappush(self._gate, (fact_order_key(fact), self._seq, fact))
        self._release(now)

    def tick(self, horizon: int, now: int) -> None:
        """The partitions count as consumed up to ``horizon`` (exclusive for facts)."""
        if self.horizon is None or horizon > self.horizon:
            self.horizon = horizon
        self._raise(self.cases.advance(self.horizon))
        self._release(now)

    def _release(self, now: int) -> None:
        gate = self._gate
        while gate and self.horizon is not None and gate[0][0][0] < self.horizon:
            fact = heapq.heappop(gate)[2]
            if not self.corrections:
                newest = self._marker.get(fact.key)
                if newest is not None and fact.occurred_at < newest:
                    self.dropped_facts += 1  # the old path: "a duplicate"
                    continue
                self._marker[fact.key] = fact.occurred_at
            self._raise(self.cross.process(fact, now))
            self._withdraw(self.cross.take_withdrawals())

    def run(self, arrivals: list[tuple[Event, int]], until: int, restart_every: int = 0) -> None:
        """Each event at its processing time, the horizon following event time (the newest
        instant read); then the horizon to ``until`` (and the gate emptied). With
        ``restart_every``, the worker restarts from its stored states that often."""
        newest: int | None = None
        for n, (event, now) in enumerate(arrivals, 1):
            if restart_every and n % restart_every == 0:
                self.restart()
            self.arrive(event, now)
            if newest is None or event.occurred_at > newest:
                newest = event.occurred_at
                self.tick(newest, now)
        last_now = arrivals[-1][1] if arrivals else 0
        self.tick(until, last_now)
        self.tick(until + 1, last_now)  # facts at ``until`` itself


def replayed(
    events: list[dict[str, Any]], as_of: int, config: SupervisionConfig = CONFIG
) -> list[dict[str, Any]]:
    """Replay's alerts as of ``as_of`` (the official result), by id."""
    from streams.replay import replay

    out: list[dict[str, Any]] = []
    replay(
        [orjson.dumps(e) for e in events],
        config,
        lambda a: out.append(alert_to_dict(a, config.local)),
        lambda r: None,
        as_of=as_of,
    )
    return sorted(out, key=lambda a: a["alert_id"])
