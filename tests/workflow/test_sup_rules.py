"""Each SUP_* rule fires once per workflow and level at its instant, and not when the step
was done in time; workflows open, join, and are dismissed by the engine itself."""

from __future__ import annotations

import pytest

from streams.engine.alerts import alert_id
from streams.engine.timeutil import parse_instant
from tests.workflow.harness import Flow, action, at, card, config_with_users, wid
from tests.workflow.test_transitions import RED_AT, dispatched, red_flow, replied

END = "2026-12-31T00:00:00"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory):  # -> SupervisionConfig
    return config_with_users(tmp_path_factory.mktemp("cfg"))


def test_triage_overdue_yellow_at_5_and_red_at_10_working_days(config) -> None:
    flow = red_flow(config)
    flow.advance(END)
    flow.advance(END)
    # From Sat 09-19: 09-20 (Sun, worked) 21 22 23 24 -> end 09-24; then 28 29 30, 10-08 09
    assert flow.sup() == [
        ("SUP_TRIAGE_OVERDUE", "yellow", "2026-09-25T00:00:00+08:00", "OFFICE"),
        ("SUP_TRIAGE_OVERDUE", "red", "2026-10-10T00:00:00+08:00", "OFFICE"),
    ]
    alert = flow.alerts[0]
    assert alert.process == "supervision" and alert.case_id == "AP-1"
    assert alert.alert_id == alert_id("SUP_TRIAGE_OVERDUE", "supervision", "AP-1", "yellow", wid())
    assert alert.details["workflow_id"] == wid()


def test_triage_in_time_raises_nothing(config) -> None:
    flow = dispatched(config)  # drafted on 09-21, before the triage clock ran out
    flow.act(action("receive", "DEP-SCJ", "2026-09-23T10:00:00", 4))
    flow.act(action("reply", "DEP-SCJ", "2026-10-13T10:00:00", 5, text="已办"))
    flow.advance("2026-10-27T23:59:59")
    assert flow.sup() == []


def test_a_yellow_card_has_no_triage_duty_by_default(config) -> None:
    flow = Flow(config)
    flow.alert(card("yellow", RED_AT, config=config))
    flow.advance(END)
    assert flow.sup() == []


def test_a_red_card_joining_starts_the_triage_clock_and_raises_the_level(config) -> None:
    flow = Flow(config)
    flow.alert(card("notice", "2026-09-15T00:00:00", config=config))
    flow.alert(card("yellow", "2026-09-16T00:00:00", config=config))
    flow.alert(card("red", RED_AT, config=config))
    flow.alert(card("yellow", "2026-09-16T00:00:00", case_id="AP-1", rule="OVERDUE", config=config))
    wf = flow.state()
    assert (wf.level, wf.version, len(wf.cards)) == ("red", 3, 3)
    flow.advance(END)
    assert [a.raised_at for a in flow.alerts][:1] == [at("2026-09-25T00:00:00")]


def test_receipt_overdue_1_and_2_working_days_after_approval(config) -> None:
    flow = dispatched(config)  # approved Tue 09-22
    flow.advance(END)
    assert flow.sup()[:2] == [
        ("SUP_RECEIPT_OVERDUE", "yellow", "2026-09-24T00:00:00+08:00", "SCJ"),
        ("SUP_RECEIPT_OVERDUE", "red", "2026-09-25T00:00:00+08:00", "SCJ"),
    ]


def test_receipt_in_time_raises_nothing_and_a_late_one_stops_the_red(config) -> None:
    flow = dispatched(config)
    flow.act(action("receive", "DEP-SCJ", "2026-09-23T23:59:59", 4))
    flow.advance("2026-10-13T00:00:00")
    assert flow.sup() == []
    late = dispatched(config)
    late.act(action("receive", "DEP-SCJ", "2026-09-24T08:00:00", 4))
    late.advance("2026-10-13T00:00:00")
    assert [s[:2] for s in late.sup()] == [("SUP_RECEIPT_OVERDUE", "yellow")]


