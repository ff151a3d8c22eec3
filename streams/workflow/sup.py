"""The ``SUP_*`` alerts (workflow.md § Supervision of the supervision).

Ordinary alerts of process ``supervision``: the workflow's ``case_id``, the
workflow id as the rule's discriminator (so each fires once per workflow and
level, and the same inputs give the same ids), ``dept`` the department whose step
is late (``[workflow] office_dept`` for the inspection office's own steps).
"""

from __future__ import annotations

from typing import Any, Final

from streams.engine.alerts import LEVEL_NAMES, alert_id
from streams.engine.model import Alert
from streams.privacy import mask_text
from streams.workflow.model import REPLIED, STATE_NAMES
from streams.workflow.state import Workflow

PROCESS: Final = "supervision"
PROCESS_NAME: Final = "督办件"
SUP_RULES: Final = (
    "SUP_TRIAGE_OVERDUE",
    "SUP_RECEIPT_OVERDUE",
    "SUP_REPLY_OVERDUE",
    "SUP_RECTIFY_OVERDUE",
    "SUP_CONCLUSION_OVERDUE",
    "SUP_RECURRENCE",
    "SUP_RETURNED_TWICE",
)

_MESSAGES: Final = {
    "SUP_TRIAGE_OVERDUE": "{source_level}预警（{source_rule}）{days}个工作日仍未研判处置",
    "SUP_RECEIPT_OVERDUE": "督办单下发{days}个工作日仍未签收",
    "SUP_REPLY_OVERDUE/yellow": "未在反馈期限（{due}）前反馈办理情况，予以催办",
    "SUP_REPLY_OVERDUE/red": "反馈期限届满后{days}个工作日仍未反馈，予以通报",
    "SUP_RECTIFY_OVERDUE": "整改期限（{plan_date}）已过，整改未完成",
    "SUP_CONCLUSION_OVERDUE": "督办下发{days}个工作日仍未办结销号（当前：{state_name}）",
    "SUP_RECURRENCE": "{source_rule}在整改销号（{closed_at}）后{window}日内再次发生",
    "SUP_RETURNED_TWICE": "督办反馈被退回重办{returns}次",
}


def late_dept(wf: Workflow, rule: str, office_dept: str) -> str:
    """The department whose step is late: the office for triage and for a reply awaiting
    its review; the workflow's department otherwise."""
    if rule == "SUP_TRIAGE_OVERDUE":
        return office_dept
    if rule == "SUP_CONCLUSION_OVERDUE" and wf.state == REPLIED:
        return office_dept
    return wf.dept


def sup_alert(
    wf: Workflow,
    rule: str,
    level: str,
    instant: int,
    dept: str,
    evidence: list[str],
    details: dict[str, Any],
    config_version: str,
) -> Alert:
    """The ``SUP_*`` alert of ``wf`` at ``instant`` (``details`` gain the workflow's facts)."""
    details = {
        "workflow_id": wf.workflow_id,
        "source_rule": wf.rule,
        "source_process": wf.process,
        "source_level": wf.level,
        "state": wf.state,
        **details,
    }
    template = _MESSAGES.get(f"{rule}/{level}") or _MESSAGES[rule]
    values = {k: str(v) for k, v in details.items()}
    values["source_level"] = LEVEL_NAMES.get(wf.level, wf.level)
    values["state_name"] = STATE_NAMES.get(wf.state, wf.state)
    body = template.format_map(values)
    message = mask_text(f"{PROCESS_NAME} {wf.case_id}：{body}（{LEVEL_NAMES[level]}）")
    return Alert(
        alert_id=alert_id(rule, PROCESS, wf.case_id, level, wf.workflow_id),
        rule=rule,
        level=level,
        case_id=wf.case_id,
        process=PROCESS,
        dept=dept,
        raised_at=instant,
        evidence=evidence,
        message=message,
        details=details,
        config_version=config_version,
    )
