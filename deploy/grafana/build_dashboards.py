"""Grafana dashboards as code: writes deploy/grafana/dashboards/*.json.

Run after editing:  .venv/bin/python deploy/grafana/build_dashboards.py
tests/deploy/test_grafana.py checks the JSON files are up to date, runs every
ClickHouse query (macros expanded) on chdb against schemas/clickhouse, and
parses every PromQL expression with promtool.

Data sources (deploy/grafana/provisioning/datasources/datasources.yml):
uid ``clickhouse`` (grafana-clickhouse-datasource, database ``supervision``,
read-only user) and uid ``prometheus``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
EVENT_SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "event.schema.json"
CH = {"type": "grafana-clickhouse-datasource", "uid": "clickhouse"}
PROM = {"type": "prometheus", "uid": "prometheus"}
TABLE, TIMESERIES = 1, 0  # ClickHouse plugin "format"
# The plugin version the targets are written for; docker-compose.yml installs exactly it.
CLICKHOUSE_PLUGIN_VERSION = "4.11.2"
TAGS = ["supervision", "电子监察"]
CASE_TIMELINE_UID = "supervision-case-timeline"

LEVEL_COLORS = {"notice": "blue", "yellow": "yellow", "red": "red"}
# Panels colour by thresholds unless told otherwise, and Grafana's default (green, red
# from 80) would paint a good on-time rate red: every coloured panel says what it means.
RATE_THRESHOLDS = {
    "mode": "absolute",
    "steps": [
        {"color": "red", "value": None},
        {"color": "yellow", "value": 80},
        {"color": "green", "value": 95},
    ],
}
COUNT_COLOR = {"mode": "fixed", "fixedColor": "text"}
# A stat of how many workers report something: red at 0, green from 1.
WORKERS_THRESHOLDS = {
    "mode": "absolute",
    "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}],
}


def process_names() -> dict[str, str]:
    """Chinese display name of each process of the event contract, in contract order
    (the ``title`` of its ``$defs/process_<name>``)."""
    schema = json.loads(EVENT_SCHEMA.read_text(encoding="utf-8"))
    return {
        name: schema["$defs"][f"process_{name}"]["title"]
        for name in schema["properties"]["process"]["enum"]
    }


PROCESS_NAMES = process_names()


def _sql_strings(values: list[str]) -> str:
    for value in values:  # names from our own schema: plain words, never quotes or backslashes
        if "'" in value or "\\" in value:
            raise ValueError(f"process name {value!r} needs quoting")
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


PROCESS_CODES_SQL = _sql_strings(list(PROCESS_NAMES))


def process_label(column: str = "process", with_code: bool = False) -> str:
    """SQL: the Chinese name of the process in ``column`` ("名称 code" with ``with_code``);
    a process the contract does not list shows as itself."""
    names = [f"{n} {p}" if with_code else n for p, n in PROCESS_NAMES.items()]
    return f"transform({column}, {PROCESS_CODES_SQL}, {_sql_strings(names)}, {column})"


# Contract processes first, in contract order, then any other stored process by name.
PROCESS_ORDER = (
    f"indexOf({PROCESS_CODES_SQL}, process) = 0, indexOf({PROCESS_CODES_SQL}, process), process"
)

# --- template variables -------------------------------------------------------------


def ch_variable(name: str, label: str, sql: str, sort: int = 1) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": CH,
        "query": sql,
        "definition": sql,
        # On dashboard load: the lists do not depend on the time range, and with
        # "on time range change" every auto-refresh of the live board re-ran them.
        "refresh": 1,
        "multi": True,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": sort,
    }


def custom_variable(
    name: str,
    label: str,
    options: list[tuple[str, str]],
    *,
    multi: bool,
    default: str | None = None,
) -> dict[str, Any]:
    include_all = multi
    current_value = default if default is not None else "$__all"
    current_text = next((t for t, v in options if v == default), "All")
    return {
        "name": name,
        "label": label,
        "type": "custom",
        "query": ",".join(f"{text} : {value}" for text, value in options),
        "options": [
            {"selected": value == default, "text": text, "value": value} for text, value in options
        ],
        "multi": multi,
        "includeAll": include_all,
        "current": {"selected": True, "text": current_text, "value": current_value},
    }


def textbox_variable(name: str, label: str, default: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "textbox",
        "query": default,
        "current": {"selected": False, "text": default, "value": default},
    }


# Value lists read the base tables: DISTINCT needs no FINAL merge (a row not yet merged
# away has the same rule and department as the one that stays).
RULE_VAR = ch_variable("rule", "规则 rule", "SELECT DISTINCT rule FROM alerts ORDER BY rule")
LEVEL_VAR = custom_variable(
    "level",
    "等级 level",
    [("提示 notice", "notice"), ("黄牌 yellow", "yellow"), ("红牌 red", "red")],
    multi=True,
)
DEPT_ALERTS_VAR = ch_variable("dept", "部门 dept", "SELECT DISTINCT dept FROM alerts ORDER BY dept")
DEPT_PERF_VAR = ch_variable(
    "dept", "部门 dept", "SELECT DISTINCT dept FROM case_status ORDER BY dept"
)
# Every process of the contract, with or without data yet, and any other process stored.
# Two columns: the plugin takes the first as the value and the second as the text.
PROCESS_VAR = ch_variable(
    "process",
    "流程 process",
    f"SELECT process, {process_label(with_code=True)} AS label\n"
    f"FROM (SELECT arrayJoin({PROCESS_CODES_SQL}) AS process\n"
    "      UNION ALL SELECT DISTINCT process FROM case_status)\n"
    f"GROUP BY process\nORDER BY {PROCESS_ORDER}",
    sort=0,
)
PERIOD_VAR = custom_variable(
    "period",
    "周期 period",
    [("周 week", "week"), ("月 month", "month"), ("季度 quarter", "quarter"), ("年 year", "year")],
    multi=False,
    default="month",
)


# Variable values reach SQL percent-encoded and are decoded by ClickHouse: Grafana's quoting
# formats (singlequote, sqlstring) leave a backslash as it is, and ClickHouse reads it as an
# escape, so a value typed in a box or set in a URL (var-dept=...) could end the string
# literal. A percent-encoded value holds only letters, digits and "-_.~%".
def var_text(name: str) -> str:
    """One value of variable ``name`` as a ClickHouse string."""
    return f"decodeURLComponent('${{{name}:percentencode}}')"


def var_list(name: str) -> str:
    """The selected values of multi-value variable ``name`` as an Array(String).

    Grafana encodes several values as "{a,b}": values may not contain "," or end in braces.
    """
    return f"splitByChar(',', trim(BOTH '{{}}' FROM {var_text(name)}))"


def var_filter(column: str, name: str) -> str:
    return f"$__conditionalAll(has({var_list(name)}, {column}), ${name})"


ALERT_FILTER = (
    f"{var_filter('rule', 'rule')} AND {var_filter('level', 'level')}"
    f" AND {var_filter('dept', 'dept')}"
)
PERF_FILTER = f"{var_filter('dept', 'dept')} AND {var_filter('process', 'process')}"
# Start of the period (variable 周期) a day falls in; weeks start on Monday.
PERIOD_START = (
    f"multiIf({var_text('period')} = 'week', toMonday(day), {var_text('period')} = 'quarter',"
    f" toStartOfQuarter(day), {var_text('period')} = 'year', toStartOfYear(day),"
    " toStartOfMonth(day))"
)
# Where a period's point is drawn on a time axis: its start, or the range's first day
# when the period began before the range (else the first period, and with quarter or
# year often every period, would fall left of the axis and not be drawn).
PERIOD_POINT = (
    f"toDateTime(greatest({PERIOD_START}, toDate($__fromTime, 'Asia/Shanghai')), 'Asia/Shanghai')"
)
# Days are Asia/Shanghai dates; $__dateFilter would cut them at the Grafana
# server's midnight (UTC in the compose stack), eight hours off.
DAY_FILTER = (
    "day BETWEEN toDate($__fromTime, 'Asia/Shanghai') AND toDate($__toTime, 'Asia/Shanghai')"
)
# On-time rate: of the cases completed that had a deadline (a case clock), the
# share completed on time. Cases without a clock (penalties, tenders, ...) are
# completed but neither on time nor late.
ON_TIME_RATE = (
    "if(sum(completed_on_time) + sum(completed_late) = 0, NULL,"
    " round(100 * sum(completed_on_time) / (sum(completed_on_time) + sum(completed_late)), 1))"
)

# Department scores (绩效测评, workflow.md § Scoring) per local month: dept_month_scores_v
# (schemas/clickhouse/0008_scores.sql) counts them exactly as `supervise query performance
# --month` and the bulletins do, under the active configuration's [scoring]. A month shows
# when it overlaps the time range; ranks are among every department of the month, the
# variable 部门 only chooses the rows shown.
MONTH_FILTER = (
    "month_start BETWEEN toStartOfMonth(toDate($__fromTime, 'Asia/Shanghai'))"
    " AND toDate($__toTime, 'Asia/Shanghai')"
)
SCORE_FILTER = f"{MONTH_FILTER} AND {var_filter('dept', 'dept')}"
# Colours of the default grade bounds: 不合格 below 60, 合格, 良好 from 80, 优秀 from 90.
SCORE_THRESHOLDS = {
    "mode": "absolute",
    "steps": [
        {"color": "red", "value": None},
        {"color": "yellow", "value": 60},
        {"color": "blue", "value": 80},
        {"color": "green", "value": 90},
    ],
}
GRADE_COLORS = {"优秀": "green", "良好": "blue", "合格": "yellow", "不合格": "red"}

# --- panels ---------------------------------------------------------------------------


class Layout:
    """Places panels left to right, 24 columns wide, and assigns ids."""

    def __init__(self) -> None:
        self.x = self.y = self.row_height = 0
        self.next_id = 1

    def place(self, panel: dict[str, Any], w: int, h: int) -> dict[str, Any]:
        if self.x + w > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": w, "h": h}
        panel["id"] = self.next_id
        self.next_id += 1
        self.x += w
        self.row_height = max(self.row_height, h)
        return panel


def ch_target(sql: str, fmt: int, ref: str = "A") -> dict[str, Any]:
    return {
        "refId": ref,
        "datasource": CH,
        "editorType": "sql",
        "format": fmt,
        "queryType": "timeSeries" if fmt == TIMESERIES else "table",  # plugin QueryType values
        "rawSql": sql,
        "pluginVersion": CLICKHOUSE_PLUGIN_VERSION,
    }


def prom_target(expr: str, legend: str, ref: str) -> dict[str, Any]:
    return {"refId": ref, "datasource": PROM, "expr": expr, "legendFormat": legend, "range": True}


def panel(
    kind: str,
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    datasource: dict[str, str],
    unit: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    if unit:
        defaults["unit"] = unit
    for key in ("color", "thresholds", "min", "max"):
        if key in extra:
            defaults[key] = extra.pop(key)
    body: dict[str, Any] = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": datasource,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": extra.pop("overrides", [])},
        "options": extra.pop("options", {}),
    }
    body.update(extra)
    return body


def level_colors() -> list[dict[str, Any]]:
    return [
        {
            "matcher": {"id": "byName", "options": "level"},
            "properties": [
                {
                    "id": "mappings",
                    "value": [
                        {
                            "type": "value",
                            "options": {
                                lvl: {"color": color, "index": i}
                                for i, (lvl, color) in enumerate(LEVEL_COLORS.items())
                            },
                        }
                    ],
                },
                {"id": "custom.cellOptions", "value": {"type": "color-background"}},
            ],
        }
    ]


def series_level_colors() -> list[dict[str, Any]]:
    """Series named notice / yellow / red drawn in their level's colour."""
    return [
        {
            "matcher": {"id": "byName", "options": level},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
        }
        for level, color in LEVEL_COLORS.items()
    ]


