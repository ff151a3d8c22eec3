"""Every transition of workflow.md and every refusal: state, scope, reason, two-person rule,
stale version, resent action_id, terminal states."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.workflow import WorkflowEngine
from tests.workflow.harness import Flow, action, at, card, config_with_users, wid

RED_AT = "2026-09-19T00:00:00"  # a red card on a Saturday, before the National Day holiday


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory):  # -> SupervisionConfig
    return config_with_users(tmp_path_factory.mktemp("cfg"))


def red_flow(config) -> Flow:
    flow = Flow(config)
    flow.alert(card("red", RED_AT, config=config))
    return flow


def dispatched(config) -> Flow:
    """Red card -> claim -> draft -> approve (A-01), on Tue 09-22: version 4."""
    flow = red_flow(config)
    assert flow.act(action("claim", "I-01", "2026-09-21T09:30:00", 1)).accepted
    assert flow.act(action("draft", "I-01", "2026-09-21T15:00:00", 2, text="督办意见")).accepted
    assert flow.act(action("approve", "A-01", "2026-09-22T09:00:00", 3)).accepted
    return flow


def replied(config) -> Flow:
    flow = dispatched(config)
    # a reply straight from dispatched, before the receipt clock ran out: signed for as well
    assert flow.act(action("reply", "DEP-SCJ", "2026-09-23T16:00:00", 4, text="已整改")).accepted
    return flow


def test_the_whole_path_across_national_day(config) -> None:
    flow = red_flow(config)
    local = config.local
    steps = [
        action("claim", "I-01", "2026-09-21T09:30:00", 1),
        action("draft", "I-01", "2026-09-21T15:00:00", 2, text="请说明超期原因", measures=["整改"]),
        action("approve", "A-01", "2026-09-22T09:00:00", 3),
        action("receive", "DEP-SCJ", "2026-09-23T10:00:00", 4),
        action("reply", "DEP-SCJ", "2026-09-29T16:00:00", 5, text="已说明"),
        action("return", "I-01", "2026-09-30T10:00:00", 6, text="说明不充分", due_working_days=5),
        action("reply", "DEP-SCJ", "2026-10-10T11:00:00", 7, text="补充说明"),  # 调休 Saturday
        action("accept_plan", "I-01", "2026-10-12T10:00:00", 8, plan_date="2026-10-20"),
        action("reply", "DEP-SCJ", "2026-10-22T09:00:00", 9, text="整改报告"),
        action(
            "close",
            "I-01",
            "2026-10-23T10:00:00",
            10,
            conclusion="confirmed_rectified",
            text="整改到位，予以销号",
            approver="A-02",
        ),
    ]
    states = []
    for step in steps:
        result = flow.act(step)
        assert result.accepted, (step.type, result.reason, result.detail)
        states.append((result.state, result.version))
        if step.type == "approve":
            due = {name: local.format(t) for name, t in result.due if t is not None}
            # 10 working days from Tue 09-22: 09-23 24 28 29 30, (Mid-Autumn 09-25..27 and
            # National Day 10-01..07 off), 10-08 09 10(Sat, worked) 12 13
            assert due["reply_yellow"] == "2026-10-14T00:00:00+08:00"
            assert due["receipt_yellow"] == "2026-09-24T00:00:00+08:00"
            assert due["conclusion"] == "2026-10-28T00:00:00+08:00"
        if step.type == "return":
            # 5 working days from Wed 09-30: 10-08 09 10(Sat) 12 13
            assert dict(result.due)["reply_yellow"] == at("2026-10-14T00:00:00")
    assert [s for s, _ in states] == [
        "triage", "draft", "dispatched", "received", "replied", "dispatched", "replied",
        "rectifying", "replied", "closed",
    ]  # fmt: skip
    assert [v for _, v in states] == list(range(2, 12))
    flow.advance("2026-12-31T00:00:00")
    # The only lapse: the rectification date 10-20 passed before the report of 10-22.
    assert flow.sup() == [
        ("SUP_RECTIFY_OVERDUE", "red", "2026-10-21T00:00:00+08:00", "SCJ"),
    ]


def test_a_stale_version_is_refused_and_changes_nothing(config) -> None:
    flow = red_flow(config)
    result = flow.act(action("claim", "I-01", "2026-09-21T09:00:00", 2))
    assert (result.status, result.reason, result.version) == ("rejected", "stale_version", 1)
    assert flow.state().state == "new" and flow.state().version == 1


def test_the_wrong_state_is_refused(config) -> None:
    flow = red_flow(config)
    result = flow.act(action("draft", "I-01", "2026-09-21T09:00:00", 1, text="意见"))
    assert result.reason == "wrong_state"
    result = flow.act(action("approve", "A-01", "2026-09-21T09:00:00", 1))
    assert result.reason == "wrong_state"


@pytest.mark.parametrize(
    ("kind", "fields", "reason"),
    [
        ("dismiss", {"text": "误报"}, "missing_reason"),
        ("dismiss", {"reason_code": "false_positive"}, "missing_reason"),
        ("dismiss", {"reason_code": "bored", "text": "x"}, "invalid_value"),
        ("claim", {}, None),
    ],
)
def test_a_dismissal_needs_a_reason_code_and_a_text(config, kind, fields, reason) -> None:
    flow = Flow(config)
    flow.alert(card("yellow", "2026-09-16T00:00:00", config=config))
    result = flow.act(action(kind, "I-01", "2026-09-17T09:00:00", 1, **fields))
    assert result.reason == (reason or "")


def test_a_return_needs_a_reason(config) -> None:
    flow = replied(config)
    result = flow.act(action("return", "I-01", "2026-09-30T10:00:00", 5))
    assert result.reason == "missing_reason"
    assert flow.act(action("return", "I-01", "2026-09-30T10:00:00", 5, text="重办")).accepted


def test_the_drafter_may_not_approve_their_own_draft(config) -> None:
    flow = red_flow(config)
    assert flow.act(action("claim", "A-01", "2026-09-21T09:30:00", 1)).accepted
    assert flow.act(action("draft", "A-01", "2026-09-21T15:00:00", 2, text="意见")).accepted
    result = flow.act(action("approve", "A-01", "2026-09-22T09:00:00", 3))
    assert (result.reason, flow.state().state) == ("same_person", "draft")
    assert flow.act(action("approve", "A-02", "2026-09-22T09:00:00", 3)).accepted


def test_an_inspector_may_not_approve(config) -> None:
    flow = red_flow(config)
    flow.act(action("claim", "I-01", "2026-09-21T09:30:00", 1))
    flow.act(action("draft", "I-01", "2026-09-21T15:00:00", 2, text="意见"))
    assert flow.act(action("approve", "I-01", "2026-09-22T09:00:00", 3)).reason == "not_in_scope"


@pytest.mark.parametrize(
    ("user", "dept", "reason"),
    [
        ("DEP-ZJJ", "", "not_in_scope"),  # another department's workflow
        ("I-02", "", "not_in_scope"),  # an inspector of other departments
        ("AUD-01", "", "not_in_scope"),  # auditors read
        ("DEP-SCJ", "ZJJ", "unknown_actor"),  # a department it does not belong to
        ("I-99", "", "unknown_actor"),  # not in the users directory
    ],
)
def test_acting_outside_ones_scope_is_refused(config, user, dept, reason) -> None:
    flow = dispatched(config)
    kind = "receive" if user.startswith("DEP") else "comment"
    result = flow.act(action(kind, user, "2026-09-23T10:00:00", 4, dept=dept, text="x"))
    assert (result.reason, flow.state().version) == (reason, 4)


def test_a_role_the_actor_does_not_hold_is_refused(config) -> None:
    flow = red_flow(config)
    forged = action("claim", "I-01", "2026-09-21T09:30:00", 1)
    document = {**forged.document, "actor": {"user_id": "I-01", "role": "approver", "dept": "X"}}
    from streams.workflow import ActionValidator

    assert flow.act(ActionValidator().from_document(document)).reason == "unknown_actor"


def test_after_close_only_reopen_and_comment(config) -> None:
    flow = replied(config)
    close = action(
        "close", "I-01", "2026-10-09T10:00:00", 5, conclusion="not_confirmed", text="不属实"
    )
    assert flow.act(close).reason == "missing_approver"  # a red card's closure
    assert flow.act(action(**_with(close, approver="I-01"))).reason == "same_person"
    assert flow.act(action(**_with(close, approver="I-02"))).reason == "not_in_scope"
    assert flow.act(action(**_with(close, approver="A-02"))).accepted
    after = [
        action("reply", "DEP-SCJ", "2026-10-10T10:00:00", 6, text="补充"),
        action("return", "I-01", "2026-10-10T10:00:00", 6, text="重办"),
        action("claim", "I-01", "2026-10-10T10:00:00", 6),
        action("dismiss", "I-01", "2026-10-10T10:00:00", 6, reason_code="other", text="x"),
    ]
    for step in after:
        assert flow.act(step).reason == "wrong_state", step.type
    assert flow.act(action("comment", "DEP-SCJ", "2026-10-10T10:00:00", 6, text="收悉")).accepted
    reopen = action("reopen", "I-01", "2026-10-12T10:00:00", 7, text="抽查未整改")
    assert flow.act(reopen).reason == "missing_approver"
    assert flow.act(action(**_with(reopen, approver="A-01"))).accepted
    assert flow.state().state == "triage" and flow.state().conclusion == ""


def _with(step, **changes) -> dict:
    """The arguments of ``action`` for ``step`` with a new action_id and ``changes``."""
    doc = step.document
    extra = {k: v for k, v in doc.items() if k in ("text", "conclusion", "approver", "reason_code")}
    return {
        "kind": doc["type"],
        "user": doc["actor"]["user_id"],
        "when": doc["acted_at"],
        "version": doc["expected_version"],
        **extra,
        **changes,
    }


def test_a_resent_action_id_gives_the_first_result_and_changes_nothing(config) -> None:
    flow = red_flow(config)
    claim = action("claim", "I-01", "2026-09-21T09:30:00", 1, action_id="same-id")
    first = flow.act(claim)
    assert first.accepted and flow.state().version == 2
    flow.act(action("draft", "I-01", "2026-09-21T15:00:00", 2, text="意见"))
    out = flow.engine.act(claim)
    assert out.decisions[0].duplicate and out.decisions[0].result == first
    assert (flow.state().state, flow.state().version) == ("draft", 3)
    refused = action("approve", "I-01", "2026-09-22T09:00:00", 3, action_id="refused-id")
    assert flow.act(refused).reason == "not_in_scope"
    again = flow.engine.act(
        action("approve", "A-01", "2026-09-22T09:00:00", 3, action_id="refused-id")
    )
    assert again.decisions[0].duplicate and again.decisions[0].result.reason == "not_in_scope"
    assert flow.state().state == "draft"


def test_an_unknown_workflow_and_a_case_mismatch_are_refused(config) -> None:
    flow = red_flow(config)
    lost = action("claim", "I-01", "2026-09-21T09:30:00", 1, workflow_id="0" * 32, action_id="lost")
    assert flow.act(lost).reason == "unknown_workflow"
    assert flow.engine.act(lost).decisions[0].duplicate
    other = action("claim", "I-01", "2026-09-21T09:30:00", 1, workflow_id=wid(), case_id="AP-2")
    assert flow.act(other).reason == "invalid_value"


def test_a_red_dismissal_needs_an_approver_a_yellow_one_does_not(config) -> None:
    flow = red_flow(config)
    dismiss = action(
        "dismiss", "I-01", "2026-09-21T09:00:00", 1, reason_code="duplicate", text="重复"
    )
    assert flow.act(dismiss).reason == "missing_approver"
    assert flow.act(action(**_with(dismiss, approver="A-01"))).accepted
    assert flow.state().dismissal == "duplicate"
    yellow = Flow(config)
    yellow.alert(card("yellow", "2026-09-16T00:00:00", case_id="AP-3", config=config))
    step = action(
        "dismiss",
        "I-01",
        "2026-09-17T09:00:00",
        1,
        case_id="AP-3",
        reason_code="false_positive",
        text="误报",
    )
    assert yellow.act(step).accepted


def test_reject_draft_sends_it_back_to_triage(config) -> None:
    flow = red_flow(config)
    flow.act(action("claim", "I-01", "2026-09-21T09:30:00", 1))
    flow.act(action("draft", "I-01", "2026-09-21T15:00:00", 2, text="意见"))
    assert (
        flow.act(action("reject_draft", "A-01", "2026-09-22T09:00:00", 3)).reason
        == "missing_reason"
    )
    assert flow.act(action("reject_draft", "A-01", "2026-09-22T09:00:00", 3, text="重拟")).accepted
    assert (flow.state().state, flow.state().drafter) == ("triage", "")


def test_one_extension_asked_before_the_reply_deadline(config) -> None:
    late = dispatched(config)
    step = action("extend", "DEP-SCJ", "2026-10-14T00:00:00", 4, text="延期", due_working_days=3)
    assert late.act(action(**_with(step, approver="I-01"), due_working_days=3)).reason == "too_late"
    flow = dispatched(config)
    ask = action("extend", "DEP-SCJ", "2026-10-13T10:00:00", 4, text="材料多", due_working_days=3)
    assert (
        flow.act(ask).reason == "missing_approver"
    )  # a department's request: an inspector approves
    granted = flow.act(action(**_with(ask, approver="I-01"), due_working_days=3))
    assert granted.accepted
    assert dict(granted.due)["reply_yellow"] == at("2026-10-17T00:00:00")  # 10-13 + 14 15 16
    again = action("extend", "I-01", "2026-10-14T10:00:00", 5, text="再延", due_working_days=1)
    assert flow.act(again).reason == "limit_reached"


def test_a_plan_date_at_most_30_working_days_away(config) -> None:
    flow = replied(config)
    # From Wed 09-30: 30 working days end on 11-17 (10-01..07 off, Sat 10-10 worked).
    far = action("accept_plan", "I-01", "2026-09-30T10:00:00", 5, plan_date="2026-11-18")
    assert flow.act(far).reason == "invalid_value"
    past = action("accept_plan", "I-01", "2026-09-30T10:00:00", 5, plan_date="2026-09-29")
    assert flow.act(past).reason == "invalid_value"
    ok = action("accept_plan", "I-01", "2026-09-30T10:00:00", 5, plan_date="2026-11-17")
    assert flow.act(ok).accepted


def test_state_round_trips_and_goes_on(config, tmp_path: Path) -> None:
    import orjson

    flow = dispatched(config)
    saved = orjson.loads(orjson.dumps(flow.engine.state_dict()))
    other = WorkflowEngine(config)
    other.load_state(saved)
    assert other.state_dict() == saved
    resend = flow.state().results
    assert len(resend) == 3
    out = other.act(action("receive", "DEP-SCJ", "2026-09-23T10:00:00", 4))
    assert out.decisions[0].result.accepted
    assert [a.rule for a in other.advance(at("2026-12-31T00:00:00")).alerts] == [
        "SUP_REPLY_OVERDUE", "SUP_REPLY_OVERDUE", "SUP_CONCLUSION_OVERDUE",
    ]  # fmt: skip
