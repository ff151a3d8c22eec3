"""``supervise diff``: two configurations over the same events, what changes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner, Result

from streams.cli import app
from streams.engine import load_config
from streams.engine.config import DEFAULT_CONFIG
from streams.replay import replay

ROOT = Path(__file__).resolve().parents[2]
WORKED = ROOT / "tests" / "worked" / "01-as-of-cut" / "events.jsonl"
DEFAULT_TEXT = DEFAULT_CONFIG.read_text("utf-8")


def candidate(tmp_path: Path, name: str, *replacements: tuple[str, str], extra: str = "") -> Path:
    """The built-in configuration with some text replaced (each replacement must apply)."""
    text = DEFAULT_TEXT
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text + extra, "utf-8")
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["diff", *args])


def diff(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = invoke(*args, "--format", "json")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, orjson.loads(result.stdout_bytes)


RED_5 = ("red_after_working_days = 3", "red_after_working_days = 5")


def test_red_after_working_days_removes_red_and_relevels_the_case(tmp_path: Path) -> None:
    red5 = candidate(tmp_path, "red5.toml", RED_5)
    code, doc = diff(str(WORKED), "--base", "default", "--candidate", str(red5))
    assert code == 0
    assert doc["config"] == [{"key": "overdue.red_after_working_days", "base": 3, "candidate": 5}]
    assert doc["added"]["count"] == 0
    (removed,) = doc["removed"]["cells"]
    assert (removed["rule"], removed["dept"], removed["level"], removed["count"]) == (
        "OVERDUE",
        "D01",
        "red",
        1,
    )
    (sample,) = removed["sample"]
    assert sample["case_id"] == "330102202603020001"
    assert sample["base"]["raised_at"] == "2026-03-11T00:00:00+08:00"
    assert sample["candidate"] is None
    assert sample["events"] == [
        {
            "event_id": "W01-01",
            "action": "accept",
            "occurred_at": "2026-03-02T09:00:00+08:00",
            "dept": "D01",
        }
    ]
    (relevel,) = doc["relevelled"]["cells"]
    assert (relevel["rule"], relevel["dept"], relevel["level"], relevel["count"]) == (
        "OVERDUE",
        "D01",
        "red→yellow",
        1,
    )
    assert doc["deadlines"]["count"] == 0  # K moves the red card, not D
    # D01 in March: a notice (0), a yellow (1.0), two reds (SKIPPED_STEP and OVERDUE, 1.5
    # each) with the base; one red fewer with the candidate. D02 and D03 stay at 99.
    (score,) = doc["scores"]["changes"]
    assert (score["month"], score["dept"]) == ("2026-03", "D01")
    assert (score["base"]["score"], score["base"]["red"], score["base"]["rank"]) == (96.0, 2, 3)
    assert (score["candidate"]["score"], score["candidate"]["red"]) == (97.5, 1)
    assert score["candidate"]["grade"] == "优秀" and score["candidate"]["rank"] == 3
    assert doc["changed"] is True


def test_fail_on_change_exit_status(tmp_path: Path) -> None:
    red5 = candidate(tmp_path, "red5.toml", RED_5)
    same = candidate(tmp_path, "same.toml", ("# Supervision configuration", "# A copy"))
    code, doc = diff(str(WORKED), "--base", "default", "--candidate", str(red5), "--fail-on-change")
    assert code == 1 and doc["changed"]
    code, doc = diff(str(WORKED), "--base", "default", "--candidate", str(same), "--fail-on-change")
    assert code == 0 and not doc["changed"]
    assert doc["config"] == [] and doc["removed"]["count"] == 0 and doc["scores"]["count"] == 0


def test_deadlines_that_move_largest_shift_first(tmp_path: Path) -> None:
    fixed = candidate(
        tmp_path,
        "fixed.toml",
        ('limit = [{ attr = "time_limit_days" }]', "limit = [{ days = 5 }]"),
    )
    code, doc = diff(str(WORKED), "--base", "default", "--candidate", str(fixed), "--top", "10")
    assert code == 0
    moved = doc["deadlines"]["largest"]
    # 0001: limit 3 -> 5 from Mon 03-02: last day Thu 03-05 -> Mon 03-09 (+4 days);
    # the three cases of 10 working days -> 5: 7 days earlier each.
    assert doc["deadlines"]["count"] == 4
    assert [(d["case_id"], d["shift_seconds"]) for d in moved] == [
        ("330102202603030002", -7 * 86400),
        ("330102202603040003", -7 * 86400),
        ("330102202603040004", -7 * 86400),
        ("330102202603020001", 4 * 86400),
    ]
    assert moved[3]["base"] == "2026-03-06T00:00:00+08:00"
    assert moved[3]["candidate"] == "2026-03-10T00:00:00+08:00"


def test_scoring_weights_move_ranks_but_no_alert(tmp_path: Path) -> None:
    lenient = candidate(tmp_path, "lenient.toml", ("red = 1.5\n", "red = 0.0\n"))
    code, doc = diff(str(WORKED), "--base", "default", "--candidate", str(lenient))
    assert code == 0
    assert doc["config"] == [{"key": "scoring.red", "base": 1.5, "candidate": 0.0}]
    for name in ("added", "removed", "relevelled", "retimed", "deadlines"):
        assert doc[name]["count"] == 0, name
    assert doc["base"]["config_version"] != doc["candidate"]["config_version"]
    # D01 (a yellow, two reds) 96 and third behind D02 and D03 (a yellow each, 99); without
    # points for reds it ties with them at 99, first.
    (change,) = doc["scores"]["changes"]
    assert change["dept"] == "D01"
    assert (change["base"]["score"], change["base"]["rank"]) == (96.0, 3)
    assert (change["candidate"]["score"], change["candidate"]["rank"]) == (99.0, 1)


def test_markdown_and_terminal_reports(tmp_path: Path) -> None:
    red5 = candidate(tmp_path, "red5.toml", RED_5)
    result = invoke(
        str(WORKED), "--base", "default", "--candidate", str(red5), "--format", "markdown"
    )
    assert result.exit_code == 0
    text = result.stdout
    assert text.startswith("# supervise diff ")
    assert "## Alerts removed (raised with the base only): 1" in text
    assert "| OVERDUE | D01 | red | 1 | approval 330102202603020001: W01-01 accept" in text
    assert "| overdue.red_after_working_days | 3 | 5 |" in text
    out = tmp_path / "report.txt"
    result = invoke(str(WORKED), "--base", "default", "--candidate", str(red5), "--out", str(out))
    assert result.exit_code == 0
    report = out.read_text("utf-8")
    assert "Cases re-levelled" in report and "red→yellow" in report


def test_bad_configuration(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[overdue]\nred_after_working_days = 0\n")
    result = invoke(str(WORKED), "--base", "default", "--candidate", str(bad))
    assert result.exit_code == 2 and "unusable configuration" in result.output


def test_diff_is_the_set_difference_of_two_replays(tmp_path: Path) -> None:
    """On the generated workload, a stricter candidate adds exactly the alerts replay with
    the candidate alone raises beyond the base's, and removes none."""
    events = tmp_path / "events.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "generate",
            "--cases",
            "3000",
            "--seed",
            "5",
            "-o",
            str(events),
        ],
        check=True,
        capture_output=True,
    )
    strict = candidate(
        tmp_path,
        "strict.toml",
        ("min_hours = 480", "min_hours = 600"),
        ("min_bidders = 3", "min_bidders = 4"),
    )

    def replayed(config: Path | None) -> set[str]:
        ids: set[str] = set()
        with events.open("rb") as lines:
            replay(lines, load_config(config), lambda a: ids.add(a.alert_id), lambda r: None)
        return ids

    base_ids, strict_ids = replayed(None), replayed(strict)
    code, doc = diff(
        str(events), "--base", "default", "--candidate", str(strict), "--sample", "1000"
    )
    assert code == 0
    added = {s["candidate"]["alert_id"] for cell in doc["added"]["cells"] for s in cell["sample"]}
    assert doc["added"]["count"] == len(strict_ids - base_ids) > 0
    assert added == strict_ids - base_ids
    assert doc["removed"]["count"] == len(base_ids - strict_ids) == 0
    assert {c["rule"] for c in doc["added"]["cells"]} == {"SHORT_TENDER_PERIOD", "TOO_FEW_BIDS"}


