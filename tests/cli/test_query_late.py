"""``supervise query`` and late input on both engines: withdrawn alerts shown only on
request, and an export of the events that replays to the same alerts (reported_at kept)."""

from __future__ import annotations

from datetime import timedelta

import orjson
from typer.testing import CliRunner

from streams.cli import app
from streams.engine import EventValidator, alert_to_dict, load_config
from streams.engine.model import Withdrawal
from streams.engine.timeutil import parse_instant
from streams.replay import replay
from streams.storage.backends import open_backend
from streams.storage.writer import Writer
from streams.workload.config import GenerateConfig
from streams.workload.stream import generate_workload
from tests.cli.test_db_query import configured  # noqa: F401  (the fixture: both engines)
from tests.storage.data import alert

runner = CliRunner()
CONFIG = load_config()


def test_withdrawn_alerts_only_on_request(configured: str) -> None:  # noqa: F811
    assert runner.invoke(app, ["db", "migrate"]).exit_code == 0
    late = EventValidator().from_document(
        {
            "event_id": "late-1",
            "case_id": "FD-0000",
            "process": "fund_disbursement",
            "action": "publicize",
            "occurred_at": "2026-01-01T10:00:00+08:00",
            "reported_at": "2026-01-03T10:00:00+08:00",
            "dept": "D0",
        }
    )
    late.arrived_at = parse_instant("2026-01-05T10:00:00.5+08:00")
    backend = open_backend()
    writer = Writer(backend)
    writer.write(alerts=[alert(1), alert(2, "red")])
    withdrawn_at = parse_instant("2026-01-05T10:00:03+08:00")
    reason = "disproved by a late event"
    writer.write(
        events=[late],
        withdrawals=[
            Withdrawal("a0001", "fund_disbursement", "FD-0000", withdrawn_at, reason, [late])
        ],
    )
    backend.close()

    out = runner.invoke(app, ["query", "alerts", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert [orjson.loads(x)["alert_id"] for x in out.output.splitlines()] == ["a0002"]
    out = runner.invoke(app, ["query", "alerts", "--withdrawn", "--format", "json"])
    assert out.exit_code == 0, out.output
    [shown] = [orjson.loads(x) for x in out.output.splitlines()]
    assert shown["alert_id"] == "a0001"
    assert (shown["withdrawn_at"], shown["withdrawn_reason"]) == (
        "2026-01-05T10:00:03+08:00",
        reason,
    )
    assert shown["withdrawn_by"] == [
        {
            "event_id": "late-1",
            "occurred_at": "2026-01-01T10:00:00+08:00",
            "reported_at": "2026-01-03T10:00:00+08:00",
            "arrived_at": "2026-01-05T10:00:00.500000+08:00",
        }
    ]
    table = runner.invoke(app, ["query", "alerts", "--withdrawn"], env={"COLUMNS": "300"})
    assert table.exit_code == 0 and reason in table.output and "late-1" in table.output
    timeline = runner.invoke(app, ["query", "timeline", "FD-0000", "--format", "json"])
    assert "a0001" not in timeline.output and "late-1" in timeline.output
    timeline = runner.invoke(
        app, ["query", "timeline", "FD-0000", "--withdrawn", "--format", "json"]
    )
    assert reason in timeline.output
    wrong = runner.invoke(app, ["query", "alerts", "--format", "events"])
    assert wrong.exit_code == 2


def _alerts(lines: list[bytes]) -> list[dict]:
    found: list[dict] = []
    replay(lines, CONFIG, lambda a: found.append(alert_to_dict(a, CONFIG.local)), lambda r: None)
    return found


def test_an_export_replays_to_the_same_alerts(configured: str) -> None:  # noqa: F811
    assert runner.invoke(app, ["db", "migrate"]).exit_code == 0
    events, _ = generate_workload(GenerateConfig(cases=150, seed=7))
    for i, event in enumerate(events):  # a share recorded late (LATE_REPORTED), one in UTC
        if i % 9 == 0:
            occurred = CONFIG.local.format(parse_instant(event["occurred_at"]))
            late = parse_instant(occurred) + int(timedelta(hours=30 + i % 50).total_seconds() * 1e6)
            event["reported_at"] = CONFIG.local.format(late)
        elif i % 9 == 1:
            event["reported_at"] = event["occurred_at"]
    lines = [orjson.dumps(e) for e in events]
    expected = _alerts(lines)
    assert any(a["rule"] == "LATE_REPORTED" for a in expected)
    validator = EventValidator()
    backend = open_backend()
    Writer(backend).write(events=[validator.parse(line) for line in lines])
    backend.close()

    out = runner.invoke(app, ["query", "events", "--format", "events"])
    assert out.exit_code == 0, out.output
    exported = [line.encode() for line in out.output.splitlines()]
    assert len(exported) == len(events)  # no limit on an export
    by_id = {e["event_id"]: e for e in events}
    for line in exported:
        event = orjson.loads(line)
        assert event.get("reported_at") == by_id[event["event_id"]].get("reported_at")
        assert event["occurred_at"] == by_id[event["event_id"]]["occurred_at"]
    assert _alerts(exported) == expected
