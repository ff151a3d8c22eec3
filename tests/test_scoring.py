"""Department scores (workflow.md § Scoring): the formula, grades and ranks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from streams.engine import Alert, load_config
from streams.engine.config import DEFAULT_CONFIG
from streams.engine.configfile import ConfigError, ScoringSection
from streams.engine.timeutil import LocalTime, parse_instant
from streams.scoring import Tally, grade, monthly_scores, score

LOCAL = LocalTime("Asia/Shanghai")
DEFAULTS = ScoringSection()


def alert(rule: str, level: str, dept: str, at: str) -> Alert:
    return Alert(
        f"{rule}{level}{dept}{at}",
        rule,
        level,
        "C1",
        "approval",
        dept,
        parse_instant(at),
        [],
        "",
        {},
        "cfg",
    )


def test_formula_with_the_default_weights() -> None:
    tally = Tally(notice=4, yellow=3, red=2, duban=1, sup_receipt_reply=2, sup_rectify=1)
    # 100 − 0 − 3 × 1.0 − 2 × 1.5 − 0.5 − 2 × 0.5 − 1.0
    assert score(tally, DEFAULTS) == Decimal("91.5")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("90", "优秀"),
        ("89.5", "良好"),
        ("80", "良好"),
        ("79.9", "合格"),
        ("60", "合格"),
        ("59.5", "不合格"),
    ],
)
def test_grade_bounds(value: str, expected: str) -> None:
    assert grade(Decimal(value), DEFAULTS) == expected


def test_sup_alerts_count_by_level_and_by_their_own_term() -> None:
    tally = Tally()
    tally.add_alert("SUP_REPLY_OVERDUE", "yellow")
    tally.add_alert("SUP_RECTIFY_OVERDUE", "red")
    tally.add_alert("OVERDUE", "notice")
    assert tally.as_dict() == {
        "notice": 1,
        "yellow": 1,
        "red": 1,
        "duban": 0,
        "sup_receipt_reply": 1,
        "sup_rectify": 1,
    }
    assert score(tally, DEFAULTS) == Decimal("96.0")  # 100 − 1 − 1.5 − 0.5 − 1


def test_months_in_local_time_ranks_share_ties() -> None:
    alerts = [
        alert("OVERDUE", "yellow", "A", "2026-03-31T23:30:00+08:00"),  # March locally
        alert("OVERDUE", "red", "B", "2026-03-31T16:30:00Z"),  # April 1st 00:30 locally
        alert("OVERDUE", "yellow", "C", "2026-03-10T10:00:00+08:00"),
    ]
    scores = monthly_scores(
        alerts,
        DEFAULTS,
        LOCAL,
        depts=["D"],
        duban=[("A", parse_instant("2026-04-02T10:00:00+08:00"))],
    )
    march = [(s.dept, str(s.score), s.rank) for s in scores["2026-03"]]
    assert march == [("B", "100.0", 1), ("D", "100.0", 1), ("A", "99.0", 3), ("C", "99.0", 3)]
    april = [(s.dept, str(s.score), s.grade, s.rank) for s in scores["2026-04"]]
    assert april == [
        ("C", "100.0", "优秀", 1),
        ("D", "100.0", "优秀", 1),
        ("A", "99.5", "优秀", 3),
        ("B", "98.5", "优秀", 4),
    ]


def test_scoring_table_is_validated() -> None:
    with pytest.raises(ValueError, match="excellent > good > pass"):
        ScoringSection(good=95)
    assert issubclass(ConfigError, ValueError)


def test_scoring_at_its_defaults_keeps_the_config_version(tmp_path: Path) -> None:
    """Earlier configurations (without [scoring]) keep their version; other weights change it."""
    text = DEFAULT_CONFIG.read_text("utf-8")
    start = text.index("[scoring]")
    end = text.index("# ----", start)
    without = tmp_path / "without.toml"
    without.write_text(text[:start] + text[end:], "utf-8")
    heavier = tmp_path / "heavier.toml"
    heavier.write_text(text.replace("red = 1.5\n", "red = 2.0\n", 1), "utf-8")
    assert load_config(without).version == load_config().version
    assert load_config(heavier).version != load_config().version
    assert load_config(heavier).scoring.red == 2.0
