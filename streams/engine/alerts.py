"""Building alerts: deterministic ids, Chinese messages, the events.md JSON form."""

from __future__ import annotations

import hashlib
import string
from typing import Any, Final

from streams.engine.model import Alert
from streams.engine.timeutil import LocalTime
from streams.privacy import mask_text

PROCESS_NAMES = {
    "approval": "行政审批办件",
    "leader_assignment": "领导批办事项",
    "complaint": "群众诉求工单",
    "penalty": "涉企行政处罚案件",
    "key_task": "重点工作督办事项",
    "proposal": "建议提案办理事项",
    "meeting_item": "会议议定事项",
    "fund_disbursement": "专项资金拨付单",
    "tender": "公共资源交易项目",
    "inspection_plan": "涉企检查计划",
    "inspection": "涉企检查",
}
LEVEL_NAMES = {"notice": "提示", "yellow": "黄牌", "red": "红牌"}

_MESSAGES = {
    "OVERDUE/notice": "距承诺时限仅剩1个工作日（最后期限 {last_day}），请抓紧办理",
    "OVERDUE/yellow": "已超过承诺时限（最后期限 {last_day}）仍未办结，亮黄牌",
    "OVERDUE/red": "超过承诺时限{red_after_working_days}个工作日仍未办结，亮红牌督办",
    "STEP_OVERDUE": "“{after}”后未在{within}个{unit_name}内完成“{step}”环节",
    "SKIPPED_STEP": "办理“{action}”时缺少前置环节：{missing_text}",
    "LATE_EXTENSION": "在承诺时限届满后才办理延期（延期{extension_days}个工作日）",
    "LATE_REPORTED": "“{action}”发生于{occurred_at}，迟至{reported_at}才录入"
    "（迟报{delay_hours}小时，超过{max_delay_hours}小时）",
    "UNAUTHORIZED_INSPECTION": "入企检查未经报批（{reason_name}）",
    "REFUSAL_WITHOUT_REASON": "不予受理/不予许可未说明理由",
    "REPEATED_SUPPLEMENT": "第{count}次要求补正材料，未做到一次性告知",
    "OVER_DISBURSEMENT": "累计拨付{disbursed_total}元，超过审批金额{approved_amount}元",
    "PAYEE_MISMATCH": "拨付对象与审批对象不一致",
    "DUPLICATE_DISBURSEMENT": "同一项目资金在{window_hours}小时内向同一对象重复拨付{amount}元",
    "SHORT_TENDER_PERIOD": "招标公告至投标截止仅{period_hours}小时，少于{min_hours}小时",
    "TOO_FEW_BIDS": "开标时有效投标人仅{count}家，少于{min_bidders}家",
    "LATE_BID_AWARDED": "中标人未在投标截止前投标（{reason_name}）",
    "CONTRACT_EXCEEDS_AWARD": "合同金额{contract_amount}元超过中标金额{award_amount}元的{max_ratio}倍",
    "CONTRACT_SUPPLIER_MISMATCH": "合同供应商与中标人不一致",
    "SPLIT_PURCHASE": "同一单位向同一供应商{window_hours}小时内直接采购累计{total}元，涉嫌化整为零",
    "QUIET_DAY_INSPECTION": "在企业安宁日（{date}）入企检查",
    "FREQUENT_INSPECTION": "{window_hours}小时内第{count}次入企检查同一企业",
    "LATE_EXTENSION/notice_by": "未提前{notice_working_days}个工作日书面说明即申请延期"
    "（应于{notice_by}前提出，延期{extension_days}个工作日）",
    "DEEMED_APPROVAL": "超过承诺时限（最后期限 {last_day}）未作出决定，视为准予许可（超时默许）",
    "DENIED_AFTER_DEEMED": "已于{deemed_at}超时默许，其后又作出不予许可/不予受理决定",
    "REPORT_MISSING": "{month} 未按月报告工作进展",
    "RISK_NOT_REPORTED": "不能按期完成未提前{days_before}天书面报告",
    "LIMIT_NOT_COMPRESSED": "承诺时限{time_limit_days}个工作日超过该事项允许的{allowed_days}个工作日"
    "（法定时限{legal_limit_days}个工作日），未压缩办理时限",
}
# A rule whose message depends on a detail: the variant "rule/detail" when it is present.
_VARIANT_DETAIL = {"LATE_EXTENSION": "notice_by"}
_REASON_NAMES = {
    "no_plan_reference": "未关联检查计划",
    "plan_not_approved": "检查计划未获批准",
    "plan_revoked": "检查计划已撤销",
    "dept_mismatch": "检查部门与计划不符",
    "enterprise_not_in_plan": "企业不在计划范围内",
    "outside_window": "不在计划有效期内",
    "late_bid": "投标晚于截止时间",
    "no_bid": "未投标",
}
_UNITS = {"working_days": "工作日", "calendar_days": "自然日"}


