"""Replay quarantines a case the engine fails on, as the live service does (issue #13).

The failure is injected around the engine (a wrapper that raises on one case's events):
that case's events are rejects with reason ``engine_error``, the other cases' alerts are
those of a replay without it, the summary counts the quarantined case, and the exit is 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from streams import replay as replay_module
from streams.cli import app
from streams.engine import Engine

AS_OF = "2026-03-20T00:00:00+08:00"


def accept(event_id: str, case_id: str, day: int) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "case_id": case_id,
            "process": "approval",
            "action": "accept",
            "occurred_at": f"2026-03-{day:02d}T10:00:00+08:00",
            "dept": "D01",
            "attrs": {"time_limit_days": 1},
        }
    )


class FailingEngine:
    """The real engine, except that processing an event of case ``BAD`` raises mid-way."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.inner = Engine(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def process(self, event: Any) -> Any:
        alerts = self.inner.process(event)
        if event.case_id == "BAD":
            raise KeyError("rule exploded")
        return alerts


def run(
    tmp_path: Path, lines: list[bytes]
) -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]]]:
    source, out, rejects = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "rej.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    result = CliRunner().invoke(
        app,
        ["replay", str(source), "--as-of", AS_OF, "--out", str(out), "--rejects", str(rejects)],
    )
    alerts = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    rejected = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    return result, alerts, rejected


def test_a_case_the_engine_fails_on_is_quarantined_and_the_replay_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = [accept("E1", "A", 2)]
    _, expected, _ = run(tmp_path, good)
    assert expected  # the good case raises its timed alerts

    monkeypatch.setattr(replay_module, "Engine", FailingEngine)
    bad = [accept("B1", "BAD", 2), accept("B2", "BAD", 3)]
    result, alerts, rejected = run(tmp_path, [good[0], bad[0], bad[1]])
    assert result.exit_code == 0, result.output
    assert alerts == expected  # nothing of BAD: its timers were dropped with its state
    assert [r["event_id"] for r in rejected] == ["B1", "B2"]
    assert rejected[0]["reason"] == "engine_error: KeyError: 'rule exploded'"
    assert rejected[1]["reason"] == "case quarantined: engine_error: KeyError: 'rule exploded'"
    assert orjson.loads(rejected[0]["raw"])["case_id"] == "BAD"
    assert "quarantined: 1 cases the engine failed on; their 2 events" in result.output
