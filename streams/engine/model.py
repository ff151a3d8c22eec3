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

    def to_dict(self) -> dict[str, Any]:
        """The event as the contract's JSON object (``occurred_at`` as written)."""
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
