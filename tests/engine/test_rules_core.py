"""Core rules (rules.md §1, §3.1), table-driven. Times are +08:00."""

import random

import orjson
import pytest

from tests.engine.harness import brief, ev, run


def approval(case: str, accept_at: str, limit: int, *rest: tuple, dept: str = "D01") -> list[dict]:
    events = [ev(f"{case}-0", case, "approval", "accept", accept_at, dept, time_limit_days=limit)]
    for i, (action, at, *attrs) in enumerate(rest, start=1):
        events.append(
            ev(f"{case}-{i}", case, "approval", action, at, dept, **(attrs[0] if attrs else {}))
        )
    return events


OVERDUE_CASES = [
    pytest.param(
        # Thu 02-12 + 3 working days: 02-13, Sat 02-14 (adjusted), then 02-24 after the Spring Festival
        approval("SF", "2026-02-12T10:00:00", 3),
        "2026-03-10T00:00:00",
        [
            ("OVERDUE", "notice", "SF", "2026-02-24T00:00:00"),
            ("OVERDUE", "yellow", "SF", "2026-02-25T00:00:00"),
            ("OVERDUE", "red", "SF", "2026-02-28T00:00:00"),
        ],
        id="spring-festival-ladder",
    ),
    pytest.param(
        # a pause that crosses the deadline: last 03-05; paused 03-05..03-10 = 3 working days -> last 03-10
        approval(
            "PX",
            "2026-03-02T10:00:00",
            3,
            ("suspend", "2026-03-05T10:00:00", {"reason": "hearing"}),
            ("resume", "2026-03-10T09:00:00"),
        ),
        "2026-03-20T00:00:00",
        [
            ("OVERDUE", "notice", "PX", "2026-03-05T00:00:00"),
            ("OVERDUE", "yellow", "PX", "2026-03-11T00:00:00"),
            ("OVERDUE", "red", "PX", "2026-03-14T00:00:00"),
        ],
        id="pause-across-deadline",
    ),
    pytest.param(
        # still paused at as-of: nothing after the pause start fires
        approval("PO", "2026-03-02T10:00:00", 3, ("supplement_request", "2026-03-04T10:00:00")),
        "2026-03-31T00:00:00",
        [],
        id="open-pause-blocks-timers",
    ),
    pytest.param(
        # pause after D: no shift; the red instant (03-07 00:00) falls inside the pause and is skipped
        approval(
            "PA",
            "2026-03-02T10:00:00",
            1,
            ("suspend", "2026-03-05T10:00:00", {"reason": "testing"}),
            ("resume", "2026-03-09T09:00:00"),
        ),
        "2026-03-31T00:00:00",
        [
            ("OVERDUE", "notice", "PA", "2026-03-03T00:00:00"),
            ("OVERDUE", "yellow", "PA", "2026-03-04T00:00:00"),
        ],
        id="pause-after-deadline-skips-red",
    ),
    pytest.param(
        # a second pause start while paused changes nothing; the first resume closes it
        approval(
            "P2",
            "2026-06-01T09:00:00",
            5,
            ("supplement_request", "2026-06-03T10:00:00"),
            ("suspend", "2026-06-04T10:00:00", {"reason": "hearing"}),
            ("supplement_received", "2026-06-05T14:00:00"),
            ("resume", "2026-06-08T09:00:00"),
            ("complete", "2026-06-10T17:00:00"),
        ),
        "2026-06-30T00:00:00",
        [
            ("OVERDUE", "notice", "P2", "2026-06-10T00:00:00"),
            ("SKIPPED_STEP", "red", "P2", "2026-06-10T17:00:00"),
        ],
        id="nested-pause-and-stray-resume",
    ),
    pytest.param(
        # extension before D across Qingming (scenario 05 shape) and a completion on the last day
        approval(
            "EX",
            "2026-04-01T10:00:00",
            2,
            ("extend", "2026-04-03T23:59:59", {"extension_days": 3, "approver": "L"}),
        ),
        "2026-04-09T12:00:00",
        # the notice was raised on 04-03 before the extension; each level is raised once
        [("OVERDUE", "notice", "EX", "2026-04-03T00:00:00")],
        id="extension-before-deadline",
    ),
    pytest.param(
        # extension exactly at D is late, and the yellow card at D comes first (same instant)
        approval(
            "EL",
            "2026-04-13T10:00:00",
            1,
            ("extend", "2026-04-15T00:00:00", {"extension_days": 5, "approver": "L"}),
        ),
        "2026-04-16T00:00:00",
        [
            ("LATE_EXTENSION", "yellow", "EL", "2026-04-15T00:00:00"),
            ("OVERDUE", "notice", "EL", "2026-04-14T00:00:00"),
            ("OVERDUE", "yellow", "EL", "2026-04-15T00:00:00"),
        ],
        id="extension-at-deadline-is-late",
    ),
    pytest.param(
        # a terminal event at exactly an alert instant comes after the alert
        approval(
            "TT",
            "2026-03-02T10:00:00",
            3,
            ("review", "2026-03-03T10:00:00"),
            ("decide", "2026-03-04T10:00:00", {"decision": "approve"}),
            ("complete", "2026-03-06T00:00:00"),
        ),
        "2026-03-31T00:00:00",
        [
            ("OVERDUE", "notice", "TT", "2026-03-05T00:00:00"),
            ("OVERDUE", "yellow", "TT", "2026-03-06T00:00:00"),
        ],
        id="terminal-at-alert-instant",
    ),
    pytest.param(
        # as-of exactly at an instant raises it; one microsecond before does not
        approval("AS", "2026-03-02T10:00:00", 3),
        "2026-03-06T00:00:00",
        [
            ("OVERDUE", "notice", "AS", "2026-03-05T00:00:00"),
            ("OVERDUE", "yellow", "AS", "2026-03-06T00:00:00"),
        ],
        id="as-of-inclusive",
    ),
    pytest.param(
        approval("AT", "2026-03-02T10:00:00", 3),
        "2026-03-05T23:59:59.999999",
        [("OVERDUE", "notice", "AT", "2026-03-05T00:00:00")],
        id="as-of-before-instant",
    ),
    pytest.param(
        # a case whose first event is not its start action has no clock
        [
            ev("NC-1", "NC", "approval", "review", "2026-03-01T09:00:00"),
            ev("NC-2", "NC", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=1),
        ],
        "2026-03-31T00:00:00",
        [("SKIPPED_STEP", "red", "NC", "2026-03-01T09:00:00")],
        id="no-clock-without-leading-start",
    ),
    pytest.param(
        # a later start action never restarts the clock
        approval(
            "RS",
            "2026-03-02T10:00:00",
            1,
            ("accept", "2026-03-03T10:00:00", {"time_limit_days": 30}),
        ),
        "2026-03-04T00:00:00",
        [
            ("OVERDUE", "notice", "RS", "2026-03-03T00:00:00"),
            ("OVERDUE", "yellow", "RS", "2026-03-04T00:00:00"),
        ],
        id="second-accept-ignored",
    ),
    pytest.param(
        [
            ev(
                "LA-0",
                "LA",
                "leader_assignment",
                "accept",
                "2026-03-02T10:00:00",
                priority="urgent",
            ),
            ev(
                "LB-0",
                "LB",
                "leader_assignment",
                "accept",
                "2026-03-02T10:00:00",
                priority="urgent",
                joint=True,
            ),
            ev(
                "LC-0",
                "LC",
                "leader_assignment",
                "accept",
                "2026-03-02T10:00:00",
                priority="general",
                joint=True,
                time_limit_days=2,
            ),
        ],
        "2026-03-04T00:00:00",
        [
            ("OVERDUE", "notice", "LA", "2026-03-03T00:00:00"),
            ("OVERDUE", "notice", "LC", "2026-03-04T00:00:00"),
            ("OVERDUE", "yellow", "LA", "2026-03-04T00:00:00"),
        ],
        id="leader-limits-override-joint-priority",
    ),
    pytest.param(
        # inspection: result upload within 5 working days of the start (safety: exempt from plan rules)
        [
            ev(
                "IS-0",
                "IS",
                "inspection",
                "start",
                "2026-03-09T10:00:00",
                enterprise_id="E",
                category="safety",
            )
        ],
        "2026-03-17T00:00:00",
        [
            ("OVERDUE", "notice", "IS", "2026-03-16T00:00:00"),
            ("OVERDUE", "yellow", "IS", "2026-03-17T00:00:00"),
        ],
        id="inspection-result-upload",
    ),
]


