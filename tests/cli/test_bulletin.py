"""``supervise bulletin draft|approve|export`` on the embedded engine: revisions, who may
draft and approve (refusals in Chinese, exit 1), export of approved revisions only, and
the exported PDF's figures equal to ``supervise query performance --month`` (the PDF's
text read back with pdfium)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.settings import get_settings
from streams.storage.backends import open_backend
from streams.storage.writer import Writer
from tests.bulletin_text import pdf_text, performance_rows, ranking_rows
from tests.live.flow import SCENARIO
from tests.storage.data import HOUR, T0, alert, status

runner = CliRunner()
MONTH = "2026-01"  # T0 is 2026-01-01 08:00 Asia/Shanghai


@pytest.fixture
def stored(chdb_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The worked scenario's configuration and users over a migrated chdb holding January's
    cards of SCJ, RXZX and ZJJ and the cases they completed (on time or not)."""
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    monkeypatch.setenv("CHDB_PATH", str(chdb_path))
    monkeypatch.setenv("SUPERVISION_CONFIG", str(SCENARIO.config_file(tmp_path)))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    assert runner.invoke(app, ["db", "migrate"]).exit_code == 0
    cards = [
        ("yellow", "OVERDUE", "ZJJ"),
        ("red", "OVERDUE", "RXZX"),
        ("red", "SKIPPED_STEP", "RXZX"),
        ("notice", "OVERDUE", "SCJ"),
        ("red", "STEP_OVERDUE", "SCJ"),
        ("yellow", "SKIPPED_STEP", "SCJ"),
    ]
    alerts = [
        alert(i, level, rule, case=i, dept=dept, raised_at=T0 + i * HOUR)
        for i, (level, rule, dept) in enumerate(cards, start=1)
    ]
    statuses = [
        status(1, 2, dept="SCJ", terminal=True, on_time=True),
        status(2, 2, dept="SCJ", terminal=True, on_time=True),
        status(3, 2, dept="SCJ", terminal=True, on_time=False),
        status(4, 2, dept="ZJJ", terminal=True, on_time=True),
    ]
    backend = open_backend()
    Writer(backend).write(alerts=alerts, case_status=statuses)
    backend.close()
    yield
    backend = open_backend()
    names = backend.query("SELECT name FROM system.tables WHERE database = 'default'").rows
    for (name,) in sorted(names, key=lambda n: not str(n[0]).endswith("_mv")):
        backend.execute(f"DROP TABLE IF EXISTS `{name}`")
    backend.close()
    get_settings.cache_clear()


def _run(*args: str) -> Any:
    return runner.invoke(app, ["bulletin", *args, "--month", MONTH])


def _refused(result: Any, why: str) -> None:
    assert result.exit_code == 1, result.output
    assert "拒绝" in result.stderr and why in result.stderr, result.stderr