def rate_cell(field: str) -> dict[str, Any]:
    """A table column of percentages drawn as a gauge: red below 80, yellow, green from 95."""
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [
            {"id": "unit", "value": "percent"},
            {"id": "custom.cellOptions", "value": {"type": "gauge"}},
            {"id": "min", "value": 0},
            {"id": "max", "value": 100},
            {"id": "thresholds", "value": RATE_THRESHOLDS},
            {"id": "color", "value": {"mode": "thresholds"}},
        ],
    }


def grade_cell(field: str = "grade") -> dict[str, Any]:
    """A table column of grades (优秀, 良好, 合格, 不合格) on their colour."""
    options = {g: {"color": c, "index": i} for i, (g, c) in enumerate(GRADE_COLORS.items())}
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [
            {"id": "mappings", "value": [{"type": "value", "options": options}]},
            {"id": "custom.cellOptions", "value": {"type": "color-background"}},
        ],
    }


def score_panels(layout: Layout) -> list[dict[str, Any]]:
    """Scores, grades and ranks of the departments (dept_month_scores_v), and their trend."""
    counts = (
        "reds AS red, yellows AS yellow, notices AS notice, duban_count AS duban,\n"
        "       sup_receipt_reply_count AS sup_receipt_reply, sup_rectify_count AS sup_rectify"
    )
    latest = (
        f"month_start = (SELECT max(month_start) FROM dept_month_scores_v WHERE {MONTH_FILTER})"
    )
    return [
        layout.place(
            panel(
                "bargauge",
                "本月得分 score of the latest month",
                "绩效测评 score of each department in the latest month of the time range: 100 minus"
                " the deductions of the configuration's [scoring] (yellow 1, red 1.5, 督办 0.5,"
                " SUP_RECEIPT/REPLY_OVERDUE 0.5, SUP_RECTIFY_OVERDUE 1 at the defaults);"
                " withdrawn alerts and false-positive or duplicate dismissals count 0.",
                [
                    ch_target(
                        f"SELECT dept, score\nFROM dept_month_scores_v\nWHERE {latest}"
                        f" AND {var_filter('dept', 'dept')}\nORDER BY rank, dept",
                        TABLE,
                    )
                ],
                CH,
                thresholds=SCORE_THRESHOLDS,
                color={"mode": "thresholds"},
                min=0,
                max=100,
                options={
                    "orientation": "horizontal",
                    "displayMode": "basic",
                    "reduceOptions": {"values": True, "calcs": [], "fields": "/^score$/"},
                },
            ),
            8,
            11,
        ),
        layout.place(
            panel(
                "table",
                "部门得分与排名 scores, grades and ranks by month",
                "Per month overlapping the time range: each department's rank (among every"
                " department of the month, equal scores share a rank), score, grade (优秀 ≥ 90,"
                " 良好 ≥ 80, 合格 ≥ 60, else 不合格 at the defaults) and the counts deducted for;"
                " as `supervise query performance --month` and the bulletins (通报) count them.",
                [
                    ch_target(
                        "SELECT month, rank, dept, score, grade,\n"
                        f"       {counts}, config_version\n"
                        f"FROM dept_month_scores_v\nWHERE {SCORE_FILTER}\n"
                        "ORDER BY month DESC, rank, dept",
                        TABLE,
                    )
                ],
                CH,
                overrides=[grade_cell()],
            ),
            16,
            11,
        ),
        layout.place(
            panel(
                "timeseries",
                "得分趋势 score trend by month",
                "Each department's score per month of the time range (a point at the month's"
                " first day).",
                [
                    ch_target(
                        "SELECT toDateTime(month_start, 'Asia/Shanghai') AS time, dept, score\n"
                        f"FROM dept_month_scores_v\nWHERE {SCORE_FILTER}\n"
                        "ORDER BY time, dept",
                        TIMESERIES,
                    )
                ],
                CH,
                min=0,
                max=100,
            ),
            12,
            9,
        ),
        layout.place(
            panel(
                "timeseries",
                "排名趋势 rank trend by month",
                "Each department's rank per month of the time range (1 is the best).",
                [
                    ch_target(
                        "SELECT toDateTime(month_start, 'Asia/Shanghai') AS time, dept, rank\n"
                        f"FROM dept_month_scores_v\nWHERE {SCORE_FILTER}\n"
                        "ORDER BY time, dept",
                        TIMESERIES,
                    )
                ],
                CH,
                min=1,
            ),
            12,
            9,
        ),
    ]


