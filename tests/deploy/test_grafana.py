"""Grafana dashboards: generated from code, provisioned, and every query runs.

Every ClickHouse panel and variable query is expanded (template variables and
the plugin's macros) for several selections and run on chdb against the
migrations in schemas/clickhouse; every PromQL expression is parsed by promtool.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.observability.metrics import REGISTRY
from tests.deploy.conftest import DEPLOY, REPO, load_yaml, tool
from tests.deploy.grafana_macros import ALL, Context, expand
from tests.fixtures_clickhouse import migrated_chdb

GRAFANA = DEPLOY / "grafana"
DASHBOARD_FILES = sorted((GRAFANA / "dashboards").glob("*.json"))
DASHBOARDS = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in DASHBOARD_FILES}
MIGRATIONS = sorted((REPO / "schemas" / "clickhouse").glob("*.sql"))

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)
OPTIONS = {
    "rule": ["OVERDUE", "SKIPPED_STEP", "PAYEE_MISMATCH"],
    "level": ["notice", "yellow", "red"],
    "dept": ["D01", "D02"],
    "process": ["approval", "fund_disbursement"],
    "period": ["week", "month", "quarter", "year"],
    "instance": [".*"],
}
SELECTIONS: dict[str, dict[str, list[str] | str]] = {
    "all": {
        "shadow": "cfg-shadow1",
        "rule": ALL,
        "level": ALL,
        "dept": ALL,
        "process": ALL,
        "period": "month",
        "case_id": "C2",
        "case_process": "approval",
        "instance": ALL,
    },
    "some": {
        "shadow": "cfg-shadow1",
        "rule": ["OVERDUE", "SKIPPED_STEP"],
        "level": ["red"],
        "dept": ["D02"],
        "process": ["approval"],
        "period": "week",
        "case_id": "C1",
        "case_process": "approval",
        "instance": ALL,
    },
    "quote": {
        "shadow": "cfg'x OR 1=1 --",
        "rule": ["O'RULE"],
        "level": ["yellow"],
        "dept": ["D'01", "D02"],
        "process": ["approval"],
        "period": "year",
        "case_id": "x' OR '1'='1",
        "case_process": "approval' OR 1=1 --",
        "instance": ALL,
    },
    "backslash": {
        "shadow": "cfg\\' OR 1=1 --",
        "rule": ["OVERDUE\\", ") OR 1=1 --"],
        "level": ["red\\"],
        "dept": ["D02\\", "') OR 1=1 --"],
        "process": ["approval\\"],
        "period": "week') OR 1=1 --",
        "case_id": "x\\' OR 1=1 --",
        "case_process": "approval\\",
        "instance": ALL,
    },
    "quarter": {
        "shadow": "cfg-other",
        "rule": ALL,
        "level": ["notice", "yellow"],
        "dept": ["D01"],
        "process": ALL,
        "period": "quarter",
        "case_id": "C2",
        "case_process": "fund_disbursement",
        "instance": ALL,
    },
}


def _build_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "build_dashboards", GRAFANA / "build_dashboards.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _panels() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, board in DASHBOARDS.items():
        for panel in board["panels"]:
            yield name, panel


def _ch_queries() -> list[tuple[str, str]]:
    queries = []
    for name, panel in _panels():
        for target in panel["targets"]:
            if target["datasource"]["uid"] == "clickhouse":
                queries.append((f"{name}:{panel['title']}:{target['refId']}", target["rawSql"]))
    for name, board in DASHBOARDS.items():
        for variable in board["templating"]["list"]:
            if variable["type"] == "query" and variable["datasource"]["uid"] == "clickhouse":
                queries.append((f"{name}:variable {variable['name']}", variable["query"]))
    return queries


def _prom_queries() -> list[tuple[str, str]]:
    return [
        (f"{name}:{panel['title']}:{t['refId']}", t["expr"])
        for name, panel in _panels()
        for t in panel["targets"]
        if t["datasource"]["uid"] == "prometheus"
    ]


# --- the database the queries run on -------------------------------------------------------


def _statements(sql: str) -> list[str]:
    body = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


SAMPLE = """
INSERT INTO events (event_id, case_id, process, action, occurred_at, occurred_at_us, occurred_at_text, dept,
                    actor, party, amount, attrs) VALUES
 ('e1', 'C1', 'approval', 'accept', toDateTime('2026-11-02 09:00:00', 'Asia/Shanghai'), 1793581200000000,
  '2026-11-02T09:00:00+08:00', 'D01', 'u1', '', NULL, '{"time_limit_days":5}'),
 ('e2', 'C1', 'approval', 'complete', toDateTime('2026-11-05 10:00:00', 'Asia/Shanghai'), 1793844000000000,
  '2026-11-05T10:00:00+08:00', 'D01', 'u1', '', NULL, '{}'),
 ('e3', 'C2', 'approval', 'accept', toDateTime('2026-11-02 10:00:00', 'Asia/Shanghai'), 1793584800000000,
  '2026-11-02T10:00:00+08:00', 'D02', 'u2', 'ENT-9', NULL, '{"time_limit_days":1}'),
 ('e4', 'C2', 'approval', 'decide', toDateTime('2026-11-06 10:00:00', 'Asia/Shanghai'), 1793930400000000,
  '2026-11-06T10:00:00+08:00', 'D02', 'u2', 'ENT-9', NULL, '{"decision":"approve"}');