_BLAKE2B: Final = hashlib.blake2b


def alert_id(rule: str, process: str, case_id: str, level: str, discriminator: str = "") -> str:
    """Deterministic id from (rule, case, level, the rule's own discriminator)."""
    text = "\x1f".join((rule, process, case_id, level, discriminator))
    return _BLAKE2B(text.encode("utf-8"), digest_size=16).hexdigest()


def _parse_template(template: str) -> list[tuple[str, str]]:
    """(literal text, field name or "") pairs; only plain ``{name}`` fields are allowed."""
    parts: list[tuple[str, str]] = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if spec or conversion or (name is not None and not name.isidentifier()):
            raise ValueError(f"message template field must be a plain {{name}}: {template!r}")
        parts.append((literal, name or ""))
    return parts


_PARTS = {key: _parse_template(template) for key, template in _MESSAGES.items()}
# Masked texts of the short values that recur in messages (dates, counts, step names).
_MASKED: dict[str, str] = {}
_MASKED_MAX = 1 << 14
_MASKED_LEN = 40


def _digit(text: str, at: int) -> bool:
    code = ord(text[at])
    return 48 <= code <= 57


def _code_char(code: int) -> bool:
    """An ASCII digit or letter: what a unified social credit code is made of (either case)."""
    return 48 <= code <= 57 or 65 <= code <= 90 or 97 <= code <= 122


def plain(text: str) -> bool:
    """True when ``mask_text`` cannot change ``text``, decided in compiled code, not by regex.

    Every form ``mask_text`` masks needs an ASCII ":", "=" or "@" (URL credentials, secrets,
    e-mail addresses) or one of the digit forms of its precheck ``_DIGIT_FORMS``: eleven
    digits in a row; a run of seven digits inside 18 digits and letters in a row (a credit
    code); a run of seven digits right after ``0dd-`` or ``0ddd-`` (a landline); or three
    digits, a space, "-" or ".", then four digits and the same separator and four digits, or
    eight digits (a grouped mobile number; a citizen ID number in groups has three digits
    and a separator before eight digits too). Non-ASCII text (full-width and other scripts'
    digits) is left to ``mask_text``.
    """
    size = len(text)
    run = 0
    for i in range(size):
        code = ord(text[i])
        if 48 <= code <= 57:
            run += 1
            if run == 7 and not _plain_run(text, i - 6):
                return False
            if run >= 11:
                return False
        else:
            if (code == 32 or code == 45 or code == 46) and run >= 3 and _grouped_digits(text, i):
                return False
            run = 0
            if code >= 128 or code == 58 or code == 61 or code == 64:  # non-ASCII : = @
                return False
    return True


def _grouped_digits(text: str, sep: int) -> bool:
    """Whether four digits follow position ``sep``, then ``text[sep]`` again and four digits,
    or four more digits."""
    if sep + 8 >= len(text) or not all(_digit(text, sep + j) for j in (1, 2, 3, 4)):
        return False
    if all(_digit(text, sep + j) for j in (5, 6, 7, 8)):
        return True
    return (
        sep + 9 < len(text)
        and ord(text[sep + 5]) == ord(text[sep])
        and all(_digit(text, sep + j) for j in (6, 7, 8, 9))
    )