def test_draft_approve_export_and_refusals(stored: None, tmp_path: Path) -> None:
    _refused(_run("draft", "--as", "DEP-SCJ"), "只有监察员或审批人可以起草通报")
    _refused(_run("export", "--as", "A-01"), f"{MONTH} 尚无通报")
    drafted = _run("draft", "--as", "I-01")
    assert drafted.exit_code == 0, drafted.output
    assert f"drafted {MONTH} revision 1" in drafted.stdout and "author I-01" in drafted.stdout
    bid = re.search(r"bulletin ([0-9a-f]{32})", drafted.stdout).group(1)  # type: ignore[union-attr]
    _refused(_run("export", "--as", "A-01"), "尚未审批")
    _refused(_run("approve", "--as", "I-01"), "只有审批人可以审批通报")
    approved = _run("approve", "--as", "A-01")
    assert approved.exit_code == 0, approved.output
    assert f"bulletin {bid}" in approved.stdout and "approver A-01" in approved.stdout
    _refused(_run("approve", "--as", "A-02", "--revision", "1"), "已由 A-01 审批")
    # a second revision by an office lead: not approved by its own author
    assert _run("draft", "--as", "A-02").exit_code == 0
    _refused(_run("approve", "--as", "A-02"), "须由起草人以外的审批人审批")
    _refused(_run("approve", "--as", "A-01", "--revision", "7"), "没有第 7 版")
    _refused(_run("export", "--as", "A-01", "--revision", "2"), "第 2 版通报尚未审批")
    unknown = _run("draft", "--as", "NOBODY")
    assert unknown.exit_code == 2 and "not in the users file" in unknown.stderr
    bad = runner.invoke(app, ["bulletin", "draft", "--as", "I-01", "--month", "2026-13"])
    assert bad.exit_code == 2 and "expected YYYY-MM" in bad.stderr
    bare = runner.invoke(app, ["query", "performance"])
    assert bare.exit_code == 2 and "--month" in bare.stderr

    # export: the latest approved revision (1; 2 waits for approval)
    exported = _run("export", "--as", "A-01", "--output", str(tmp_path / "b.pdf"))
    assert exported.exit_code == 0, exported.output
    assert f"bulletin {bid}" in exported.stdout and "revision 1" in exported.stdout
    pdf = (tmp_path / "b.pdf").read_bytes()
    pages, sizes, text = pdf_text(pdf)
    assert all(abs(w - 595.3) < 1 and abs(h - 841.9) < 1 for w, h in sizes)  # A4
    assert f"通报编号：{bid}" in text and "2026年1月 绩效测评通报" in text
    assert "起草：王监察（I-01）" in text and "审批：赵主任（A-01）" in text
    config_version = re.search(r"config (\S+),", drafted.stdout).group(1)  # type: ignore[union-attr]
    assert f"配置版本：{config_version}" in text
    # the figures are the live query's, department by department
    expected = performance_rows(MONTH)
    assert set(expected) == {"SCJ", "RXZX", "ZJJ"}
    assert ranking_rows(text) == expected
    assert expected["SCJ"]["on_time_rate"] == "66.67%" and expected["RXZX"]["rank"] == 3
    # the bottom department named with its cards, in Chinese
    assert "二、排名末位及不合格部门" in text and "RXZX：97.0 分（优秀，第 3 名）" in text
    assert "缺少前置环节（SKIPPED_STEP）" in text and "FD-0003" in text
    assert "三、图表" in text
    # the same bulletin and reader: the same bytes
    again = _run("export", "--as", "A-01", "--output", str(tmp_path / "again.pdf"))
    assert again.exit_code == 0 and (tmp_path / "again.pdf").read_bytes() == pdf

    # an inspector's export: the departments within its scope only (SCJ, RXZX)
    scoped = _run("export", "--as", "I-01", "--revision", "1")
    assert scoped.exit_code == 0, scoped.output
    _, _, text = pdf_text((tmp_path / f"bulletin-{MONTH}-r1.pdf").read_bytes())
    assert set(ranking_rows(text)) == {"SCJ", "RXZX"}
    assert "本件仅含您职责范围内的 2 个部门" in text


def test_query_performance_month_equals_the_dashboard_scores(stored: None) -> None:
    """``db migrate`` recorded the configuration's [scoring]; the scores the Grafana
    department dashboard reads (dept_month_scores_v) are those ``query performance --month``
    prints."""
    import orjson

    out = runner.invoke(app, ["query", "performance", "--month", MONTH, "--format", "json"])
    assert out.exit_code == 0, out.output
    printed = [orjson.loads(line) for line in out.output.splitlines()]
    backend = open_backend()
    try:
        view = backend.query(
            "SELECT rank, dept, score, grade, yellows, reds, notices FROM dept_month_scores_v"
            " WHERE month = %(m)s ORDER BY rank, dept",
            {"m": MONTH},
        ).dicts()
    finally:
        backend.close()
    assert len(printed) == 3
    assert [
        (p["rank"], p["dept"], float(p["score"]), p["grade"], p["yellow"], p["red"], p["notice"])
        for p in printed
    ] == [
        (v["rank"], v["dept"], v["score"], v["grade"], v["yellows"], v["reds"], v["notices"])
        for v in view
    ]
