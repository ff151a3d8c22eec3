"""The department dashboard's scores (dept_month_scores_v): the SQL of the score, grade, rank
and trend panels, expanded as Grafana does and run on chdb, shows exactly what
``monthly_scores`` computes (``reads.month_scores``) for the scenario of
tests/storage/test_scores_sql.py (withdrawn alerts, dismissals, 督办, SUP_* alerts)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from streams.engine import load_config
from streams.storage.scoring_config import record_scoring
from streams.web.reads import month_scores
from tests.deploy.grafana_macros import ALL, Context, expand
from tests.deploy.test_grafana import DASHBOARDS
from tests.fixtures_clickhouse import migrated_chdb
from tests.live.flow import SCENARIO
from tests.storage.test_scores_sql import store

BOARD = DASHBOARDS["department-performance.json"]
DEPTS = ["FGW", "GAJ", "SCJ", "ZJJ"]
# Grafana's range in UTC: 2025-07-01 00:00 to 2025-10-31 23:59 Asia/Shanghai
JUL_TO_OCT = (datetime(2025, 6, 30, 16, tzinfo=UTC), datetime(2025, 10, 31, 15, 59, tzinfo=UTC))
AUG_TO_MID_SEP = (datetime(2025, 8, 1, tzinfo=UTC), datetime(2025, 9, 15, tzinfo=UTC))


def _sql(title_prefix: str) -> str:
    found = next(p for p in BOARD["panels"] if p["title"].startswith(title_prefix))
    return str(found["targets"][0]["rawSql"])


def _run(backend: Any, title: str, span: tuple[datetime, datetime], dept: Any = ALL) -> list[Any]:
    ctx = Context(start=span[0], end=span[1], values={"dept": dept}, options={"dept": DEPTS})
    return list(backend.query(expand(_sql(title), ctx)).dicts())


@pytest.fixture(scope="module")
def scored(chdb_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    config = load_config(SCENARIO.config_file(tmp_path_factory.mktemp("config")))
    with migrated_chdb(chdb_path, "scores") as backend:
        store(backend, config)
        record_scoring(backend, config, now_us=1)
        yield backend, config


def _expected(backend: Any, config: Any, months: list[str]) -> list[tuple[Any, ...]]:
    rows = [(m, s) for m in months for s in month_scores(backend, config, m)]
    rows.sort(key=lambda pair: (-int(pair[0].replace("-", "")), pair[1].rank, pair[1].dept))
    return [
        (m, s.rank, s.dept, s.score, s.grade, s.tally.red, s.tally.yellow, s.tally.notice,
         s.tally.duban, s.tally.sup_receipt_reply, s.tally.sup_rectify)
        for m, s in rows
    ]  # fmt: skip


def test_score_table_equals_monthly_scores(scored: Any) -> None:
    backend, config = scored
    rows = _run(backend, "部门得分与排名", JUL_TO_OCT)
    shown = [
        (r["month"], r["rank"], r["dept"], Decimal(str(r["score"])), r["grade"], r["red"],
         r["yellow"], r["notice"], r["duban"], r["sup_receipt_reply"], r["sup_rectify"])
        for r in rows
    ]  # fmt: skip
    expected = _expected(backend, config, ["2025-07", "2025-08", "2025-09", "2025-10"])
    assert shown == expected
    assert {r["config_version"] for r in rows} == {config.version}
    assert [(r["month"], r["dept"]) for r in rows if r["grade"] != "优秀"] == []
    # a department chosen: its rows only, ranked among every department of the month
    scj = _run(backend, "部门得分与排名", JUL_TO_OCT, ["SCJ"])
    assert [(r["month"], r["rank"]) for r in scj] == [
        ("2025-10", 1),
        ("2025-09", 4),
        ("2025-08", 4),
    ]


def test_latest_month_scores_and_trend(scored: Any) -> None:
    backend, config = scored
    latest = _run(backend, "本月得分", AUG_TO_MID_SEP)  # September: the range's last month
    expected = month_scores(backend, config, "2025-09")
    assert [(r["dept"], Decimal(str(r["score"]))) for r in latest] == [
        (s.dept, s.score) for s in expected
    ]
    trend = _run(backend, "得分趋势", AUG_TO_MID_SEP)
    points = {(str(r["time"])[:10], r["dept"]): r["score"] for r in trend}
    for month in ("2025-08", "2025-09"):
        for s in month_scores(backend, config, month):
            assert Decimal(str(points.pop((f"{month}-01", s.dept)))) == s.score
    assert points == {}
    ranks = _run(backend, "排名趋势", AUG_TO_MID_SEP, ["GAJ"])
    assert [(str(r["time"])[:7], r["rank"]) for r in ranks] == [
        ("2025-08", 3),
        ("2025-09", 2),
    ]


@pytest.mark.parametrize("title", ["本月得分", "部门得分与排名", "得分趋势", "排名趋势"])
def test_quotes_and_backslashes_in_the_department_stay_values(scored: Any, title: str) -> None:
    backend, _ = scored
    for dept in (["SCJ\\", "') OR 1=1 --"], ["S'CJ"]):
        assert _run(backend, title, JUL_TO_OCT, dept) == []
