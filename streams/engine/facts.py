"""Facts: what one case did that another case's rule compares against.

A rule that looks across cases has two halves, both in its ``rules/`` module:
the fact its case-side half emits (keyed by what it compares) and the
judgement ``CrossEngine`` calls for each fact of that key.

A fact's stored form (``to_bytes``, the facts topic) is a JSON list: from format
version 2 its first element is the version (``FACT_FORMAT``); a list without one
is version 1 (the same fields). Version 3 may end with the event's ``reported_at``
(after ``arrived_at``, ``retracted`` and ``cause``); version 2 never does. A newer
version raises ``FormatTooNew``: the live service dead-letters that record (README,
State format versions).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from streams.engine.model import FormatTooNew

FACT_FORMAT = 3  # the version to_bytes writes
_CENT = Decimal("0.01")


def amount_key(amount: Decimal) -> str:
    """A canonical text for an amount (two decimals), so equal amounts compare equal."""
    return str(amount.quantize(_CENT))


@dataclass(slots=True, init=False)  # its own __init__ compiles (see model.Event)
class Fact:
    """Something one case did that another case's rule compares against."""

    key: str  # "<kind>|...": the kind names the cross-case rule (rules.CROSS_RULES)
    occurred_at: int
    kind: str  # plan | check | disburse | award | start
    data: dict[str, Any]
    event_id: str
    case_id: str
    dept: str
    may_alert: bool  # False when the case had already ended: counts, but raises nothing
    seq: int  # evaluation order among equal instants (set by the router)
    # Corrections (rules.md §1.4). ``arrived_at``: when its event arrived (0: not known).
    # ``retracted``: the fact no longer holds (its case, evaluated again, does not emit it).
    # ``cause``: the late event whose correction sent it, [event_id, occurred_at, arrived_at,
    # reported_at] (None: its own event; reported_at 0 or absent: not sent).
    # ``reported_at``: its event's ``reported_at`` (0: not sent).
    arrived_at: int
    retracted: bool
    cause: list[Any] | None
    reported_at: int

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
        arrived_at: int = 0,
        retracted: bool = False,
        cause: list[Any] | None = None,
        reported_at: int = 0,
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
        self.arrived_at = arrived_at
        self.retracted = retracted
        self.cause = cause
        self.reported_at = reported_at

    def late_input(self) -> list[Any]:
        """The late event behind this fact: [event_id, occurred_at, arrived_at, reported_at]
        (0: not known)."""
        if self.cause is not None:
            return [*self.cause, 0][:4]  # a cause stored before reported_at was: 3 items
        return [self.event_id, self.occurred_at, self.arrived_at, self.reported_at]

    def same(self, other: Fact) -> bool:
        """The same fact with the same content (what a judgement reads of it)."""
        return (
            self.event_id == other.event_id
            and self.kind == other.kind
            and self.occurred_at == other.occurred_at
            and self.may_alert == other.may_alert
            and self.dept == other.dept
            and self.case_id == other.case_id
            and self.data == other.data
        )

    def to_bytes(self) -> bytes:
        values: list[Any] = [
            FACT_FORMAT,
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
        if self.arrived_at or self.retracted or self.cause is not None or self.reported_at:
            values += [self.arrived_at, self.retracted, self.cause]
            if self.reported_at:
                values.append(self.reported_at)
        return orjson.dumps(values)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Fact:
        values = orjson.loads(blob)
        if values and isinstance(values[0], int):
            version = values.pop(0)
            if version > FACT_FORMAT:
                raise FormatTooNew("fact", version, FACT_FORMAT)
        return cls(*values)