@pytest.mark.parametrize(("events", "as_of", "expected"), OVERDUE_CASES)
def test_case_clock(events: list[dict], as_of: str, expected: list[tuple]) -> None:
    assert brief(run(events, as_of)) == sorted(expected)


def test_overdue_alert_fields() -> None:
    alerts = run(approval("F1", "2026-03-06T09:00:00", 2, dept="D07"), "2026-03-11T00:00:00")
    yellow = next(a for a in alerts if a["level"] == "yellow")
    assert yellow["dept"] == "D07" and yellow["process"] == "approval"
    assert yellow["evidence"] == ["F1-0"]
    assert yellow["details"]["deadline"] == "2026-03-11T00:00:00+08:00"
    assert yellow["details"]["last_day"] == "2026-03-10"
    assert "黄牌" in yellow["message"]
    assert len({a["alert_id"] for a in alerts}) == len(alerts) == 2


STEP_CASES = [
    pytest.param(
        [
            ev(
                "C1-0", "C1", "complaint", "accept", "2026-03-02T10:00:00", "HOT", category="simple"
            ),
            ev(
                "C1-1",
                "C1",
                "complaint",
                "assign",
                "2026-03-04T09:00:00",
                "HOT",
                assignee_dept="D02",
            ),
        ],
        [("STEP_OVERDUE", "yellow", "C1", "2026-03-04T00:00:00")],
        id="complaint-assign-late",
    ),
    pytest.param(
        [
            ev(
                "C2-0", "C2", "complaint", "accept", "2026-03-02T10:00:00", "HOT", category="simple"
            ),
            ev(
                "C2-1",
                "C2",
                "complaint",
                "assign",
                "2026-03-03T23:59:59",
                "HOT",
                assignee_dept="D02",
            ),
        ],
        [],
        id="complaint-assign-in-time",
    ),
    pytest.param(
        [
            ev(
                "F-0",
                "F",
                "fund_disbursement",
                "apply",
                "2026-07-01T09:00:00",
                "CZJ",
                amount=10,
                payee="P",
                program="X",
            ),
            ev("F-1", "F", "fund_disbursement", "review", "2026-07-01T10:00:00", "CZJ"),
            ev(
                "F-2",
                "F",
                "fund_disbursement",
                "approve",
                "2026-07-01T11:00:00",
                "CZJ",
                approved_amount=10,
                payee="P",
            ),
        ],
        [("STEP_OVERDUE", "yellow", "F", "2026-07-16T00:00:00")],
        id="fund-disburse-10-working-days",
    ),
    pytest.param(
        [
            ev(
                "T-0",
                "T",
                "tender",
                "announce",
                "2026-07-01T09:00:00",
                "JTJ",
                method="direct",
                budget=100,
            ),
            ev("T-1", "T", "tender", "award", "2026-07-20T09:00:00", "JTJ", winner="W", amount=100),
        ],
        [("STEP_OVERDUE", "yellow", "T", "2026-08-20T00:00:00")],
        id="tender-contract-30-calendar-days",
    ),
]


