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
    results, workflows = tmp_path / "results.jsonl", tmp_path / "workflows.jsonl"
    flow: list[str] = []
    if scenario.actions is not None:  # a workflow scenario: its users, its actions
        config = scenario.config_file(tmp_path)
        flow = ["--config", str(config), "--actions", str(scenario.actions)]
        flow += ["--results", str(results), "--workflows", str(workflows)]
    result = supervise(
        "replay", str(scenario.events), "--as-of", scenario.as_of, "--rejects", str(rejects), *flow
    )
    assert result.returncode == 0, result.stderr.decode()
    alerts = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert sorted(map(comparable, alerts)) == sorted(map(comparable, scenario.expected))
    records = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert len([r for r in records if "input" not in r]) == scenario.rejected
    if scenario.actions is not None:
        assert len([r for r in records if r.get("input") == "actions"]) == scenario.rejected_actions
        assert _lines(results) == scenario.expected_results
        assert _lines(workflows) == scenario.expected_workflows


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_the_worked_workflow_scenarios_take_the_whole_path() -> None:
    """The issue's path: red card -> claim -> draft -> approve (second person) -> receive ->
    reply -> return -> reply -> accept plan -> SUP_RECTIFY_OVERDUE -> reply -> close (approver)."""
    (scenario,) = [s for s in WORKED if s.name == "05-supervision-national-day"]
    accepted = [r["type"] for r in scenario.expected_results if r["status"] == "accepted"]
    path = ["claim", "draft", "approve", "receive", "reply", "return", "reply", "accept_plan"]
    assert [t for t in accepted if t != "dismiss"] == [*path, "reply", "close"]
    assert {r["reason"] for r in scenario.expected_results} >= {
        "not_in_scope", "stale_version", "wrong_state",
    }  # fmt: skip
    sup = [a for a in scenario.expected if a["process"] == "supervision"]
    assert [(a["rule"], a["raised_at"]) for a in sup] == [
        ("SUP_RECTIFY_OVERDUE", "2026-10-21T00:00:00+08:00")
    ]


def test_replay_without_actions_opens_no_workflow(tmp_path: Path) -> None:
    """Without --actions the output is what it was before the workflow (no SUP_* alerts);
    with an empty actions file every alert opens a workflow."""
    (scenario,) = [s for s in WORKED if s.name == "05-supervision-national-day"]
    plain = supervise("replay", str(scenario.events), "--as-of", scenario.as_of)
    empty = tmp_path / "none.jsonl"
    empty.write_bytes(b"")
    workflows = tmp_path / "workflows.jsonl"
    with_flow = supervise(
        "replay", str(scenario.events), "--as-of", scenario.as_of,
        "--actions", str(empty), "--workflows", str(workflows),
    )  # fmt: skip
    assert plain.returncode == with_flow.returncode == 0
    case_alerts = [line for line in with_flow.stdout.splitlines() if b'"supervision"' not in line]
    assert case_alerts == plain.stdout.splitlines() and b"SUP_" not in plain.stdout
    assert b"SUP_TRIAGE_OVERDUE" in with_flow.stdout  # the red card was never triaged
    assert len(_lines(workflows)) == 2
    refused = supervise("replay", str(scenario.events), "--results", str(tmp_path / "r"))
    assert refused.returncode == 2 and b"need --actions" in refused.stderr


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


def _case_into_2027(tmp_path: Path) -> Path:
    """An approval accepted 2026-12-04 with 20 working days: its deadline is in 2027."""
    source = tmp_path / "late.jsonl"
    source.write_bytes(
        b"".join(
            orjson.dumps(event) + b"\n"
            for event in (
                {
                    "event_id": "E1",
                    "case_id": "A-2027",
                    "process": "approval",
                    "action": "accept",
                    "occurred_at": "2026-12-04T10:00:00+08:00",
                    "dept": "D",
                    "attrs": {"time_limit_days": 20},
                },
                {
                    "event_id": "E2",
                    "case_id": "B",
                    "process": "approval",
                    "action": "accept",
                    "occurred_at": "2026-12-04T10:00:00+08:00",
                    "dept": "D",
                    "attrs": {"time_limit_days": 3},
                },
            )
        )
    )
    return source


