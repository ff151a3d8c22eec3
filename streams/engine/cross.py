"""Rules that look across cases, keyed by what they compare.

| key                         | rule                     | facts                               |
| --------------------------- | ------------------------ | ----------------------------------- |
| ``plan|<plan_id>``          | UNAUTHORIZED_INSPECTION  | plan events; inspection starts      |
| ``dup|<program>|<payee>|<amount>`` | DUPLICATE_DISBURSEMENT | disbursements                  |
| ``split|<dept>|<winner>``   | SPLIT_PURCHASE           | direct / single-source awards       |
| ``ent|<enterprise_id>``     | FREQUENT_INSPECTION      | non-exempt inspection starts        |

Each key also remembers which cases it raised an alert for (once per case, ever,
until the key itself expires). Facts must reach ``process`` in ``occurred_at`` order per key (offline replay
does that by construction; the live service waits until every source
partition has been read up to the fact's instant). Windows expire, so memory
is bounded by the facts inside each rule's window (plans: a retention).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from streams.engine.alerts import make_alert
from streams.engine.config import SupervisionConfig
from streams.engine.model import RED, YELLOW, Alert
from streams.engine.timeutil import HOUR_US

_CENT = Decimal("0.01")


def amount_key(amount: Decimal) -> str:
    """A canonical text for an amount (two decimals), so equal amounts compare equal."""
    return str(amount.quantize(_CENT))


@dataclass(slots=True, init=False)  # its own __init__ compiles (see model.Event)
class Fact:
    """Something one case did that another case's rule compares against."""

    key: str
    occurred_at: int
    kind: str  # plan | check | disburse | award | start
    data: dict[str, Any]
    event_id: str
    case_id: str
    dept: str
    may_alert: bool  # False when the case had already ended: counts, but raises nothing
    seq: int  # evaluation order among equal instants (set by the router)

    def __init__(
        self,
        key: str,
        occurred_at: int,
        kind: str,
        data: dict[str, Any],
        event_id: str,
        case_id: str,
        dept: str,
        may_alert: bool = True,
        seq: int = 0,
    ) -> None:
        self.key = key
        self.occurred_at = occurred_at
        self.kind = kind
        self.data = data
        self.event_id = event_id
        self.case_id = case_id
        self.dept = dept
        self.may_alert = may_alert
        self.seq = seq

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            [
                self.key,
                self.occurred_at,
                self.kind,
                self.data,
                self.event_id,
                self.case_id,
                self.dept,
                self.may_alert,
                self.seq,
            ]
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> Fact:
        return cls(*orjson.loads(blob))