@pytest.mark.parametrize(("events", "expected"), STEP_CASES)
def test_step_clocks(events: list[dict], expected: list[tuple]) -> None:
    alerts = [a for a in run(events, "2026-09-30T00:00:00") if a["rule"] == "STEP_OVERDUE"]
    assert brief(alerts) == sorted(expected)


def penalty(case: str, *actions: str, **execute: object) -> list[dict]:
    events = [
        ev(
            f"{case}-r",
            case,
            "penalty",
            "register",
            "2026-05-11T09:00:00",
            "SCJ",
            enterprise_id="E1",
        )
    ]
    for i, action in enumerate(actions):
        events.append(ev(f"{case}-{i}", case, "penalty", action, f"2026-05-12T0{i}:00:00", "SCJ"))
    events.append(
        ev(f"{case}-x", case, "penalty", "execute", "2026-05-14T09:00:00", "SCJ", **execute)
    )
    return events


@pytest.mark.parametrize(
    ("events", "missing"),
    [
        pytest.param(
            penalty("A", "investigate", measure="fine", amount="1999.99"),
            None,
            id="fine-below-2000",
        ),
        pytest.param(
            penalty("B", "investigate", measure="fine", amount=2000),
            ["legal_review", "leader_approve"],
            id="fine-at-2000",
        ),
        pytest.param(
            penalty("C", "investigate", "legal_review", measure="confiscate"),
            ["leader_approve"],
            id="confiscate-without-approval",
        ),
        pytest.param(
            penalty("D", "investigate", "legal_review", "leader_approve", measure="revoke_license"),
            None,
            id="revoke-with-all-steps",
        ),
        pytest.param(
            penalty("E", measure="suspend_business"),
            ["investigate", "legal_review", "leader_approve"],
            id="missing-listed-in-template-order",
        ),
        pytest.param(
            penalty("F", "investigate", measure="warning"), None, id="warning-needs-no-approval"
        ),
    ],
)
def test_skipped_step_penalty(events: list[dict], missing: list[str] | None) -> None:
    alerts = [a for a in run(events) if a["rule"] == "SKIPPED_STEP"]
    if missing is None:
        assert alerts == []
    else:
        assert [a["details"]["missing"] for a in alerts] == [missing]
        assert alerts[0]["raised_at"] == "2026-05-14T09:00:00+08:00"


