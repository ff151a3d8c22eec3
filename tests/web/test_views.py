"""What the web pages decide without a browser: the actions offered to each user (the
workflow's own policy), working days left across the National Day holiday, forms."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from streams.engine import load_config
from streams.engine.timeutil import parse_instant
from streams.web.forms import FormError, action_document
from streams.web.views import days_left, deadline_text, offered, workflow_state
from tests.live.flow import SCENARIO


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return load_config(SCENARIO.config_file(tmp_path_factory.mktemp("web-config")))


def test_actions_offered_follow_role_scope_state_and_drafter(config: Any) -> None:
    closed = workflow_state(SCENARIO.expected_workflows[0])  # SCJ, red, closed
    now = parse_instant("2026-10-20T10:00:00+08:00")
    assert list(offered("I-01", config, closed, now)) == ["reopen", "comment"]
    assert list(offered("DEP-SCJ", config, closed, now)) == ["comment"]
    assert list(offered("DEP-ZJJ", config, closed, now)) == []  # another department
    assert list(offered("I-02", config, closed, now)) == []  # an inspector of ZJJ only
    assert list(offered("AUD-01", config, closed, now)) == []  # auditors read
    assert list(offered("NOBODY", config, closed, now)) == []
    draft = dataclasses.replace(closed, state="draft", drafter="A-01")
    assert list(offered("A-02", config, draft, now)) == ["approve", "reject_draft", "comment"]
    # the drafter does not approve their own notice; an inspector never approves
    assert list(offered("A-01", config, draft, now)) == ["reject_draft", "comment"]
    assert list(offered("I-01", config, draft, now)) == ["comment"]
    dispatched = dataclasses.replace(closed, state="dispatched")
    found = offered("DEP-SCJ", config, dispatched, now)
    assert list(found) == ["receive", "reply", "extend", "comment"]
    # a department's extension names the inspector or lead covering SCJ who grants it
    assert found["extend"] == ["A-01", "A-02", "I-01"] and found["reply"] is None
    # a red closure and every reopening name an office lead (the policy's own check)
    replied = dataclasses.replace(closed, state="replied")
    assert offered("I-01", config, replied, now)["close"] == ["A-01", "A-02"]
    assert offered("A-01", config, closed, now)["reopen"] == ["A-02"]
    assert offered("I-01", config, replied, now)["comment"] is None


def test_working_days_left_across_national_day(config: Any) -> None:
    local = config.local
    due = local.end_of(local.date_of(parse_instant("2026-10-12T12:00:00+08:00")))
    assert deadline_text(due, config) == "2026-10-12 24:00"
    # 09-30, 10-08, 10-09, 10-10 (an adjusted working Saturday), 10-12; 10-01..07 off
    assert days_left(due, parse_instant("2026-09-29T10:00:00+08:00"), config) == 5
    assert days_left(due, parse_instant("2026-10-12T23:00:00+08:00"), config) == 0
    passed = local.end_of(local.date_of(parse_instant("2026-09-30T12:00:00+08:00")))
    # passed on 09-30 24:00: 10-08, 10-09, 10-10 and 10-12 since
    assert days_left(passed, parse_instant("2026-10-12T10:00:00+08:00"), config) == -4
    assert days_left(None, 0, config) is None


def test_forms_make_valid_actions_or_say_why_in_chinese() -> None:
    base = {"workflow_id": "b" * 32, "case_id": "AP-1", "acted_at": "2026-10-12T10:00:00+08:00"}
    actor = {"user_id": "I-01", "role": "inspector", "dept": "OFFICE"}
    form = {
        "action_id": "web-1", "type": "draft", "expected_version": "3",
        "measures": "一\n\n二 ", "due_working_days": "5", "text": " 请整改 ",
    }  # fmt: skip
    doc = action_document(form, actor=actor, **base)
    assert doc["measures"] == ["一", "二"] and doc["due_working_days"] == 5
    assert doc["text"] == "请整改" and doc["expected_version"] == 3 and doc["actor"] == actor
    with pytest.raises(FormError, match="工作日数须为整数"):
        action_document({**form, "due_working_days": "五"}, actor=actor, **base)
    with pytest.raises(FormError, match="表单不完整"):
        action_document({**form, "action_id": ""}, actor=actor, **base)
    with pytest.raises(FormError, match="表单内容无效"):
        action_document({**form, "type": "teleport"}, actor=actor, **base)
