"""``supervise db`` and ``supervise query`` against both engines."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.settings import get_settings
from streams.storage.backends import open_backend
from streams.storage.writer import Writer
from tests.fixtures_clickhouse import ClickHouseServer
from tests.storage.data import NEW_ALERTS, NEW_EVENTS, NEW_STATUSES, alert, events

runner = CliRunner()


@pytest.fixture(params=["server", "chdb"])
def configured(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "server":
        server: ClickHouseServer = request.getfixturevalue("clickhouse_server")
        monkeypatch.setenv("CLICKHOUSE_URL", server.url(f"t_{uuid.uuid4().hex[:12]}"))
    else:
        path: Path = request.getfixturevalue("chdb_path")
        monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
        monkeypatch.setenv("CHDB_PATH", str(path))
    get_settings.cache_clear()
    yield request.param
    backend = open_backend()
    if backend.database == "default":  # chdb: keep the database, drop what migrate made
        names = backend.query("SELECT name FROM system.tables WHERE database = 'default'").rows
        for (name,) in sorted(names, key=lambda n: not str(n[0]).endswith("_mv")):
            backend.execute(f"DROP TABLE IF EXISTS `{name}`")
    else:
        backend.execute(f"DROP DATABASE IF EXISTS `{backend.database}`")
    backend.close()
    get_settings.cache_clear()


def test_migrate_then_query(configured: str) -> None:
    first = runner.invoke(app, ["db", "migrate"])
    assert first.exit_code == 0, first.output
    assert "applied 0001_core_tables" in first.output
    again = runner.invoke(app, ["db", "migrate"])
    assert again.exit_code == 0 and "applied" not in again.output.replace("schema version", "")
    status = runner.invoke(app, ["db", "status"])
    from streams.storage.migrations import load_migrations

    newest = load_migrations()[-1].version
    assert f"schema version {newest} (code has {newest})" in status.output

    backend = open_backend()
    # migrate records the configuration's [scoring] as the active one (dept_month_scores_v)
    from streams.engine import load_config

    version = load_config(get_settings().supervision_config).version
    assert f"recorded the [scoring] of configuration {version}" in first.output
    recorded = backend.query("SELECT config_version, base, red FROM scoring_active_v").rows
    assert [tuple(r) for r in recorded] == [(version, 100.0, 1.5)]
    Writer(backend).write(events=events(20), alerts=[alert(1), alert(2, "red")])
    backend.close()

    out = runner.invoke(app, ["query", "alerts", "--level", "red", "--format", "json"])
    assert out.exit_code == 0, out.output
    lines = [orjson.loads(x) for x in out.output.splitlines()]
    assert [x["alert_id"] for x in lines] == ["a0002"]
    assert lines[0]["raised_at"] == "2026-01-01T09:00:00+08:00"

    out = runner.invoke(app, ["query", "timeline", "FD-0001", "--format", "csv"])
    assert out.exit_code == 0, out.output
    table = list(csv.DictReader(io.StringIO(out.output.split("\n\n")[0])))
    assert [r["event_id"] for r in table] == ["e000001", "e000011"]
    assert table[0]["amount"] == "1200.50"

    out = runner.invoke(
        app, ["query", "performance", "--since", "2026-01-01", "--until", "2026-01-31"]
    )
    assert out.exit_code == 0, out.output
    assert "D0" in out.output

    missing = runner.invoke(app, ["query", "timeline", "nope"])
    assert missing.exit_code == 2


def test_query_shows_the_processes_of_issue_19(configured: str) -> None:
    assert runner.invoke(app, ["db", "migrate"]).exit_code == 0
    backend = open_backend()
    Writer(backend).write(events=NEW_EVENTS, alerts=NEW_ALERTS, case_status=NEW_STATUSES)
    backend.close()

    span = ["--since", "2026-03-01", "--until", "2026-04-30", "--format", "json"]
    out = runner.invoke(app, ["query", "performance", "--process", "proposal", *span])
    assert out.exit_code == 0, out.output
    [dp] = [orjson.loads(x) for x in out.output.splitlines()]
    assert (dp["dept"], dp["completed_on_time"], dp["completed_late"], dp["on_time_rate"]) == (
        "DP",
        1,
        1,
        0.5,
    )
    out = runner.invoke(app, ["query", "performance", *span])
    assert [orjson.loads(x)["dept"] for x in out.output.splitlines()] == ["DK", "DP"]

    out = runner.invoke(app, ["query", "alerts", "--process", "meeting_item", "--format", "json"])
    assert out.exit_code == 0, out.output
    [mi] = [orjson.loads(x) for x in out.output.splitlines()]
    assert (mi["case_id"], mi["process"], mi["process_name"]) == (
        "MI-2",
        "meeting_item",
        "会议议定事项",
    )

    out = runner.invoke(app, ["query", "timeline", "KT-1", "--format", "csv"])
    assert out.exit_code == 0, out.output
    table = list(csv.DictReader(io.StringIO(out.output.split("\n\n")[0])))
    assert [(r["action"], r["process_name"]) for r in table] == [
        ("assign", "重点工作督办事项"),
        ("progress", "重点工作督办事项"),
        ("complete", "重点工作督办事项"),
    ]
    out = runner.invoke(app, ["query", "events", "--process", "proposal", "--format", "csv"])
    names = {r["process_name"] for r in csv.DictReader(io.StringIO(out.output))}
    assert names == {"建议提案办理事项"}


def test_query_help_names_every_process() -> None:
    out = runner.invoke(app, ["query", "alerts", "--help"], env={"COLUMNS": "200"})
    assert out.exit_code == 0
    for process in ("approval", "key_task", "proposal", "meeting_item"):
        assert process in out.output
