"""The inspectors' pages in a real browser (chromium through Playwright) against a real
worker, broker and ClickHouse server: the 督办 journey by three users in their own
sessions, refusals in Chinese, scope, CSRF, the 督办单 on one A4 page, the scores page,
bulletins and their PDF (the same bytes as ``supervise bulletin export``), the inbox
updated by the server as a new red card fires, and the local demonstration mode.

The tests of this module share one worker and one web server (``web_stack``) and run in
file order: each continues the red card's workflow where the one before left it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.engine import load_config
from streams.engine.model import Alert
from streams.settings import get_settings
from streams.storage.backends import open_backend
from streams.storage.writer import Writer
from streams.workflow import workflow_id_of
from tests.bulletin_text import pdf_text, performance_rows, ranking_rows
from tests.fixtures_kafka import free_port, wait_port
from tests.live.flow import SCENARIO, produce_events, scenario_lines, wait_until
from tests.live.harness import ROOT
from tests.web.conftest import (
    ARTIFACTS,
    PARTITIONS,
    PUSH_INTERVAL_S,
    RED_WORKFLOW,
    WebStack,
    screenshot,
)

pytestmark = [pytest.mark.broker, pytest.mark.server, pytest.mark.browser]

WID = RED_WORKFLOW
ACT_TIMEOUT_MS = 60_000


def _act(page: Any, kind: str, fields: dict[str, str] | None = None) -> None:
    form = page.locator(f"#form-{kind}")
    for name, value in (fields or {}).items():
        form.locator(f"[name={name}]").fill(value)
    with page.expect_navigation(timeout=ACT_TIMEOUT_MS):
        form.locator("button[type=submit]").click()


def _state(page: Any) -> str:
    return str(page.locator("#state").inner_text())


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def test_inspector_claims_and_drafts_from_the_inbox(as_user: Any, web_stack: WebStack) -> None:
    page = as_user("I-01")
    page.goto("/inbox")
    row = page.locator(f"tr[data-workflow='{WID}']")
    assert "红牌" in row.inner_text() and "超期未办结" in row.inner_text()
    assert "待研判" in row.inner_text() and "SCJ" in row.inner_text()
    screenshot(page, "inbox")
    page.goto("/inbox?level=notice")  # filters: the red card's workflow is not a notice
    assert page.locator(f"tr[data-workflow='{WID}']").count() == 0
    assert page.locator("#inbox tr[data-workflow]").count() >= 1  # AP-2026-0902's notice
    page.goto("/inbox?overdue=1")  # its triage ran out (SUP_TRIAGE_OVERDUE): overdue
    assert page.locator("#inbox tr[data-workflow]").count() == 1
    assert "已逾期" in row.inner_text()
    # Grafana's alert board links an alert id to its workflow
    red_card = SCENARIO.expected_workflows[0]["cards"][-1]
    assert red_card["level"] == "red"
    page.goto(f"/alert/{red_card['alert_id']}")
    assert page.url.endswith(f"/workflow/{WID}")
    assert page.goto(f"/alert/{'0' * 32}").status == 404
    page.goto("/inbox")
    row.locator("a").click()
    page.wait_for_url(f"**/workflow/{WID}")
    assert "待研判" in _state(page)
    # the inspector may not approve: no such form; the office lead's step
    assert page.locator("#form-approve").count() == 0
    _act(page, "claim")
    assert "已认领" in page.locator("#done").inner_text()
    assert "研判中" in _state(page)
    _act(
        page,
        "draft",
        {"measures": "立即办结该申请\n说明超期原因", "due_working_days": "5", "text": "请限期整改"},
    )
    assert "督办待审" in _state(page)
    # every action with its actor: claim and draft by I-01
    actions = page.locator("#actions").inner_text()
    assert actions.count("I-01") == 2 and "拟制督办单" in actions
    screenshot(page, "workflow-draft")


def test_approver_approves_in_own_session_and_a_stale_form_is_refused(as_user: Any) -> None:
    lead, deputy = as_user("A-01"), as_user("A-02")
    lead.goto("/inbox")
    assert "督办待审" in lead.locator(f"tr[data-workflow='{WID}']").inner_text()
    lead.goto(f"/workflow/{WID}")
    deputy.goto(f"/workflow/{WID}")  # the deputy's form shows the draft's version
    _act(lead, "approve", {"text": "同意督办"})
    assert "已督办" in _state(lead)
    assert lead.locator("#notice-link").count() == 1
    _act(deputy, "approve", {"text": "同意"})
    refusal = deputy.locator("#refusal").inner_text()
    assert "督办件已被他人处理" in refusal and "stale_version" in refusal
    screenshot(deputy, "workflow-refused")


def test_department_receives_and_replies(as_user: Any, web_stack: WebStack) -> None:
    page = as_user("DEP-SCJ")
    page.goto("/inbox")
    assert "已督办" in page.locator(f"tr[data-workflow='{WID}']").inner_text()
    page.goto(f"/workflow/{WID}")
    deadlines = page.locator("#deadlines").inner_text()
    assert "签收超时" in deadlines and "反馈超时" in deadlines
    _act(page, "receive")
    assert "已签收" in _state(page)
    _act(page, "reply", {"text": "已办结，并说明超期原因"})
    assert "已反馈" in _state(page)
    assert web_stack.workflow_state(WID) == "replied"


def test_red_closure_waits_for_the_approvers_confirmation_in_their_session(
    as_user: Any, web_stack: WebStack
) -> None:
    inspector = as_user("I-01")
    inspector.goto(f"/workflow/{WID}")
    form = inspector.locator("#form-close")
    assert form.locator("[name=approver] option").all_inner_texts() == ["A-01", "A-02"]
    fields = form.evaluate("f => Object.fromEntries(new FormData(f))")
    for forged in ("I-01", "I-02"):  # oneself, or an inspector: not an office lead
        refused = inspector.request.post(
            f"/workflow/{WID}/act", form={**fields, "text": "x", "approver": forged}
        )
        assert refused.status == 400 and "须由另一位有权限的人员确认" in refused.text()
    form.locator("[name=conclusion]").select_option("confirmed_rectified")
    form.locator("[name=approver]").select_option("A-02")
    _act(inspector, "close", {"text": "经核实已整改"})
    assert "等待确认人" in inspector.locator("#done").inner_text()
    assert "已反馈" in _state(inspector)  # nothing sent yet
    assert web_stack.workflow_state(WID) == "replied"
    other = as_user("A-01")
    other.goto("/inbox")
    assert other.locator("#pending").count() == 0  # named A-02, not A-01
    approver = as_user("A-02")
    approver.goto("/inbox")
    pending = approver.locator("#pending")
    assert "销号" in pending.inner_text() and "I-01" in pending.inner_text()
    with approver.expect_navigation(timeout=ACT_TIMEOUT_MS):
        pending.locator("button[value=confirm]").click()
    assert "已销号" in _state(approver)
    actions = approver.locator("#actions").inner_text()
    assert "销号" in actions and "经核实已整改" in actions
    assert web_stack.workflow_state(WID) == "closed"


def test_a_double_clicked_submit_is_one_action(as_user: Any, web_stack: WebStack) -> None:
    page = as_user("I-01")
    page.goto(f"/workflow/{WID}")
    form = page.locator("#form-comment")
    form.locator("[name=text]").fill("双击只记一次")
    action_id = form.locator("[name=action_id]").get_attribute("value")
    fields = form.evaluate("f => Object.fromEntries(new FormData(f))")
    with page.expect_navigation(timeout=ACT_TIMEOUT_MS):
        form.locator("button[type=submit]").dblclick()
    # the same form sent once more, as a second click arriving after the first's answer
    again = page.request.post(f"/workflow/{WID}/act", form=fields, max_redirects=0)
    assert again.status == 303  # accepted: the worker answers a resent action_id once
    page.goto(f"/workflow/{WID}")
    assert page.locator("#actions").inner_text().count("双击只记一次") == 1
    rows = web_stack.store.query(
        f"SELECT count() FROM workflow_actions FINAL WHERE action_id = '{action_id}'"
    )
    assert rows[0][0] == 1


def test_other_department_is_refused_by_url_and_forged_post(as_user: Any) -> None:
    page = as_user("DEP-ZJJ")
    found = page.goto(f"/workflow/{WID}")
    assert found.status == 403
    assert "超出您的职责范围" in page.locator("#refused").inner_text()
    forged = page.request.post(
        f"/workflow/{WID}/act", form={"type": "reply", "text": "x", "expected_version": "1"}
    )
    assert forged.status == 403  # no CSRF token of this user: refused before anything else
    nobody = page.context.browser.new_page(base_url=page.url.split("/workflow")[0])
    try:
        anonymous = nobody.goto("/inbox")
        assert anonymous.status == 401
        assert "未能识别您的身份" in nobody.locator("#refused").inner_text()
    finally:
        nobody.close()


def test_the_notice_prints_on_one_a4_page(as_user: Any) -> None:
    page = as_user("I-01")
    page.goto(f"/workflow/{WID}/notice")
    assert "督 办 单" in page.locator("h1").inner_text()
    text = page.inner_text("body")
    assert "立即办结该申请" in text and "赵主任" in text and "SCJ" in text
    screenshot(page, "notice")
    page.emulate_media(media="print")
    assert _pdf_pages(page.pdf(format="A4")) == 1
    # the page counter counts: the same page with its content repeated runs over
    page.evaluate("document.body.innerHTML += document.body.innerHTML.repeat(4)")
    assert _pdf_pages(page.pdf(format="A4")) > 1


def test_scores_page_ranks_seeded_departments(as_user: Any, web_stack: WebStack) -> None:
    from streams.settings import Settings

    def alert(n: int, level: str, dept: str) -> Alert:
        at = 1_754_000_000_000_000 + n * 3_600_000_000  # 2025-08-01
        return Alert(
            f"seed{n:028d}", "OVERDUE", level, f"SEED-{n}", "approval", dept, at, [],
            "seeded", {}, "v",
        )  # fmt: skip

    seeded = [
        alert(1, "yellow", "ZJJ"),
        alert(2, "red", "RXZX"),
        alert(3, "red", "RXZX"),
        alert(4, "notice", "SCJ"),
        alert(5, "red", "SCJ"),
    ]
    backend = open_backend(Settings(clickhouse_url=web_stack.env["CLICKHOUSE_URL"]))
    try:
        Writer(backend).write(alerts=seeded)
    finally:
        backend.close()
    page = as_user("A-01")
    page.goto("/scores?month=2025-08")
    assert _cells(page, "#scores") == [
        ["1", "ZJJ", "99.0", "优秀"],
        ["2", "SCJ", "98.5", "优秀"],
        ["3", "RXZX", "97.0", "优秀"],
    ]
    screenshot(page, "scores")


def test_bulletin_is_drafted_approved_by_another_and_revised(as_user: Any) -> None:
    drafter, lead, inspector = as_user("A-02"), as_user("A-01"), as_user("I-01")
    drafter.goto("/bulletins?month=2025-08")
    with drafter.expect_navigation():
        drafter.locator("#draft-bulletin button").click()
    first = drafter.url.rsplit("/", 1)[1]
    assert "待审批" in drafter.locator("#status").inner_text()
    assert _cells(drafter, "#ranking") == [
        ["1", "ZJJ", "99.0", "优秀"],
        ["2", "SCJ", "98.5", "优秀"],
        ["3", "RXZX", "97.0", "优秀"],
    ]
    assert "RXZX：97.0 分" in drafter.locator("#bottom").inner_text()
    assert drafter.locator("#approve-bulletin").count() == 0  # not the author's own
    drafter.emulate_media(media="print")
    assert _pdf_pages(drafter.pdf(format="A4")) == 1
    refused = drafter.request.post(f"/bulletins/{first}/approve", form={"csrf": _csrf(drafter)})
    assert refused.status == 409 and "须由起草人以外的审批人审批" in refused.text()
    # an inspector reads the bulletin within its departments and does not approve
    inspector.goto(f"/bulletins/{first}")
    assert [r[1] for r in _cells(inspector, "#ranking")] == ["SCJ", "RXZX"]
    assert inspector.locator("#approve-bulletin").count() == 0
    lead.goto(f"/bulletins/{first}")
    with lead.expect_navigation():
        lead.locator("#approve-bulletin button").click()
    assert "审批：赵主任" in lead.locator("#status").inner_text()
    screenshot(lead, "bulletin")
    again = lead.request.post(f"/bulletins/{first}/approve", form={"csrf": _csrf(lead)})
    assert again.status == 409 and "已由 A-01 审批" in again.text()
    # drafting again makes revision 2; revision 1 stays as approved
    inspector.goto("/bulletins?month=2025-08")
    with inspector.expect_navigation():
        inspector.locator("#draft-bulletin button").click()
    inspector.goto("/bulletins?month=2025-08")
    rows = inspector.locator("#revisions tr[data-bulletin]").all_inner_texts()
    assert len(rows) == 2
    assert "第 1 版" in rows[0] and "A-02" in rows[0] and "A-01" in rows[0]
    assert "第 2 版" in rows[1] and "I-01" in rows[1] and "待审批" in rows[1]


def _cells(page: Any, table: str) -> list[list[str]]:
    rows = page.locator(f"{table} tr[data-dept]")
    return [
        [c.strip() for c in rows.nth(i).locator("td").all_inner_texts()[:4]]
        for i in range(rows.count())
    ]


def _csrf(page: Any) -> str:
    """The user's CSRF token, as a form of the bulletins page carries it."""
    page.goto(page.url.split("/bulletins")[0] + "/bulletins")
    return str(page.locator("#draft-bulletin [name=csrf]").get_attribute("value"))


