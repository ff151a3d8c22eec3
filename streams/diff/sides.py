"""One side of a diff: a configuration replayed over the input, and what it leaves.

Each side is ``streams.replay.replay`` itself, over the same lines read once into
memory, so the diff is by construction the difference of two replays. Besides the
alerts it keeps the engine's case states (``last``: the deadline D = end(last)) and
the departments seen.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from streams.engine import Alert, ConfigError, SupervisionConfig, load_config
from streams.engine.config import DEFAULT_CONFIG
from streams.engine.configfile import ConfigFile
from streams.replay import Reject, ReplaySummary, replay, replay_engine
from streams.replay_flow import FlowReplay
from streams.workflow.model import DISMISSED, TERMINAL
from streams.workflow.state import Workflow

DEFAULT = "default"  # the built-in configuration, on either side


@dataclass(frozen=True, slots=True)
class Configuration:
    """A loaded configuration and its file's form (every key, defaults filled in)."""

    name: str  # as given: a path, or "default"
    config: SupervisionConfig
    keys: dict[str, Any]


def load_side_config(name: str) -> Configuration:
    """``default`` or a TOML file; ``ConfigError`` names what is wrong."""
    path = DEFAULT_CONFIG if name == DEFAULT else Path(name)
    config = load_config(path)
    parsed = ConfigFile.model_validate(tomllib.loads(path.read_text("utf-8")))  # loaded: valid
    keys = parsed.model_dump(mode="json", by_alias=True)
    # Rules as in effect (a rule table left out is the rule at its defaults, enabled).
    keys["rules"] = {
        rule: {"enabled": rule in config.enabled, **_plain(params)}
        for rule, params in config.params.items()
    }
    return Configuration(name, config, keys)


def _plain(value: Any) -> Any:
    """Parameters as JSON values (decimals as text, tuples as lists)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass(frozen=True, slots=True)
class CaseDeadline:
    process: str
    case_id: str
    dept: str
    deadline: int | None  # D = end(last), epoch µs; None: the case has no clock


@dataclass(slots=True)
class Side:
    configuration: Configuration
    summary: ReplaySummary
    alerts: dict[str, Alert] = field(default_factory=dict)
    deadlines: dict[str, CaseDeadline] = field(default_factory=dict)  # by "process|case_id"
    depts: set[str] = field(default_factory=set)
    rejects: list[Reject] = field(default_factory=list)
    workflows: list[Workflow] | None = None  # with --actions: every workflow as of the end

    def scored_alerts(self) -> list[Alert]:
        """The alerts that count in scores: not those of a workflow dismissed as
        ``false_positive`` or ``duplicate`` (workflow.md § Scoring)."""
        void = {
            card.alert_id
            for wf in self.workflows or ()
            if wf.state == DISMISSED and wf.dismissal in VOID_DISMISSALS
            for card in wf.cards
        }
        return [a for a in self.alerts.values() if a.alert_id not in void]

    def duban(self) -> list[tuple[str, int]]:
        """(department, approval instant) of each 督办 dispatched, not voided by its dismissal."""
        return [
            (wf.dept, wf.approved_at)
            for wf in self.workflows or ()
            if wf.approved_at is not None
            and not (wf.state == DISMISSED and wf.dismissal in VOID_DISMISSALS)
        ]

    def open_workflows(self) -> list[Workflow]:
        return [wf for wf in self.workflows or () if wf.state not in TERMINAL]


VOID_DISMISSALS = frozenset({"false_positive", "duplicate"})


def evaluate(
    lines: Sequence[bytes],
    configuration: Configuration,
    as_of: int | None,
    actions: Sequence[bytes] | None = None,
) -> Side:
    """Replay ``lines`` with one configuration (and the recorded 督办 ``actions``, when
    given: ``streams.replay_flow``); keep its alerts, deadlines, departments, workflows."""
    config = configuration.config
    engine = replay_engine(config)
    alerts: dict[str, Alert] = {}
    rejects: list[Reject] = []

    def on_alert(alert: Alert) -> None:
        alerts[alert.alert_id] = alert

    flow = None
    if actions is not None:
        flow = FlowReplay(config, actions, lambda decision: None, lambda n, reason, raw: None)
    summary = replay(lines, config, on_alert, rejects.append, as_of=as_of, flow=flow, engine=engine)
    side = Side(configuration, summary, alerts, rejects=rejects)
    if flow is not None:
        side.workflows = list(flow.engine.workflows.values())
    local = config.local
    for key, state in engine.cases.states.items():
        case_id = key[len(state.process) + 1 :]
        deadline = local.end_of(state.last) if state.last is not None else None
        side.deadlines[key] = CaseDeadline(state.process, case_id, state.dept, deadline)
        side.depts.add(state.dept)
    side.depts.update(a.dept for a in alerts.values())
    return side


@dataclass(frozen=True, slots=True)
class EventBrief:
    """What a reviewer needs to see of an event that decides an alert."""

    event_id: str
    action: str
    occurred_at: str
    dept: str


def event_briefs(lines: Sequence[bytes], wanted: set[str]) -> dict[str, EventBrief]:
    """The first line of each wanted ``event_id`` (the one replay kept), briefly."""
    found: dict[str, EventBrief] = {}
    if not wanted:
        return found
    for raw in lines:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(doc, dict):
            continue
        event_id = doc.get("event_id")
        if isinstance(event_id, str) and event_id in wanted and event_id not in found:
            found[event_id] = EventBrief(
                event_id,
                str(doc.get("action", "")),
                str(doc.get("occurred_at", "")),
                str(doc.get("dept", "")),
            )
            if len(found) == len(wanted):
                break
    return found


__all__ = [
    "DEFAULT",
    "CaseDeadline",
    "ConfigError",
    "Configuration",
    "EventBrief",
    "Side",
    "evaluate",
    "event_briefs",
    "load_side_config",
]