def test_skipped_step_tender_direct_award_needs_only_announce() -> None:
    direct = [
        ev(
            "D-0",
            "D",
            "tender",
            "announce",
            "2026-07-01T09:00:00",
            "J",
            method="single_source",
            budget=5,
        ),
        ev("D-1", "D", "tender", "award", "2026-07-02T09:00:00", "J", winner="W", amount=5),
    ]
    open_ = [
        ev(
            "O-0",
            "O",
            "tender",
            "announce",
            "2026-07-01T09:00:00",
            "J",
            method="open",
            budget=5,
            bid_deadline="2026-08-01T09:00:00+08:00",
        ),
        ev("O-1", "O", "tender", "award", "2026-08-02T09:00:00", "J", winner="W", amount=5),
    ]
    skipped = [a for a in run(direct + open_) if a["rule"] == "SKIPPED_STEP"]
    assert [(a["case_id"], a["details"]["missing"]) for a in skipped] == [("O", ["evaluate"])]


def test_skipped_step_once_per_case_and_action() -> None:
    events = approval(
        "S",
        "2026-03-02T10:00:00",
        9,
        ("decide", "2026-03-03T10:00:00", {"decision": "deny"}),
        ("decide", "2026-03-03T11:00:00", {"decision": "approve"}),
        ("complete", "2026-03-03T12:00:00"),
    )
    skipped = [a for a in run(events) if a["rule"] == "SKIPPED_STEP"]
    assert [a["details"]["missing"] for a in skipped] == [["review"]]


def test_events_after_terminal_raise_nothing() -> None:
    events = approval(
        "Z",
        "2026-03-02T10:00:00",
        9,
        ("withdraw", "2026-03-02T11:00:00"),
        ("decide", "2026-03-03T10:00:00", {"decision": "deny"}),
        ("extend", "2026-04-30T10:00:00", {"extension_days": 1, "approver": "L"}),
        ("reject", "2026-05-01T10:00:00"),
    )
    assert run(events, "2026-06-01T00:00:00") == []


PLAN = ev(
    "PL-a",
    "IP-1",
    "inspection_plan",
    "approve",
    "2026-05-06T09:00:00",
    "JCJ",
    inspecting_dept="SCJ",
    enterprise_ids=["E1", "E2"],
    valid_from="2026-05-06",
    valid_to="2026-05-29",
)


