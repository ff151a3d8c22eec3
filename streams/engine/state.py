"""What the engine remembers about one case, and its serialized form.

``CaseState`` is one case's memory; ``to_bytes``/``from_bytes`` are the form the
live service keeps in its changelog-backed table, so ``STATE_FIELDS`` (their order)
and the bit layout of ``raised`` are a storage format: change them only with a
migration of the stored states.

A case waiting for a calendar year (rules.md §1.5) also has ``pending``,
serialized after ``STATE_FIELDS`` and only when set: other cases keep their bytes,
and states written before it existed read as they were.

Format versions (``STATE_FORMAT``): a record is a JSON list; from version 2 its
first element is the version number, then ``STATE_FIELDS``. A record without one
(its first element is the process name) is version 1: ``STATE_FIELDS_V1``, every
event id kept; it reads as version 2 with its last ``MAX_IDS`` ids and ``events``
counted from them, ``evaluated_to`` unknown (None). A version newer than ``STATE_FORMAT`` raises ``FormatTooNew``
(the live service quarantines that case on the worker and leaves the record as it
is: README, State format versions).

Bounded (issue #13): ``ids`` keeps the hashes of the case's last ``MAX_IDS`` event
ids, not all of them, so a case with any number of events stays below ~20 KB;
``events`` counts them all.
"""

from __future__ import annotations

import hashlib
import sys
from decimal import Decimal
from typing import Any

import orjson

from streams.engine.model import NOTICE, RED, YELLOW, CaseStatus, FormatTooNew
from streams.engine.timeutil import LocalTime

# Bits of CaseState.raised for once-per-case rules. Stored: a new rule goes at the end (at
# most 32, below SKIP_SHIFT), and no rule moves.
ONCE = {
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
            "DEEMED_APPROVAL",
            "DENIED_AFTER_DEEMED",
            "RISK_NOT_REPORTED",
            "LIMIT_NOT_COMPRESSED",
        )
    )
}
SKIP_SHIFT = 32  # SKIPPED_STEP raised for action i: bit 32 + i
STEP_SHIFT = 96  # STEP_OVERDUE raised for step clock j: bit 96 + j
LATE_SHIFT = 160  # LATE_REPORTED raised for action i: bit 160 + i
LEVEL_BITS = {NOTICE: 1, YELLOW: 2, RED: 4}  # CaseState.fired: OVERDUE levels raised
MAX_EVIDENCE = 16  # event ids kept per list of evidence (clock, disbursements)
EMPTY: dict[str, Any] = {}


def to_decimal(value: Any) -> Decimal:
    """An amount of the contract (number or decimal string) as an exact Decimal.

    A JSON number arrives as a float; its shortest repr is the decimal it was
    written as (the contract allows at most 15 significant digits).
    """
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def event_hash(event_id: str) -> bytes:
    """The 8 bytes a case remembers of each event id (``CaseState.ids``)."""
    return hashlib.blake2b(event_id.encode("utf-8"), digest_size=8).digest()


# Event ids a case remembers (``CaseState.ids``, 8 bytes each): a repeat of one of its last
# MAX_IDS events is recognised by the case itself (the live service also recognises re-reads
# by offset, and recent repeats by the partition's content window).
MAX_IDS = 1024
_IDS_BYTES = 8 * MAX_IDS
STATE_FORMAT = 2  # the version to_bytes writes (module doc)

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
    "evaluated_to",
    "events",
)
STATE_FIELDS_V1 = STATE_FIELDS[:-2]  # records without a version: no "evaluated_to", "events"
_IDS = STATE_FIELDS.index("ids")
_RAISED = STATE_FIELDS.index("raised")

# What a pending case's clocks were when it became pending (``CaseState.pending["base"]``):
# its timed decisions are made again from there, over the events logged since.
CLOCK_FIELDS = (
    "last",
    "limit_days",
    "started_at",
    "paused_since",
    "pause_shifts",
    "not_before",
    "fired",
    "card",
    "clock_evidence",
    "steps",
    "raised",
    "seen",
)
_BASE_RAISED = CLOCK_FIELDS.index("raised")
# Kinds of logged events (``CaseState.pending["log"]``): the start of the case clock; an
# event whose clock change is already in the base (only the first); any other event.
LOG_START = 1
LOG_CLOCK_DONE = 2
LOG_EVENT = 0