INSERT INTO alerts (alert_id, rule, level, case_id, process, dept, raised_at, raised_at_us, evidence, message,
                    details, config_version, detected_at) VALUES
 ('a1', 'OVERDUE', 'yellow', 'C2', 'approval', 'D02', toDateTime('2026-11-04 00:00:00', 'Asia/Shanghai'),
  1793721600000000, ['e3'], '办件C2超期', '{}', 'v1', toDateTime('2026-11-04 00:00:05', 'Asia/Shanghai')),
 ('a2', 'SKIPPED_STEP', 'red', 'C2', 'approval', 'D02', toDateTime('2026-11-06 10:00:00', 'Asia/Shanghai'),
  1793930400000000, ['e4'], '办件C2跳过审查', '{"missing":["review"]}', 'v1',
  toDateTime('2026-11-06 10:00:01', 'Asia/Shanghai')),
 ('a3', 'OVERDUE', 'notice', 'C1', 'approval', 'D01', toDateTime('2026-11-04 00:00:00', 'Asia/Shanghai'),
  1793721600000000, ['e1'], '办件C1即将到期', '{}', 'v1', toDateTime('2026-11-04 00:00:02', 'Asia/Shanghai')),
 ('a4', 'OVERDUE', 'notice', 'C2', 'approval', 'D02', toDateTime('2026-11-03 00:00:00', 'Asia/Shanghai'),
  1793635200000000, ['e3'], '办件C2即将到期', '{}', 'v1', toDateTime('2026-11-20 09:00:00', 'Asia/Shanghai')),
 ('a5', 'OVERDUE', 'yellow', 'C1', 'approval', 'D01', toDateTime('2026-11-05 00:00:00', 'Asia/Shanghai'),
  1793808000000000, ['e1'], '办件C1超期', '{}', 'v1', toDateTime('2026-11-05 00:00:03', 'Asia/Shanghai'));
INSERT INTO alerts (alert_id, rule, level, case_id, process, dept, raised_at, raised_at_us, evidence, message,
                    details, config_version, detected_at, withdrawn_at, withdrawn_reason, withdrawn_by) VALUES
 ('a5', 'OVERDUE', 'yellow', 'C1', 'approval', 'D01', toDateTime('2026-11-05 00:00:00', 'Asia/Shanghai'),
  1793808000000000, ['e1'], '办件C1超期', '{}', 'v1', toDateTime('2026-11-05 00:00:03', 'Asia/Shanghai'),
  toDateTime('2026-11-06 09:00:00', 'Asia/Shanghai'), 'completed before the deadline (late event)', ['e5']);