def test_reply_overdue_at_the_deadline_and_5_working_days_later(config) -> None:
    flow = dispatched(config)
    flow.act(action("receive", "DEP-SCJ", "2026-09-23T10:00:00", 4))
    flow.advance(END)
    assert flow.sup()[:2] == [
        ("SUP_REPLY_OVERDUE", "yellow", "2026-10-14T00:00:00+08:00", "SCJ"),
        ("SUP_REPLY_OVERDUE", "red", "2026-10-21T00:00:00+08:00", "SCJ"),
    ]


def test_a_reply_at_the_very_deadline_is_late(config) -> None:
    flow = dispatched(config)
    flow.act(action("receive", "DEP-SCJ", "2026-09-23T10:00:00", 4))
    flow.act(action("reply", "DEP-SCJ", "2026-10-14T00:00:00", 5, text="已办"))
    flow.advance("2026-10-27T00:00:00")
    assert [s[:2] for s in flow.sup()] == [("SUP_REPLY_OVERDUE", "yellow")]


def test_an_extension_moves_the_reply_clocks(config) -> None:
    flow = dispatched(config)
    flow.act(action("extend", "I-01", "2026-10-13T10:00:00", 4, text="延期", due_working_days=2))
    flow.advance("2026-10-17T00:00:00")
    assert flow.sup()[-1][:3] == ("SUP_REPLY_OVERDUE", "yellow", "2026-10-16T00:00:00+08:00")


def test_after_a_return_a_lapse_already_raised_is_not_raised_again(config) -> None:
    flow = dispatched(config)
    flow.act(action("receive", "DEP-SCJ", "2026-09-23T10:00:00", 4))
    flow.advance("2026-10-14T00:00:00")
    flow.act(action("reply", "DEP-SCJ", "2026-10-15T10:00:00", 5, text="已办"))
    flow.act(action("return", "I-01", "2026-10-16T10:00:00", 6, text="重办", due_working_days=1))
    flow.advance(END)
    rules = [s[:2] for s in flow.sup()]
    assert rules.count(("SUP_REPLY_OVERDUE", "yellow")) == 1
    assert ("SUP_REPLY_OVERDUE", "red") in rules  # the second round's red: once


def test_rectify_overdue_once_and_not_when_reported_in_time(config) -> None:
    flow = replied(config)
    flow.act(action("accept_plan", "I-01", "2026-09-30T10:00:00", 5, plan_date="2026-10-09"))
    flow.advance(END)
    assert ("SUP_RECTIFY_OVERDUE", "red", "2026-10-10T00:00:00+08:00", "SCJ") in flow.sup()
    in_time = replied(config)
    in_time.act(action("accept_plan", "I-01", "2026-09-30T10:00:00", 5, plan_date="2026-10-09"))
    in_time.act(action("reply", "DEP-SCJ", "2026-10-09T18:00:00", 6, text="整改报告"))
    in_time.advance(END)
    assert [s[0] for s in in_time.sup()] == ["SUP_CONCLUSION_OVERDUE"]


def test_conclusion_overdue_20_working_days_after_approval(config) -> None:
    flow = replied(config)  # replied 09-23: the review is the office's step
    flow.advance(END)
    assert flow.sup() == [
        ("SUP_CONCLUSION_OVERDUE", "yellow", "2026-10-28T00:00:00+08:00", "OFFICE"),
    ]
    closed = replied(config)
    closed.act(
        action(
            "close",
            "I-01",
            "2026-10-27T10:00:00",
            5,
            conclusion="partly_confirmed",
            text="部分属实",
            approver="A-01",
        )  # fmt: skip
    )
    closed.advance(END)
    assert closed.sup() == []


