"""Chinese names for the web pages (inspectors read 受理, 审查, 决定…; the code beside).

Levels come from the engine (``alerts.LEVEL_NAMES``), states from the workflow
(``model.STATE_NAMES``); rules, actions, dismissal reasons, conclusions and refusal
reasons are named here. ``name_of`` falls back to the code itself, so a rule added
later shows its code rather than nothing.
"""

from __future__ import annotations

from typing import Final

from streams.engine.alerts import LEVEL_NAMES
from streams.workflow.model import STATE_NAMES

RULE_NAMES: Final = {
    "OVERDUE": "超期未办结",
    "STEP_OVERDUE": "环节超时",
    "SKIPPED_STEP": "缺少前置环节",
    "DEEMED_APPROVAL": "逾期视为同意",
    "DENIED_AFTER_DEEMED": "视为同意后又不予许可",
    "REFUSAL_WITHOUT_REASON": "不予许可未说明理由",
    "REPEATED_SUPPLEMENT": "多次要求补正",
    "LATE_EXTENSION": "超期后才延期",
    "LIMIT_NOT_COMPRESSED": "承诺时限未压缩",
    "LATE_REPORTED": "迟报",
    "REPORT_MISSING": "报表缺报",
    "RISK_NOT_REPORTED": "风险未报告",
    "DUPLICATE_DISBURSEMENT": "重复拨付",
    "OVER_DISBURSEMENT": "超额拨付",
    "PAYEE_MISMATCH": "收款人不符",
    "SPLIT_PURCHASE": "拆分采购",
    "SHORT_TENDER_PERIOD": "招标期过短",
    "TOO_FEW_BIDS": "投标人不足",
    "LATE_BID_AWARDED": "逾期投标中标",
    "CONTRACT_EXCEEDS_AWARD": "合同金额超过中标金额",
    "CONTRACT_SUPPLIER_MISMATCH": "合同供应商与中标人不符",
    "FREQUENT_INSPECTION": "频繁检查",
    "QUIET_DAY_INSPECTION": "无干扰日检查",
    "UNAUTHORIZED_INSPECTION": "未经批准检查",
    "SUP_TRIAGE_OVERDUE": "研判超时",
    "SUP_RECEIPT_OVERDUE": "签收超时",
    "SUP_REPLY_OVERDUE": "反馈超时",
    "SUP_RECTIFY_OVERDUE": "整改超时",
    "SUP_CONCLUSION_OVERDUE": "销号超时",
    "SUP_RECURRENCE": "整改后复发",
}

ACTION_NAMES: Final = {
    "claim": "认领",
    "dismiss": "摘牌",
    "draft": "拟制督办单",
    "approve": "审批督办单",
    "reject_draft": "退回督办单",
    "receive": "签收",
    "reply": "反馈",
    "accept_plan": "同意整改计划",
    "return": "退回反馈",
    "extend": "申请延期",
    "close": "销号",
    "reopen": "重新打开",
    "comment": "备注",
}

DISMISS_REASON_NAMES: Final = {
    "false_positive": "误报",
    "lawful_pause_unreported": "依法中止未报备",
    "duplicate": "重复",
    "finished_on_time": "已按时办结",
    "other": "其他",
    "alert_withdrawn": "告警已撤回",
}

CONCLUSION_NAMES: Final = {
    "confirmed_rectified": "确认已整改",
    "partly_confirmed": "部分整改",
    "not_confirmed": "未确认整改",
}

REFUSAL_NAMES: Final = {
    "stale_version": "督办件已被他人处理（版本已变化），请刷新后重试",
    "wrong_state": "当前状态不允许此操作",
    "missing_reason": "缺少理由或说明",
    "same_person": "须由另一人审批（拟制人不能审批自己的督办单）",
    "not_in_scope": "超出您的职责范围",
    "unknown_workflow": "督办件不存在",
    "unknown_actor": "用户身份无法确认",
    "missing_approver": "此操作须有第二人确认",
    "invalid_value": "填写的内容无效",
    "limit_reached": "延期次数已用完",
    "too_late": "已超过可申请的时限",
    "calendar_missing": "缺少该年度工作日历",
    "timeout": "系统未在时限内答复（处理服务是否在运行？）",
}

ROLE_NAMES: Final = {
    "inspector": "监察员",
    "approver": "审批人",
    "department": "部门",
    "auditor": "审计",
    "admin": "管理员",
}


def name_of(table: dict[str, str], code: str) -> str:
    """The Chinese name of ``code`` in ``table``; the code itself when unnamed."""
    return table.get(code, code)


FILTERS: Final = {
    "level": LEVEL_NAMES,
    "rule": RULE_NAMES,
    "state": STATE_NAMES,
    "action": ACTION_NAMES,
    "dismiss_reason": DISMISS_REASON_NAMES,
    "conclusion": CONCLUSION_NAMES,
    "refusal": REFUSAL_NAMES,
    "role": ROLE_NAMES,
}
"""Jinja filters: ``{{ row.level | level }}`` shows 红牌."""