INSERT INTO events (event_id, case_id, process, action, occurred_at, occurred_at_us, occurred_at_text, dept,
                    actor, party, amount, attrs, reported_at, reported_at_us, reported_at_text, arrived_at,
                    arrived_at_us) VALUES
 ('e5', 'C9', 'approval', 'withdraw', toDateTime('2026-11-04 18:00:00', 'Asia/Shanghai'), 1793786400000000,
  '2026-11-04T18:00:00+08:00', 'D01', 'u1', '', NULL, '{}', toDateTime('2026-11-06 08:00:00', 'Asia/Shanghai'),
  1793923200000000, '2026-11-06T08:00:00+08:00', toDateTime('2026-11-06 08:59:58', 'Asia/Shanghai'),
  1793926798000000);
INSERT INTO shadow_alerts (alert_id, rule, level, case_id, process, dept, raised_at, raised_at_us, evidence,
                           message, details, config_version, detected_at) VALUES
 ('a1', 'OVERDUE', 'yellow', 'C2', 'approval', 'D02', toDateTime('2026-11-04 00:00:00', 'Asia/Shanghai'),
  1793721600000000, ['e3'], '办件C2超期', '{}', 'cfg-shadow1', toDateTime('2026-11-04 00:00:05', 'Asia/Shanghai')),
 ('a2', 'SKIPPED_STEP', 'red', 'C2', 'approval', 'D02', toDateTime('2026-11-06 10:00:00', 'Asia/Shanghai'),
  1793930400000000, ['e4'], '办件C2跳过审查', '{"missing":["review"]}', 'cfg-shadow1',
  toDateTime('2026-11-06 10:00:01', 'Asia/Shanghai')),
 ('a6', 'OVERDUE', 'red', 'C2', 'approval', 'D02', toDateTime('2026-11-05 00:00:00', 'Asia/Shanghai'),
  1793808000000000, ['e3'], '办件C2超期红牌', '{}', 'cfg-shadow1', toDateTime('2026-11-05 00:00:05', 'Asia/Shanghai')),
 ('a4', 'OVERDUE', 'notice', 'C2', 'approval', 'D02', toDateTime('2026-11-03 12:00:00', 'Asia/Shanghai'),
  1793678400000000, ['e3'], '办件C2即将到期', '{}', 'cfg-shadow1', toDateTime('2026-11-20 09:00:00', 'Asia/Shanghai')),
 ('a1', 'OVERDUE', 'yellow', 'C2', 'approval', 'D02', toDateTime('2026-11-04 00:00:00', 'Asia/Shanghai'),
  1793721600000000, ['e3'], '办件C2超期', '{}', 'cfg-other', toDateTime('2026-11-04 00:00:05', 'Asia/Shanghai'));
INSERT INTO case_status (process, case_id, dept, started_at, deadline, terminal, terminal_action, closed_at,
                         card_level, completed_on_time, updated_at, version) VALUES
 ('approval', 'C1', 'D01', toDateTime('2026-11-02 09:00:00', 'Asia/Shanghai'),
  toDateTime('2026-11-10 00:00:00', 'Asia/Shanghai'), 1, 'complete', toDateTime('2026-11-05 10:00:00', 'Asia/Shanghai'),
  'notice', 1, toDateTime('2026-11-05 10:00:00', 'Asia/Shanghai'), 2),
 ('approval', 'C2', 'D02', toDateTime('2026-11-02 10:00:00', 'Asia/Shanghai'),
  toDateTime('2026-11-04 00:00:00', 'Asia/Shanghai'), 1, 'complete', toDateTime('2026-11-07 10:00:00', 'Asia/Shanghai'),
  'red', 0, toDateTime('2026-11-07 10:00:00', 'Asia/Shanghai'), 3),
 ('penalty', 'P1', 'D01', NULL, NULL, 1, 'decide', toDateTime('2026-11-08 10:00:00', 'Asia/Shanghai'),
  '', NULL, toDateTime('2026-11-08 10:00:00', 'Asia/Shanghai'), 1),
 ('approval', 'C0', 'D02', toDateTime('2026-10-20 09:00:00', 'Asia/Shanghai'),
  toDateTime('2026-10-27 00:00:00', 'Asia/Shanghai'), 1, 'complete', toDateTime('2026-10-31 10:00:00', 'Asia/Shanghai'),
  'yellow', 0, toDateTime('2026-10-31 10:00:00', 'Asia/Shanghai'), 2);