def field_link(field: str, title: str, url: str, **extra: Any) -> dict[str, Any]:
    """An override making a table column's values links."""
    link = {"title": title, "url": url, **extra}
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [{"id": "links", "value": [link]}],
    }


def case_link(field: str = "case_id") -> dict[str, Any]:
    return field_link(
        field,
        "案件时间线 case timeline",
        f"/d/{CASE_TIMELINE_UID}/case-timeline?var-case_process=${{__data.fields.process}}"
        "&var-case_id=${__value.text}&${__url_time_range}",
    )


WEB_URL_VAR: dict[str, Any] = {
    # Where `supervise web` is served (README: supervise web); set it for the deployment.
    "name": "web_url",
    "label": "督办 web",
    "type": "textbox",
    "query": "http://localhost:8080",
    "current": {"text": "http://localhost:8080", "value": "http://localhost:8080"},
    "hide": 2,
}


def workflow_link(field: str = "alert_id") -> dict[str, Any]:
    """An alert id opens its workflow (督办件) in ``supervise web``."""
    return field_link(
        field, "督办件 workflow", "${web_url}/alert/${__value.text}", targetBlank=True
    )


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[dict[str, Any]],
    variables: list[dict[str, Any]],
    time_from: str = "now-7d",
    refresh: str = "",
    links: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": TAGS,
        "timezone": "Asia/Shanghai",
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": refresh,
        "time": {"from": time_from, "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": links
        or [
            {
                "asDropdown": True,
                "includeVars": False,
                "keepTime": True,
                "tags": ["supervision"],
                "title": "电子监察",
                "type": "dashboards",
            }
        ],
        "panels": panels,
    }


# --- dashboards -------------------------------------------------------------------------