class CrossEngine:
    """Evaluates facts per comparison key; state is a small list per key."""

    def __init__(self, config: SupervisionConfig, *, track_changes: bool = True) -> None:
        """``track_changes``: record changed keys for ``export_dirty`` (the live service)."""
        self.config = config
        self.track_changes = track_changes
        self.local = config.local
        self.states: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()
        self._expiry: list[
            tuple[int, str]
        ] = []  # (instant after which the key may be forgotten, key)
        self._windows = {
            "dup": config.param("DUPLICATE_DISBURSEMENT", "window_hours") * HOUR_US,
            "split": config.param("SPLIT_PURCHASE", "window_hours") * HOUR_US,
            "ent": config.param("FREQUENT_INSPECTION", "window_hours") * HOUR_US,
            "plan": config.param("UNAUTHORIZED_INSPECTION", "plan_retention_hours") * HOUR_US,
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
    def process(self, fact: Fact) -> list[Alert]:
        kind = fact.key.split("|", 1)[0]
        state = self.states.get(fact.key)
        if state is None:
            state = {"entries": [], "raised": []}
            self.states[fact.key] = state
        if self.track_changes:
            self._dirty.add(fact.key)
        if kind == "plan":
            alerts = self._plan(state, fact)
            if fact.kind == "plan":
                self._schedule_expiry(fact.key, state)
            return alerts
        entries: list[list[Any]] = state["entries"]
        horizon = fact.occurred_at - self._windows[kind]
        if entries and entries[0][0] < horizon:
            # "raised" is kept until the whole key expires: a case raises a rule once, ever,
            # even when its earlier facts have left the window.
            entries[:] = [e for e in entries if e[0] >= horizon]
        if kind == "dup":
            alerts = self._duplicate(state, entries, fact)
        elif kind == "split":
            alerts = self._split(state, entries, fact)
        else:
            alerts = self._frequent(state, entries, fact)
        if len(entries) == 1:
            self._schedule_expiry(fact.key, state)
        return alerts

    def _raise_once(self, state: dict[str, Any], fact: Fact) -> bool:
        if not fact.may_alert or fact.case_id in state["raised"]:
            return False
        state["raised"].append(fact.case_id)
        return True

    def _alert(
        self,
        rule: str,
        level: str,
        process: str,
        fact: Fact,
        evidence: list[str],
        details: dict[str, Any],
    ) -> Alert:
        return make_alert(
            rule,
            level,
            process,
            fact.case_id,
            fact.dept,
            fact.occurred_at,
            evidence,
            details,
            self.config.version,
        )

    def _duplicate(
        self, state: dict[str, Any], entries: list[list[Any]], fact: Fact
    ) -> list[Alert]:
        others = [e for e in entries if e[1] != fact.case_id]
        entries.append([fact.occurred_at, fact.case_id, fact.event_id])
        if not others or not self._raise_once(state, fact):
            return []
        other = others[-1]
        details = {
            **fact.data,
            "other_case_id": other[1],
            "other_disbursed_at": self.local.format(other[0]),
            "window_hours": self.config.param("DUPLICATE_DISBURSEMENT", "window_hours"),
        }
        return [
            self._alert(
                "DUPLICATE_DISBURSEMENT",
                YELLOW,
                "fund_disbursement",
                fact,
                [fact.event_id, other[2]],
                details,
            )
        ]

    def _split(self, state: dict[str, Any], entries: list[list[Any]], fact: Fact) -> list[Alert]:
        entries.append([fact.occurred_at, fact.case_id, fact.event_id, fact.data["amount"]])
        total = sum((Decimal(e[3]) for e in entries), Decimal(0))
        threshold: Decimal = self.config.param("SPLIT_PURCHASE", "threshold")
        if total < threshold or not self._raise_once(state, fact):
            return []
        details = {
            "dept": fact.data["dept"],
            "winner": fact.data["winner"],
            "amount": fact.data["amount"],
            "total": str(total),
            "threshold": str(threshold),
            "window_hours": self.config.param("SPLIT_PURCHASE", "window_hours"),
            "awards": [
                {"case_id": e[1], "amount": e[3], "awarded_at": self.local.format(e[0])}
                for e in entries
            ],
        }
        return [
            self._alert("SPLIT_PURCHASE", RED, "tender", fact, [e[2] for e in entries], details)
        ]

    def _frequent(self, state: dict[str, Any], entries: list[list[Any]], fact: Fact) -> list[Alert]:
        entries.append([fact.occurred_at, fact.case_id, fact.event_id, fact.dept])
        minimum = self.config.param("FREQUENT_INSPECTION", "min_count")
        if len(entries) < minimum or not self._raise_once(state, fact):
            return []
        details = {
            "enterprise_id": fact.data["enterprise_id"],
            "count": len(entries),
            "window_hours": self.config.param("FREQUENT_INSPECTION", "window_hours"),
            "inspections": [
                {"case_id": e[1], "dept": e[3], "started_at": self.local.format(e[0])}
                for e in entries
            ],
        }
        return [
            self._alert(
                "FREQUENT_INSPECTION", YELLOW, "inspection", fact, [e[2] for e in entries], details
            )
        ]

    def _plan(self, state: dict[str, Any], fact: Fact) -> list[Alert]:
        entries: list[list[Any]] = state["entries"]
        if fact.kind == "plan":
            entries.append([fact.occurred_at, fact.data["action"], fact.event_id, fact.data])
            return []
        # An inspection start referencing this plan: judge on plan events strictly before it.
        before = [e for e in entries if e[0] < fact.occurred_at]
        approvals = [e for e in before if e[1] == "approve"]
        reason = None
        plan: dict[str, Any] = {}
        if not approvals:
            reason = "plan_not_approved"
        else:
            latest = approvals[0]
            for entry in approvals:  # the latest approve; among equal instants the one read last
                if entry[0] >= latest[0]:
                    latest = entry
            plan = latest[3]
            if any(e[1] == "revoke" for e in before):
                reason = "plan_revoked"
            elif plan.get("inspecting_dept") != fact.dept:
                reason = "dept_mismatch"
            elif fact.data["enterprise_id"] not in plan.get("enterprise_ids", []):
                reason = "enterprise_not_in_plan"
            elif not plan.get("valid_from", "") <= fact.data["date"] <= plan.get("valid_to", ""):
                reason = "outside_window"
        if reason is None or not self._raise_once(state, fact):
            return []
        details = {
            "reason": reason,
            "plan_id": fact.data["plan_id"],
            "enterprise_id": fact.data["enterprise_id"],
            "category": fact.data["category"],
        }
        if plan:
            details.update(
                inspecting_dept=plan.get("inspecting_dept"),
                valid_from=plan.get("valid_from"),
                valid_to=plan.get("valid_to"),
            )
        evidence = [fact.event_id] + [e[2] for e in approvals[-1:]]
        return [self._alert("UNAUTHORIZED_INSPECTION", RED, "inspection", fact, evidence, details)]