INSERT INTO deadletter (deadletter_id, raw, reason, source, topic, kafka_partition, kafka_offset, file, line)
VALUES ('d1', '{bad', 'invalid_json', 'supervision.approval[0]@17', 'supervision.approval', 0, 17, '', 0);
"""


@pytest.fixture(scope="module")
def chdb_session(chdb_path: Path) -> Iterator[Any]:
    """A fresh database on the process's chdb directory, migrated with schemas/clickhouse, with sample rows."""
    assert MIGRATIONS, "no ClickHouse migrations in schemas/clickhouse"
    with migrated_chdb(chdb_path, "grafana") as backend:
        for statement in _statements(SAMPLE):
            backend.execute(statement)
        yield backend


def run(backend: Any, sql: str) -> list[dict[str, Any]]:
    return backend.query(sql).dicts()


def context(selection: str) -> Context:
    return Context(
        start=START, end=END, interval_s=3600, values=dict(SELECTIONS[selection]), options=OPTIONS
    )


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("selection", sorted(SELECTIONS))
@pytest.mark.parametrize(("where", "sql"), _ch_queries(), ids=[q[0] for q in _ch_queries()])
def test_clickhouse_query_runs_on_the_schema(
    chdb_session: Any, where: str, sql: str, selection: str
) -> None:
    expanded = expand(sql, context(selection))
    try:
        run(chdb_session, expanded)
    except Exception as error:  # the message names the panel and the SQL that failed
        pytest.fail(f"{where} [{selection}] failed: {error}\n{expanded}")


def _query(board: str, title_prefix: str) -> str:
    panel = next(p for p in DASHBOARDS[board]["panels"] if p["title"].startswith(title_prefix))
    return panel["targets"][0]["rawSql"]


def test_alert_board_lists_latest_alerts_first_and_filters(chdb_session: Any) -> None:
    sql = _query("alert-board.json", "最新告警")
    rows = run(chdb_session, expand(sql, context("all")))
    # newest stored first: a4 has an older instant but arrived last (a late upload)
    assert [r["alert_id"] for r in rows] == ["a4", "a2", "a1", "a3"]
    red_only = run(chdb_session, expand(sql, context("some")))
    assert [(r["alert_id"], r["level"], r["dept"]) for r in red_only] == [("a2", "red", "D02")]
    assert run(chdb_session, expand(sql, context("quote"))) == []


def test_alert_board_shows_withdrawn_alerts_with_the_late_events(chdb_session: Any) -> None:
    rows = run(chdb_session, expand(_query("alert-board.json", "撤回的告警"), context("all")))
    assert [
        (
            r["alert_id"],
            r["rule"],
            r["withdrawn_reason"],
            r["late_event"],
            str(r["late_arrived_at"]),
        )
        for r in rows
    ] == [
        (
            "a5",
            "OVERDUE",
            "completed before the deadline (late event)",
            "e5",
            "2026-11-06 08:59:58",
        )
    ]
    assert str(rows[0]["late_reported_at"]) == "2026-11-06 08:00:00"
    assert (
        run(chdb_session, expand(_query("alert-board.json", "撤回的告警"), context("some"))) == []
    )
    # counted nowhere else: one yellow card (a1), a5 not among the latest alerts
    yellow = run(chdb_session, expand(_query("alert-board.json", "黄牌"), context("all")))
    assert yellow == [{"alerts": 1}]
    latest = run(chdb_session, expand(_query("alert-board.json", "最新告警"), context("all")))
    assert "a5" not in {r["alert_id"] for r in latest}


