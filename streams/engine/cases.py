"""Per-case rules: the case clock, step clocks, step order and the case-local rule packs.

State is one ``CaseState`` per case, keyed ``"process|case_id"``; it
serializes to bytes so the live service can keep it in a changelog-backed
table. Timed alerts come from ``advance(T)``, driven by the deadline index of
each case's next instant: no scan of open cases. Timed instants are local
midnights, so the index keeps a heap of the few distinct instants and, per
instant, the keys due then; it fires in (instant, key) order.

Facts that other cases' rules need (inspection plans, disbursements, direct
awards, inspection starts) leave as ``Fact`` records for ``CrossEngine``.
"""

from __future__ import annotations

import hashlib
import heapq
import sys
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import orjson

from streams.engine.alerts import make_alert
from streams.engine.config import SupervisionConfig, Template
from streams.engine.cross import Fact, amount_key
from streams.engine.model import NOTICE, RED, YELLOW, Alert, CaseStatus, Event
from streams.engine.timeutil import HOUR_US, format_date, parse_instant

# Bits of CaseState.raised for once-per-case rules.
_ONCE = {
    rule: 1 << i
    for i, rule in enumerate(
        (
            "LATE_EXTENSION",
            "UNAUTHORIZED_INSPECTION",
            "REFUSAL_WITHOUT_REASON",
            "REPEATED_SUPPLEMENT",
            "OVER_DISBURSEMENT",
            "PAYEE_MISMATCH",
            "SHORT_TENDER_PERIOD",
            "TOO_FEW_BIDS",
            "LATE_BID_AWARDED",
            "CONTRACT_EXCEEDS_AWARD",
            "CONTRACT_SUPPLIER_MISMATCH",
            "QUIET_DAY_INSPECTION",
        )
    )
}
_SKIP_SHIFT = 32  # SKIPPED_STEP raised for action i: bit 32 + i
_STEP_SHIFT = 96  # STEP_OVERDUE raised for step clock j: bit 96 + j
_LEVEL_BITS = {NOTICE: 1, YELLOW: 2, RED: 4}
_CARD_RANK = {"": 0, NOTICE: 1, YELLOW: 2, RED: 3}
_MAX_CLOCK_EVIDENCE = 16
_EMPTY: dict[str, Any] = {}


def to_decimal(value: Any) -> Decimal:
    """An amount of the contract (number or decimal string) as an exact Decimal.

    A JSON number arrives as a float; its shortest repr is the decimal it was
    written as (the contract allows at most 15 significant digits).
    """
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def event_hash(event_id: str) -> bytes:
    return hashlib.blake2b(event_id.encode("utf-8"), digest_size=8).digest()


# CaseState's attributes, in their serialized order (``to_bytes``).
STATE_FIELDS = (
    "process",
    "dept",
    "seen",
    "terminal",
    "terminal_action",
    "closed_at",
    "last",
    "limit_days",
    "started_at",
    "paused_since",
    "pause_shifts",
    "not_before",
    "fired",
    "clock_evidence",
    "steps",
    "raised",
    "facts",
    "ids",
    "next_at",
    "version",
    "card",
    "updated_at",
    "deadline_at_close",
)


class CaseState:
    """Everything the rules remember about one case. Small: ~0.5 KB for an open case."""

    __slots__ = (*STATE_FIELDS, "key")  # the key is not serialized: the store has it

    def __init__(self, process: str, dept: str, key: str = "") -> None:
        self.key = key  # "process|case_id", for the deadline index
        self.process = process
        self.dept = dept
        self.seen = 0
        self.terminal = False
        self.terminal_action: str | None = None
        self.closed_at: int | None = None
        self.last: int | None = None  # last working day (date ordinal) of the case clock
        self.limit_days = 0
        self.started_at: int | None = None
        self.paused_since: int | None = None
        self.pause_shifts = False
        self.not_before = 0
        self.fired = 0
        self.clock_evidence: list[str] | None = None
        self.steps: list[list[Any]] | None = None  # [clock index, instant, dept, event_id]
        self.raised = 0
        self.facts: dict[str, Any] | None = None
        self.ids = b""
        self.next_at: int | None = None
        self.version = 0
        self.card = ""
        self.updated_at = 0
        self.deadline_at_close: int | None = None

    def seen_event(self, digest: bytes) -> bool:
        ids = self.ids
        start = ids.find(digest)
        while start != -1:
            if start % 8 == 0:
                return True
            start = ids.find(digest, start + 1)
        return False

    def to_bytes(self) -> bytes:
        values = [getattr(self, name) for name in STATE_FIELDS]
        values[_IDS] = self.ids.hex()
        values[_RAISED] = format(self.raised, "x")  # may exceed 64 bits
        return orjson.dumps(values)

    @classmethod
    def from_bytes(cls, blob: bytes) -> CaseState:
        values = orjson.loads(blob)
        if len(values) != len(STATE_FIELDS):
            raise ValueError(f"case state has {len(values)} fields, expected {len(STATE_FIELDS)}")
        values[_IDS] = bytes.fromhex(values[_IDS])
        values[_RAISED] = int(values[_RAISED], 16)
        state = cls("", "")
        for name, value in zip(STATE_FIELDS, values, strict=True):
            setattr(state, name, value)
        state.process = sys.intern(state.process)
        state.dept = sys.intern(state.dept)
        return state


