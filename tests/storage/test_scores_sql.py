"""Department scores in ClickHouse (0008_scores.sql) on both engines equal ``monthly_scores``
over ``scored_inputs`` (``reads.month_scores``): duplicate rows, withdrawn alerts, a
false-positive dismissal and a duplicate one, 督办, SUP_* alerts, month boundaries in the
configuration's zone, a department with a workflow and nothing counted; under the active
(last recorded) ``[scoring]``."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from streams.engine import load_config
from streams.engine.configfile import ScoringSection
from streams.engine.model import Alert, Event, Withdrawal
from streams.engine.timeutil import parse_instant
from streams.storage.backends import Backend
from streams.storage.scoring_config import record_scoring
from streams.storage.workflow_rows import WorkflowVersion
from streams.storage.writer import Writer
from streams.web.reads import month_scores
from streams.workflow.state import Card, Workflow, workflow_to_dict
from tests.live.flow import SCENARIO

SEP_1 = parse_instant("2025-09-01T00:00:00+08:00")
AUG_10 = parse_instant("2025-08-10T10:00:00+08:00")
SEP_10 = parse_instant("2025-09-10T10:00:00+08:00")
JUL_10 = parse_instant("2025-07-10T10:00:00+08:00")
OCT_1 = parse_instant("2025-10-01T00:00:00+08:00")
MONTHS = ["2025-06", "2025-07", "2025-08", "2025-09", "2025-10"]


def _alert(n: int, level: str, dept: str, at: int, rule: str = "OVERDUE") -> Alert:
    return Alert(f"s{n:031d}", rule, level, f"S-{n}", "approval", dept, at, [], "m", {}, "v")


def _workflow(n: int, dept: str, created: int, cards: list[Alert], **kw: Any) -> Workflow:
    return Workflow(
        workflow_id=f"w{n:031d}",
        rule="OVERDUE",
        process="approval",
        case_id=f"S-{n}",
        discriminator="",
        dept=dept,
        created_at=created,
        level=cards[0].level if cards else "yellow",
        cards=[Card(a.alert_id, a.level, a.raised_at) for a in cards],
        updated_at=created,
        **kw,
    )


def scenario() -> tuple[list[Alert], list[Workflow], list[Alert]]:
    """(alerts, workflows, the alerts withdrawn)."""
    false_positive = _alert(10, "red", "ZJJ", AUG_10 + 5)
    dup_card = _alert(11, "yellow", "ZJJ", SEP_10 + 5)
    withdrawn = _alert(12, "yellow", "ZJJ", AUG_10 + 6)
    alerts = [
        _alert(1, "red", "SCJ", AUG_10),
        _alert(2, "yellow", "SCJ", AUG_10 + 1),
        _alert(3, "yellow", "SCJ", AUG_10 + 2, "SUP_RECEIPT_OVERDUE"),
        _alert(4, "red", "SCJ", SEP_10, "SUP_RECTIFY_OVERDUE"),
        _alert(5, "yellow", "SCJ", SEP_10 + 1, "SUP_REPLY_OVERDUE"),
        _alert(6, "notice", "SCJ", SEP_10 + 2),
        _alert(7, "yellow", "GAJ", SEP_1),  # the first instant of September (local)
        _alert(8, "red", "GAJ", SEP_1 - 1),  # the last of August
        _alert(9, "yellow", "ZJJ", SEP_10 + 3),
        false_positive,
        dup_card,
        withdrawn,
    ]
    workflows = [
        # 督办 approved in August (SCJ), and one approved in the last microsecond of September
        _workflow(1, "SCJ", AUG_10, alerts[:1], state="dispatched", approved_at=AUG_10 + 9),
        _workflow(2, "SCJ", SEP_10, alerts[3:4], state="received", approved_at=OCT_1 - 1),
        # dismissed as a false positive: its card and nothing else of ZJJ counts 0
        _workflow(
            3, "ZJJ", AUG_10, [false_positive], state="dismissed", dismissal="false_positive"
        ),
        # approved, then dismissed as a duplicate: neither its 督办 nor its card counts
        _workflow(
            4,
            "ZJJ",
            SEP_10,
            [dup_card],
            state="dismissed",
            dismissal="duplicate",
            approved_at=SEP_10 + 7,
        ),  # fmt: skip
        # dismissed otherwise (already rectified): the 督办 counts
        _workflow(
            5,
            "ZJJ",
            SEP_10,
            [alerts[8]],
            state="dismissed",
            dismissal="rectified",
            approved_at=SEP_10 + 8,
        ),  # fmt: skip
        # a department with a workflow since July and nothing counted against it
        _workflow(6, "FGW", JUL_10, [], state="triage"),
    ]
    return alerts, workflows, [withdrawn]


def store(backend: Backend, config: Any) -> None:
    alerts, workflows, withdrawn = scenario()
    versions = [WorkflowVersion(workflow_to_dict(wf, config.local), 1) for wf in workflows]
    writer = Writer(backend)
    writer.write(alerts=alerts, workflows=versions)
    writer.write(alerts=alerts[:4], workflows=versions[:2])  # written again: one row each
    writer.write(
        withdrawals=[
            Withdrawal(a.alert_id, a.process, a.case_id, SEP_10, "late event", [late(a)])
            for a in withdrawn
        ]
    )


def late(alert: Alert) -> Event:
    """The late event that disproves ``alert``."""
    return Event(
        event_id=f"late-{alert.case_id}",
        case_id=alert.case_id,
        process=alert.process,
        action="complete",
        occurred_at=alert.raised_at - 1,
        dept=alert.dept,
    )


SQL = """
SELECT month, dept, score, grade, rank, notices, yellows, reds, duban_count,
       sup_receipt_reply_count, sup_rectify_count