def test_missing_calendar_year_leaves_the_case_pending_and_names_it(tmp_path: Path) -> None:
    """rules.md §1.5: exit 0; the summary names the pending case and the missing year."""
    result = supervise(
        "replay", str(_case_into_2027(tmp_path)), "--as-of", "2026-12-31T00:00:00+08:00"
    )
    assert result.returncode == 0, result.stderr.decode()
    alerts = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert {(a["case_id"], a["level"]) for a in alerts} == {
        ("B", "notice"),
        ("B", "yellow"),
        ("B", "red"),
    }
    err = result.stderr.decode()
    assert "pending: 1 cases wait for calendar years without data: 2027 (1 cases)" in err
    assert "  approval A-2027: case clock (needs 2027)" in err


def test_strict_fails_when_a_case_is_pending(tmp_path: Path) -> None:
    result = supervise("replay", str(_case_into_2027(tmp_path)), "--strict")
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "approval A-2027" in err
    assert err.splitlines()[-1] == (
        "supervise replay: --strict: 1 cases pending for calendar years 2027"
    )


def test_strict_passes_when_nothing_is_pending(tmp_path: Path) -> None:
    source = tmp_path / "one.jsonl"
    source.write_bytes(_case_into_2027(tmp_path).read_bytes().splitlines()[1] + b"\n")
    assert supervise("replay", str(source), "--strict").returncode == 0


def test_many_pending_cases_are_counted_not_all_listed(tmp_path: Path) -> None:
    source = tmp_path / "many.jsonl"
    source.write_bytes(
        b"".join(
            orjson.dumps(
                {
                    "event_id": f"E{i}",
                    "case_id": f"C{i:02d}",
                    "process": "approval",
                    "action": "accept",
                    "occurred_at": "2026-12-20T10:00:00+08:00",
                    "dept": "D",
                    "attrs": {"time_limit_days": 10},
                }
            )
            + b"\n"
            for i in range(25)
        )
    )
    result = supervise("replay", str(source))
    assert result.returncode == 0
    err = result.stderr.decode()
    assert "pending: 25 cases" in err and "  ... and 5 more" in err
    assert "approval C19:" in err and "approval C20:" not in err


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


def test_a_progress_marker_in_a_file_is_rejected_as_not_an_event(tmp_path: Path) -> None:
    """events.md: files hold one event per line; a marker is a Kafka message keyed
    ``__progress__``, so a marker's value in a file is rejected, saying so."""
    source = tmp_path / "events.jsonl"
    source.write_bytes(
        b'{"event_id": "E1", "case_id": "A", "process": "approval", "action": "accept", '
        b'"occurred_at": "2026-03-02T10:00:00+08:00", "dept": "D", "attrs": {"time_limit_days": 1}}\n'
        b'{"source": "approval-platform", "watermark": "2026-03-02T11:00:00+08:00"}\n'
        b'{"source": "approval-platform"}\n'
    )
    rejects = tmp_path / "rejects.jsonl"
    result = supervise(
        "replay", str(source), "--rejects", str(rejects), "--as-of", "2026-03-10T00:00:00+08:00"
    )
    assert result.returncode == 0, result.stderr.decode()
    records = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert [r["line"] for r in records] == [2, 3]
    assert records[0]["reason"].startswith("progress_marker: ")
    assert (
        "keyed __progress__" in records[0]["reason"]
        and "files hold events only" in (records[0]["reason"])
    )
    assert not records[1]["reason"].startswith("progress_marker")  # not a marker: a bad event
    assert len(result.stdout.splitlines()) == 3  # the accept's notice, yellow, red
