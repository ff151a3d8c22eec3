"""The supervision engine: events in, alerts out. Pure: no I/O, no clock reads.

``Engine`` joins the per-case half (``CaseEngine``) and the cross-case half
(``CrossEngine``) for callers that see every event in one process (replay,
tests, one-worker deployments). The live service drives the halves
separately so that each can sit on the partition that owns its key.

Time moves only when the caller says so: ``advance(T)`` raises the timed
alerts with instant <= T. Replay calls ``advance(e.occurred_at)`` before each
event (an alert at instant T is decided on the events before T) and
``advance(as_of)`` at the end; ``feed`` does the first for you.
"""

from __future__ import annotations

from streams.engine.cases import CaseEngine, PendingCase
from streams.engine.config import SupervisionConfig
from streams.engine.cross import CrossEngine, Fact
from streams.engine.model import Alert, CaseStatus, Event
from streams.engine.timeutil import DAY_US


class Engine:
    def __init__(
        self, config: SupervisionConfig, *, track_changes: bool = True, event_ids: bool = True
    ) -> None:
        """The switches are ``CaseEngine``'s: replay turns both off, the live service neither."""
        self.config = config
        self.cases = CaseEngine(config, track_changes=track_changes, event_ids=event_ids)
        self.cross = CrossEngine(config, track_changes=track_changes)
        self._raised: set[str] = set()
        self._next_expiry: int | None = None

    def _keep_unseen(self, alerts: list[Alert], start: int) -> None:
        """Drop from ``alerts[start:]`` the alerts raised before: each alert at most once
        (cross-case rules may see one case through two keys)."""
        raised = self._raised
        kept = start
        for i in range(start, len(alerts)):
            alert = alerts[i]
            if alert.alert_id not in raised:
                raised.add(alert.alert_id)
                alerts[kept] = alert
                kept += 1
        del alerts[kept:]

    def advance(self, until: int) -> list[Alert]:
        if self._next_expiry is None:
            self._next_expiry = until + DAY_US
        elif until >= self._next_expiry:
            self.cross.expire(until)
            self.cases.evict(until)
            self._next_expiry = until + DAY_US
        alerts: list[Alert] = []
        self.cases.advance_into(until, alerts)
        self._keep_unseen(alerts, 0)
        return alerts

    def process(self, event: Event) -> list[Alert]:
        alerts: list[Alert] = []
        facts: list[Fact] = []
        self.cases.process_into(event, alerts, facts)
        for fact in facts:
            alerts.extend(self.cross.process(fact))
        self._keep_unseen(alerts, 0)
        return alerts

    def feed(self, event: Event) -> list[Alert]:
        """``advance(event.occurred_at)`` then ``process(event)``: the replay step."""
        alerts: list[Alert] = []
        self._feed_into(event, alerts, [])
        return alerts

    def _feed_into(self, event: Event, alerts: list[Alert], facts: list[Fact]) -> None:
        """``feed``, appending to ``alerts``; ``facts`` is scratch space (left empty)."""
        start = len(alerts)
        now = event.occurred_at
        first = self.cases.first_instant()
        if first is not None and first <= now:
            self.cases.advance_into(now, alerts)
        if self._next_expiry is None or now >= self._next_expiry:
            if self._next_expiry is not None:
                self.cross.expire(now)
                self.cases.evict(now)  # terminal cases past their retention
            self._next_expiry = now + DAY_US
        self.cases.process_into(event, alerts, facts)
        if facts:
            for fact in facts:
                alerts.extend(self.cross.process(fact))
            facts.clear()
        if len(alerts) > start:
            self._keep_unseen(alerts, start)

    def feed_popped(self, stack: list[Event], count: int) -> list[Alert]:
        """``feed`` up to ``count`` events popped off the end of ``stack``; their alerts in order.

        For callers holding many events: each is released once fed, so the engine's own
        allocations reuse its memory instead of growing the process.
        """
        alerts: list[Alert] = []
        facts: list[Fact] = []
        for _ in range(min(count, len(stack))):
            self._feed_into(stack.pop(), alerts, facts)
        return alerts

    def next_timer(self) -> int | None:
        return self.cases.next_timer()

    def pending_calendar(self) -> dict[int, int]:
        """Cases waiting for a year without calendar data, per year (rules.md §1.5)."""
        return self.cases.pending_calendar()

    def pending_cases(self) -> list[PendingCase]:
        """The cases waiting for calendar years: what waits, which years."""
        return self.cases.pending_cases()

    def take_case_updates(self) -> list[CaseStatus]:
        return self.cases.take_status()
