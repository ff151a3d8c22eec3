"""One workflow's state and its stored form (a JSON-able dict with a format version).

A workflow is one alert family: (``rule``, ``process``, ``case_id``, the rule's
discriminator), without the level. Its ``workflow_id`` is a hash of the family, so
replaying the same alerts gives the same ids. The dict form is what the live side
keeps in its changelog and stores per version; ``workflow_from_dict`` reads it back
exactly (instants as RFC 3339 text in the configured zone, dates as ``YYYY-MM-DD``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Final

from streams.engine.alerts import alert_id
from streams.engine.model import LEVELS, Alert
from streams.engine.timeutil import LocalTime, format_date, parse_date, parse_instant
from streams.workflow.model import NEW

FORMAT: Final = 1
"""Version of the dict form; ``workflow_from_dict`` refuses other versions."""

# Where a rule's discriminator is found in its alert's details (rules.md §3 "once per").
_DISCRIMINATOR_DETAIL: Final = {
    "STEP_OVERDUE": "step",
    "SKIPPED_STEP": "action",
    "REPORT_MISSING": "month",
}


def discriminator_of(alert: Alert) -> str:
    """The rule's own discriminator of ``alert`` (the level left out).

    Read from the alert's details and checked against its id: an alert whose id the
    discriminator does not reproduce is its own family (its ``alert_id`` is the
    discriminator), so a rule added later never merges two families.
    """
    key = _DISCRIMINATOR_DETAIL.get(alert.rule)
    value = alert.details.get(key) if key is not None else ""
    text = value if isinstance(value, str) else ""
    if alert_id(alert.rule, alert.process, alert.case_id, alert.level, text) == alert.alert_id:
        return text
    return "#" + alert.alert_id


def workflow_id_of(rule: str, process: str, case_id: str, discriminator: str) -> str:
    """Deterministic from the alert family."""
    text = "\x1f".join(("workflow", rule, process, case_id, discriminator))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def level_rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else -1


@dataclass(slots=True)
class Card:
    """An alert of the family: its id, level and instant."""

    alert_id: str
    level: str
    raised_at: int
    withdrawn: bool = False


@dataclass(slots=True)
class Timer:
    """A clock of the workflow: runs out at ``end(wd_after(base_day, wd))`` (``wd`` 0:
    ``end(base_day)``). ``at`` is that instant, None while ``pending_year`` has no
    calendar data (rules.md §1.5)."""

    base_day: int
    wd: int
    at: int | None = None
    pending_year: int | None = None


@dataclass(slots=True)
class Workflow:
    workflow_id: str
    rule: str
    process: str
    case_id: str
    discriminator: str
    dept: str
    created_at: int
    level: str
    cards: list[Card]
    state: str = NEW
    version: int = 1
    updated_at: int = 0
    claimed_by: str = ""
    drafter: str = ""
    draft: dict[str, Any] = field(default_factory=dict)  # text, measures, due_working_days
    approved_at: int | None = None
    approved_by: str = ""
    triage_from: int | None = None  # date ordinal the triage clock runs from
    extensions: int = 0
    returns: int = 0
    plan_date: int | None = None
    conclusion: str = ""
    dismissal: str = ""  # reason code of the dismissal
    ended_at: int | None = None  # closed or dismissed at
    ended_by: str = ""
    timers: dict[str, Timer] = field(default_factory=dict)
    fired: list[str] = field(default_factory=list)  # "RULE/level" raised for it, sorted
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # action_id -> result

    @property
    def instant(self) -> int:
        """The instant of the workflow's highest card."""
        top = max(self.cards, key=lambda c: (level_rank(c.level), c.raised_at))
        return top.raised_at

    def due(self) -> tuple[tuple[str, int | None], ...]:
        """The armed clocks, by name (None: pending a calendar year)."""
        return tuple((name, timer.at) for name, timer in sorted(self.timers.items()))


def workflow_to_dict(wf: Workflow, local: LocalTime) -> dict[str, Any]:
    def instant(value: int | None) -> str | None:
        return local.format(value) if value is not None else None

    def day(value: int | None) -> str | None:
        return format_date(value) if value is not None else None

    return {
        "format": FORMAT,
        "workflow_id": wf.workflow_id,
        "rule": wf.rule,
        "process": wf.process,
        "case_id": wf.case_id,
        "discriminator": wf.discriminator,
        "dept": wf.dept,
        "created_at": local.format(wf.created_at),
        "level": wf.level,
        "cards": [
            {
                "alert_id": c.alert_id,
                "level": c.level,
                "raised_at": local.format(c.raised_at),
                "withdrawn": c.withdrawn,
            }
            for c in wf.cards
        ],
        "state": wf.state,
        "version": wf.version,
        "updated_at": local.format(wf.updated_at),
        "claimed_by": wf.claimed_by,
        "drafter": wf.drafter,
        "draft": wf.draft,
        "approved_at": instant(wf.approved_at),
        "approved_by": wf.approved_by,
        "triage_from": day(wf.triage_from),
        "extensions": wf.extensions,
        "returns": wf.returns,
        "plan_date": day(wf.plan_date),
        "conclusion": wf.conclusion,
        "dismissal": wf.dismissal,
        "ended_at": instant(wf.ended_at),
        "ended_by": wf.ended_by,
        "timers": {
            name: {
                "base_day": format_date(t.base_day),
                "wd": t.wd,
                "at": instant(t.at),
                "pending_year": t.pending_year,
            }
            for name, t in sorted(wf.timers.items())
        },
        "fired": list(wf.fired),
        "results": wf.results,
    }


def workflow_from_dict(data: dict[str, Any]) -> Workflow:
    if data.get("format") != FORMAT:
        raise ValueError(f"workflow state of format {data.get('format')!r}, expected {FORMAT}")

    def instant(value: str | None) -> int | None:
        return parse_instant(value) if value is not None else None

    def day(value: str | None) -> int | None:
        return parse_date(value) if value is not None else None

    return Workflow(
        workflow_id=data["workflow_id"],
        rule=data["rule"],
        process=data["process"],
        case_id=data["case_id"],
        discriminator=data["discriminator"],
        dept=data["dept"],
        created_at=parse_instant(data["created_at"]),
        level=data["level"],
        cards=[
            Card(c["alert_id"], c["level"], parse_instant(c["raised_at"]), c["withdrawn"])
            for c in data["cards"]
        ],
        state=data["state"],
        version=data["version"],
        updated_at=parse_instant(data["updated_at"]),
        claimed_by=data["claimed_by"],
        drafter=data["drafter"],
        draft=dict(data["draft"]),
        approved_at=instant(data["approved_at"]),
        approved_by=data["approved_by"],
        triage_from=day(data["triage_from"]),
        extensions=data["extensions"],
        returns=data["returns"],
        plan_date=day(data["plan_date"]),
        conclusion=data["conclusion"],
        dismissal=data["dismissal"],
        ended_at=instant(data["ended_at"]),
        ended_by=data["ended_by"],
        timers={
            name: Timer(parse_date(t["base_day"]), t["wd"], instant(t["at"]), t["pending_year"])
            for name, t in data["timers"].items()
        },
        fired=sorted(data["fired"]),
        results=dict(data["results"]),
    )
