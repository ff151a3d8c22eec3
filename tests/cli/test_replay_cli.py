"""`supervise replay` end to end, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.scenarios import WORKED_DIR, comparable, load_scenarios

SCENARIOS = load_scenarios()
WORKED = load_scenarios(WORKED_DIR)


def supervise(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_there_are_scenarios() -> None:
    assert len(SCENARIOS) >= 8


@pytest.mark.parametrize("scenario", SCENARIOS + WORKED, ids=lambda s: s.name)
def test_scenario_through_replay(scenario, tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.jsonl"
    result = supervise(
        "replay", str(scenario.events), "--as-of", scenario.as_of, "--rejects", str(rejects)
    )
    assert result.returncode == 0, result.stderr.decode()
    alerts = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert sorted(map(comparable, alerts)) == sorted(map(comparable, scenario.expected))
    assert len(rejects.read_bytes().splitlines()) == scenario.rejected


def test_rejects_file_records_line_reason_and_original_text(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_bytes(
        b'{"event_id": "E1", "case_id": "A", "process": "approval", "action": "accept", '
        b'"occurred_at": "2026-03-02T10:00:00+08:00", "dept": "D", "attrs": {"time_limit_days": 1}}\n'
        b"\n"
        b'{"event_id": "E2", "case_id": "A", "process": "approval", "action": "accept", '
        b'"occurred_at": "2026-03-02T10:00:00", "dept": "D", "attrs": {"time_limit_days": 1}}\n'
        b"\xff\xfe garbage\n"
    )
    rejects = tmp_path / "rejects.jsonl"
    out = tmp_path / "alerts.jsonl"
    result = supervise(
        "replay",
        str(source),
        "--out",
        str(out),
        "--rejects",
        str(rejects),
        "--as-of",
        "2026-03-10T00:00:00+08:00",
    )
    assert result.returncode == 0
    records = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert [r["line"] for r in records] == [3, 4]
    assert "occurred_at" in records[0]["reason"] and records[0]["raw"].endswith("}")
    assert "raw_base64" in records[1]
    assert len(out.read_bytes().splitlines()) == 3  # notice, yellow, red
    summary = result.stderr.decode()
    assert "read 4 lines, accepted 1, rejected 2" in summary
    assert "OVERDUE" in summary and "yellow" in summary


def test_stdin_duplicates_and_default_as_of() -> None:
    events = [
        {
            "event_id": "E1",
            "case_id": "A",
            "process": "approval",
            "action": "accept",
            "occurred_at": "2026-03-02T10:00:00+08:00",
            "dept": "D",
            "attrs": {"time_limit_days": 1},
        },
        {
            "event_id": "E2",
            "case_id": "B",
            "process": "approval",
            "action": "withdraw",
            "occurred_at": "2026-03-04T00:00:00+08:00",
            "dept": "D",
        },
    ]
    lines = b"\n".join(orjson.dumps(e) for e in events + events[:1]) + b"\n"
    result = supervise("replay", "-", stdin=lines)
    assert result.returncode == 0
    alerts = [orjson.loads(line) for line in result.stdout.splitlines()]
    # as-of defaults to the latest occurred_at (03-04 00:00): notice (03-03) and yellow (03-04 00:00)
    assert [a["level"] for a in alerts] == ["notice", "yellow"]
    assert "duplicates dropped 1" in result.stderr.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "/nonexistent/events.jsonl"], "No such file"),
        (["replay", "-", "--as-of", "yesterday"], "--as-of"),
        (["replay", "-", "--as-of", "2026-03-02T10:00:00"], "without offset"),
        (["replay", "-", "--config", "/nonexistent.toml"], "unusable configuration"),
    ],
)
def test_unusable_arguments_exit_non_zero_with_one_line(args: list[str], message: str) -> None:
    result = supervise(*args, stdin=b"")
    assert result.returncode == 2
    err = result.stderr.decode().strip()
    assert message in err and len(err.splitlines()) == 1


def test_missing_calendar_year_stops_with_the_year(tmp_path: Path) -> None:
    source = tmp_path / "late.jsonl"
    source.write_bytes(
        orjson.dumps(
            {
                "event_id": "E1",
                "case_id": "A",
                "process": "approval",
                "action": "accept",
                "occurred_at": "2026-12-28T10:00:00+08:00",
                "dept": "D",
                "attrs": {"time_limit_days": 10},
            }
        )
        + b"\n"
    )
    result = supervise("replay", str(source))
    assert result.returncode == 2
    assert "2027" in result.stderr.decode()


def test_as_of_cut_counts_the_events_left_out() -> None:
    """rules.md §1.3: events after as-of are read, counted in the summary and not evaluated."""
    (scenario,) = [s for s in WORKED if s.name == "01-as-of-cut"]
    result = supervise("replay", str(scenario.events), "--as-of", scenario.as_of)
    assert result.returncode == 0, result.stderr.decode()
    summary = result.stderr.decode()
    assert "accepted 10" in summary
    assert "3 alerts; 4 events after as-of read and left out" in summary
    # Without --as-of the latest event is the cut: nothing is left out, every alert is raised.
    full = supervise("replay", str(scenario.events))
    rules = sorted(orjson.loads(line)["rule"] for line in full.stdout.splitlines())
    assert rules.count("SKIPPED_STEP") == 1 and rules.count("REFUSAL_WITHOUT_REASON") == 2
    assert "0 events after as-of" in full.stderr.decode()


def test_as_of_before_every_event_gives_nothing() -> None:
    (scenario,) = [s for s in WORKED if s.name == "01-as-of-cut"]
    result = supervise("replay", str(scenario.events), "--as-of", "2026-03-01T00:00:00+08:00")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""
    assert "0 alerts; 10 events after as-of read and left out" in result.stderr.decode()
