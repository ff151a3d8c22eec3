"""Data shapes shared by every part of the product: events in, alerts out.

Instants are integers: microseconds since the Unix epoch (UTC). Integers sort,
hash and compare exactly, and serialize without loss; conversion to and from
RFC 3339 text happens only at the edges (``streams.engine.timeutil``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Alert levels, lowest to highest.
NOTICE = "notice"
YELLOW = "yellow"
RED = "red"
LEVELS = (NOTICE, YELLOW, RED)


# Event and Alert write their own __init__ (init=False): the one dataclasses would generate is
# interpreted Python even when mypyc compiles this module, and both are built per message.


class FormatTooNew(ValueError):
    """A stored record (case state, fact) written in a format version newer than this code
    reads: written by a newer release (a rolling upgrade). Never guessed at."""

    def __init__(self, what: str, version: int, known: int) -> None:
        super().__init__(
            f"{what} format version {version} is newer than this release reads (up to {known})"
        )
        self.what = what
        self.version = version
        self.known = known


@dataclass(slots=True, init=False)
class Event:
    """One validated event of the contract in ``../shared/spec/events.md``."""

    event_id: str
    case_id: str
    process: str
    action: str
    occurred_at: int  # epoch microseconds
    dept: str
    actor: str | None
    attrs: dict[str, Any]
    occurred_at_text: str  # as written upstream
    reported_at: int | None  # epoch microseconds: when the business system recorded it (录入)
    reported_at_text: str | None  # as written upstream
    # Epoch microseconds: when the live service received it (the Kafka record timestamp), for
    # audit only (stored with the event; no rule reads it). None offline.
    arrived_at: int | None

    def __init__(
        self,
        event_id: str,
        case_id: str,
        process: str,
        action: str,
        occurred_at: int,
        dept: str,
        actor: str | None = None,
        attrs: dict[str, Any] | None = None,
        occurred_at_text: str = "",
        reported_at: int | None = None,
        reported_at_text: str | None = None,
        arrived_at: int | None = None,
    ) -> None:
        self.event_id = event_id
        self.case_id = case_id
        self.process = process
        self.action = action
        self.occurred_at = occurred_at
        self.dept = dept
        self.actor = actor
        self.attrs = attrs if attrs is not None else {}
        self.occurred_at_text = occurred_at_text
        self.reported_at = reported_at
        self.reported_at_text = reported_at_text
        self.arrived_at = arrived_at

    def to_dict(self) -> dict[str, Any]:
        """The event as the contract's JSON object (``occurred_at``, ``reported_at`` as written)."""
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "case_id": self.case_id,
            "process": self.process,
            "action": self.action,
            "occurred_at": self.occurred_at_text,
            "dept": self.dept,
        }
        if self.actor is not None:
            out["actor"] = self.actor
        if self.reported_at_text is not None:
            out["reported_at"] = self.reported_at_text
        if self.attrs:
            out["attrs"] = self.attrs
        return out


@dataclass(slots=True, init=False)
class Alert:
    """One alert of the format in ``events.md`` § Alerts, plus its config version."""

    alert_id: str
    rule: str
    level: str
    case_id: str
    process: str
    dept: str
    raised_at: int  # epoch microseconds
    evidence: list[str]
    message: str
    details: dict[str, Any]
    config_version: str

    def __init__(
        self,
        alert_id: str,
        rule: str,
        level: str,
        case_id: str,
        process: str,
        dept: str,
        raised_at: int,
        evidence: list[str],
        message: str,
        details: dict[str, Any],
        config_version: str,
    ) -> None:
        self.alert_id = alert_id
        self.rule = rule
        self.level = level
        self.case_id = case_id
        self.process = process
        self.dept = dept
        self.raised_at = raised_at
        self.evidence = evidence
        self.message = message
        self.details = details
        self.config_version = config_version


@dataclass(slots=True)
class CaseStatus:
    """A case's current standing, for dashboards (one row per case, newest wins).

    ``version`` grows with every change of the case, so a store that keeps the
    row with the highest version per case (ReplacingMergeTree) shows the latest.
    """

    process: str
    case_id: str
    dept: str
    started_at: int | None  # the start action's instant, when the case has a clock
    deadline: int | None  # D, the deadline instant in force
    terminal: bool
    terminal_action: str | None
    closed_at: int | None
    card_level: str  # "" or the highest OVERDUE level raised
    updated_at: int  # event time of the last change
    version: int
    completed_on_time: bool | None  # for terminal cases with a clock


WITHDRAWN_LATE_INPUT = "late_input"  # replay with the late input in place does not raise it


@dataclass(slots=True)
class LateInput:
    """A late event named by a withdrawal: its times travel with it (µs; ``reported_at`` and
    ``arrived_at`` None when not known)."""

    event_id: str
    occurred_at: int
    reported_at: int | None = None
    arrived_at: int | None = None


@dataclass(slots=True)
class Withdrawal:
    """An alert that later input disproves (rules.md §1.4, events.md § Alerts): stored as a new
    version of its row and published as a new record with its key, never deleted.
    ``withdrawn_by`` names the late events (``Event`` or ``LateInput``: anything with
    ``event_id``, ``occurred_at``, ``reported_at`` and ``arrived_at``), so the delay is always
    visible; ``alert`` is the alert as it was raised, when the caller has it."""

    alert_id: str
    process: str  # the alert's case (its row is found by it)
    case_id: str
    withdrawn_at: int  # epoch microseconds: processing time of the withdrawal
    reason: str
    withdrawn_by: list[Any]
    alert: Alert | None = None

    @property
    def by(self) -> list[list[Any]]:
        """The late events as ``[event_id, occurred_at, arrived_at]`` (``arrived_at`` 0 when
        not known)."""
        return [[e.event_id, e.occurred_at, e.arrived_at or 0] for e in self.withdrawn_by]


def withdrawal_of(alert: Alert, now: int, reason: str, by: list[LateInput]) -> Withdrawal:
    """The withdrawal of ``alert`` as raised, at processing time ``now``."""
    return Withdrawal(alert.alert_id, alert.process, alert.case_id, now, reason, by, alert)