def alert_board() -> dict[str, Any]:
    layout = Layout()
    panels = []
    for level, title in (("red", "红牌 red"), ("yellow", "黄牌 yellow"), ("notice", "提示 notice")):
        panels.append(
            layout.place(
                panel(
                    "stat",
                    title,
                    f"Alerts of level {level} raised in the time range (filters apply).",
                    [
                        ch_target(
                            f"SELECT count() AS alerts FROM alerts_v WHERE $__timeFilter(raised_at) AND level = '{level}'"
                            f" AND {ALERT_FILTER}",
                            TABLE,
                        )
                    ],
                    CH,
                    overrides=[],
                    options={"colorMode": "background", "graphMode": "none"},
                    color={"mode": "fixed", "fixedColor": LEVEL_COLORS[level]},
                ),
                6,
                4,
            )
        )
    panels.append(
        layout.place(
            panel(
                "stat",
                "涉及案件 cases",
                "Distinct cases with at least one alert in the time range.",
                [
                    ch_target(
                        f"SELECT uniqExact(process, case_id) AS cases FROM alerts_v WHERE $__timeFilter(raised_at)"
                        f" AND {ALERT_FILTER}",
                        TABLE,
                    )
                ],
                CH,
                options={"graphMode": "none"},
                color=COUNT_COLOR,
            ),
            6,
            4,
        )
    )
    panels.append(
        layout.place(
            panel(
                "table",
                "最新告警 latest alerts",
                "As they arrive: alerts stored in the range, newest first (a late upload or a replay"
                " raises alerts with past instants, shown in raised_at). Click a case id to open its timeline,"
                " an alert id to open its workflow (督办件) in supervise web."
                " Messages are masked (身份证号, 信用代码, 电话).",
                [
                    ch_target(
                        "SELECT detected_at, raised_at, level, rule, dept, process, case_id, message, alert_id\n"
                        "FROM alerts_v\n"
                        f"WHERE $__timeFilter(detected_at) AND {ALERT_FILTER}\n"
                        "ORDER BY detected_at DESC, raised_at DESC, alert_id\nLIMIT 500",
                        TABLE,
                    )
                ],
                CH,
                overrides=level_colors() + [case_link(), workflow_link()],
                options={
                    "showHeader": True,
                    "sortBy": [{"displayName": "detected_at", "desc": True}],
                },
            ),
            24,
            14,
        )
    )
    panels.append(
        layout.place(
            panel(
                "table",
                "撤回的告警 withdrawn alerts",
                "Alerts withdrawn in the time range (rules.md §1.4): later input (a late event)"
                " disproved them, so no other panel, statistic or score counts them. One row per"
                " late event behind a withdrawal, with when it occurred, when the business system"
                " recorded it (reported_at) and when it reached the service (arrived_at).",
                [
                    ch_target(
                        "SELECT w.withdrawn_at AS withdrawn_at, w.raised_at AS raised_at, w.level AS level,\n"
                        "       w.rule AS rule, w.dept AS dept, w.process AS process, w.case_id AS case_id,\n"
                        "       w.withdrawn_reason AS withdrawn_reason, w.late_event AS late_event,\n"
                        "       e.occurred_at AS late_occurred_at, e.reported_at AS late_reported_at,\n"
                        "       e.arrived_at AS late_arrived_at, w.alert_id AS alert_id\n"
                        "FROM (SELECT withdrawn_at, raised_at, level, rule, dept, process, case_id,\n"
                        "             withdrawn_reason, late_event, alert_id\n"
                        "      FROM alerts_withdrawn_v ARRAY JOIN withdrawn_by AS late_event\n"
                        f"      WHERE $__timeFilter(withdrawn_at) AND {ALERT_FILTER}) AS w\n"
                        "LEFT JOIN (SELECT event_id AS late_event, occurred_at, reported_at, arrived_at\n"
                        "           FROM events_v WHERE event_id IN (SELECT arrayJoin(withdrawn_by)\n"
                        "               FROM alerts_withdrawn_v WHERE $__timeFilter(withdrawn_at))) AS e\n"
                        "USING late_event\n"
                        "ORDER BY withdrawn_at DESC, alert_id, late_event\nLIMIT 500",
                        TABLE,
                    )
                ],
                CH,
                overrides=level_colors() + [case_link()],
                options={
                    "showHeader": True,
                    "sortBy": [{"displayName": "withdrawn_at", "desc": True}],
                },
            ),
            24,
            8,
        )
    )
    panels.append(
        layout.place(
            panel(
                "barchart",
                "按规则 by rule",
                "Alerts per rule and level in the time range.",
                [
                    ch_target(
                        "SELECT rule, countIf(level = 'notice') AS notice, countIf(level = 'yellow') AS yellow,\n"
                        "       countIf(level = 'red') AS red\n"
                        f"FROM alerts_v WHERE $__timeFilter(raised_at) AND {ALERT_FILTER}\n"
                        "GROUP BY rule ORDER BY red + yellow + notice DESC",
                        TABLE,
                    )
                ],
                CH,
                overrides=series_level_colors(),
                options={"stacking": "normal", "orientation": "horizontal", "xField": "rule"},
            ),
            12,
            9,
        )
    )
    panels.append(
        layout.place(
            panel(
                "barchart",
                "按部门 by department",
                "Departments with the most alerts in the time range (top 20).",
                [
                    ch_target(
                        "SELECT dept, countIf(level = 'notice') AS notice, countIf(level = 'yellow') AS yellow,\n"
                        "       countIf(level = 'red') AS red\n"
                        f"FROM alerts_v WHERE $__timeFilter(raised_at) AND {ALERT_FILTER}\n"
                        "GROUP BY dept ORDER BY red DESC, yellow DESC, notice DESC LIMIT 20",
                        TABLE,
                    )
                ],
                CH,
                overrides=series_level_colors(),
                options={"stacking": "normal", "orientation": "horizontal", "xField": "dept"},
            ),
            12,
            9,
        )
    )
    return dashboard(
        "supervision-alert-board",
        "告警看板 Live alert board",
        "Supervision alerts as they arrive; filter by rule, level and department; drill down to the case.",
        panels,
        [RULE_VAR, LEVEL_VAR, DEPT_ALERTS_VAR, WEB_URL_VAR],
        time_from="now-24h",
        refresh="30s",
    )


