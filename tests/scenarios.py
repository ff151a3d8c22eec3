"""Worked scenarios: events (and workflow actions) in, expected alerts (and action results,
workflow states) out.

The contract's own live in ``../shared/scenarios``; the project's, for behaviour
the contract states in prose (such as the as-of cut), in ``tests/worked``. Both
have the same layout (``../shared/scenarios/README.md``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from streams.engine.model import Alert

SCENARIOS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "scenarios"
WORKED_DIR = Path(__file__).resolve().parent / "worked"


@dataclass(frozen=True)
class Scenario:
    """A scenario; one with ``actions.jsonl`` also has its users (``users.toml``) and the
    expected action results and workflow states (``expected-results.jsonl``,
    ``expected-workflows.jsonl``)."""

    name: str
    path: Path
    as_of: str
    expected: list[dict]
    rejected: int

    @property
    def events(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def actions(self) -> Path | None:
        path = self.path / "actions.jsonl"
        return path if path.exists() else None

    @property
    def rejected_actions(self) -> int:
        """Rejected action lines, as the README says ("N rejected action line(s)")."""
        readme = (self.path / "README.md").read_text(encoding="utf-8")
        match = re.search(r"(\d+) rejected action line", readme)
        return int(match.group(1)) if match else 0

    @property
    def expected_results(self) -> list[dict]:
        return _jsonl(self.path / "expected-results.jsonl")

    @property
    def expected_workflows(self) -> list[dict]:
        return _jsonl(self.path / "expected-workflows.jsonl")

    def expected_alerts(self) -> list[Alert]:
        """The expected alerts (``expected.jsonl``) as the engine's ``Alert``s."""
        return [alert_of(d) for d in self.expected]

    def config_file(self, directory: Path) -> Path:
        """The built-in configuration naming the scenario's users file, written in ``directory``."""
        from tests.workflow.harness import config_with_users

        config_with_users(directory, users=self.path / "users.toml")
        return directory / "supervision.toml"


def alert_of(d: dict) -> Alert:
    """An alert of a scenario's ``expected.jsonl`` (its ``raised_at`` as text) as an ``Alert``."""
    from streams.engine.model import Alert
    from streams.engine.timeutil import parse_instant

    return Alert(
        d["alert_id"],
        d["rule"],
        d["level"],
        d["case_id"],
        d["process"],
        d["dept"],
        parse_instant(d["raised_at"]),
        d["evidence"],
        d["message"],
        d["details"],
        d["config_version"],
    )  # fmt: skip


def _jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


def load_scenarios(root: Path = SCENARIOS_DIR) -> list[Scenario]:
    scenarios = []
    for path in sorted(p for p in root.iterdir() if p.is_dir()):
        readme = (path / "README.md").read_text(encoding="utf-8")
        match = re.search(r"(\d+) rejected lines", readme)
        scenarios.append(
            Scenario(
                name=path.name,
                path=path,
                as_of=(path / "as_of").read_text(encoding="utf-8").strip(),
                expected=[
                    orjson.loads(line)
                    for line in (path / "expected.jsonl").read_bytes().splitlines()
                    if line
                ],
                rejected=int(match.group(1)) if match else 0,
            )
        )
    return scenarios


def comparable(alert: dict) -> tuple:
    """The fields a scenario fixes: rule, level, case, process, dept, raised_at, and reason/missing if given."""
    details = alert.get("details", alert)
    return (
        alert["rule"],
        alert["level"],
        alert["case_id"],
        alert["process"],
        alert["dept"],
        alert["raised_at"],
        details.get("reason")
        if "reason" in details and alert["rule"] == "UNAUTHORIZED_INSPECTION"
        else None,
        tuple(details["missing"]) if "missing" in details else None,
    )