def test_department_ranking_puts_on_time_department_first(chdb_session: Any) -> None:
    rows = run(
        chdb_session, expand(_query("department-performance.json", "部门排名"), context("all"))
    )
    assert [(int(r["rank"]), r["dept"]) for r in rows] == [(1, "D01"), (2, "D02")]
    d01, d02 = rows
    assert float(d01["on_time_rate"]) == 100 and float(d02["on_time_rate"]) == 0
    assert int(d02["red"]) == 1 and int(d02["yellow"]) == 1
    # D01's penalty P1 has no deadline: completed, but not in the on-time rate
    assert (int(d01["completed_cases"]), int(d01["on_time_cases"]), int(d01["late_cases"])) == (
        2,
        1,
        0,
    )


def test_performance_days_are_shanghai_days(chdb_session: Any) -> None:
    # "This month" in a browser in Beijing: 2026-11-01 00:00 to 2026-11-30 23:59:59 +08:00.
    # C0 closed on 2026-10-31 (Shanghai), inside the range's first UTC day: not in November.
    november = Context(
        start=datetime(2026, 10, 31, 16, tzinfo=UTC),
        end=datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC),
        interval_s=3600,
        values=dict(SELECTIONS["all"]),
        options=OPTIONS,
    )
    rows = run(chdb_session, expand(_query("department-performance.json", "部门排名"), november))
    d02 = next(r for r in rows if r["dept"] == "D02")
    assert (int(d02["completed_cases"]), int(d02["late_cases"])) == (1, 1)
    periods = run(
        chdb_session, expand(_query("department-performance.json", "分周期排名"), november)
    )
    assert {str(r["period"]) for r in periods} == {"2026-11-01"}


def test_ranking_by_period_has_a_rank_per_period(chdb_session: Any) -> None:
    rows = run(
        chdb_session, expand(_query("department-performance.json", "分周期排名"), context("all"))
    )
    assert {(str(r["period"]), r["dept"], int(r["rank"])) for r in rows} == {
        ("2026-10-01", "D02", 1),
        ("2026-11-01", "D01", 1),
        ("2026-11-01", "D02", 2),
    }


def test_case_timeline_shows_events_in_order_and_quotes_stay_literal(chdb_session: Any) -> None:
    rows = run(chdb_session, expand(_query("case-timeline.json", "事件时间线"), context("all")))
    assert [r["event_id"] for r in rows] == ["e3", "e4"]
    assert (
        run(chdb_session, expand(_query("case-timeline.json", "事件时间线"), context("quote")))
        == []
    )


def test_backslashes_and_quotes_in_variables_stay_inside_their_values(chdb_session: Any) -> None:
    # Grafana's quoting formats leave "\\" alone and ClickHouse reads it as an escape: a value
    # from a text box or a URL (var-case_id=...) must not end its literal.
    for board, title in (
        ("case-timeline.json", "事件时间线"),
        ("alert-board.json", "最新告警"),
        ("department-performance.json", "部门排名"),
        ("department-performance.json", "分周期排名"),
        ("department-performance.json", "分流程"),
    ):
        assert run(chdb_session, expand(_query(board, title), context("backslash"))) == [], title


def _variable(board: str, name: str) -> dict[str, Any]:
    return next(v for v in DASHBOARDS[board]["templating"]["list"] if v["name"] == name)