_CLOCK_ACTIONS = frozenset(
    {"suspend", "resume", "supplement_request", "supplement_received", "extend"}
)
_RULE_PROCESSES = frozenset(
    {"approval", "fund_disbursement", "tender", "inspection", "inspection_plan"}
)
_FACT_PROCESSES = frozenset({"fund_disbursement", "tender", "inspection", "inspection_plan"})


@dataclass(frozen=True, slots=True)
class _ActionPlan:
    template: Template
    bit: int
    check_order: bool
    clock_action: bool
    steps: bool
    rules: bool
    facts_when_ended: bool
    capture: tuple[str, ...]
    terminal: bool
    timers: bool


def _armed_at(state: CaseState) -> int | None:
    return state.next_at


def _key_of(state: CaseState) -> str:
    return state.key


_IDS = STATE_FIELDS.index("ids")
_RAISED = STATE_FIELDS.index("raised")


class CaseEngine:
    """Per-case evaluation and the deadline index.

    ``track_changes`` records which states and statuses changed, for
    ``export_dirty`` and ``take_status`` (the live service persists them).
    ``event_ids`` remembers each case's event ids so that an event read twice
    is a no-op (the live service re-reads after a crash). Offline replay
    persists nothing and de-duplicates event ids before the engine: it turns
    both off.
    """

    def __init__(
        self, config: SupervisionConfig, *, track_changes: bool = True, event_ids: bool = True
    ) -> None:
        self.config = config
        self.track_changes = track_changes
        self.event_ids = event_ids
        self.cal = config.calendar
        self.local = config.local
        self.states: dict[str, CaseState] = {}
        # The deadline index: the states due at each instant. An entry whose case has moved on
        # (next_at differs; a state replaced by load() has none) is stale and skipped. While
        # advance() fires a case at an instant, re-arming it at that same instant is left to
        # advance() (_firing, _firing_state).
        self._instants: list[int] = []  # heap of the instants that have entries
        self._due_at: dict[int, list[CaseState]] = {}  # instant -> states of the cases due then
        self._firing = -1
        self._firing_state: CaseState | None = None
        self._dirty: set[str] = set()
        self._status_dirty: set[str] = set()
        self._on = config.enabled
        self._red_k = config.red_after_working_days
        self._exempt = config.exempt_categories
        self._plans: dict[str, dict[str, _ActionPlan]] = {}  # process -> action -> plan
        self.open_count = 0  # cases without a terminal event
        self.timer_count = 0  # cases with a pending timed alert
        self.duplicate_count = 0  # events ignored: their case had seen their event_id

    # ------------------------------------------------------------------ state
    def open_cases(self) -> int:
        return self.open_count

    def pending_timers(self) -> int:
        """Cases with a timed alert still to come."""
        return self.timer_count

    def next_timer(self) -> int | None:
        instants = self._instants
        while instants:
            instant = instants[0]
            due = self._due_at[instant]
            while due:
                if due[-1].next_at == instant:
                    return instant
                due.pop()  # stale entry
            heapq.heappop(instants)
            del self._due_at[instant]
        return None

    def _index(self, instant: int, state: CaseState) -> None:
        """Add (instant, state) to the deadline index."""
        if instant == self._firing and state is self._firing_state:
            return  # advance() fires this case again at this instant
        due = self._due_at.get(instant)
        if due is None:
            self._due_at[instant] = [state]
            heapq.heappush(self._instants, instant)
        else:
            due.append(state)

    def first_instant(self) -> int | None:
        """The earliest instant in the deadline index (its entries may all be stale)."""
        return self._instants[0] if self._instants else None

    def index_entries(self) -> list[tuple[int, str]]:
        """Every (instant, key) of the deadline index, stale ones included (for measurements)."""
        return [(instant, state.key) for instant, due in self._due_at.items() for state in due]

    def export_dirty(self) -> dict[str, bytes | None]:
        if not self.track_changes:
            raise RuntimeError("this CaseEngine does not track changes (track_changes=False)")
        out: dict[str, bytes | None] = {}
        for key in self._dirty:
            state = self.states.get(key)
            out[key] = state.to_bytes() if state is not None else None
        self._dirty.clear()
        return out

    def load(self, key: str, blob: bytes | None) -> None:
        """Install a stored case state (or drop it, for None) and index its next timer."""
        old = self.states.pop(key, None)
        if old is not None:
            self.open_count -= not old.terminal
            self.timer_count -= old.next_at is not None
            old.next_at = None  # its index entries are stale now
        if blob is None:
            return
        state = CaseState.from_bytes(blob)
        state.key = key
        self.states[key] = state
        self.open_count += not state.terminal
        if state.next_at is not None:
            self.timer_count += 1
            self._index(state.next_at, state)

    def take_status(self) -> list[CaseStatus]:
        if not self.track_changes:
            raise RuntimeError("this CaseEngine does not track changes (track_changes=False)")
        out = []
        for key in self._status_dirty:
            state = self.states.get(key)
            if state is not None:
                out.append(self.status_of(key, state))
        self._status_dirty.clear()
        return out

    def status_of(self, key: str, state: CaseState) -> CaseStatus:
        deadline = self.local.end_of(state.last) if state.last is not None else None
        on_time = None
        if state.terminal and state.deadline_at_close is not None and state.closed_at is not None:
            on_time = state.closed_at < state.deadline_at_close
        return CaseStatus(
            process=state.process,
            case_id=key[len(state.process) + 1 :],
            dept=state.dept,
            started_at=state.started_at,
            deadline=deadline,
            terminal=state.terminal,
            terminal_action=state.terminal_action,
            closed_at=state.closed_at,
            card_level=state.card,
            updated_at=state.updated_at,
            version=state.version,
            completed_on_time=on_time,
        )

    def _touch(self, key: str, state: CaseState, when: int, status: bool) -> None:
        if status:
            state.version += 1
            if when > state.updated_at:
                state.updated_at = when
            if self.track_changes:
                self._status_dirty.add(key)
        if self.track_changes:
            self._dirty.add(key)

    # ------------------------------------------------------------------ alerts
    def _alert(
        self,
        rule: str,
        level: str,
        key: str,
        state: CaseState,
        dept: str,
        raised_at: int,
        evidence: list[str],
        details: dict[str, Any],
        discriminator: str = "",
    ) -> Alert:
        return make_alert(
            rule,
            level,
            state.process,
            key[len(state.process) + 1 :],
            dept,
            raised_at,
            evidence,
            details,
            self.config.version,
            discriminator,
        )

    # ------------------------------------------------------------------ time
    def _deadline(self, state: CaseState) -> int:
        assert state.last is not None
        return self.local.end_of(state.last)

    def _level_instant(self, state: CaseState, level: str) -> int:
        assert state.last is not None
        if level == NOTICE:
            return self.local.start_of(state.last)
        if level == YELLOW:
            return self.local.end_of(state.last)
        return self.local.end_of(self.cal.wd_after(state.last, self._red_k))

    def _due(self, state: CaseState) -> tuple[int, str, Any] | None:
        """The earliest timed alert this case can still raise: (instant, kind, detail)."""
        if state.terminal or state.paused_since is not None:
            return None
        best: tuple[int, str, Any] | None = None
        if state.last is not None and "OVERDUE" in self._on:
            for level in (NOTICE, YELLOW, RED):
                if state.fired & _LEVEL_BITS[level]:
                    continue
                instant = self._level_instant(state, level)
                if instant > state.not_before:
                    best = (instant, "overdue", level)
                    break
        if state.steps and "STEP_OVERDUE" in self._on:
            for step in state.steps:
                if step[1] > state.not_before and (best is None or step[1] < best[0]):
                    best = (step[1], "step", step)
        return best

    def _reschedule(self, key: str, state: CaseState) -> None:
        due = self._due(state)
        instant = due[0] if due is not None else None
        if instant != state.next_at:
            self.timer_count += (instant is not None) - (state.next_at is not None)
            state.next_at = instant
            if instant is not None:
                self._index(instant, state)

    def advance(self, until: int) -> list[Alert]:
        """Raise every timed alert with instant <= ``until``, in (instant, key) order."""
        alerts: list[Alert] = []
        self.advance_into(until, alerts)
        return alerts

    def advance_into(self, until: int, alerts: list[Alert]) -> None:
        """``advance``, appending the alerts to ``alerts``."""
        instants = self._instants
        while instants and instants[0] <= until:
            instant = heapq.heappop(instants)
            due = self._due_at.pop(instant)
            due.sort(key=_key_of)  # (instant, key) order
            self._firing = instant
            done = 0
            try:
                for state in due:
                    done += 1
                    if state.next_at != instant:
                        continue  # stale index entry
                    self._firing_state = state
                    self._fire_due(state.key, state, instant, alerts)
                    # Re-armed at this same instant (another clock)? Read through a call: mypy
                    # would keep next_at narrowed to this instant across _fire_due.
                    while _armed_at(state) == instant:
                        self._fire_due(state.key, state, instant, alerts)
            except BaseException:
                # An error stopped this instant: keep the rest indexed, the failed case too
                # (it may be re-armed here; a stale entry is skipped).
                self._firing = -1
                self._firing_state = None
                for state in due[max(done - 1, 0) :]:
                    self._index(instant, state)
                raise
            finally:
                self._firing = -1
                self._firing_state = None

    def advance_case(self, key: str, until: int) -> list[Alert]:
        """Raise the timed alerts of one case with instant <= ``until``.

        For callers that know one case's stream has reached ``until`` while the
        rest of the index has not. The heap entry left behind goes stale and
        ``advance`` skips it.
        """
        state = self.states.get(key)
        alerts: list[Alert] = []
        while state is not None and state.next_at is not None and state.next_at <= until:
            self._fire_due(key, state, state.next_at, alerts)
        return alerts

    def _fire_due(self, key: str, state: CaseState, instant: int, alerts: list[Alert]) -> None:
        """The timer of ``state`` at ``instant`` is due: raise what is still due, re-arm."""
        due = self._due(state)
        state.next_at = None
        self.timer_count -= 1
        if due is not None and due[0] == instant:
            alerts.append(self._fire(key, state, due))
        self._reschedule(key, state)

    def _fire(self, key: str, state: CaseState, due: tuple[int, str, Any]) -> Alert:
        instant, kind, detail = due
        if kind == "overdue":
            level = detail
            state.fired |= _LEVEL_BITS[level]
            if _CARD_RANK[level] > _CARD_RANK[state.card]:
                state.card = level
            self._touch(key, state, instant, status=True)
            assert state.last is not None
            details = {
                "deadline": self.local.format(self._deadline(state)),
                "last_day": format_date(state.last),
                "limit_days": state.limit_days,
                "started_at": self.local.format(state.started_at or 0),
            }
            if level == RED:
                details["red_after_working_days"] = self._red_k
            return self._alert(
                "OVERDUE",
                level,
                key,
                state,
                state.dept,
                instant,
                list(state.clock_evidence or []),
                details,
            )
        step = detail
        index, _, dept, event_id = step
        assert state.steps is not None
        state.steps.remove(step)
        state.raised |= 1 << (_STEP_SHIFT + index)
        self._touch(key, state, instant, status=False)
        clock = self.config.templates[state.process].step_clocks[index]
        details = {
            "step": clock.action,
            "after": clock.after,
            "within": clock.within,
            "unit": clock.unit,
            "due": self.local.format(instant),
        }
        return self._alert(
            "STEP_OVERDUE", YELLOW, key, state, dept, instant, [event_id], details, clock.action
        )

    # ------------------------------------------------------------------ events
    def _plan(self, process: str, action: str) -> _ActionPlan:
        """What an action of a process needs evaluated, decided once per (process, action)."""
        template = self.config.templates[process]
        plan = _ActionPlan(
            template=template,
            bit=template.bit[action],
            check_order=action in template.order and "SKIPPED_STEP" in self._on,
            clock_action=action in _CLOCK_ACTIONS,
            steps=bool(template.step_clocks),
            rules=process in _RULE_PROCESSES,
            facts_when_ended=process in _FACT_PROCESSES,
            capture=template.capture.get(action, ()),
            terminal=action in template.terminal,
            timers=action in template.timer_actions,
        )
        self._plans.setdefault(process, {})[action] = plan
        return plan

    def process(self, event: Event) -> tuple[list[Alert], list[Fact]]:
        """Apply one event (the caller has advanced time to its instant first)."""
        alerts: list[Alert] = []
        facts: list[Fact] = []
        self.process_into(event, alerts, facts)
        return alerts, facts

    def process_into(self, event: Event, alerts: list[Alert], facts: list[Fact]) -> None:
        """``process``, appending its alerts and facts to the given lists."""
        action = event.action
        plans = self._plans.get(event.process)
        plan = plans.get(action) if plans is not None else None
        if plan is None:
            plan = self._plan(event.process, action)
        template = plan.template
        key = template.name + "|" + event.case_id
        state = self.states.get(key)
        fresh = state is None
        if state is None:
            state = CaseState(template.name, event.dept, key)  # dept: shared by the validator
            self.states[key] = state
            self.open_count += 1
        if self.event_ids:
            digest = event_hash(event.event_id)
            if not fresh and state.seen_event(digest):
                self.duplicate_count += 1
                return
            state.ids += digest
        may_alert = not state.terminal

        if may_alert:
            if plan.check_order:
                self._check_order(key, state, template, event, alerts)
            if fresh and action == template.start:
                self._start_clock(key, state, template, event)
            elif plan.clock_action and state.last is not None:
                self._clock_event(key, state, event, alerts)
            if plan.steps:
                self._step_clocks(state, template, event)
            if plan.rules:
                self._process_rules(key, state, event, alerts, facts)
        elif plan.facts_when_ended:
            start = len(facts)
            self._process_facts(key, state, event, facts)
            for i in range(start, len(facts)):
                facts[i].may_alert = False

        for name in plan.capture:
            if state.facts is None:
                state.facts = {}
            state.facts[name] = event.attrs.get(name)
        state.seen |= plan.bit
        if may_alert and plan.terminal:
            state.terminal = True
            self.open_count -= 1
            state.terminal_action = action
            state.closed_at = event.occurred_at
            if state.last is not None:
                state.deadline_at_close = self._deadline(state)
            # An ended case raises nothing more: keep only what later facts need.
            state.steps = None
            state.clock_evidence = None
            if state.facts is not None:
                program = state.facts.get("program")
                state.facts = {"program": program} if program is not None else None
            self._touch(key, state, event.occurred_at, status=True)
        elif fresh:
            self._touch(key, state, event.occurred_at, status=True)
        elif self.track_changes:
            self._dirty.add(key)
        if may_alert and (fresh or plan.timers):
            self._reschedule(key, state)

    def _check_order(
        self, key: str, state: CaseState, template: Template, event: Event, alerts: list[Alert]
    ) -> None:
        requirements = template.order[event.action]
        bit = 1 << (_SKIP_SHIFT + template.actions.index(event.action))
        if state.raised & bit:
            return
        facts = state.facts or _EMPTY
        missing: list[str] = []
        for requirement in requirements:
            if requirement.when is None or requirement.when(event.attrs, facts):
                for needed in requirement.requires:
                    if not state.seen & template.bit[needed] and needed not in missing:
                        missing.append(needed)
        if missing:
            state.raised |= bit
            details = {"action": event.action, "missing": missing}
            alerts.append(
                self._alert(
                    "SKIPPED_STEP",
                    RED,
                    key,
                    state,
                    event.dept,
                    event.occurred_at,
                    [event.event_id],
                    details,
                    event.action,
                )
            )

    def _start_clock(self, key: str, state: CaseState, template: Template, event: Event) -> None:
        days = template.limit_days(event.attrs)
        if days is None:
            return
        state.limit_days = days
        state.started_at = event.occurred_at
        state.last = self.cal.wd_after(self.local.date_of(event.occurred_at), days)
        state.clock_evidence = [event.event_id]

    def _add_clock_evidence(self, state: CaseState, event_id: str) -> None:
        assert state.clock_evidence is not None
        if len(state.clock_evidence) < _MAX_CLOCK_EVIDENCE:
            state.clock_evidence.append(event_id)

    def _clock_event(self, key: str, state: CaseState, event: Event, alerts: list[Alert]) -> None:
        action = event.action
        now = event.occurred_at
        assert state.last is not None
        if action == "suspend" or action == "supplement_request":
            if state.paused_since is None:
                state.paused_since = now
                state.pause_shifts = now < self._deadline(state)
                self._add_clock_evidence(state, event.event_id)
        elif action == "resume" or action == "supplement_received":
            if state.paused_since is not None:
                if state.pause_shifts:
                    paused = self.cal.count_workdays(
                        self.local.date_of(state.paused_since), self.local.date_of(now)
                    )
                    if paused > 0:
                        state.last = self.cal.wd_after(state.last, paused)
                        self._touch(key, state, now, status=True)
                state.paused_since = None
                state.pause_shifts = False
                state.not_before = now
                self._add_clock_evidence(state, event.event_id)
        elif action == "extend":
            deadline = self._deadline(state)
            days = event.attrs.get("extension_days")
            if now < deadline:
                if isinstance(days, int):
                    state.last = self.cal.wd_after(state.last, days)
                    self._add_clock_evidence(state, event.event_id)
                    self._touch(key, state, now, status=True)
            elif "LATE_EXTENSION" in self._on and not state.raised & _ONCE["LATE_EXTENSION"]:
                state.raised |= _ONCE["LATE_EXTENSION"]
                details = {
                    "deadline": self.local.format(deadline),
                    "extension_days": days,
                    "approver": event.attrs.get("approver"),
                }
                evidence = [(state.clock_evidence or [""])[0], event.event_id]
                alerts.append(
                    self._alert(
                        "LATE_EXTENSION", YELLOW, key, state, event.dept, now, evidence, details
                    )
                )

    def _step_clocks(self, state: CaseState, template: Template, event: Event) -> None:
        if not template.step_clocks:
            return
        action = event.action
        if state.steps:
            state.steps = [
                s for s in state.steps if template.step_clocks[s[0]].action != action
            ] or None
        for index in template.step_after.get(action, ()):
            clock = template.step_clocks[index]
            if state.seen & template.bit[clock.action] or state.raised & (
                1 << (_STEP_SHIFT + index)
            ):
                continue
            if state.steps and any(s[0] == index for s in state.steps):
                continue
            if state.seen & template.bit[action]:
                continue  # the clock starts at the first A only
            day = self.local.date_of(event.occurred_at)
            if clock.unit == "working_days":
                instant = self.local.end_of(self.cal.wd_after(day, clock.within))
            else:
                instant = self.local.end_of(day + clock.within)
            if state.steps is None:
                state.steps = []
            state.steps.append([index, instant, event.dept, event.event_id])

    # ------------------------------------------------------------------ rule packs
    def _once(self, state: CaseState, rule: str) -> bool:
        """True (and marks it) when ``rule`` is on and not yet raised for this case."""
        if rule not in self._on or state.raised & _ONCE[rule]:
            return False
        state.raised |= _ONCE[rule]
        return True

    def _facts(self, state: CaseState) -> dict[str, Any]:
        if state.facts is None:
            state.facts = {}
        return state.facts

    def _process_rules(
        self, key: str, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
    ) -> None:
        process = state.process
        action = event.action
        if process == "approval":
            if action == "reject":
                reason = event.attrs.get("reason")
                if (reason is None or not str(reason).strip()) and self._once(
                    state, "REFUSAL_WITHOUT_REASON"
                ):
                    alerts.append(
                        self._alert(
                            "REFUSAL_WITHOUT_REASON",
                            YELLOW,
                            key,
                            state,
                            event.dept,
                            event.occurred_at,
                            [event.event_id],
                            {"reason": reason},
                        )
                    )
            elif action == "supplement_request":
                known = self._facts(state)
                requests = known.get("supplement_requests", 0) + 1
                known["supplement_requests"] = requests
                if requests == 1:
                    known["first_supplement"] = event.event_id
                nth = self.config.param("REPEATED_SUPPLEMENT", "nth_request")
                if requests >= nth and self._once(state, "REPEATED_SUPPLEMENT"):
                    details = {"count": requests, "items": event.attrs.get("items")}
                    evidence = [known["first_supplement"], event.event_id]
                    alerts.append(
                        self._alert(
                            "REPEATED_SUPPLEMENT",
                            YELLOW,
                            key,
                            state,
                            event.dept,
                            event.occurred_at,
                            evidence,
                            details,
                        )
                    )
        elif process == "fund_disbursement":
            self._fund(key, state, event, alerts, facts)
        elif process == "tender":
            self._tender(key, state, event, alerts, facts)
        elif process == "inspection":
            self._inspection(key, state, event, alerts, facts)
        elif process == "inspection_plan":
            self._process_facts(key, state, event, facts)

    def _process_facts(self, key: str, state: CaseState, event: Event, facts: list[Fact]) -> None:
        """Facts of an event for other cases' rules (also after the case ended)."""
        process = state.process
        action = event.action
        attrs = event.attrs
        if process == "inspection_plan":
            kept: dict[str, Any] = {
                k: attrs[k]
                for k in ("inspecting_dept", "enterprise_ids", "valid_from", "valid_to")
                if k in attrs
            }
            facts.append(
                Fact(
                    "plan|" + event.case_id,
                    event.occurred_at,
                    "plan",
                    {"action": action, **kept},
                    event.event_id,
                    event.case_id,
                    event.dept,
                )
            )
        elif process == "fund_disbursement" and action == "disburse":
            program = (state.facts or _EMPTY).get("program")
            if program is not None and "DUPLICATE_DISBURSEMENT" in self._on:
                amount_text = amount_key(to_decimal(attrs["amount"]))
                facts.append(
                    Fact(
                        f"dup|{program}|{attrs['payee']}|{amount_text}",
                        event.occurred_at,
                        "disburse",
                        {"program": program, "payee": attrs["payee"], "amount": amount_text},
                        event.event_id,
                        event.case_id,
                        event.dept,
                    )
                )
        elif process == "fund_disbursement" and action == "apply":
            self._facts(state)["program"] = attrs.get("program")
        elif process == "tender" and action == "award":
            method = (state.facts or _EMPTY).get("method")
            if "SPLIT_PURCHASE" in self._on and method in self.config.param(
                "SPLIT_PURCHASE", "methods"
            ):
                amount = to_decimal(attrs["amount"])
                if amount < self.config.param("SPLIT_PURCHASE", "threshold"):
                    facts.append(
                        Fact(
                            f"split|{event.dept}|{attrs['winner']}",
                            event.occurred_at,
                            "award",
                            {
                                "dept": event.dept,
                                "winner": attrs["winner"],
                                "amount": amount_key(amount),
                            },
                            event.event_id,
                            event.case_id,
                            event.dept,
                        )
                    )
        elif process == "inspection" and action == "start":
            if attrs.get("category") in self._exempt:
                return
            if "FREQUENT_INSPECTION" in self._on:
                enterprise = attrs["enterprise_id"]
                facts.append(
                    Fact(
                        "ent|" + enterprise,
                        event.occurred_at,
                        "start",
                        {"enterprise_id": enterprise, "category": attrs.get("category")},
                        event.event_id,
                        event.case_id,
                        event.dept,
                    )
                )

    def _fund(
        self, key: str, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
    ) -> None:
        action = event.action
        attrs = event.attrs
        known = self._facts(state)
        if action == "approve":
            known["approved_amount"] = str(to_decimal(attrs["approved_amount"]))
            known["approved_payee"] = attrs["payee"]
            known["approve_event"] = event.event_id
        elif action == "disburse":
            amount = to_decimal(attrs["amount"])
            total = to_decimal(known.get("disbursed", "0")) + amount
            known["disbursed"] = str(total)
            events = known.setdefault("disburse_events", [])
            if len(events) < _MAX_CLOCK_EVIDENCE:
                events.append(event.event_id)
            approved_payee = known.get("approved_payee")
            if (
                approved_payee is not None
                and attrs["payee"] != approved_payee
                and self._once(state, "PAYEE_MISMATCH")
            ):
                details = {
                    "approved_payee": approved_payee,
                    "payee": attrs["payee"],
                    "amount": str(amount),
                }
                alerts.append(
                    self._alert(
                        "PAYEE_MISMATCH",
                        RED,
                        key,
                        state,
                        event.dept,
                        event.occurred_at,
                        [known["approve_event"], event.event_id],
                        details,
                    )
                )
            approved = known.get("approved_amount")
            if (
                approved is not None
                and total > Decimal(approved)
                and self._once(state, "OVER_DISBURSEMENT")
            ):
                details = {
                    "approved_amount": approved,
                    "disbursed_total": str(total),
                    "amount": str(amount),
                }
                alerts.append(
                    self._alert(
                        "OVER_DISBURSEMENT",
                        RED,
                        key,
                        state,
                        event.dept,
                        event.occurred_at,
                        [known["approve_event"], *events],
                        details,
                    )
                )
        self._process_facts(key, state, event, facts)

    def _tender(
        self, key: str, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
    ) -> None:
        action = event.action
        attrs = event.attrs
        known = self._facts(state)
        now = event.occurred_at
        param = self.config.param
        if action == "announce":
            method = attrs["method"]
            known["method"] = method
            deadline_text = attrs.get("bid_deadline")
            deadline = parse_instant(deadline_text) if deadline_text else None
            known["bid_deadline"] = deadline
            known["announce_event"] = event.event_id
            if deadline is not None and method in param("SHORT_TENDER_PERIOD", "methods"):
                min_hours = param("SHORT_TENDER_PERIOD", "min_hours")
                if deadline - now < min_hours * HOUR_US and self._once(
                    state, "SHORT_TENDER_PERIOD"
                ):
                    details = {
                        "method": method,
                        "bid_deadline": self.local.format(deadline),
                        "period_hours": str(Decimal(deadline - now) / HOUR_US),
                        "min_hours": min_hours,
                    }
                    alerts.append(
                        self._alert(
                            "SHORT_TENDER_PERIOD",
                            YELLOW,
                            key,
                            state,
                            event.dept,
                            now,
                            [event.event_id],
                            details,
                        )
                    )
        elif action == "bid":
            bids = known.setdefault("bids", {})
            first, latest, bid_event = bids.get(attrs["bidder"], (now, now, event.event_id))
            bids[attrs["bidder"]] = (min(first, now), max(latest, now), bid_event)
        elif action == "open":
            method = known.get("method")
            deadline = known.get("bid_deadline")
            if method in param("TOO_FEW_BIDS", "methods") and deadline is not None:
                bids = known.get("bids", {})
                valid = sorted(b for b, (first, _, _) in bids.items() if first <= deadline)
                minimum = param("TOO_FEW_BIDS", "min_bidders")
                if len(valid) < minimum and self._once(state, "TOO_FEW_BIDS"):
                    details = {
                        "bidders": valid,
                        "count": len(valid),
                        "min_bidders": minimum,
                        "bid_deadline": self.local.format(deadline),
                    }
                    evidence = [event.event_id] + [bids[b][2] for b in valid]
                    alerts.append(
                        self._alert(
                            "TOO_FEW_BIDS", YELLOW, key, state, event.dept, now, evidence, details
                        )
                    )
        elif action == "award":
            winner = attrs["winner"]
            known["winner"] = winner
            known["award_amount"] = str(to_decimal(attrs["amount"]))
            known["award_event"] = event.event_id
            deadline = known.get("bid_deadline")
            if deadline is not None:
                bid = known.get("bids", {}).get(winner)
                if (bid is None or bid[1] > deadline) and self._once(state, "LATE_BID_AWARDED"):
                    details = {
                        "winner": winner,
                        "bid_deadline": self.local.format(deadline),
                        "latest_bid_at": self.local.format(bid[1]) if bid else None,
                        "reason": "no_bid" if bid is None else "late_bid",
                    }
                    evidence = [event.event_id] + ([bid[2]] if bid else [])
                    alerts.append(
                        self._alert(
                            "LATE_BID_AWARDED",
                            RED,
                            key,
                            state,
                            event.dept,
                            now,
                            evidence,
                            details,
                        )
                    )
        elif action == "contract":
            award_amount = known.get("award_amount")
            amount = to_decimal(attrs["amount"])
            if award_amount is not None:
                ratio = param("CONTRACT_EXCEEDS_AWARD", "max_ratio")
                limit = Decimal(award_amount) * ratio
                if amount > limit and self._once(state, "CONTRACT_EXCEEDS_AWARD"):
                    details = {
                        "contract_amount": str(amount),
                        "award_amount": award_amount,
                        "max_ratio": str(ratio),
                        "limit_amount": str(limit),
                    }
                    alerts.append(
                        self._alert(
                            "CONTRACT_EXCEEDS_AWARD",
                            YELLOW,
                            key,
                            state,
                            event.dept,
                            now,
                            [known["award_event"], event.event_id],
                            details,
                        )
                    )
            winner = known.get("winner")
            if (
                winner is not None
                and attrs["supplier"] != winner
                and self._once(state, "CONTRACT_SUPPLIER_MISMATCH")
            ):
                details = {"supplier": attrs["supplier"], "winner": winner}
                alerts.append(
                    self._alert(
                        "CONTRACT_SUPPLIER_MISMATCH",
                        RED,
                        key,
                        state,
                        event.dept,
                        now,
                        [known["award_event"], event.event_id],
                        details,
                    )
                )
        self._process_facts(key, state, event, facts)

    def _inspection(
        self, key: str, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
    ) -> None:
        attrs = event.attrs
        if event.action != "start" or attrs.get("category") in self._exempt:
            return
        now = event.occurred_at
        day = self.local.date_of(now)
        if (
            "QUIET_DAY_INSPECTION" in self._on
            and self._quiet_day(day)
            and self._once(state, "QUIET_DAY_INSPECTION")
        ):
            details = {
                "date": format_date(day),
                "enterprise_id": attrs["enterprise_id"],
                "category": attrs["category"],
            }
            alerts.append(
                self._alert(
                    "QUIET_DAY_INSPECTION",
                    YELLOW,
                    key,
                    state,
                    event.dept,
                    now,
                    [event.event_id],
                    details,
                )
            )
        if (
            "UNAUTHORIZED_INSPECTION" in self._on
            and not state.raised & _ONCE["UNAUTHORIZED_INSPECTION"]
        ):
            plan_id = attrs.get("plan_id")
            if plan_id is None:
                state.raised |= _ONCE["UNAUTHORIZED_INSPECTION"]
                details = {
                    "reason": "no_plan_reference",
                    "enterprise_id": attrs["enterprise_id"],
                    "category": attrs["category"],
                }
                alerts.append(
                    self._alert(
                        "UNAUTHORIZED_INSPECTION",
                        RED,
                        key,
                        state,
                        event.dept,
                        now,
                        [event.event_id],
                        details,
                    )
                )
            else:
                facts.append(
                    Fact(
                        "plan|" + plan_id,
                        now,
                        "check",
                        {
                            "enterprise_id": attrs["enterprise_id"],
                            "category": attrs["category"],
                            "plan_id": plan_id,
                            "date": format_date(day),
                        },
                        event.event_id,
                        event.case_id,
                        event.dept,
                    )
                )
        self._process_facts(key, state, event, facts)

    def _quiet_day(self, day: int) -> bool:
        if day in self.config.quiet_dates:
            return True
        dom = date.fromordinal(day).day
        return any(first <= dom <= last for first, last in self.config.quiet_month_days)
