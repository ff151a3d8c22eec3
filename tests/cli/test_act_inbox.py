"""``supervise inbox`` against both engines; ``supervise act`` input checks (its round trip
through a worker is in tests/live/test_workflow_live.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.settings import get_settings
from streams.storage.backends import open_backend
from streams.storage.migrations import migrate
from streams.storage.writer import Writer
from tests.storage.test_workflow_tables import SCENARIO
from tests.storage.test_workflow_tables import history as history  # noqa: F401 - fixture

runner = CliRunner()


@pytest.fixture(params=["server", "chdb"])
def configured(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    import uuid

    if request.param == "server":
        server = request.getfixturevalue("clickhouse_server")
        monkeypatch.setenv("CLICKHOUSE_URL", server.url(f"t_{uuid.uuid4().hex[:12]}"))
    else:
        monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
        monkeypatch.setenv("CHDB_PATH", str(tmp_path / "chdb"))
    monkeypatch.setenv("SUPERVISION_CONFIG", str(SCENARIO.config_file(tmp_path)))
    get_settings.cache_clear()
    yield request.param
    get_settings.cache_clear()


def _write_until(history: dict[str, Any], state: str) -> str:
    """The scenario's versions up to the red card's workflow reaching ``state``."""
    versions = history["versions"]
    wid = SCENARIO.expected_workflows[0]["workflow_id"]
    cut = next(
        i for i, v in enumerate(versions)
        if v.document["workflow_id"] == wid and v.document["state"] == state
    )  # fmt: skip
    backend = open_backend()
    try:
        migrate(backend)
        Writer(backend).write(workflows=versions[: cut + 1])
    finally:
        backend.close()
    return str(wid)


def test_inbox_lists_what_each_user_must_act_on(configured: str, history: dict[str, Any]) -> None:
    wid = _write_until(history, "draft")
    mine = runner.invoke(app, ["inbox", "--as", "A-01", "--format", "json"])
    assert mine.exit_code == 0, mine.output
    rows = [json.loads(line) for line in mine.output.splitlines()]
    assert [(r["workflow_id"], r["state"], r["level"]) for r in rows] == [(wid, "draft", "red")]
    for user in ("I-01", "DEP-SCJ"):  # the draft waits for the office lead, not for them
        found = runner.invoke(app, ["inbox", "--as", user, "--format", "json"])
        assert found.exit_code == 0 and found.output.strip() == "", found.output
    every = runner.invoke(app, ["inbox", "--format", "csv"])
    assert every.exit_code == 0 and wid in every.output
    # a draft runs no clock: nothing overdue yet
    assert runner.invoke(app, ["inbox", "--overdue", "--format", "json"]).output.strip() == ""
    auditor = runner.invoke(app, ["inbox", "--as", "AUD-01"])
    assert auditor.exit_code == 2 and "nothing to act on" in auditor.output
    unknown = runner.invoke(app, ["inbox", "--as", "NOBODY"])
    assert unknown.exit_code == 2 and "not in the users file" in unknown.output
    bad = runner.invoke(app, ["inbox", "--state", "limbo"])
    assert bad.exit_code == 2 and "unknown state" in bad.output
    # dispatched on 09-22: the department must sign for it and reply; both deadlines passed
    _write_until(history, "dispatched")
    late = runner.invoke(app, ["inbox", "--as", "DEP-SCJ", "--overdue", "--format", "json"])
    rows = [json.loads(line) for line in late.output.splitlines()]
    assert [(r["workflow_id"], r["state"], r["overdue"]) for r in rows] == [
        (wid, "dispatched", "OVERDUE")
    ]
    table = runner.invoke(app, ["inbox", "--as", "DEP-SCJ"])
    assert table.exit_code == 0 and "1 open workflow(s) for DEP-SCJ" in table.output


def test_act_refuses_bad_input_before_sending(configured: str) -> None:
    wid = "b20de94b061c06bac6e0c4c1fcf39707"
    args = ["--case", "AP-1", "--version", "1"]
    found = runner.invoke(app, ["act", "teleport", wid, "--as", "I-01", *args])
    assert found.exit_code == 2 and "unknown action type" in found.output
    found = runner.invoke(app, ["act", "claim", wid, "--as", "NOBODY", *args])
    assert found.exit_code == 2 and "not in the users file" in found.output
    found = runner.invoke(app, ["act", "accept-plan", wid, "--as", "I-01", "--plan-date", "x", *args])  # fmt: skip
    assert found.exit_code == 2 and "not a valid action" in found.output