@pytest.fixture
def issue_19_session(chdb_path: Path) -> Iterator[Any]:
    """A database holding cases of key_task, proposal and meeting_item (tests/storage/data.py)."""
    from streams.storage.backends import ChdbBackend
    from streams.storage.migrations import migrate
    from streams.storage.writer import Writer
    from tests.storage.data import NEW_ALERTS, NEW_EVENTS, NEW_STATUSES

    database = f"grafana_{uuid.uuid4().hex[:10]}"
    backend = ChdbBackend(chdb_path, database=database)
    try:
        migrate(backend)
        Writer(backend).write(events=NEW_EVENTS, alerts=NEW_ALERTS, case_status=NEW_STATUSES)
        yield backend
    finally:
        try:
            backend.execute(f"DROP DATABASE IF EXISTS `{database}`")
        finally:
            backend.close()


def test_process_variable_lists_every_contract_process_by_its_chinese_name(
    issue_19_session: Any,
) -> None:
    """Processes without data yet (issue #19's) are listed too; a stored process the
    contract does not know still shows. The plugin reads column 1 as value, 2 as text."""
    from streams.engine.validate import process_titles

    variable = _variable("department-performance.json", "process")
    rows = issue_19_session.query(variable["query"]).rows
    titles = process_titles()
    assert [(value, text) for value, text in rows] == [
        (process, f"{name} {process}") for process, name in titles.items()
    ]
    assert ("key_task", "重点工作督办事项 key_task") in rows
    assert variable["sort"] == 0  # query order: contract order, not the labels' code points
    issue_19_session.execute(
        "INSERT INTO case_status (process, case_id, dept, started_at, deadline, terminal,"
        " terminal_action, closed_at, card_level, completed_on_time, updated_at, version) VALUES"
        " ('supervision', 'W1', 'D09', toDateTime('2025-01-02 09:00:00', 'Asia/Shanghai'), NULL,"
        " 0, '', NULL, '', NULL, toDateTime('2025-01-02 09:00:00', 'Asia/Shanghai'), 1)"
    )
    rows = issue_19_session.query(variable["query"]).rows
    assert rows[-1] == ("supervision", "supervision") and len(rows) == len(titles) + 1


def test_department_performance_shows_on_time_rates_of_key_tasks_proposals_meeting_items(
    issue_19_session: Any,
) -> None:
    spring = Context(
        start=datetime(2026, 2, 28, 16, tzinfo=UTC),
        end=datetime(2026, 4, 30, 16, tzinfo=UTC),
        interval_s=3600,
        values=dict(SELECTIONS["all"]),
        options={**OPTIONS, "process": ["key_task", "proposal", "meeting_item"]},
    )
    rows = run(issue_19_session, expand(_query("department-performance.json", "分流程"), spring))
    assert [
        (r["process"], r["process_name"], int(r["completed_cases"]), r["on_time_rate"])
        for r in rows
    ] == [
        ("key_task", "重点工作督办事项", 1, 100),
        ("proposal", "建议提案办理事项", 2, 50),
        ("meeting_item", "会议议定事项", 1, 100),
    ]
    ranking = run(
        issue_19_session, expand(_query("department-performance.json", "部门排名"), spring)
    )
    assert [(int(r["rank"]), r["dept"], float(r["on_time_rate"])) for r in ranking] == [
        (1, "DK", 100.0),
        (2, "DP", 50.0),
    ]
    only_proposals = Context(
        start=spring.start,
        end=spring.end,
        interval_s=3600,
        values={**SELECTIONS["all"], "process": ["proposal"]},
        options=spring.options,
    )
    ranking = run(
        issue_19_session, expand(_query("department-performance.json", "部门排名"), only_proposals)
    )
    assert [(r["dept"], int(r["late_cases"])) for r in ranking] == [("DP", 1)]


