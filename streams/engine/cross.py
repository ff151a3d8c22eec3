"""The cross-case half of the engine: facts per comparison key, windows, expiry.

| key                                | rule                    | judged by                          |
| ---------------------------------- | ----------------------- | ---------------------------------- |
| ``plan|<plan_id>``                 | UNAUTHORIZED_INSPECTION | ``inspections.judge_plan_check``   |
| ``dup|<program>|<payee>|<amount>`` | DUPLICATE_DISBURSEMENT  | ``funds.duplicate_disbursement``   |
| ``split|<dept>|<winner>``          | SPLIT_PURCHASE          | ``trading.split_purchase``         |
| ``ent|<enterprise_id>``            | FREQUENT_INSPECTION     | ``inspections.frequent_inspection``|

(``rules.CROSS_RULES``; the facts are emitted by the same modules.) Each key
also remembers which cases it raised an alert for (once per case, ever, until
the key itself expires). Facts reach ``process`` in ``occurred_at`` order per
key (offline replay does that by construction; the live service waits until
every source partition has been read up to the fact's instant); one that comes
later than that is corrected through the key's fact log (``crosslog``, kept
when ``log`` is on: the live service). Windows expire, so memory is bounded by
the facts inside each rule's window (the log: two windows; plans: a retention).
"""

from __future__ import annotations

import heapq
from typing import Any

import orjson

from streams.engine.config import SupervisionConfig
from streams.engine.crosslog import FactLog, judge_fact
from streams.engine.facts import Fact, amount_key
from streams.engine.model import Alert, Withdrawal
from streams.engine.rules import CROSS_RULES
from streams.engine.rules.context import CrossRule, RuleContext
from streams.engine.timeutil import HOUR_US

__all__ = ["CrossEngine", "Fact", "amount_key"]


class CrossEngine:
    """Evaluates facts per comparison key; state is a small list per key."""

    def __init__(
        self, config: SupervisionConfig, *, track_changes: bool = True, log: bool | None = None
    ) -> None:
        """``track_changes``: record changed keys for ``export_dirty`` (the live service).
        ``log``: keep each key's fact log, so that late facts are corrected (``crosslog``;
        default: as ``track_changes``). Replay feeds facts in order and needs none."""
        self.config = config
        self.track_changes = track_changes
        self.ctx = RuleContext(config)
        self.facts: FactLog | None = (
            FactLog(self.ctx) if (track_changes if log is None else log) else None
        )
        self.states: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()
        # (instant after which the key may be forgotten, key)
        self._expiry: list[tuple[int, str]] = []
        self._rules: dict[str, CrossRule] = dict(CROSS_RULES)
        self._windows: dict[str, int] = {
            kind: config.param(rule.rule, rule.window_param) * HOUR_US
            for kind, rule in CROSS_RULES.items()
        }
        self._prefixes: list[tuple[str, int]] = [(k + "|", w) for k, w in self._windows.items()]

    # ------------------------------------------------------------------ state
    def export_dirty(self) -> dict[str, bytes | None]:
        if not self.track_changes:
            raise RuntimeError("this CrossEngine does not track changes (track_changes=False)")
        out: dict[str, bytes | None] = {}
        for key in self._dirty:
            state = self.states.get(key)
            out[key] = orjson.dumps(state) if state is not None else None
        self._dirty.clear()
        return out

    def load(self, key: str, blob: bytes | None) -> None:
        if blob is None:
            self.states.pop(key, None)
        else:
            state = orjson.loads(blob)
            self.states[key] = state
            self._schedule_expiry(key, state)

    def _window_of(self, key: str) -> int:
        """The window of a key's rule, from the key's kind (the text before the first "|")."""
        for prefix, window in self._prefixes:
            if key.startswith(prefix):
                return window
        raise KeyError(key.split("|", 1)[0])

    def _schedule_expiry(self, key: str, state: dict[str, Any]) -> None:
        if state["entries"]:
            window = self._window_of(key)
            heapq.heappush(self._expiry, (state["entries"][-1][0] + window, key))

    def expired(self, key: str, occurred_at: int, now: int) -> bool:
        """Whether a fact of ``key`` at ``occurred_at`` is out of its window once time is ``now``
        (``expire(now)`` forgets a key whose newest fact is)."""
        return occurred_at + self._window_of(key) < now

    def expire(self, now: int) -> int:
        """Forget keys whose newest fact fell out of its window; returns how many."""
        gone = 0
        heap = self._expiry
        while heap and heap[0][0] < now:
            _, key = heapq.heappop(heap)
            state = self.states.get(key)
            if state is None or not state["entries"]:
                continue
            if state["entries"][-1][0] + self._window_of(key) < now:
                del self.states[key]
                if self.track_changes:
                    self._dirty.add(key)
                gone += 1
            else:
                self._schedule_expiry(key, state)
        return gone

    # ------------------------------------------------------------------ facts
    def process(self, fact: Fact, now: int = 0) -> list[Alert]:
        """Judge ``fact`` with its key's rule (and remember it for the facts after it).

        With a fact log, a late, revised or retracted fact is a correction (``crosslog``):
        the alerts returned are those raised now, the withdrawals wait in
        ``take_withdrawals`` (``now``: the processing time they carry)."""
        kind = fact.key.split("|", 1)[0]
        rule = self._rules[kind]
        state = self.states.get(fact.key)
        if state is None:
            state = {"entries": [], "raised": []}
            self.states[fact.key] = state
        if self.track_changes:
            self._dirty.add(fact.key)
        count = len(state["entries"])
        log = self.facts
        corrected = log.corrected if log is not None else 0
        if log is not None:
            alerts = log.apply(rule, self._windows[kind], state, fact, now)
        else:
            alerts = judge_fact(self.ctx, rule, self._windows[kind], state, fact)
        entries: list[list[Any]] = state["entries"]
        if (
            (log is not None and log.corrected != corrected)  # its entries were rebuilt
            or (rule.sliding and len(entries) == 1)
            or (not rule.sliding and len(entries) > count)
        ):
            self._schedule_expiry(fact.key, state)
        return alerts

    def take_withdrawals(self) -> list[Withdrawal]:
        """The withdrawals of the corrections made since last asked (rules.md §1.4)."""
        return self.facts.take_withdrawals() if self.facts is not None else []
