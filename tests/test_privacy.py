"""Identifiers in alert messages and logs are masked; business numbers stay readable."""

from __future__ import annotations

import logging

import pytest

from streams.privacy import (
    MaskingFilter,
    credit_code_valid,
    id_number_valid,
    install_log_masking,
    mask_alert_message,
    mask_structure,
    mask_text,
)

CITIZEN_ID = "11010519491231002X"
CREDIT_CODE = "91350100M000100Y43"


def test_check_digits() -> None:
    assert id_number_valid(CITIZEN_ID)
    assert id_number_valid(CITIZEN_ID.lower())
    assert not id_number_valid("110105194912310021")
    assert credit_code_valid(CREDIT_CODE)
    assert not credit_code_valid("91350100M000100Y44")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"申请人身份证{CITIZEN_ID}已受理", "申请人身份证110***********002X已受理"),
        (f"id {CITIZEN_ID.lower()}.", "id 110***********002x."),
        ("旧证号110105491231002", "旧证号110*********002"),
        (f"企业{CREDIT_CODE}被检查", "企业91************0Y43被检查"),
        ("联系电话13812345678", "联系电话138****5678"),
        ("tel +86 13812345678", "tel +86 138****5678"),
        ("座机010-12345678。", "座机010-****5678。"),
        ("邮箱zhang.san@example.gov.cn", "邮箱z***@example.gov.cn"),
        (
            "clickhouse://writer:hunter2@ch:9000/supervision",
            "clickhouse://writer:***@ch:9000/supervision",
        ),
        ("password=hunter2 token: abc", "password=*** token: ***"),
        ("手机 138 1234 5678", "手机 138 **** 5678"),
        ("电话138-1234-5678。", "电话138-****-5678。"),
        ("tel +86 138 1234 5678", "tel +86 138 **** 5678"),
        (f"证号{CITIZEN_ID}abc", "证号110***********002Xabc"),
        (f"企业{CREDIT_CODE.lower()}被检查", "企业91************0y43被检查"),
        ("电话１３８１２３４５６７８", "电话１３８****５６７８"),
        ("证号１１０１０５１９４９１２３１００２Ｘ", "证号１１０***********００２Ｘ"),
        # written in groups, run into letters, with a 0086 prefix or an extension
        ("身份证 110105 19491231 002X 已核", "身份证 110*** ******** 002X 已核"),
        ("证号110105-19491231-002X。", "证号110***-********-002X。"),
        (f"USCC{CREDIT_CODE}", "USCC91************0Y43"),
        (f"N{CREDIT_CODE}号", "N91************0Y43号"),
        (f"{CREDIT_CODE}abc", "91************0Y43abc"),
        # masking the old-style ID ends the digits after a credit code, which then shows
        (
            "case 91350100m000100y43110105900101123USCC",
            "case 91************0y43************123USCC",
        ),
        ("tel 008613812345678", "tel 0086138****5678"),
        ("分机13812345678x123", "分机138****5678x123"),
        ("手机 138 12345678", "手机 138 ****5678"),
        ("手机138.1234.5678", "手机138.****.5678"),
    ],
)
def test_identifiers_are_masked(text: str, masked: str) -> None:
    assert mask_text(text) == masked
    assert mask_text(masked) == masked  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        "办件编号110101202411250001逾期",  # looks like an ID, check digit says no
        "拨付金额1234567.89元",
        "事件 evt-000123 已处理，案件 APR-2024-0001",
        "超期3个工作日（截止2024-11-25）",
        "编号 100 2000 3000 与 138 1234 567",  # no mobile: 0 after 1, three digits at the end
        "批次138-1234 5678",  # separators differ
        "证号110105 19491231 0021",  # grouped like an ID, check digit says no
        f"编号9{CREDIT_CODE}",  # a digit before: part of a longer number
        "版本 1.2.3, 金额 1234.5678 元",
        "全角金额１２３４５６７元",
        "",
    ],
)
def test_business_text_is_untouched(text: str) -> None:
    assert mask_text(text) == text


def test_alert_message_masked_but_structured_fields_kept() -> None:
    alert: dict[str, object] = {
        "alert_id": "a1",
        "message": f"对企业{CREDIT_CODE}的检查未报批",
        "details": {"enterprise_id": CREDIT_CODE},
    }
    masked = mask_alert_message(alert)
    assert CREDIT_CODE not in masked["message"]
    assert masked["details"]["enterprise_id"] == CREDIT_CODE
    assert str(alert["message"]).endswith("未报批") and CREDIT_CODE in str(
        alert["message"]
    )  # input untouched
    assert mask_structure({"a": [f"x{CITIZEN_ID}"], "n": 1}) == {
        "a": ["x110***********002X"],
        "n": 1,
    }


def test_logging_filter_masks_arguments_and_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.privacy.filter")
    handler = caplog.handler
    handler.addFilter(MaskingFilter())
    try:
        with caplog.at_level(logging.INFO, logger="tests.privacy.filter"):
            logger.info("citizen %s phoned from %s", CITIZEN_ID, "13812345678")
            try:
                raise ValueError(f"bad payee {CREDIT_CODE}")
            except ValueError:
                logger.exception("write failed")
    finally:
        handler.removeFilter(handler.filters[-1])
    text = caplog.text
    assert CITIZEN_ID not in text and "13812345678" not in text and CREDIT_CODE not in text
    assert "citizen 110***********002X phoned from 138****5678" in text
    assert "ValueError: bad payee 91************0Y43" in text


def test_installed_record_factory_masks_every_logger(caplog: pytest.LogCaptureFixture) -> None:
    previous = logging.getLogRecordFactory()
    try:
        install_log_masking()
        install_log_masking()  # idempotent
        with caplog.at_level(logging.WARNING):
            logging.getLogger("faust.whatever").warning("payload %r", {"phone": "13812345678"})
        assert "138****5678" in caplog.text
        assert "13812345678" not in caplog.text
    finally:
        logging.setLogRecordFactory(previous)


def test_masked_records_format_under_faust_formatter() -> None:
    """Faust's (mode's) formatter re-applies args: a masked record must still format, '%' included."""
    from mode.utils.logging import ExtensionFormatter

    previous = logging.getLogRecordFactory()
    try:
        install_log_masking()
        record = logging.getLogger("mode").makeRecord(
            "mode",
            logging.INFO,
            __file__,
            1,
            "[^Worker]: %s at 100%% for %s",
            ("Starting", "13812345678"),
            None,
        )
    finally:
        logging.setLogRecordFactory(previous)
    text = ExtensionFormatter(fmt="%(message)s").format(record)
    assert text == "[^Worker]: Starting at 100% for 138****5678"


def test_rejection_reasons_mask_the_value_they_quote() -> None:
    # A validator message quotes the offending value; dead letters, logs, the fatal
    # line on stderr and the pipeline dashboard show the reason.
    from streams.engine.validate import EventValidator, InvalidEvent

    raw = (
        b'{"event_id":"e1","case_id":"C1","process":"11010519491231002X","action":"accept",'
        b'"occurred_at":"2026-03-02T09:00:00+08:00","dept":"D01","actor":"u1"}'
    )
    with pytest.raises(InvalidEvent) as caught:
        EventValidator().parse(raw)
    assert "11010519491231002X" not in caught.value.reason
    assert "11010519491231002X" not in str(caught.value)
    assert "process" in caught.value.reason