def test_approved_bulletin_downloads_as_the_cli_exports_it(
    as_user: Any, web_stack: WebStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead = as_user("A-01")
    lead.goto("/bulletins?month=2025-08")
    first, second = lead.locator("#revisions tr[data-bulletin]").evaluate_all(
        "rows => rows.map(r => r.dataset.bulletin)"
    )
    lead.goto(f"/bulletins/{first}")
    with lead.expect_download() as info:
        lead.locator("#export-pdf").click()
    pdf = Path(info.value.path()).read_bytes()
    assert info.value.suggested_filename == "bulletin-2025-08-r1.pdf"
    # the same bytes as supervise bulletin export writes for the same user and revision
    for name, value in web_stack.env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(
            app,
            ["bulletin", "export", "--month", "2025-08", "--as", "A-01", "--revision", "1",
             "--output", str(tmp_path / "cli.pdf")],
        )  # fmt: skip
        assert out.exit_code == 0, out.output
        assert (tmp_path / "cli.pdf").read_bytes() == pdf
        expected = performance_rows("2025-08")
    finally:
        get_settings.cache_clear()
    _, _, text = pdf_text(pdf)
    assert set(expected) == {"ZJJ", "SCJ", "RXZX"}
    assert ranking_rows(text) == expected
    assert f"通报编号：{first}" in text and "审批：赵主任（A-01）" in text
    # revision 2 waits for approval: no download offered, and none by URL
    lead.goto(f"/bulletins/{second}")
    assert lead.locator("#export-pdf").count() == 0
    refused = lead.request.get(f"/bulletins/{second}/pdf")
    assert refused.status == 409 and "尚未审批" in refused.text()
    # a department downloads the rows of its own department only
    department = as_user("DEP-ZJJ")
    scoped = department.request.get(f"/bulletins/{first}/pdf")
    assert scoped.status == 200 and scoped.headers["content-type"] == "application/pdf"
    _, _, text = pdf_text(scoped.body())
    assert set(ranking_rows(text)) == {"ZJJ"}


def test_the_inbox_shows_a_new_red_card_without_reloading(
    as_user: Any, web_stack: WebStack
) -> None:
    """A red card fires for a new case of SCJ while two inboxes are open: the inspector of
    SCJ sees it arrive within a few seconds of its storage, in the same document (no
    reload); the inspector of ZJJ, listening too, is sent nothing of it."""
    case_id = "AP-2026-0951"
    wid = workflow_id_of("OVERDUE", "approval", case_id, "")
    inspector, other = as_user("I-01"), as_user("I-02")
    for page in (inspector, other):
        page.goto("/inbox")
        page.wait_for_function("document.getElementById('live').textContent.includes('自动更新')")
        page.evaluate("window.sameDocument = true")  # gone if the page reloads
    row = inspector.locator(f"tr[data-workflow='{wid}']")
    assert row.count() == 0
    before = int(re.sub(r"\D", "", inspector.locator("#count").inner_text()))
    # the scenario's overdue case again, as a new case: ten days from 2026-09-01, long past
    event = dict(orjson.loads(scenario_lines("events.jsonl")[0]), event_id="PUSH-1")
    event["case_id"] = case_id
    produce_events(web_stack.ns, [orjson.dumps(event)], PARTITIONS)
    wait_until(
        lambda: (
            web_stack.store.query(
                f"SELECT level FROM workflows_current WHERE workflow_id = '{wid}'"
            )
            == [("red",)]
        ),
        180,
        "the new red card's workflow stored",
    )
    row.wait_for(timeout=(3 * PUSH_INTERVAL_S + 3) * 1000)  # stored -> on the page
    assert "红牌" in row.inner_text() and case_id in row.inner_text()
    assert inspector.evaluate("window.sameDocument") is True
    assert inspector.locator("#count").inner_text() == f"共 {before + 1} 件"
    screenshot(inspector, "inbox-pushed")
    other.wait_for_timeout(3 * PUSH_INTERVAL_S * 1000)
    assert other.locator(f"tr[data-workflow='{wid}']").count() == 0  # not their department
    assert other.evaluate("window.sameDocument") is True


def test_the_local_demonstration_mode_picks_a_user_on_a_page(
    browser: Any, web_stack: WebStack
) -> None:
    """`supervise web --local` (what `make run` starts) on the same storage: no header, a
    picker of the users file's users, the banner 本地演示模式 on every page, and the
    picked user's scope as deployed."""
    port = free_port()
    log = (ARTIFACTS / "web-local.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "web", "--local", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **web_stack.env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    context = browser.new_context(base_url=f"http://127.0.0.1:{port}", locale="zh-CN")
    try:
        wait_port(port, 30)
        page = context.new_page()
        page.goto("/inbox")
        assert page.url.endswith("/local")
        picker = page.locator("#picker")
        users = load_config(SCENARIO.config_file(web_stack.tmp)).users
        assert sorted(
            picker.locator("tr[data-user]").evaluate_all("rows => rows.map(r => r.dataset.user)")
        ) == sorted(users)
        assert "本地演示模式" in page.locator("#local-mode").inner_text()
        screenshot(page, "local-picker")
        with page.expect_navigation():
            picker.locator("tr[data-user='DEP-ZJJ'] button").click()
        assert page.url.endswith("/inbox")
        assert "本地演示模式" in page.locator("#local-mode").inner_text()
        assert "住建局" in page.locator("header .who").inner_text()
        assert page.goto(f"/workflow/{WID}").status == 403  # SCJ's: outside ZJJ's scope
        page.goto("/local")
        with page.expect_navigation():
            page.locator("#picker tr[data-user='I-01'] button").click()
        page.goto(f"/workflow/{WID}")
        assert "本地演示模式" in page.locator("#local-mode").inner_text()
        assert WID in page.url and page.locator("#state").count() == 1
    finally:
        context.close()
        server.terminate()
        server.wait(30)
        log.close()