def _plain_run(text: str, start: int) -> bool:
    """Whether seven digits from ``start`` (preceded by a non-digit) cannot be part of a credit
    code or a landline number."""
    if start >= 1 and ord(text[start - 1]) == 45:  # "-": 0dd- or 0ddd- before it?
        digits_before = 0  # digits right before the "-"
        while start - 2 - digits_before >= 0 and _digit(text, start - 2 - digits_before):
            digits_before += 1
        for width in (3, 4):  # "0" and two or three more digits
            if digits_before >= width and ord(text[start - 1 - width]) == 48:
                return False
    low = start
    while low > 0 and _code_char(ord(text[low - 1])):
        low -= 1
    high = start
    while high < len(text) and _code_char(ord(text[high])):
        high += 1
    return high - low < 18


def _mask(text: str) -> str:
    return text if plain(text) else mask_text(text)


def _masked(text: str) -> str:
    if len(text) > _MASKED_LEN:
        return _mask(text)
    found = _MASKED.get(text)
    if found is None:
        if len(_MASKED) >= _MASKED_MAX:
            _MASKED.clear()
        found = _MASKED[text] = _mask(text)
    return found


def _value(details: dict[str, Any], name: str) -> Any:
    """A template field's value: a detail, a name derived from one, or "?" when absent."""
    if name in details:
        return details[name]
    if name == "missing_text":
        return "、".join(details.get("missing", []))
    if name == "reason_name":
        return _REASON_NAMES.get(str(details.get("reason")), details.get("reason"))
    if name == "unit_name":
        return _UNITS.get(str(details.get("unit")), "")
    return "?"


def message_for(rule: str, level: str, process: str, case_id: str, details: dict[str, Any]) -> str:
    """The alert's Chinese message, with identifiers masked.

    Citizen and enterprise identifiers never appear unmasked in a message (details keep them
    for reviewers with access to the case). Only the case id and the values put into the
    template can hold one, and every character of template text next to a value is neither a
    letter nor a digit (``tests/engine/test_alert_messages.py`` checks each template), so the
    forms made of digits and letters are masked value by value: short ASCII texts, far cheaper
    to scan than the whole message. The forms that may span several values (URL credentials,
    ``key=secret`` pairs, e-mail addresses) need an ASCII "@", ":" or "="; a message with one
    is masked whole as well.
    """
    parts = _PARTS.get(rule + "/" + level)
    if parts is None:
        variant = _VARIANT_DETAIL.get(rule)
        if variant is not None and variant in details:
            parts = _PARTS[rule + "/" + variant]
        else:
            parts = _PARTS[rule]
    pieces = [PROCESS_NAMES.get(process) or _mask(process), " ", _mask(case_id), "："]
    for literal, name in parts:
        pieces.append(literal)
        if name:
            value = _value(details, name)
            pieces.append(_masked(value if isinstance(value, str) else format(value)))
    pieces.append("（")
    pieces.append(LEVEL_NAMES[level])
    pieces.append("）")
    message = "".join(pieces)
    if "@" in message or ":" in message or "=" in message:
        return mask_text(message)
    return message


def make_alert(
    rule: str,
    level: str,
    process: str,
    case_id: str,
    dept: str,
    raised_at: int,
    evidence: list[str],
    details: dict[str, Any],
    config_version: str,
    discriminator: str = "",
) -> Alert:
    return Alert(
        alert_id=alert_id(rule, process, case_id, level, discriminator),
        rule=rule,
        level=level,
        case_id=case_id,
        process=process,
        dept=dept,
        raised_at=raised_at,
        evidence=evidence,
        message=message_for(rule, level, process, case_id, details),
        details=details,
        config_version=config_version,
    )


def alert_to_dict(alert: Alert, local: LocalTime) -> dict[str, Any]:
    """The alert as the JSON object of events.md § Alerts (plus ``config_version``)."""
    return {
        "alert_id": alert.alert_id,
        "rule": alert.rule,
        "level": alert.level,
        "case_id": alert.case_id,
        "process": alert.process,
        "dept": alert.dept,
        "raised_at": local.format(alert.raised_at),
        "evidence": list(alert.evidence),
        "message": alert.message,
        "details": alert.details,
        "config_version": alert.config_version,
    }