class CaseState:
    """Everything the rules remember about one case. Small: ~0.5 KB for an open case."""

    __slots__ = (*STATE_FIELDS, "key", "pending")  # the key is not serialized: the store has it

    def __init__(self, process: str, dept: str, key: str = "") -> None:
        self.key = key  # "process|case_id", for the deadline index
        self.process = process
        self.dept = dept
        self.seen = 0  # bit i: action i of the template has occurred
        self.terminal = False
        self.terminal_action: str | None = None
        self.closed_at: int | None = None
        self.last: int | None = None  # last working day (date ordinal) of the case clock
        self.limit_days = 0
        self.started_at: int | None = None
        self.paused_since: int | None = None
        self.pause_shifts = False
        self.not_before = 0
        self.fired = 0  # LEVEL_BITS of the OVERDUE levels raised
        self.clock_evidence: list[str] | None = None
        self.steps: list[list[Any]] | None = None  # [clock index, instant, dept, event_id]
        self.raised = 0  # ONCE bits, SKIPPED_STEP and STEP_OVERDUE bits (see the shifts)
        self.facts: dict[str, Any] | None = None  # what the rule packs remember
        self.ids = b""  # event_hash of the case's last MAX_IDS events
        self.events = 0  # events applied to the case
        self.next_at: int | None = None  # the instant of its next timed alert
        self.version = 0
        self.card = ""
        self.updated_at = 0
        self.deadline_at_close: int | None = None
        # The latest instant this case has been evaluated up to: its latest event's and its
        # latest timed alert's. An event earlier than that is late (rules.md §1.4).
        self.evaluated_to: int | None = None
        # Set while timed decisions wait for a calendar year (rules.md §1.5): {"years": [year],
        # "clock": the case clock waits, "red": (when set) only its red card does, its last
        # day known, "steps": [step clock index], "base": CLOCK_FIELDS values,
        # "log": [[occurred_at, action, event_id, dept, attrs, kind]]}.
        self.pending: dict[str, Any] | None = None

    def seen_event(self, digest: bytes) -> bool:
        ids = self.ids
        start = ids.find(digest)
        while start != -1:
            if start % 8 == 0:
                return True
            start = ids.find(digest, start + 1)
        return False

    def remember(self, digest: bytes) -> None:
        """Count an event and remember its id hash (the last ``MAX_IDS``)."""
        self.events += 1
        ids = self.ids
        if len(ids) >= _IDS_BYTES:
            ids = ids[len(ids) - _IDS_BYTES + 8 :]
        self.ids = ids + digest

    def known(self) -> dict[str, Any]:
        """The rule packs' memory of this case (created on first use)."""
        facts = self.facts
        if facts is None:
            facts = {}
            self.facts = facts
        return facts

    def checkpoint(self) -> list[Any]:
        """The CLOCK_FIELDS values, copied (``pending["base"]``)."""
        values: list[Any] = [getattr(self, name) for name in CLOCK_FIELDS]
        values[_BASE_RAISED] = format(self.raised, "x")  # may exceed 64 bits
        copied: list[Any] = orjson.loads(orjson.dumps(values))  # a deep copy, as stored
        return copied

    def restore_checkpoint(self, base: list[Any]) -> None:
        """Set the CLOCK_FIELDS from a ``checkpoint()`` (copied)."""
        values: list[Any] = orjson.loads(orjson.dumps(base))
        values[_BASE_RAISED] = int(values[_BASE_RAISED], 16)
        for name, value in zip(CLOCK_FIELDS, values, strict=True):
            setattr(self, name, value)

    def to_bytes(self) -> bytes:
        values: list[Any] = [STATE_FORMAT]
        values.extend([getattr(self, name) for name in STATE_FIELDS])
        values[1 + _IDS] = self.ids.hex()
        values[1 + _RAISED] = format(self.raised, "x")  # may exceed 64 bits
        if self.pending is not None:
            values.append(self.pending)
        return orjson.dumps(values)

    @classmethod
    def from_bytes(cls, blob: bytes) -> CaseState:
        """Read a record of any format version up to ``STATE_FORMAT`` (module doc)."""
        values = orjson.loads(blob)
        fields: tuple[str, ...] = STATE_FIELDS
        unversioned = not (values and isinstance(values[0], int))
        if unversioned:
            fields = STATE_FIELDS_V1
        else:
            version = values.pop(0)
            if version > STATE_FORMAT:
                raise FormatTooNew("case state", version, STATE_FORMAT)
        pending = None
        if len(values) == len(fields) + 1:
            pending = values.pop()
        if len(values) != len(fields):
            raise ValueError(f"case state has {len(values)} fields, expected {len(fields)}")
        values[_IDS] = bytes.fromhex(values[_IDS])
        values[_RAISED] = int(values[_RAISED], 16)
        state = cls("", "")
        for name, value in zip(fields, values, strict=True):
            setattr(state, name, value)
        if unversioned:
            state.events = len(state.ids) // 8
            state.ids = state.ids[-_IDS_BYTES:]
        state.process = sys.intern(state.process)
        state.dept = sys.intern(state.dept)
        state.pending = pending
        return state


def case_status(key: str, state: CaseState, local: LocalTime) -> CaseStatus:
    """The case's row of the case status table (storage), from its state."""
    deadline = local.end_of(state.last) if state.last is not None else None
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


def export_states(states: dict[str, CaseState], keys: set[str]) -> dict[str, bytes | None]:
    """The stored form of the cases ``keys`` (None: dropped), for the changelog; clears ``keys``."""
    out: dict[str, bytes | None] = {}
    for key in keys:
        state = states.get(key)
        out[key] = state.to_bytes() if state is not None else None
    keys.clear()
    return out


def take_statuses(
    states: dict[str, CaseState], keys: set[str], local: LocalTime
) -> list[CaseStatus]:
    """The status rows of the cases ``keys`` still held (``case_status``); clears ``keys``."""
    out = []
    for key in keys:
        state = states.get(key)
        if state is not None:
            out.append(case_status(key, state, local))
    keys.clear()
    return out