def test_rule_change_compares_the_active_alerts_with_a_shadow(chdb_session: Any) -> None:
    """Active: a1..a4. Shadow cfg-shadow1: a1, a2 the same, a5 more (a red card), a4 raised
    12 hours later, a3 not at all. Another shadow's rows are not counted."""
    sql = _query("rule-change.json", "不一致的告警")
    rows = run(chdb_session, expand(sql, context("all")))
    assert [(r["case_id"], r["rule"], r["level"], r["disagreement"]) for r in rows] == [
        ("C1", "OVERDUE", "notice", "active only"),
        ("C2", "OVERDUE", "notice", "raised at another instant"),
        ("C2", "OVERDUE", "red", "shadow only"),
    ]
    assert rows[0]["shadow_raised_at"] is None and rows[2]["active_raised_at"] is None
    cells = run(chdb_session, expand(_query("rule-change.json", "按规则和部门"), context("all")))
    assert [(r["rule"], r["dept"], r["active"], r["shadow"], r["change"]) for r in cells] == [
        ("OVERDUE", "D01", 1, 0, -1),
        ("OVERDUE", "D02", 2, 3, 1),
    ]
    (count,) = run(chdb_session, expand(_query("rule-change.json", "不一致 "), context("all")))
    assert count["disagreements"] == 3
    (shadow,) = run(chdb_session, expand(_query("rule-change.json", "影子配置"), context("all")))
    assert shadow["alerts"] == 4
    assert run(chdb_session, expand(sql, context("some"))) == rows[1:]  # D02 only


@pytest.mark.parametrize("board", ["alert-board.json", "rule-change.json"])
def test_alert_tables_link_case_ids_to_the_case_timeline(board: str) -> None:
    table = next(
        p
        for p in DASHBOARDS[board]["panels"]
        if p["type"] == "table"
        and any(o["matcher"]["options"] == "case_id" for o in p["fieldConfig"]["overrides"])
    )
    links = [
        link["url"]
        for override in table["fieldConfig"]["overrides"]
        if override["matcher"]["options"] == "case_id"
        for prop in override["properties"]
        if prop["id"] == "links"
        for link in prop["value"]
    ]
    uid = DASHBOARDS["case-timeline.json"]["uid"]
    assert links and all(url.startswith(f"/d/{uid}/") for url in links)
    assert (
        "var-case_id=${__value.text}" in links[0]
        and "var-case_process=${__data.fields.process}" in links[0]
    )
    names = {v["name"] for v in DASHBOARDS["case-timeline.json"]["templating"]["list"]}
    assert {"case_process", "case_id"} <= names


