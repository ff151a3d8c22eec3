"""The seeds' own systems (rules.md §2 new rows and extension notice, §3.6), table-driven,
with worked 2026 dates read against the real calendar. Times are +08:00.

2026 facts used below (``streams.engine.calendar``): May Day rest 05-01..05-05, Sat 05-09
an adjusted working day; Dragon Boat rest Fri 06-19 (06-20, 06-21 the weekend); Qingming
rest 04-04..04-06.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streams.engine import ConfigError, SupervisionConfig, load_config
from streams.engine.catalogue import compressed
from tests.engine.harness import brief, config_with, ev, run


def case(process: str, name: str, start: tuple, *rest: tuple, dept: str = "D01") -> list[dict]:
    """Events of one case: (action, at, attrs?) tuples, the first being its start."""
    events = []
    for i, (action, at, *attrs) in enumerate((start, *rest)):
        events.append(
            ev(f"{name}-{i}", name, process, action, at, dept, **(attrs[0] if attrs else {}))
        )
    return events


def key_task(name: str, assign_at: str, due_date: str, *rest: tuple) -> list[dict]:
    return case("key_task", name, ("assign", assign_at, {"due_date": due_date}), *rest)


def proposal(name: str, assign_at: str, limit: int, *rest: tuple) -> list[dict]:
    return case("proposal", name, ("assign", assign_at, {"time_limit_days": limit}), *rest)


def meeting(name: str, assign_at: str, limit: int, *rest: tuple) -> list[dict]:
    return case("meeting_item", name, ("assign", assign_at, {"time_limit_days": limit}), *rest)


def leader(name: str, accept_at: str, attrs: dict[str, Any], *rest: tuple) -> list[dict]:
    return case("leader_assignment", name, ("accept", accept_at, attrs), *rest)


def approval(name: str, accept_at: str, limit: int, *rest: tuple, **attrs: Any) -> list[dict]:
    return case("approval", name, ("accept", accept_at, {"time_limit_days": limit, **attrs}), *rest)


EXTEND = {"extension_days": 2, "approver": "L1"}

# --------------------------------------------------------------------------- key_task
KEY_TASK_CASES = [
    pytest.param(
        # due Fri 05-08 after May Day: notice at start(05-08), yellow at D = 05-09 00:00, red 3
        # working days later: Sat 05-09 (adjusted), 05-11, 05-12 -> 05-13 00:00. No risk report
        # before end(05-08 - 10 days) = 04-29 00:00: RISK_NOT_REPORTED at D. May's report is due
        # 06-01 00:00, after as-of; April is the start month (no report due).
        key_task("KT1", "2026-04-20T10:00:00", "2026-05-08"),
        "2026-05-31T12:00:00",
        [
            ("OVERDUE", "notice", "KT1", "2026-05-08T00:00:00"),
            ("OVERDUE", "red", "KT1", "2026-05-13T00:00:00"),
            ("OVERDUE", "yellow", "KT1", "2026-05-09T00:00:00"),
            ("RISK_NOT_REPORTED", "red", "KT1", "2026-05-09T00:00:00"),
        ],
        id="may-day-countdown-no-risk-report",
    ),
    pytest.param(
        # the written report came in time (04-28 17:00 < 04-29 00:00)
        key_task(
            "KT2", "2026-04-20T10:00:00", "2026-05-08", ("risk_report", "2026-04-28T17:00:00")
        ),
        "2026-05-10T00:00:00",
        [
            ("OVERDUE", "notice", "KT2", "2026-05-08T00:00:00"),
            ("OVERDUE", "yellow", "KT2", "2026-05-09T00:00:00"),
        ],
        id="risk-report-ten-days-ahead",
    ),
    pytest.param(
        # at 04-29 00:00 exactly: not before end(04-28): too late
        key_task(
            "KT3", "2026-04-20T10:00:00", "2026-05-08", ("risk_report", "2026-04-29T00:00:00")
        ),
        "2026-05-09T00:00:00",
        [
            ("OVERDUE", "notice", "KT3", "2026-05-08T00:00:00"),
            ("OVERDUE", "yellow", "KT3", "2026-05-09T00:00:00"),
            ("RISK_NOT_REPORTED", "red", "KT3", "2026-05-09T00:00:00"),
        ],
        id="risk-report-nine-days-ahead",
    ),
    pytest.param(
        # completed on the due date: no card, no risk alert
        key_task("KT4", "2026-04-20T10:00:00", "2026-05-08", ("complete", "2026-05-08T16:00:00")),
        "2026-06-30T00:00:00",
        [("OVERDUE", "notice", "KT4", "2026-05-08T00:00:00")],
        id="done-on-the-due-date",
    ),
    pytest.param(
        # extended (asked in time, N = 0) across May Day: last 04-30 + 3 working days = 05-08
        key_task(
            "KT5",
            "2026-04-20T10:00:00",
            "2026-04-30",
            ("risk_report", "2026-04-21T10:00:00"),
            ("extend", "2026-04-29T10:00:00", {"extension_days": 3, "approver": "L1"}),
            ("complete", "2026-05-08T18:00:00"),
        ),
        "2026-05-31T00:00:00",
        [("OVERDUE", "notice", "KT5", "2026-05-08T00:00:00")],
        id="extension-across-may-day",
    ),
    pytest.param(
        # monthly reports, month end: assigned in January; February reported (02-10), March not
        # (due end of 03-31 = 04-01 00:00), April's progress on 04-30 counts for April
        key_task(
            "KT6",
            "2026-01-15T10:00:00",
            "2026-12-31",
            ("risk_report", "2026-01-20T10:00:00"),
            ("progress", "2026-02-10T10:00:00"),
            ("progress", "2026-04-30T23:00:00"),
            ("complete", "2026-06-10T10:00:00"),
        ),
        "2026-12-31T00:00:00",
        [
            ("REPORT_MISSING", "yellow", "KT6", "2026-04-01T00:00:00"),
            ("REPORT_MISSING", "yellow", "KT6", "2026-06-01T00:00:00"),
        ],
        id="monthly-reports-month-end",
    ),
    pytest.param(
        # a due date before the assignment: only instants after it count (red: end of 05-21)
        key_task("KT7", "2026-05-20T10:00:00", "2026-05-18"),
        "2026-05-22T00:00:00",
        [("OVERDUE", "red", "KT7", "2026-05-22T00:00:00")],
        id="due-date-already-past",
    ),
]


@pytest.mark.parametrize(("events", "as_of", "expected"), KEY_TASK_CASES)
def test_key_task(events: list[dict], as_of: str, expected: list[tuple]) -> None:
    assert brief(run(events, as_of)) == sorted(expected)


def test_key_task_alerts_say_what_was_missed() -> None:
    alerts = run(
        key_task("KT8", "2026-03-10T10:00:00", "2026-05-08", ("progress", "2026-05-06T10:00:00")),
        "2026-05-09T00:00:00",
    )
    by_rule = {(a["rule"], a["level"]): a for a in alerts}
    missing = by_rule[("REPORT_MISSING", "yellow")]
    assert missing["details"] == {"month": "2026-04", "due": "2026-05-01T00:00:00+08:00"}
    assert missing["message"] == "重点工作督办事项 KT8：2026-04 未按月报告工作进展（黄牌）"
    risk = by_rule[("RISK_NOT_REPORTED", "red")]
    assert risk["details"] == {
        "due_date": "2026-05-08",
        "report_by": "2026-04-29T00:00:00+08:00",
        "days_before": 10,
    }
    assert risk["message"] == "重点工作督办事项 KT8：不能按期完成未提前10天书面报告（红牌）"
    assert risk["evidence"] == ["KT8-0"]


# --------------------------------------------------------------------------- proposal
PROPOSAL_CASES = [
    pytest.param(
        # 60 working days from Wed 04-01 across Qingming, May Day and the Dragon Boat Festival:
        # last day Tue 06-30. Reports due by end of the 28th: May reported on 05-10; June's
        # report on 06-29 came after 06-29 00:00 (June missing) and counts for no later month.
        proposal(
            "PR1",
            "2026-04-01T09:00:00",
            60,
            ("progress", "2026-05-10T10:00:00"),
            ("progress", "2026-06-29T10:00:00"),
        ),
        "2026-07-31T00:00:00",
        [
            ("REPORT_MISSING", "yellow", "PR1", "2026-06-29T00:00:00"),
            ("OVERDUE", "notice", "PR1", "2026-06-30T00:00:00"),
            ("OVERDUE", "yellow", "PR1", "2026-07-01T00:00:00"),
            ("OVERDUE", "red", "PR1", "2026-07-04T00:00:00"),
            ("REPORT_MISSING", "yellow", "PR1", "2026-07-29T00:00:00"),
        ],
        id="sixty-working-days-across-dragon-boat",
    ),
    pytest.param(
        # replied and completed on time, reporting every month by the 28th (exactly at 23:59)
        proposal(
            "PR2",
            "2026-04-01T09:00:00",
            60,
            ("progress", "2026-05-28T23:59:59"),
            ("progress", "2026-06-01T09:00:00"),
            ("reply", "2026-06-25T10:00:00"),
            ("complete", "2026-06-26T10:00:00"),
        ),
        "2026-12-31T00:00:00",
        [],
        id="reported-and-done",
    ),
    pytest.param(
        # complete without a reply: the order of §2
        proposal("PR3", "2026-04-01T09:00:00", 60, ("complete", "2026-04-20T10:00:00")),
        "2026-12-31T00:00:00",
        [("SKIPPED_STEP", "red", "PR3", "2026-04-20T10:00:00")],
        id="complete-needs-reply",
    ),
]


@pytest.mark.parametrize(("events", "as_of", "expected"), PROPOSAL_CASES)
def test_proposal(events: list[dict], as_of: str, expected: list[tuple]) -> None:
    assert brief(run(events, as_of)) == sorted(expected)


def test_report_day_clamps_to_short_months(tmp_path: Path) -> None:
    config = config_with(tmp_path, {"report_day = 28": "report_day = 31"})
    alerts = run(proposal("PR4", "2026-01-05T09:00:00", 60), "2026-03-05T00:00:00", config)
    assert [a["raised_at"] for a in alerts if a["rule"] == "REPORT_MISSING"] == [
        "2026-03-01T00:00:00+08:00"  # end of Feb 28
    ]


# --------------------------------------------------------------------------- extension notice
EXTENSION_CASES = [
    pytest.param(
        # joint: 10 working days from Mon 03-09 -> last Mon 03-23; 1 working day of notice:
        # asked at or after end(Fri 03-20) is late. Saturday 03-21 is late but before D: it is
        # carded and still moves the deadline (+2 -> 03-25).
        leader(
            "LJ1",
            "2026-03-09T10:00:00",
            {"joint": True, "priority": "general"},
            ("extend", "2026-03-21T10:00:00", EXTEND),
        ),
        "2026-03-25T12:00:00",
        [
            ("LATE_EXTENSION", "yellow", "LJ1", "2026-03-21T10:00:00"),
            ("OVERDUE", "notice", "LJ1", "2026-03-25T00:00:00"),
        ],
        id="joint-saturday-before-monday-deadline",
    ),
    pytest.param(
        # asked on Friday 03-20: in time
        leader(
            "LJ2",
            "2026-03-09T10:00:00",
            {"joint": True, "priority": "urgent"},
            ("extend", "2026-03-20T17:00:00", EXTEND),
        ),
        "2026-03-25T12:00:00",
        [("OVERDUE", "notice", "LJ2", "2026-03-25T00:00:00")],
        id="joint-friday-in-time",
    ),
    pytest.param(
        # not joint (general: 5 working days from Mon 03-16 -> Mon 03-23): N = 0, Saturday is fine
        leader(
            "LG1",
            "2026-03-16T10:00:00",
            {"priority": "general"},
            ("extend", "2026-03-21T10:00:00", EXTEND),
        ),
        "2026-03-25T12:00:00",
        [("OVERDUE", "notice", "LG1", "2026-03-25T00:00:00")],
        id="not-joint-saturday-in-time",
    ),
    pytest.param(
        # joint with an explicit limit still needs the notice (10 days given: same dates)
        leader(
            "LJ3",
            "2026-03-09T10:00:00",
            {"joint": True, "time_limit_days": 10, "priority": "important"},
            ("extend", "2026-03-23T09:00:00", EXTEND),
        ),
        "2026-03-24T00:00:00",
        [
            ("LATE_EXTENSION", "yellow", "LJ3", "2026-03-23T09:00:00"),
            ("OVERDUE", "notice", "LJ3", "2026-03-23T00:00:00"),
        ],
        id="joint-explicit-limit-on-the-last-day",
    ),
    pytest.param(
        # meeting item: 10 working days from Mon 03-02 -> last Mon 03-16; 3 working days of
        # notice: in time before end(Wed 03-11). Asked on 03-11 (3 working days ahead): fine.
        meeting("MI1", "2026-03-02T10:00:00", 10, ("extend", "2026-03-11T15:00:00", EXTEND)),
        "2026-03-18T12:00:00",
        [("OVERDUE", "notice", "MI1", "2026-03-18T00:00:00")],
        id="meeting-three-working-days-ahead",
    ),
    pytest.param(
        # asked on Thu 03-12 (2 working days ahead): late, still moves last to 03-18
        meeting("MI2", "2026-03-02T10:00:00", 10, ("extend", "2026-03-12T09:00:00", EXTEND)),
        "2026-03-18T12:00:00",
        [
            ("LATE_EXTENSION", "yellow", "MI2", "2026-03-12T09:00:00"),
            ("OVERDUE", "notice", "MI2", "2026-03-18T00:00:00"),
        ],
        id="meeting-two-working-days-ahead",
    ),
    pytest.param(
        # at or after D: late, and it moves nothing (yellow at the old D)
        meeting("MI3", "2026-03-02T10:00:00", 10, ("extend", "2026-03-17T09:00:00", EXTEND)),
        "2026-03-18T12:00:00",
        [
            ("LATE_EXTENSION", "yellow", "MI3", "2026-03-17T09:00:00"),
            ("OVERDUE", "notice", "MI3", "2026-03-16T00:00:00"),
            ("OVERDUE", "yellow", "MI3", "2026-03-17T00:00:00"),
        ],
        id="meeting-after-deadline",
    ),
]


@pytest.mark.parametrize(("events", "as_of", "expected"), EXTENSION_CASES)
def test_extension_notice(events: list[dict], as_of: str, expected: list[tuple]) -> None:
    assert brief(run(events, as_of)) == sorted(expected)


def test_late_extension_within_the_notice_says_so() -> None:
    (alert,) = run(
        meeting("MI4", "2026-03-02T10:00:00", 10, ("extend", "2026-03-12T09:00:00", EXTEND)),
        "2026-03-12T10:00:00",
    )
    assert alert["details"] == {
        "deadline": "2026-03-17T00:00:00+08:00",
        "extension_days": 2,
        "approver": "L1",
        "notice_working_days": 3,
        "notice_by": "2026-03-12T00:00:00+08:00",
    }
    assert alert["message"] == (
        "会议议定事项 MI4：未提前3个工作日书面说明即申请延期"
        "（应于2026-03-12T00:00:00+08:00前提出，延期2个工作日）（黄牌）"
    )


def test_case_status_of_a_key_task() -> None:
    from streams.engine import Engine
    from streams.engine.validate import EventValidator

    config = load_config()
    engine = Engine(config)
    validator = EventValidator()
    import orjson

    for event in key_task(
        "KT9", "2026-04-20T10:00:00", "2026-05-08", ("complete", "2026-05-08T16:00:00")
    ):
        engine.feed(validator.parse(orjson.dumps(event)))
    (status,) = [s for s in engine.take_case_updates() if s.case_id == "KT9"]
    assert config.local.format(status.started_at or 0) == "2026-04-20T10:00:00+08:00"
    assert config.local.format(status.deadline or 0) == "2026-05-09T00:00:00+08:00"
    assert status.completed_on_time is True


# --------------------------------------------------------------------------- 超时默许
def catalogue_config(tmp_path: Path, items: str, deemed: bool = False) -> SupervisionConfig:
    (tmp_path / "items.toml").write_text(items, encoding="utf-8")
    replace = {'\nfile = ""': '\nfile = "items.toml"'}  # [catalogue] file
    if deemed:
        replace["deemed_approval = false"] = "deemed_approval = true"
    return config_with(tmp_path, replace)


ITEMS = """
[items."X-ON"]
name = "默许事项"
legal_limit_days = 8
deemed_approval = true