def case_timeline() -> dict[str, Any]:
    layout = Layout()
    case_filter = f"process = {var_text('case_process')} AND case_id = {var_text('case_id')}"
    panels = [
        layout.place(
            panel(
                "table",
                "案件状态 case status",
                "Clock, deadline and outcome of the case.",
                [
                    ch_target(
                        "SELECT process, case_id, dept, started_at, deadline, terminal, terminal_action, closed_at,\n"
                        "       card_level, completed_on_time, updated_at\n"
                        f"FROM case_status_v WHERE {case_filter}",
                        TABLE,
                    )
                ],
                CH,
            ),
            24,
            4,
        ),
        layout.place(
            panel(
                "table",
                "事件时间线 event timeline",
                "Every stored event of the case in event-time order.",
                [
                    ch_target(
                        "SELECT occurred_at_text, action, dept, actor, party, amount, attrs, event_id, ingested_at\n"
                        f"FROM events_v WHERE {case_filter}\n"
                        "ORDER BY occurred_at_us, event_id",
                        TABLE,
                    )
                ],
                CH,
            ),
            24,
            12,
        ),
        layout.place(
            panel(
                "table",
                "告警与证据 alerts and evidence",
                "Alerts of the case with the events behind each.",
                [
                    ch_target(
                        "SELECT raised_at, level, rule, dept, message, arrayStringConcat(evidence, ', ') AS evidence,\n"
                        "       details, config_version, alert_id\n"
                        f"FROM alerts_v WHERE {case_filter}\n"
                        "ORDER BY raised_at_us, alert_id",
                        TABLE,
                    )
                ],
                CH,
                overrides=level_colors(),
            ),
            24,
            8,
        ),
    ]
    variables = [
        textbox_variable("case_process", "流程 process", "approval"),
        textbox_variable("case_id", "案件编号 case_id", ""),
    ]
    return dashboard(
        CASE_TIMELINE_UID,
        "案件时间线 Case timeline",
        "One case: status, events and alerts with evidence. Opened from the alert board.",
        panels,
        variables,
        time_from="now-1y",
    )


def department_performance() -> dict[str, Any]:
    layout = Layout()
    totals = (
        "sum(completed) AS completed_cases,\n"
        "       sum(completed_on_time) AS on_time_cases,\n"
        "       sum(completed_late) AS late_cases,\n"
        f"       {ON_TIME_RATE} AS on_time_rate,\n"
        "       sum(yellow_cards) AS yellow, sum(red_cards) AS red, sum(accepted) AS accepted_cases"
    )
    panels = [
        layout.place(
            panel(
                "stat",
                "按时办结率 on-time rate",
                "Of the cases with a deadline completed in the range, the share completed on time.",
                [
                    ch_target(
                        f"SELECT {totals}\nFROM dept_daily_v WHERE {DAY_FILTER} AND {PERF_FILTER}",
                        TABLE,
                    )
                ],
                CH,
                unit="percent",
                thresholds=RATE_THRESHOLDS,
                min=0,
                max=100,
                color={"mode": "thresholds"},
                options={"reduceOptions": {"fields": "/^on_time_rate$/", "calcs": ["lastNotNull"]}},
            ),
            6,
            5,
        ),
        layout.place(
            panel(
                "stat",
                "黄牌 yellow cards",
                "Yellow cards raised in the range.",
                [
                    ch_target(
                        f"SELECT sum(yellow_cards) AS yellow FROM dept_daily_v WHERE {DAY_FILTER}"
                        f" AND {PERF_FILTER}",
                        TABLE,
                    )
                ],
                CH,
                color={"mode": "fixed", "fixedColor": "yellow"},
                options={"colorMode": "background"},
            ),
            6,
            5,
        ),
        layout.place(
            panel(
                "stat",
                "红牌 red cards",
                "Red cards raised in the range.",
                [
                    ch_target(
                        f"SELECT sum(red_cards) AS red FROM dept_daily_v WHERE {DAY_FILTER}"
                        f" AND {PERF_FILTER}",
                        TABLE,
                    )
                ],
                CH,
                color={"mode": "fixed", "fixedColor": "red"},
                options={"colorMode": "background"},
            ),
            6,
            5,
        ),
        layout.place(
            panel(
                "stat",
                "受理 / 办结 accepted / completed",
                "Cases whose clock started / that ended in the range.",
                [
                    ch_target(
                        f"SELECT sum(accepted) AS accepted, sum(completed) AS completed FROM dept_daily_v"
                        f" WHERE {DAY_FILTER} AND {PERF_FILTER}",
                        TABLE,
                    )
                ],
                CH,
                color=COUNT_COLOR,
            ),
            6,
            5,
        ),
        layout.place(
            panel(
                "table",
                "部门排名 department ranking",
                "绩效测评: ranked by on-time rate, then fewest red and yellow cards, over the time range.",
                [
                    ch_target(
                        f"SELECT rank() OVER (ORDER BY on_time_rate DESC NULLS LAST, red ASC, yellow ASC) AS rank,\n"
                        f"       dept, {totals}\n"
                        f"FROM dept_daily_v WHERE {DAY_FILTER} AND {PERF_FILTER}\n"
                        "GROUP BY dept\nORDER BY rank, dept",
                        TABLE,
                    )
                ],
                CH,
                unit=None,
                overrides=[rate_cell("on_time_rate")],
            ),
            24,
            11,
        ),
        layout.place(
            panel(
                "table",
                "分周期排名 ranking by period",
                "Per period (variable 周期): each department's on-time rate, cards and rank within the period.",
                [
                    ch_target(
                        "SELECT period, rank() OVER (PARTITION BY period ORDER BY on_time_rate DESC NULLS LAST, red ASC,"
                        " yellow ASC) AS rank,\n"
                        f"       dept, completed_cases, on_time_rate, yellow, red\n"
                        "FROM (\n"
                        f"  SELECT {PERIOD_START} AS period, dept,\n"
                        f"         {totals}\n"
                        f"  FROM dept_daily_v WHERE {DAY_FILTER} AND {PERF_FILTER}\n"
                        "  GROUP BY period, dept\n"
                        ")\nORDER BY period DESC, rank, dept",
                        TABLE,
                    )
                ],
                CH,
                overrides=[rate_cell("on_time_rate")],
            ),
            24,
            11,
        ),
        layout.place(
            panel(
                "table",
                "分流程 by process",
                "Per process (行政审批, 重点工作, 建议提案, 会议议定事项, ...): cases, on-time rate and cards"
                " over the time range.",
                [
                    ch_target(
                        f"SELECT process, {process_label()} AS process_name,\n"
                        f"       {totals}\n"
                        f"FROM dept_daily_v WHERE {DAY_FILTER} AND {PERF_FILTER}\n"
                        f"GROUP BY process\nORDER BY {PROCESS_ORDER}",
                        TABLE,
                    )
                ],
                CH,
                overrides=[rate_cell("on_time_rate")],
            ),
            24,
            8,
        ),
        layout.place(
            panel(
                "timeseries",
                "按时办结率趋势 on-time rate by period",
                "On-time rate per department and period.",
                [
                    ch_target(
                        f"SELECT {PERIOD_POINT} AS time, dept,\n"
                        f"       {ON_TIME_RATE} AS on_time_rate\n"
                        f"FROM dept_daily_v WHERE {DAY_FILTER} AND {PERF_FILTER}\n"
                        "GROUP BY time, dept ORDER BY time, dept",
                        TIMESERIES,
                    )
                ],
                CH,
                unit="percent",
            ),
            12,
            9,
        ),
        layout.place(
            panel(
                "timeseries",
                "红黄牌趋势 cards by period",
                "Yellow and red cards per period.",
                [
                    ch_target(
                        f"SELECT {PERIOD_POINT} AS time,\n"
                        "       sum(yellow_cards) AS yellow, sum(red_cards) AS red\n"
                        f"FROM dept_daily_v WHERE {DAY_FILTER} AND {PERF_FILTER}\n"
                        "GROUP BY time ORDER BY time",
                        TIMESERIES,
                    )
                ],
                CH,
                overrides=series_level_colors(),
                options={"legend": {"showLegend": True}},
            ),
            12,
            9,
        ),
        *score_panels(layout),
    ]
    return dashboard(
        "supervision-department-performance",
        "部门绩效 Department performance",
        "绩效测评: on-time completion rate, yellow and red cards, and ranking by period (Asia/Shanghai"
        " days); department scores, grades, ranks and their trend by month.",
        panels,
        [DEPT_PERF_VAR, PROCESS_VAR, PERIOD_VAR],
        time_from="now-90d",
    )