def test_returned_twice_once(config) -> None:
    flow = replied(config)
    version = 5
    for day, reply in (("09-30", "10-08"), ("10-09", "10-12"), ("10-13", "10-14")):
        flow.act(action("return", "I-01", f"2026-{day}T10:00:00", version, text="重办"))
        flow.act(action("reply", "DEP-SCJ", f"2026-{reply}T10:00:00", version + 1, text="再报"))
        version += 2
    returned = [s for s in flow.sup() if s[0] == "SUP_RETURNED_TWICE"]
    assert returned == [("SUP_RETURNED_TWICE", "yellow", "2026-10-09T10:00:00+08:00", "SCJ")]
    assert [a.details["returns"] for a in flow.alerts if a.rule == "SUP_RETURNED_TWICE"] == [2]


def _closed_as_rectified(config, case_id: str = "AP-1") -> Flow:
    flow = replied(config)
    flow.act(
        action(
            "close",
            "I-01",
            "2026-10-09T10:00:00",
            5,
            conclusion="confirmed_rectified",
            text="整改到位",
            approver="A-02",
        )  # fmt: skip
    )
    return flow


@pytest.mark.parametrize(
    ("case_id", "dept", "raised", "fires"),
    [
        ("AP-2", "SCJ", "2026-12-01T10:00:00", True),  # another case, within 90 days
        ("AP-2", "SCJ", "2027-01-07T10:00:00", True),  # day 90
        ("AP-2", "SCJ", "2027-01-08T10:00:00", False),  # day 91
        ("AP-1", "SCJ", "2026-12-01T10:00:00", False),  # the same case
        ("AP-2", "ZJJ", "2026-12-01T10:00:00", False),  # another department
    ],
)
def test_recurrence_within_90_days_at_the_department(config, case_id, dept, raised, fires) -> None:
    flow = _closed_as_rectified(config)
    again = card("yellow", raised, case_id=case_id, dept=dept, rule="OVERDUE", config=config)
    if case_id == "AP-1":  # the same family's workflow: another rule of that case
        again = card("red", raised, case_id="AP-1", rule="SKIPPED_STEP", config=config)
    flow.alert(again)
    found = [
        (a.rule, a.level, a.raised_at, a.dept) for a in flow.alerts if a.rule == "SUP_RECURRENCE"
    ]
    assert found == (
        [("SUP_RECURRENCE", "yellow", parse_instant(raised + "+08:00"), dept)] if fires else []
    )


def test_a_reopened_closure_is_no_recurrence_baseline(config) -> None:
    flow = _closed_as_rectified(config)
    flow.act(action("reopen", "I-01", "2026-10-12T10:00:00", 6, text="复查", approver="A-01"))
    flow.alert(card("yellow", "2026-11-02T10:00:00", case_id="AP-2", config=config))
    assert [a.rule for a in flow.alerts if a.rule == "SUP_RECURRENCE"] == []


def test_closures_of_one_instant_match_alike_whatever_order_they_came_in(config) -> None:
    """Two closures at one instant (from two partitions, read in either order): the probe
    meets the same one (the greater action id), so replay and the live worker agree."""
    from streams.workflow.recurrence import Closure, RecurrenceIndex

    first = Closure("W1", "AP-1", at("2026-10-09T10:00:00"), "ND-1")
    second = Closure("W2", "AP-2", at("2026-10-09T10:00:00"), "ND-2")
    found = []
    for order in ((first, second), (second, first)):
        index = RecurrenceIndex(config.local, 90)
        for closure in order:
            index.add("OVERDUE", "SCJ", closure)
        index.add("OVERDUE", "SCJ", order[0])  # read again: not twice
        assert len(index.rows("OVERDUE", "SCJ")) == 2
        found.append(index.match("OVERDUE", "SCJ", "AP-3", at("2026-11-02T10:00:00")))
    assert found == [second, second]