FROM dept_month_scores_v WHERE month = %(month)s ORDER BY rank, dept
"""


def sql_scores(backend: Backend, month: str) -> list[tuple[Any, ...]]:
    return [
        (r["dept"], Decimal(str(r["score"])).normalize(), r["grade"], r["rank"],
         (r["notices"], r["yellows"], r["reds"], r["duban_count"],
          r["sup_receipt_reply_count"], r["sup_rectify_count"]))
        for r in backend.query(SQL, {"month": month}).dicts()
    ]  # fmt: skip


def python_scores(backend: Backend, config: Any, month: str) -> list[tuple[Any, ...]]:
    return [
        (s.dept, s.score.normalize(), s.grade, s.rank,
         (s.tally.notice, s.tally.yellow, s.tally.red, s.tally.duban,
          s.tally.sup_receipt_reply, s.tally.sup_rectify))
        for s in month_scores(backend, config, month)
    ]  # fmt: skip


@pytest.fixture
def config(tmp_path: Any) -> Any:
    return load_config(SCENARIO.config_file(tmp_path))


def test_clickhouse_scores_equal_monthly_scores(migrated_backend: Backend, config: Any) -> None:
    store(migrated_backend, config)
    record_scoring(migrated_backend, config, now_us=1)
    for month in MONTHS:
        assert sql_scores(migrated_backend, month) == python_scores(
            migrated_backend, config, month
        ), month
    august = sql_scores(migrated_backend, "2025-08")
    assert [(d, f"{s:f}", g, r) for d, s, g, r, _ in august] == [
        ("FGW", "100", "优秀", 1),
        ("ZJJ", "100", "优秀", 1),  # its red is a false positive, its yellow withdrawn
        ("GAJ", "98.5", "优秀", 3),  # the red of the last microsecond of August
        ("SCJ", "95.5", "优秀", 4),  # red, yellow, SUP_RECEIPT yellow + 0.5, 督办 0.5
    ]
    september = {d: (f"{s:f}", t) for d, s, _, _, t in sql_scores(migrated_backend, "2025-09")}
    assert september["SCJ"] == ("95.5", (1, 1, 1, 1, 1, 1))
    assert september["ZJJ"] == ("98.5", (0, 1, 0, 1, 0, 0))
    assert september["GAJ"] == ("99", (0, 1, 0, 0, 0, 0))
    assert [d for d, *_ in sql_scores(migrated_backend, "2025-06")] == []
    assert [d for d, *_ in sql_scores(migrated_backend, "2025-07")] == ["FGW"]


def test_the_last_recorded_scoring_is_the_active_one(
    migrated_backend: Backend, config: Any
) -> None:
    store(migrated_backend, config)
    record_scoring(migrated_backend, config, now_us=1)
    harsh = ScoringSection.model_validate(
        {"yellow": 7.25, "red": 20, "duban": 3, "notice": 0.1, "sup_rectify": 2, "pass": 70}
    )
    other = replace(config, scoring=harsh, version="cfg-harsh")
    record_scoring(migrated_backend, other, now_us=2)
    for month in MONTHS:
        assert sql_scores(migrated_backend, month) == python_scores(
            migrated_backend, other, month
        ), month
    september = {d: (f"{s:f}", g) for d, s, g, _, _ in sql_scores(migrated_backend, "2025-09")}
    assert september["SCJ"] == ("67.15", "不合格")  # 100 - 0.1 - 7.25 - 20 - 3 - 0.5 - 2


def test_months_are_those_of_the_configured_zone_across_daylight_saving(
    migrated_backend: Backend, config: Any
) -> None:
    """America/New_York (UTC-4 in summer, -5 in winter): an alert in the first and one in the
    last microsecond of a local month, where UTC is already in the next one."""
    from streams.engine.timeutil import LocalTime

    new_york = replace(config, local=LocalTime("America/New_York"), version="cfg-ny")
    nov_1 = parse_instant("2025-11-01T00:00:00-04:00")  # still daylight time
    dec_1 = parse_instant("2025-12-01T00:00:00-05:00")  # standard time
    Writer(migrated_backend).write(
        alerts=[
            _alert(1, "red", "SCJ", nov_1 - 1),  # October 31st, 23:59:59.999999 local
            _alert(2, "yellow", "SCJ", nov_1),
            _alert(3, "yellow", "ZJJ", dec_1 - 1),  # 05:00 UTC on December 1st
            _alert(4, "red", "ZJJ", dec_1),
        ]
    )
    record_scoring(migrated_backend, new_york, now_us=3)
    for month in ("2025-10", "2025-11", "2025-12"):
        assert sql_scores(migrated_backend, month) == python_scores(
            migrated_backend, new_york, month
        ), month
    tallies = {
        (m, d): t[1:3] for m in ("2025-10", "2025-11", "2025-12")
        for d, _, _, _, t in sql_scores(migrated_backend, m)
    }  # fmt: skip
    assert tallies[("2025-10", "SCJ")] == (0, 1)
    assert tallies[("2025-11", "SCJ")] == (1, 0)
    assert tallies[("2025-11", "ZJJ")] == (1, 0)
    assert tallies[("2025-12", "ZJJ")] == (0, 1)