def rule_trends() -> dict[str, Any]:
    layout = Layout()
    panels = [
        layout.place(
            panel(
                "timeseries",
                "规则趋势 alerts by rule",
                "Alerts per rule over time.",
                [
                    ch_target(
                        "SELECT $__timeInterval(raised_at) AS time, rule, count() AS alerts\n"
                        f"FROM alerts_v WHERE $__timeFilter(raised_at) AND {ALERT_FILTER}\n"
                        "GROUP BY time, rule ORDER BY time",
                        TIMESERIES,
                    )
                ],
                CH,
            ),
            24,
            9,
        ),
        layout.place(
            panel(
                "timeseries",
                "等级趋势 alerts by level",
                "Notices, yellow and red cards over time.",
                [
                    ch_target(
                        "SELECT $__timeInterval(raised_at) AS time, countIf(level = 'notice') AS notice,\n"
                        "       countIf(level = 'yellow') AS yellow, countIf(level = 'red') AS red\n"
                        f"FROM alerts_v WHERE $__timeFilter(raised_at) AND {ALERT_FILTER}\n"
                        "GROUP BY time ORDER BY time",
                        TIMESERIES,
                    )
                ],
                CH,
                overrides=series_level_colors(),
                options={"legend": {"showLegend": True}},
            ),
            12,
            9,
        ),
        layout.place(
            panel(
                "timeseries",
                "告警延迟 detection delay",
                "How long after raised_at an alert was stored (p50, p95).",
                [
                    ch_target(
                        "SELECT $__timeInterval(raised_at) AS time,\n"
                        "       quantile(0.5)(greatest(0, toInt64(detected_at) - toInt64(raised_at))) AS p50,\n"
                        "       quantile(0.95)(greatest(0, toInt64(detected_at) - toInt64(raised_at))) AS p95\n"
                        f"FROM alerts_v WHERE $__timeFilter(raised_at) AND {ALERT_FILTER}\n"
                        "GROUP BY time ORDER BY time",
                        TIMESERIES,
                    )
                ],
                CH,
                unit="s",
            ),
            12,
            9,
        ),
        layout.place(
            panel(
                "table",
                "规则对比 rules compared with previous period",
                "Alerts per rule in the range and in the equally long range before it.",
                [
                    ch_target(
                        "SELECT rule,\n"
                        "       countIf(raised_at >= $__fromTime) AS current_period,\n"
                        "       countIf(raised_at < $__fromTime) AS previous_period,\n"
                        "       current_period - previous_period AS change\n"
                        "FROM alerts_v\n"
                        "WHERE raised_at >= $__fromTime - ($__toTime - $__fromTime) AND raised_at <= $__toTime\n"
                        f"  AND {ALERT_FILTER}\n"
                        "GROUP BY rule ORDER BY current_period DESC",
                        TABLE,
                    )
                ],
                CH,
            ),
            12,
            9,
        ),
        layout.place(
            panel(
                "table",
                "高频对象 most frequent counterparties",
                "Enterprises, payees and suppliers named in events of alerted cases (top 20).",
                [
                    ch_target(
                        "SELECT party, count() AS alerts, uniqExact(process, case_id) AS cases,"
                        " groupUniqArray(5)(rule) AS rules\n"
                        "FROM alerts_v\n"
                        "INNER JOIN (SELECT DISTINCT process, case_id, party FROM events_v WHERE party != '') AS e\n"
                        "    USING (process, case_id)\n"
                        f"WHERE $__timeFilter(raised_at) AND {ALERT_FILTER}\n"
                        "GROUP BY party ORDER BY alerts DESC LIMIT 20",
                        TABLE,
                    )
                ],
                CH,
            ),
            12,
            9,
        ),
    ]
    return dashboard(
        "supervision-rule-trends",
        "规则趋势 Rule trends",
        "How often each supervision rule fires over time, by level, and compared with the previous period.",
        panels,
        [RULE_VAR, LEVEL_VAR, DEPT_ALERTS_VAR],
        time_from="now-30d",
    )