def start(
    case: str,
    at: str,
    dept: str = "SCJ",
    enterprise: str = "E1",
    category: str = "routine",
    **extra,
) -> dict:
    return ev(
        f"{case}-s",
        case,
        "inspection",
        "start",
        at,
        dept,
        enterprise_id=enterprise,
        category=category,
        **extra,
    )


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        pytest.param(
            [PLAN, start("I1", "2026-05-12T10:00:00", plan_id="IP-1")], None, id="authorized"
        ),
        pytest.param(
            [PLAN, start("I2", "2026-05-12T10:00:00")], "no_plan_reference", id="no-plan-reference"
        ),
        pytest.param(
            [start("I3", "2026-05-12T10:00:00", plan_id="IP-9")],
            "plan_not_approved",
            id="unknown-plan",
        ),
        pytest.param(
            [start("I4", "2026-05-06T09:00:00", plan_id="IP-1"), PLAN],
            "plan_not_approved",
            id="approve-at-same-instant-is-not-before",
        ),
        pytest.param(
            [
                PLAN,
                ev("PL-r", "IP-1", "inspection_plan", "revoke", "2026-05-10T09:00:00", "JCJ"),
                start("I5", "2026-05-12T10:00:00", plan_id="IP-1"),
            ],
            "plan_revoked",
            id="revoked",
        ),
        pytest.param(
            [PLAN, start("I6", "2026-05-12T10:00:00", dept="ZJJ", plan_id="IP-1")],
            "dept_mismatch",
            id="dept-mismatch",
        ),
        pytest.param(
            [PLAN, start("I7", "2026-05-12T10:00:00", enterprise="E3", plan_id="IP-1")],
            "enterprise_not_in_plan",
            id="enterprise-not-in-plan",
        ),
        pytest.param(
            [PLAN, start("I8", "2026-05-30T10:00:00", plan_id="IP-1")],
            "outside_window",
            id="after-valid-to",
        ),
        pytest.param(
            [PLAN, start("I9", "2026-05-29T23:59:59", plan_id="IP-1")], None, id="last-valid-day"
        ),
        pytest.param(
            [
                PLAN,
                start("IA", "2026-05-12T10:00:00", dept="ZJJ", enterprise="E3", category="unified"),
            ],
            None,
            id="exempt-category",
        ),
    ],
)
def test_unauthorized_inspection(events: list[dict], reason: str | None) -> None:
    alerts = [a for a in run(events) if a["rule"] == "UNAUTHORIZED_INSPECTION"]
    assert [a["details"]["reason"] for a in alerts] == ([reason] if reason else [])


def test_out_of_order_input_and_duplicates_change_nothing() -> None:
    events = approval(
        "OO",
        "2026-03-06T09:00:00",
        2,
        ("review", "2026-03-09T10:00:00"),
        ("decide", "2026-03-16T10:00:00", {"decision": "approve"}),
        ("complete", "2026-03-16T15:00:00"),
    )
    expected = run(events, "2026-03-20T00:00:00")
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)
    # a re-sent event with different content: the first one read wins
    resent = dict(events[0], attrs={"time_limit_days": 30})
    assert run(shuffled + [resent], "2026-03-20T00:00:00") == expected
    assert run([resent] + shuffled, "2026-03-20T00:00:00") != expected


def test_malformed_lines_are_rejected_with_line_numbers_and_nothing_else_lost() -> None:
    good = approval("ML", "2026-03-06T09:00:00", 2)
    lines = [b"not json", orjson.dumps(good[0]), b"", b'{"event_id": "x"}', b"[1, 2]"]
    rejects: list = []
    alerts = run(lines, "2026-03-20T00:00:00", rejects=rejects)
    assert [r.line for r in rejects] == [1, 4, 5]
    assert "not valid JSON" in rejects[0].reason
    assert "required" in rejects[1].reason
    assert len(alerts) == 3


def test_identifiers_in_alert_messages_are_masked() -> None:
    citizen_case = "33010619900101123X"  # an ID-card-shaped case number, as some platforms use
    events = [
        ev("M-0", citizen_case, "approval", "accept", "2026-03-02T10:00:00", time_limit_days=1)
    ]
    alerts = run(events, "2026-03-04T00:00:00")
    assert alerts and all(citizen_case not in a["message"] for a in alerts)
    assert all(a["case_id"] == citizen_case for a in alerts)  # the field itself stays exact