def test_a_withdrawn_alert_dismisses_its_open_workflow(config) -> None:
    flow = Flow(config)
    yellow = card("yellow", "2026-09-16T00:00:00", config=config)
    red = card("red", RED_AT, config=config)
    flow.alert(yellow)
    flow.alert(red)
    flow.act(action("claim", "I-01", "2026-09-21T09:00:00", 2))
    out = flow.engine.on_withdrawn(
        red.alert_id, "late event E-9 disproves it", at("2026-09-22T08:00:00")
    )
    assert out.decisions == [] and flow.state().state == "triage"  # the yellow card stands
    out = flow.engine.on_withdrawn(
        yellow.alert_id, "late event E-9 disproves it", at("2026-09-22T08:00:00")
    )
    (decision,) = out.decisions
    assert decision.action.actor.user_id == "system" and decision.result.accepted
    wf = flow.state()
    assert (wf.state, wf.dismissal, wf.ended_by) == ("dismissed", "alert_withdrawn", "system")
    assert decision.action.text == "late event E-9 disproves it"
    assert flow.engine.workflows[wid()].timers == {}


def test_a_case_finished_before_a_notice_dismisses_it_as_finished_on_time(config) -> None:
    from streams.engine.model import Event

    flow = Flow(config)
    flow.alert(card("notice", "2026-09-15T00:00:00", config=config))
    flow.alert(card("notice", "2026-09-15T00:00:00", case_id="AP-2", config=config))
    done = Event("E-9", "AP-1", "approval", "complete", at("2026-09-14T17:00:00"), "SCJ")
    out = flow.engine.observe_event(done)
    (decision,) = out.decisions
    assert decision.action.reason_code == "finished_on_time"
    assert decision.action.acted_at == at("2026-09-15T00:00:00")  # not before the workflow
    assert flow.state().state == "dismissed"
    after = Event("E-10", "AP-2", "approval", "complete", at("2026-09-15T10:00:00"), "SCJ")
    assert flow.engine.observe_event(after).decisions == []  # finished after the notice
    review = Event("E-11", "AP-2", "approval", "review", at("2026-09-14T10:00:00"), "SCJ")
    assert flow.engine.observe_event(review).decisions == []  # not terminal


def test_a_claimed_or_red_workflow_is_not_dismissed_by_a_finished_case(config) -> None:
    from streams.engine.model import Event

    flow = red_flow(config)
    done = Event("E-9", "AP-1", "approval", "complete", at("2026-09-14T17:00:00"), "SCJ")
    assert flow.engine.observe_event(done).decisions == []


def test_a_clock_in_a_year_without_calendar_data_waits(tmp_path, config) -> None:
    import orjson

    from streams.workflow import WorkflowEngine

    flow = Flow(config)
    flow.alert(card("red", "2026-12-18T00:00:00", config=config))
    flow.act(action("claim", "I-01", "2026-12-18T09:00:00", 1))
    flow.act(action("draft", "I-01", "2026-12-18T10:00:00", 2, text="意见"))
    result = flow.act(action("approve", "A-01", "2026-12-21T09:00:00", 3))
    assert result.accepted  # the reply deadline needs 2027: pending, nothing guessed
    due = dict(result.due)
    assert due["reply_yellow"] is None and due["receipt_yellow"] is not None
    assert flow.engine.pending_calendar() == {2027: 1}
    ask = action("extend", "I-01", "2026-12-22T10:00:00", 4, text="延期", due_working_days=1)
    assert flow.act(ask).reason == "calendar_missing"
    flow.advance("2026-12-31T23:59:59")
    assert [s[0] for s in flow.sup()] == ["SUP_RECEIPT_OVERDUE", "SUP_RECEIPT_OVERDUE"]
    saved = orjson.loads(orjson.dumps(flow.engine.state_dict()))
    calendar = '[years.2027]\nholidays = ["2027-01-01"]\nworkdays = []\n'
    later = WorkflowEngine(config_with_users(tmp_path, calendar=calendar))
    later.load_state(saved)
    assert later.pending_calendar() == {}
    alerts = later.advance(at("2027-03-01T00:00:00")).alerts
    # 10 working days from Mon 12-21: 22 23 24 25 28 29 30 31, (01-01 off) 01-04 05
    assert (alerts[0].rule, alerts[0].raised_at) == ("SUP_REPLY_OVERDUE", at("2027-01-06T00:00:00"))
