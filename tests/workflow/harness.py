"""A workflow engine with the test users, alerts and actions made in one line each."""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path
from typing import Any

from streams.engine import SupervisionConfig, load_config
from streams.engine.alerts import make_alert
from streams.engine.config import DEFAULT_CONFIG
from streams.engine.model import Alert
from streams.engine.timeutil import parse_instant
from streams.workflow import Action, ActionValidator, Outcome, WorkflowEngine, workflow_id_of

USERS = Path(__file__).resolve().parent / "users.toml"
_counter = itertools.count(1)


def config_with_users(
    directory: Path, users: Path = USERS, calendar: str = "", **workflow: Any
) -> SupervisionConfig:
    """The built-in configuration with a users file and ``[workflow]`` overrides
    (``calendar``: the text of an extra calendar file named in it)."""
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    text = text.replace('users_file = ""', 'users_file = "users.toml"')
    for key, value in workflow.items():
        literal = f'"{value}"' if isinstance(value, str) else repr(value).replace("'", '"')
        text, count = re.subn(rf"(?m)^{key} = .*$", f"{key} = {literal}", text)
        assert count == 1, key
    if calendar:
        (directory / "extra-calendar.toml").write_text(calendar, encoding="utf-8")
        text = text.replace("files = []", 'files = ["extra-calendar.toml"]', 1)
    (directory / "supervision.toml").write_text(text, encoding="utf-8")
    shutil.copy(users, directory / "users.toml")
    return load_config(directory / "supervision.toml")


def at(text: str) -> int:
    """An instant; times without offset get +08:00."""
    return parse_instant(text if "+" in text or text.endswith("Z") else text + "+08:00")


def card(
    level: str,
    raised: str,
    case_id: str = "AP-1",
    dept: str = "SCJ",
    rule: str = "OVERDUE",
    process: str = "approval",
    config: SupervisionConfig | None = None,
) -> Alert:
    return make_alert(
        rule,
        level,
        process,
        case_id,
        dept,
        at(raised),
        ["E-1"],
        {"deadline": raised},
        config.version if config else "cfg-test",
    )


def wid(case_id: str = "AP-1", rule: str = "OVERDUE", process: str = "approval") -> str:
    return workflow_id_of(rule, process, case_id, "")


ROLES = {"I": "inspector", "A": "approver", "DEP": "department", "AUD": "auditor"}


def action(
    kind: str,
    user: str,
    when: str,
    version: int,
    workflow_id: str | None = None,
    case_id: str = "AP-1",
    dept: str = "",
    action_id: str = "",
    **fields: Any,
) -> Action:
    """A valid action (through the validator); the actor's role from the user id's prefix."""
    role = ROLES[user.split("-", 1)[0]]
    document: dict[str, Any] = {
        "action_id": action_id or f"act-{next(_counter)}",
        "workflow_id": workflow_id or wid(case_id),
        "case_id": case_id,
        "type": kind,
        "actor": {"user_id": user, "role": role, "dept": dept or _dept_of(user)},
        "acted_at": when if "+" in when else when + "+08:00",
        "expected_version": version,
        **fields,
    }
    return ActionValidator().from_document(document)


def _dept_of(user: str) -> str:
    return user.split("-", 1)[1] if user.startswith("DEP-") else "OFFICE"


class Flow:
    """A workflow engine and everything it said."""

    def __init__(self, config: SupervisionConfig) -> None:
        self.config = config
        self.engine = WorkflowEngine(config)
        self.alerts: list[Alert] = []
        self.results: list[Any] = []

    def _take(self, out: Outcome) -> Outcome:
        self.alerts.extend(out.alerts)
        self.results.extend(d.result for d in out.decisions)
        return out

    def alert(self, alert: Alert) -> Outcome:
        self._take(self.engine.advance(alert.raised_at))
        return self._take(self.engine.on_alert(alert))

    def act(self, action: Action) -> Any:
        """Advance to the action's instant, then act: its result."""
        self._take(self.engine.advance(action.acted_at))
        out = self._take(self.engine.act(action))
        return out.decisions[0].result

    def advance(self, when: str) -> list[Alert]:
        return self._take(self.engine.advance(at(when))).alerts

    def sup(self) -> list[tuple[str, str, str, str]]:
        """(rule, level, raised_at, dept) of every SUP_* alert so far."""
        local = self.config.local
        return [(a.rule, a.level, local.format(a.raised_at), a.dept) for a in self.alerts]

    def state(self, workflow_id: str | None = None) -> Any:
        return self.engine.workflows[workflow_id or wid()]