def test_prometheus_expressions_parse_and_use_exposed_metrics(tmp_path: Path) -> None:
    queries = _prom_queries()
    assert len(queries) >= 10
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {
                        "record": f"dashboard:expr_{i}",
                        "expr": expr.replace("$__rate_interval", "1m").replace("$instance", ".*"),
                    }
                    for i, (_, expr) in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-exprs.yml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    result = subprocess.run(
        [tool("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    used = {m for _, expr in queries for m in re.findall(r"\bsupervision_[a-z_]+", expr)}
    missing = used - set(REGISTRY._names_to_collectors)
    assert not missing, f"dashboards chart metrics the worker never exposes: {sorted(missing)}"


def test_dashboard_files_are_generated_from_code() -> None:
    rendered = _build_module().render()
    assert sorted(rendered) == [p.name for p in DASHBOARD_FILES]
    for name, text in rendered.items():
        assert (GRAFANA / "dashboards" / name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run .venv/bin/python deploy/grafana/build_dashboards.py"
        )


def test_required_dashboards_exist_with_unique_uids_and_panel_ids() -> None:
    uids = [b["uid"] for b in DASHBOARDS.values()]
    assert len(uids) == len(set(uids))
    assert {
        "supervision-alert-board",
        "supervision-department-performance",
        "supervision-rule-trends",
        "supervision-pipeline-health",
        "supervision-case-timeline",
        "supervision-rule-change",
    } <= set(uids)
    for name, board in DASHBOARDS.items():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{name}:{panel['title']} overflows the grid"


def test_panels_use_provisioned_datasources_and_defined_variables() -> None:
    provisioned = load_yaml(GRAFANA / "provisioning" / "datasources" / "datasources.yml")[
        "datasources"
    ]
    by_uid = {d["uid"]: d for d in provisioned}
    assert by_uid["clickhouse"]["type"] == "grafana-clickhouse-datasource"
    assert (
        by_uid["clickhouse"]["jsonData"]["username"] == "supervision_grafana"
    )  # the read-only user
    assert by_uid["clickhouse"]["secureJsonData"]["password"].startswith("${")
    for name, panel in _panels():
        for target in panel["targets"]:
            ds = target["datasource"]
            assert ds["uid"] in by_uid and by_uid[ds["uid"]]["type"] == ds["type"], (
                f"{name}:{panel['title']}"
            )
    for name, board in DASHBOARDS.items():
        defined = {v["name"] for v in board["templating"]["list"]}
        text = json.dumps([t for _, p in _panels() if _ == name for t in p["targets"]])
        used = set(re.findall(r"\$\{(\w+)", text)) | set(re.findall(r"\$(?!__)([a-z_]+)", text))
        assert used <= defined, f"{name} uses undefined variables {used - defined}"


def test_dashboard_provider_points_where_compose_mounts_the_files() -> None:
    provider = load_yaml(GRAFANA / "provisioning" / "dashboards" / "dashboards.yml")["providers"][0]
    compose = load_yaml(DEPLOY / "docker-compose.yml")
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts


def test_clickhouse_targets_use_the_plugin_query_model() -> None:
    """editorType sql; queryType and format agree (plugin QueryType / sqlutil FormatQueryOption)."""
    formats = {"timeSeries": 0, "table": 1}
    for name, panel in _panels():
        for target in panel["targets"]:
            if target["datasource"]["uid"] != "clickhouse":
                continue
            where = f"{name}:{panel['title']}"
            assert target["editorType"] == "sql", where
            assert formats[target["queryType"]] == target["format"], where
            if panel["type"] == "timeseries":
                assert target["queryType"] == "timeSeries", where
                assert re.search(r"\bAS time\b", target["rawSql"]), (
                    f"{where}: a time series needs a time column"
                )


def test_template_variables_reach_sql_only_percent_encoded() -> None:
    """A value is quoted by ClickHouse's decodeURLComponent, never by Grafana's formats.

    The only other place a variable may stand is the plugin's ``$__conditionalAll``, whose
    second argument is the variable itself (it tests for All and is replaced, not quoted).
    The macro emulation of this suite models exactly these two forms.
    """
    for where, sql in _ch_queries():
        rest = re.sub(r"decodeURLComponent\('\$\{\w+:percentencode\}'\)", "", sql)
        rest = re.sub(r",\s*\$\w+\)", ")", rest)  # $__conditionalAll(condition, $var)
        stray = re.findall(r"\$(?!__)\{?\w+", rest)
        assert not stray, f"{where}: variables outside percent-encoding: {stray}"


def test_on_time_rates_are_coloured_red_low_green_high() -> None:
    """Grafana's default thresholds (green, red from 80) would paint a good rate red."""
    board = DASHBOARDS["department-performance.json"]
    coloured = 0
    for panel in board["panels"]:
        configs = [panel["fieldConfig"]["defaults"]] if panel["type"] == "stat" else []
        configs += [
            {p["id"]: p["value"] for p in o["properties"]}
            for o in panel["fieldConfig"]["overrides"]
            if o["matcher"]["options"] == "on_time_rate"
        ]
        for config in configs:
            if config.get("unit") != "percent":
                continue
            steps = config["thresholds"]["steps"]
            assert [s["color"] for s in steps] == ["red", "yellow", "green"], panel["title"]
            assert [s["value"] for s in steps][1:] == sorted(s["value"] for s in steps[1:])
            assert (config["min"], config["max"]) == (0, 100)
            coloured += 1
    assert coloured >= 3  # the stat, the ranking and the ranking by period