[items."X-OFF"]
name = "豁免事项"
legal_limit_days = 8
deemed_approval = false

[items."X-PLAIN"]
name = "普通事项"
legal_limit_days = 8
"""

DEEMED_CASES = [
    pytest.param(
        # template on: 5 working days from Mon 03-02 -> last Mon 03-09; deemed approved at
        # D = 03-10 00:00 with the yellow card; the denial on 03-11 contradicts it
        True,
        approval(
            "DA1",
            "2026-03-02T10:00:00",
            5,
            ("review", "2026-03-03T10:00:00"),
            ("decide", "2026-03-11T10:00:00", {"decision": "deny"}),
        ),
        [
            ("DEEMED_APPROVAL", "notice", "DA1", "2026-03-10T00:00:00"),
            ("DENIED_AFTER_DEEMED", "red", "DA1", "2026-03-11T10:00:00"),
            ("OVERDUE", "notice", "DA1", "2026-03-09T00:00:00"),
            ("OVERDUE", "yellow", "DA1", "2026-03-10T00:00:00"),
            ("OVERDUE", "red", "DA1", "2026-03-13T00:00:00"),
        ],
        id="deemed-then-denied",
    ),
    pytest.param(
        # a reject exactly at D comes after the alert of D: denied after deemed
        True,
        approval(
            "DA2", "2026-03-02T10:00:00", 5, ("reject", "2026-03-10T00:00:00", {"reason": "x"})
        ),
        [
            ("DEEMED_APPROVAL", "notice", "DA2", "2026-03-10T00:00:00"),
            ("DENIED_AFTER_DEEMED", "red", "DA2", "2026-03-10T00:00:00"),
            ("OVERDUE", "notice", "DA2", "2026-03-09T00:00:00"),
            ("OVERDUE", "yellow", "DA2", "2026-03-10T00:00:00"),
        ],
        id="reject-at-the-deadline",
    ),
    pytest.param(
        # decided before D: nothing is deemed; an approval after D is no denial
        True,
        approval(
            "DA3",
            "2026-03-02T10:00:00",
            5,
            ("review", "2026-03-03T10:00:00"),
            ("decide", "2026-03-06T10:00:00", {"decision": "approve"}),
        ),
        [
            ("OVERDUE", "notice", "DA3", "2026-03-09T00:00:00"),
            ("OVERDUE", "yellow", "DA3", "2026-03-10T00:00:00"),
            ("OVERDUE", "red", "DA3", "2026-03-13T00:00:00"),
        ],
        id="decided-before-the-deadline",
    ),
    pytest.param(
        # the template is off, the item turns it on
        False,
        approval("DA4", "2026-03-02T10:00:00", 5, item_code="X-ON"),
        [
            ("DEEMED_APPROVAL", "notice", "DA4", "2026-03-10T00:00:00"),
            ("OVERDUE", "notice", "DA4", "2026-03-09T00:00:00"),
            ("OVERDUE", "yellow", "DA4", "2026-03-10T00:00:00"),
            ("OVERDUE", "red", "DA4", "2026-03-13T00:00:00"),
        ],
        id="item-turns-it-on",
    ),
    pytest.param(
        # the template is on, the item is exempt
        True,
        approval("DA5", "2026-03-02T10:00:00", 5, item_code="X-OFF"),
        [
            ("OVERDUE", "notice", "DA5", "2026-03-09T00:00:00"),
            ("OVERDUE", "yellow", "DA5", "2026-03-10T00:00:00"),
            ("OVERDUE", "red", "DA5", "2026-03-13T00:00:00"),
        ],
        id="item-exempt",
    ),
    pytest.param(
        # an item without its own setting follows the template (off)
        False,
        approval("DA6", "2026-03-02T10:00:00", 5, item_code="X-PLAIN"),
        [
            ("OVERDUE", "notice", "DA6", "2026-03-09T00:00:00"),
            ("OVERDUE", "yellow", "DA6", "2026-03-10T00:00:00"),
            ("OVERDUE", "red", "DA6", "2026-03-13T00:00:00"),
        ],
        id="item-follows-template",
    ),
    pytest.param(
        # paused over D: the yellow card and the deemed approval wait for the resume (last +3)
        True,
        approval(
            "DA7",
            "2026-03-02T10:00:00",
            5,
            ("suspend", "2026-03-09T10:00:00", {"reason": "hearing"}),
            ("resume", "2026-03-12T10:00:00"),
        ),
        [
            ("DEEMED_APPROVAL", "notice", "DA7", "2026-03-13T00:00:00"),
            ("OVERDUE", "notice", "DA7", "2026-03-09T00:00:00"),
            ("OVERDUE", "yellow", "DA7", "2026-03-13T00:00:00"),
        ],
        id="pause-moves-the-deemed-day",
    ),
]


@pytest.mark.parametrize(("template_on", "events", "expected"), DEEMED_CASES)
def test_deemed_approval(
    tmp_path: Path, template_on: bool, events: list[dict], expected: list[tuple]
) -> None:
    config = catalogue_config(tmp_path, ITEMS, deemed=template_on)
    assert brief(run(events, "2026-03-13T12:00:00", config)) == sorted(expected)


def test_deemed_approval_is_off_by_default() -> None:
    events = approval("DA8", "2026-03-02T10:00:00", 5, ("reject", "2026-03-11T10:00:00"))
    rules = {a["rule"] for a in run(events, "2026-03-13T00:00:00")}
    assert rules == {"OVERDUE", "REFUSAL_WITHOUT_REASON"}


# --------------------------------------------------------------------------- compression
# (legal limit L, allowed promise): each row of the default table at both of its edges
COMPRESSION_EDGES = [
    (1, 1),
    (2, 2),
    (3, 2),
    (7, 6),
    (8, 5),
    (15, 12),
    (16, 11),
    (30, 25),
    (31, 21),
    (90, 80),
    (91, 61),
    (400, 370),
]


@pytest.mark.parametrize(("legal", "allowed"), COMPRESSION_EDGES)
def test_compression_table_edges(tmp_path: Path, legal: int, allowed: int) -> None:
    config = catalogue_config(
        tmp_path, f'[items."L{legal}"]\nname = "事项"\nlegal_limit_days = {legal}\n'
    )
    assert compressed(config.compression, legal) == allowed
    assert config.catalogue[f"L{legal}"].allowed_days == allowed
    events = []
    for promise in (allowed, allowed + 1):
        if promise > 365:
            continue
        events += approval(f"C{promise}", "2026-03-02T10:00:00", promise, item_code=f"L{legal}")
    alerts = [a for a in run(events, "2026-03-02T12:00:00", config)]
    assert [(a["rule"], a["case_id"]) for a in alerts] == (
        [("LIMIT_NOT_COMPRESSED", f"C{allowed + 1}")] if allowed + 1 <= 365 else []
    )


def test_max_promised_days_replaces_the_table(tmp_path: Path) -> None:
    config = catalogue_config(
        tmp_path,
        '[items."330000-XK-0001"]\nname = "建设工程规划许可证核发"\n'
        "legal_limit_days = 20\nmax_promised_days = 12\n",
    )
    events = approval("K13", "2026-03-02T10:00:00", 13, item_code="330000-XK-0001")
    events += approval("K12", "2026-03-02T10:00:00", 12, item_code="330000-XK-0001")
    events += approval("K99", "2026-03-02T10:00:00", 99, item_code="not-in-catalogue")
    (alert,) = run(events, "2026-03-02T12:00:00", config)
    assert alert["case_id"] == "K13" and alert["level"] == "yellow"
    assert alert["raised_at"] == "2026-03-02T10:00:00+08:00"
    assert alert["details"] == {
        "item_code": "330000-XK-0001",
        "item_name": "建设工程规划许可证核发",
        "time_limit_days": 13,
        "legal_limit_days": 20,
        "allowed_days": 12,
        "max_promised_days": 12,
    }
    assert alert["message"] == (
        "行政审批办件 K13：承诺时限13个工作日超过该事项允许的12个工作日"
        "（法定时限20个工作日），未压缩办理时限（黄牌）"
    )


def test_an_edited_compression_table(tmp_path: Path) -> None:
    config = catalogue_config(tmp_path, '[items."A"]\nname = "a"\nlegal_limit_days = 20\n')
    text = (tmp_path / "supervision.toml").read_text(encoding="utf-8")
    text = text.replace("{ up_to = 30, minus = 5 }", "{ up_to = 30, minus = 8 }")
    (tmp_path / "supervision.toml").write_text(text, encoding="utf-8")
    edited = load_config(tmp_path / "supervision.toml")
    assert edited.catalogue["A"].allowed_days == 12
    assert edited.version != config.version


# --------------------------------------------------------------------------- catalogue loading
def test_default_configuration_has_no_catalogue() -> None:
    config = load_config()
    assert dict(config.catalogue) == {}
    assert compressed(config.compression, 20) == 15


def test_catalogue_content_is_part_of_the_version(tmp_path: Path) -> None:
    one = catalogue_config(tmp_path, '[items."A"]\nname = "a"\nlegal_limit_days = 20\n')
    two = catalogue_config(tmp_path, '[items."A"]\nname = "a"\nlegal_limit_days = 21\n')
    same = catalogue_config(tmp_path, '# 注释\n[items."A"]\nname = "a"\nlegal_limit_days = 20\n')
    assert one.version != two.version
    assert one.version == same.version


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ('[items."A"]\nlegal_limit_days = 20\n', "items.A.name"),
        ('[items."A"]\nname = "a"\nlegal_limit_days = 0\n', "legal_limit_days 0 outside"),
        (
            '[items."A"]\nname = "a"\nlegal_limit_days = 10\nmax_promised_days = 11\n',
            "max_promised_days 11 outside",
        ),
        ('[items."A"]\nname = "a"\nlegal_limit_days = 10\nlimit = 3\n', "items.A.limit"),
        ('[items."A"]\nname = "a"\nlegal_limit_days = 10\ndeemed_approval = "yes"\n', "deemed"),
        ("[items\n", "not valid TOML"),
    ],
)
def test_catalogue_is_validated_at_load(tmp_path: Path, items: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        catalogue_config(tmp_path, items)


def test_a_missing_catalogue_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read item catalogue .*nowhere.toml"):
        config_with(tmp_path, {'\nfile = ""': '\nfile = "nowhere.toml"'})


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        ({"{ minus = 30 }": "{ up_to = 400, minus = 30 }"}, "the last row has no 'up_to'"),
        ({"{ up_to = 7, minus = 1 }": "{ up_to = 7, minus = 3 }"}, "minus 3 leaves"),
        ({"{ up_to = 15, minus = 3 }": "{ up_to = 5, minus = 3 }"}, "must increase"),
        (
            {"extension_notice_working_days = 3": "extension_notice_working_days = -1"},
            "outside 0..365",
        ),
        ({"report_day = 28": "report_day = 32"}, "report_day"),
        ({"days_before = 10": "days_before = -1"}, "RISK_NOT_REPORTED.days_before"),
    ],
)
def test_new_configuration_keys_are_validated(
    tmp_path: Path, replace: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        config_with(tmp_path, replace)


DEMO = Path(__file__).resolve().parents[2] / "deploy" / "config" / "supervision.demo.toml"


def test_demo_configuration_is_the_defaults_with_deemed_approval_and_the_catalogue(
    tmp_path: Path,
) -> None:
    text = DEMO.read_text(encoding="utf-8")
    (tmp_path / "supervision.demo.toml").write_text(text, encoding="utf-8")
    (tmp_path / "item-catalogue.example.toml").write_text(ITEMS, encoding="utf-8")
    demo = load_config(tmp_path / "supervision.demo.toml")
    default = load_config()
    assert demo.templates["approval"].deemed_approval
    assert not default.templates["approval"].deemed_approval
    assert set(demo.catalogue) == {"X-ON", "X-OFF", "X-PLAIN"}
    assert demo.params == default.params and demo.enabled == default.enabled
    assert set(demo.templates) == set(default.templates)
    assert demo.version != default.version
    if (DEMO.parent / "item-catalogue.example.toml").is_file():  # the shipped example
        assert load_config(DEMO).templates["approval"].deemed_approval