PIPELINE_PROM: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    (
        "消费速率 events consumed",
        "Messages read per second, by topic.",
        "ops",
        [
            (
                'sum by (topic) (rate(supervision_events_consumed_total{instance=~"$instance"}[$__rate_interval]))',
                "{{topic}}",
            )
        ],
    ),
    (
        "拒收 rejected and dead-lettered",
        "Invalid messages per second, by reason.",
        "ops",
        [
            (
                'sum by (topic, reason) (rate(supervision_events_rejected_total{instance=~"$instance"}'
                "[$__rate_interval]))",
                "rejected {{topic}} {{reason}}",
            ),
            (
                'sum by (topic) (rate(supervision_deadletter_messages_total{instance=~"$instance"}[$__rate_interval]))',
                "dead-letter {{topic}}",
            ),
        ],
    ),
    (
        "消费延迟 consumer lag",
        "Messages behind the high watermark, per partition.",
        "short",
        [
            (
                'sum by (topic, partition) (supervision_consumer_lag_messages{instance=~"$instance"})',
                "{{topic}}/{{partition}}",
            )
        ],
    ),
    (
        "告警速率 alerts raised",
        "Alerts per second, by rule and level.",
        "ops",
        [
            (
                'sum by (rule, level) (rate(supervision_alerts_total{instance=~"$instance"}[$__rate_interval]))',
                "{{rule}} {{level}}",
            )
        ],
    ),
    (
        "定时器延迟 timer lag",
        "How late timed alerts fire behind their instant (p95), and the due backlog.",
        "s",
        [
            (
                "histogram_quantile(0.95, sum by (le) (rate(supervision_timer_lag_seconds_bucket"
                '{instance=~"$instance"}[$__rate_interval])))',
                "p95 fire delay",
            ),
            ('max(supervision_timer_backlog_seconds{instance=~"$instance"})', "oldest due timer"),
        ],
    ),
    (
        "引擎耗时 engine evaluation",
        "Rule engine time per event (mean), and per batch (p99).",
        "s",
        [
            (
                'sum(rate(supervision_engine_batch_evaluation_seconds_sum{instance=~"$instance"}[$__rate_interval]))'
                ' / sum(rate(supervision_engine_events_evaluated_total{instance=~"$instance"}[$__rate_interval]))',
                "per event (mean)",
            ),
            (
                "histogram_quantile(0.99, sum by (le) (rate(supervision_engine_batch_evaluation_seconds_bucket"
                '{instance=~"$instance"}[$__rate_interval])))',
                "per batch (p99)",
            ),
        ],
    ),
    (
        "案件与定时器 open cases and pending timers",
        "Engine state held by the workers.",
        "short",
        [
            ('sum(supervision_open_cases{instance=~"$instance"})', "open cases"),
            ('sum(supervision_state_cases{instance=~"$instance"})', "cases in state"),
            ('sum(supervision_state_fact_keys{instance=~"$instance"})', "fact keys in state"),
            ('sum(supervision_pending_timers{instance=~"$instance"})', "pending timers"),
        ],
    ),
    (
        "写入行数 rows written",
        "Rows written to ClickHouse per second, by table.",
        "rowsps",
        [
            (
                'sum by (table) (rate(supervision_storage_rows_total{instance=~"$instance"}[$__rate_interval]))',
                "{{table}}",
            )
        ],
    ),
    (
        "写入耗时 write latency",
        "ClickHouse batch write time (p95), by table.",
        "s",
        [
            (
                "histogram_quantile(0.95, sum by (le, table) (rate(supervision_storage_write_duration_seconds_bucket"
                '{instance=~"$instance"}[$__rate_interval])))',
                "p95 {{table}}",
            )
        ],
    ),
    (
        "写入失败与重试 write failures and retries",
        "Failed ClickHouse writes and retries per second; rows refused for good (not stored).",
        "ops",
        [
            (
                'sum by (table) (rate(supervision_storage_rows_refused_total{instance=~"$instance"}'
                "[$__rate_interval]))",
                "refused rows {{table}}",
            ),
            (
                'sum by (table, error) (rate(supervision_storage_write_failures_total{instance=~"$instance"}'
                "[$__rate_interval]))",
                "failed {{table}} {{error}}",
            ),
            (
                'sum by (table) (rate(supervision_storage_retries_total{instance=~"$instance"}[$__rate_interval]))',
                "retry {{table}}",
            ),
        ],
    ),
]


def pipeline_health() -> dict[str, Any]:
    layout = Layout()
    panels = []
    for title, expr, legend in (
        ("就绪 ready workers", 'sum(supervision_ready{instance=~"$instance"})', "ready"),
        (
            "Kafka connected",
            'sum(supervision_broker_connected{instance=~"$instance"})',
            "connected",
        ),
        (
            "ClickHouse connected",
            'sum(supervision_storage_connected{instance=~"$instance"})',
            "connected",
        ),
        ("抓取 up", 'sum(up{job="supervision-worker", instance=~"$instance"})', "up"),
    ):
        panels.append(
            layout.place(
                panel(
                    "stat",
                    title,
                    "Workers reporting it, out of the scraped replicas.",
                    [prom_target(expr, legend, "A")],
                    PROM,
                    thresholds=WORKERS_THRESHOLDS,
                    color={"mode": "thresholds"},
                    options={"graphMode": "none"},
                ),
                6,
                4,
            )
        )
    for title, description, unit, queries in PIPELINE_PROM:
        targets = [
            prom_target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(queries)
        ]
        panels.append(
            layout.place(panel("timeseries", title, description, targets, PROM, unit=unit), 12, 8)
        )
    panels.append(
        layout.place(
            panel(
                "table",
                "最近拒收 recent dead letters (ClickHouse)",
                "Rejected input stored in ClickHouse: where it came from and why (raw bytes not shown).",
                [
                    ch_target(
                        "SELECT received_at, topic, kafka_partition, kafka_offset, reason, source\n"
                        "FROM deadletter FINAL\nWHERE $__timeFilter(received_at)\n"
                        "ORDER BY received_at DESC LIMIT 200",
                        TABLE,
                    )
                ],
                CH,
            ),
            24,
            10,
        )
    )
    instance_var = {
        "name": "instance",
        "label": "worker",
        "type": "query",
        "datasource": PROM,
        "query": {"query": "label_values(supervision_ready, instance)", "refId": "instance"},
        "definition": "label_values(supervision_ready, instance)",
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }
    return dashboard(
        "supervision-pipeline-health",
        "流水线健康 Pipeline health",
        "Worker metrics from Prometheus: consumption, lag, timers, storage, dead letters.",
        panels,
        [instance_var],
        time_from="now-6h",
        refresh="30s",
    )


