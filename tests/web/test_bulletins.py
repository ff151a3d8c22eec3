"""Bulletins in storage on both engines: frozen month scores, revisions, approval by an
office lead other than the author, once; the month's report they freeze (督办 rates)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from streams.engine import load_config
from streams.engine.model import Alert
from streams.storage.writer import Writer
from streams.web import bulletins
from streams.web.reads import all_workflows
from streams.web.report import duban_rates, month_report, recent_months
from tests.live.flow import SCENARIO
from tests.storage.test_workflow_tables import history  # noqa: F401 - the replayed scenario 05

AUG_1 = 1_754_000_000_000_000  # 2025-08-01 06:13 Asia/Shanghai


def _alert(n: int, level: str, dept: str) -> Alert:
    return Alert(
        f"b{n:031d}", "OVERDUE", level, f"B-{n}", "approval", dept, AUG_1 + n, [], "m", {}, "v"
    )


def test_drafts_are_revisions_and_approval_is_once_by_another_lead(
    migrated_backend: Any, tmp_path: Any
) -> None:
    config = load_config(SCENARIO.config_file(tmp_path))
    backend = migrated_backend
    Writer(backend).write(alerts=[_alert(1, "red", "SCJ"), _alert(2, "yellow", "ZJJ")])
    with pytest.raises(bulletins.BulletinRefused, match="只有监察员或审批人"):
        bulletins.draft(backend, config, "2025-08", "DEP-SCJ", AUG_1)
    first = bulletins.draft(backend, config, "2025-08", "I-01", AUG_1 + 10)
    # scored again later: a new revision, the first unchanged
    Writer(backend).write(alerts=[_alert(3, "red", "ZJJ")])
    second = bulletins.draft(backend, config, "2025-08", "A-02", AUG_1 + 20)
    for user, why in (("I-01", "只有审批人"), ("A-02", "起草人以外"), ("NOBODY", "只有审批人")):
        with pytest.raises(bulletins.BulletinRefused, match=why):
            bulletins.approve(backend, config, second, user, AUG_1 + 30)
    approved = bulletins.approve(backend, config, second, "A-01", AUG_1 + 40)
    assert (approved.revision, approved.approver) == (2, "A-01")
    with pytest.raises(bulletins.BulletinRefused, match="已由 A-01 审批"):
        bulletins.approve(backend, config, second, "A-01", AUG_1 + 50)
    with pytest.raises(bulletins.BulletinRefused, match="通报不存在"):
        bulletins.approve(backend, config, "0" * 32, "A-01", AUG_1)
    found = bulletins.revisions(backend, "2025-08")
    assert [(b.bulletin_id, b.revision, b.author, b.approver) for b in found] == [
        (first, 1, "I-01", ""),
        (second, 2, "A-02", "A-01"),
    ]
    ranks = [[(r["rank"], r["dept"], r["score"]) for r in b.scores] for b in found]
    assert ranks == [
        [(1, "ZJJ", "99.0"), (2, "SCJ", "98.5")],
        [(1, "SCJ", "98.5"), (2, "ZJJ", "97.5")],
    ]
    assert all(b.config_version == config.version for b in found)
    assert bulletins.bulletin(backend, first) == found[0]


def test_month_report_rates_the_duban_received_and_replied_in_time(
    migrated_backend: Any,
    history: dict[str, Any],  # noqa: F811
    tmp_path: Any,
) -> None:
    """Scenario 05's 督办 (SCJ, approved 2026-09-22, received and replied with no receipt
    or reply overdue): both rates 100 %; a copy that raised SUP_REPLY_OVERDUE counts as
    received but not replied in time; one without actions, as neither."""
    config = load_config(SCENARIO.config_file(tmp_path))
    Writer(migrated_backend).write(
        workflow_actions=history["actions"], workflows=history["versions"]
    )
    [scj] = [r for r in month_report(migrated_backend, config, "2026-09") if r["dept"] == "SCJ"]
    assert (scj["duban"], scj["receipt_rate"], scj["reply_rate"]) == (1, 1.0, 1.0)
    assert list(scj["trend"]) == recent_months("2026-09") == [
        "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09",
    ]  # fmt: skip
    [wf] = [w for w in all_workflows(migrated_backend) if w.approved_at is not None]
    late = replace(wf, fired=[*wf.fired, "SUP_REPLY_OVERDUE/yellow"])
    silent = replace(wf, workflow_id="0" * 32)
    rates = duban_rates(migrated_backend, [wf, late, silent])
    assert rates == {"SCJ": {"receipt_rate": 0.6667, "reply_rate": 0.3333}}