@pytest.mark.parametrize("side", ["--base", "--candidate"])
def test_missing_configuration_file(side: str, tmp_path: Path) -> None:
    other = "--candidate" if side == "--base" else "--base"
    result = invoke(str(WORKED), side, str(tmp_path / "nope.toml"), other, "default")
    assert result.exit_code == 2 and "nope.toml" in result.output


NATIONAL_DAY = ROOT / "tests" / "worked" / "05-supervision-national-day"


def with_users(tmp_path: Path, name: str, *replacements: tuple[str, str]) -> Path:
    """The built-in configuration naming the scenario's users (and some text replaced)."""
    shutil.copy(NATIONAL_DAY / "users.toml", tmp_path / "users.toml")
    return candidate(
        tmp_path, name, ('users_file = ""', 'users_file = "users.toml"'), *replacements
    )


def test_actions_count_duban_in_scores(tmp_path: Path) -> None:
    """SCJ in September: a yellow, a red and one 督办 (approved 09-22); a heavier 督办 weight
    moves its score only when the recorded actions are replayed."""
    base = with_users(tmp_path, "base.toml")
    heavy = with_users(tmp_path, "heavy.toml", ("duban = 0.5 ", "duban = 2.5 "))
    events = str(NATIONAL_DAY / "events.jsonl")
    args = (
        events,
        "--base",
        str(base),
        "--candidate",
        str(heavy),
        "--as-of",
        "2026-10-30T00:00:00+08:00",
    )
    code, doc = diff(*args, "--actions", str(NATIONAL_DAY / "actions.jsonl"))
    assert code == 0
    assert doc["config"] == [{"key": "scoring.duban", "base": 0.5, "candidate": 2.5}]
    assert doc["base"]["workflows"] == 2
    changes = {(c["month"], c["dept"]): c for c in doc["scores"]["changes"]}
    september = changes[("2026-09", "SCJ")]
    assert (september["base"]["duban"], september["base"]["score"]) == (1, 97.0)
    assert september["candidate"]["score"] == 95.0
    assert doc["orphaned_workflows"] == []  # its workflow is closed by 10-30
    code, doc = diff(*args)
    assert code == 0 and doc["scores"]["count"] == 0 and "orphaned_workflows" not in doc


def test_open_workflows_whose_alerts_would_no_longer_be_raised(tmp_path: Path) -> None:
    base = with_users(tmp_path, "base.toml")
    off = with_users(
        tmp_path,
        "off.toml",
        ("[rules.OVERDUE]\nenabled = true", "[rules.OVERDUE]\nenabled = false"),
    )
    code, doc = diff(
        str(NATIONAL_DAY / "events.jsonl"), "--base", str(base), "--candidate", str(off),
        "--as-of", "2026-10-01T00:00:00+08:00", "--actions", str(NATIONAL_DAY / "actions.jsonl"),
    )  # fmt: skip
    assert code == 0
    (orphan,) = doc["orphaned_workflows"]
    assert (orphan["rule"], orphan["case_id"], orphan["dept"], orphan["level"]) == (
        "OVERDUE",
        "AP-2026-0901",
        "SCJ",
        "red",
    )
    assert orphan["state"] not in ("closed", "dismissed")