# --- rule change: the active configuration against each shadow (issue #17) ---------------

SHADOW_VAR = {
    **ch_variable(
        "shadow",
        "影子配置 shadow",
        "SELECT DISTINCT config_version FROM shadow_alerts ORDER BY config_version",
    ),
    "multi": False,
    "includeAll": False,
    "current": {},
}
CHANGE_FILTER = f"{var_filter('rule', 'rule')} AND {var_filter('dept', 'dept')}"
SHADOW_FILTER = f"config_version = {var_text('shadow')} AND {CHANGE_FILTER}"


def _both_sides(columns: str) -> str:
    """The active alerts and the selected shadow's in the range, side by side (``side``)."""
    return (
        f"SELECT {columns}, 'active' AS side FROM alerts_v\n"
        f"  WHERE $__timeFilter(raised_at) AND {CHANGE_FILTER}\n"
        "  UNION ALL\n"
        f"  SELECT {columns}, 'shadow' AS side FROM shadow_alerts_v\n"
        f"  WHERE $__timeFilter(raised_at) AND {SHADOW_FILTER}"
    )


def rule_change() -> dict[str, Any]:
    layout = Layout()
    panels = []
    for title, description, condition in (
        ("当前配置 active", "Alerts of the active configuration in the range.", "side = 'active'"),
        (
            "影子配置 shadow",
            "Alerts of the selected shadow configuration in the range.",
            "side = 'shadow'",
        ),
    ):
        panels.append(
            layout.place(
                panel(
                    "stat",
                    title,
                    description + " Filters apply.",
                    [
                        ch_target(
                            f"SELECT countIf({condition}) AS alerts FROM (\n  {_both_sides('alert_id')}\n)",
                            TABLE,
                        )
                    ],
                    CH,
                    options={"graphMode": "none"},
                    color=COUNT_COLOR,
                ),
                6,
                4,
            )
        )
    disagreements = (
        "SELECT any(p) AS process, any(c) AS case_id, any(r) AS rule, any(d) AS dept, any(l) AS level,\n"
        "       multiIf(countIf(side = 'active') = 0, 'shadow only', countIf(side = 'shadow') = 0,\n"
        "               'active only', 'raised at another instant') AS disagreement,\n"
        "       if(countIf(side = 'active') = 0, NULL, minIf(t, side = 'active')) AS active_raised_at,\n"
        "       if(countIf(side = 'shadow') = 0, NULL, minIf(t, side = 'shadow')) AS shadow_raised_at\n"
        "FROM (\n  "
        + _both_sides(
            "alert_id AS id, process AS p, case_id AS c, rule AS r, dept AS d, level AS l, raised_at AS t"
        )
        + "\n)\nGROUP BY id\n"
        "HAVING countIf(side = 'active') = 0 OR countIf(side = 'shadow') = 0\n"
        "    OR minIf(t, side = 'active') != minIf(t, side = 'shadow')"
    )
    panels.append(
        layout.place(
            panel(
                "stat",
                "不一致 disagreements",
                "Alerts raised by one side only, or by both at different instants (an alert id is"
                " the rule, case, level and the rule's own discriminator: no configuration in it).",
                [ch_target(f"SELECT count() AS disagreements FROM (\n{disagreements}\n)", TABLE)],
                CH,
                options={"graphMode": "none"},
                color=COUNT_COLOR,
            ),
            12,
            4,
        )
    )
    panels.append(
        layout.place(
            panel(
                "timeseries",
                "按日 by day",
                "Alerts per Asia/Shanghai day raised by the active configuration and by the shadow.",
                [
                    ch_target(
                        "SELECT toDateTime(day, 'Asia/Shanghai') AS time, countIf(side = 'active') AS active,\n"
                        "       countIf(side = 'shadow') AS shadow\n"
                        f"FROM (\n  {_both_sides('toDate(raised_at, ' + chr(39) + 'Asia/Shanghai' + chr(39) + ') AS day')}\n)\n"
                        "GROUP BY day ORDER BY day",
                        TIMESERIES,
                    )
                ],
                CH,
            ),
            24,
            8,
        )
    )
    panels.append(
        layout.place(
            panel(
                "table",
                "按规则和部门 by rule and department",
                "Where the shadow raises more or fewer alerts than the active configuration"
                " (cells that differ only), largest change first.",
                [
                    ch_target(
                        "SELECT r AS rule, d AS dept, countIf(side = 'active') AS active,\n"
                        "       countIf(side = 'shadow') AS shadow,\n"
                        "       toInt64(countIf(side = 'shadow')) - toInt64(countIf(side = 'active')) AS change\n"
                        f"FROM (\n  {_both_sides('rule AS r, dept AS d')}\n)\n"
                        "GROUP BY r, d HAVING countIf(side = 'active') != countIf(side = 'shadow')\n"
                        "ORDER BY abs(toInt64(countIf(side = 'shadow')) - toInt64(countIf(side = 'active'))) DESC, r, d",
                        TABLE,
                    )
                ],
                CH,
            ),
            24,
            9,
        )
    )
    panels.append(
        layout.place(
            panel(
                "table",
                "不一致的告警 disagreements",
                "Each alert the two configurations disagree on. Click a case id to open its timeline.",
                [
                    ch_target(
                        disagreements + "\nORDER BY process, case_id, rule, level\nLIMIT 1000",
                        TABLE,
                    )
                ],
                CH,
                overrides=level_colors() + [case_link()],
            ),
            24,
            14,
        )
    )
    return dashboard(
        "supervision-rule-change",
        "规则变更 Rule change",
        "The active configuration's alerts against a shadow configuration's (SHADOW_CONFIGS),"
        " by rule, department and day; each disagreement links to its case.",
        panels,
        [SHADOW_VAR, RULE_VAR, DEPT_ALERTS_VAR],
        time_from="now-30d",
    )


DASHBOARDS = {
    "alert-board.json": alert_board,
    "case-timeline.json": case_timeline,
    "department-performance.json": department_performance,
    "rule-trends.json": rule_trends,
    "pipeline-health.json": pipeline_health,
    "rule-change.json": rule_change,
}


def render() -> dict[str, str]:
    return {
        name: json.dumps(build(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
