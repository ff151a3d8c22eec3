"""Case ids (``streams/workload/ids.py``) look like the upstream systems' own numbers and say
nothing of what was planted."""

from __future__ import annotations

import re
from datetime import date

from streams.engine.alerts import message_for
from streams.privacy import mask_text
from streams.workload import VIOLATION_KINDS, GenerateConfig, generate_workload
from streams.workload.ids import CaseIds
from tests.workload.corpus import moderate

FORMATS = {
    "approval": r"3301\d{2}2026\d{4}\d{8}",  # 办件编号: area code, accept date, number
    "leader_assignment": r"JB-2026-\d{8}",  # 交办单号
    "complaint": r"GD2026\d{4}\d{8}",  # 12345 工单号
    "penalty": r"CF-[A-Z]{3,4}-2026-\d{8}",  # 处罚案号
    "fund_disbursement": r"BF2026\d{4}\d{8}",  # 拨付单号
    "tender": r"ZFCG-2026-\d{8}",  # 采购项目编号
    "inspection_plan": r"JCJH-[A-Z]{3,4}-2026-\d{8}",  # 检查计划编号
    "inspection": r"JC2026\d{4}\d{8}",  # 检查编号
    "key_task": r"ZDGZ-2026-\d{4,}",  # 督办编号
    "proposal": r"(RDJY|ZXTA)-2026-\d{4,}",  # 人大代表建议 / 政协委员提案编号
    "meeting_item": r"(CWHY|BGHY|ZTHY)-2026-\d{3}-\d{2,}",  # 会议纪要事项号
}


def test_every_case_id_has_its_upstream_format() -> None:
    events, _, _ = moderate()
    for event in events:
        assert re.fullmatch(FORMATS[event["process"]], event["case_id"]), event["case_id"]


def test_dated_ids_carry_the_day_the_case_started() -> None:
    events, _, _ = moderate()
    first: dict[str, str] = {}
    for event in sorted(events, key=lambda e: e["event_id"]):
        first.setdefault(event["case_id"], event["occurred_at"][:10].replace("-", ""))
    for case_id, day in first.items():
        if case_id.startswith(("GD", "BF", "JC2")):
            assert case_id[2:10] == day, case_id
        elif case_id[:1].isdigit():
            assert case_id[6:14] == day, case_id


def test_ids_tell_nothing_of_the_violation() -> None:
    _, _, planted = moderate()
    words = {"OK", "OPEN", "NONE"} | {k for kinds in VIOLATION_KINDS.values() for k in kinds}
    pieces = {piece for case_id in planted for piece in re.split(r"[-\d]+", case_id) if piece}
    assert not pieces & words
    # compliant and violating cases of one process share one format
    for process, pattern in FORMATS.items():
        shapes = {
            case.tag == "OK"
            for case in planted.values()
            if case.process == process and re.fullmatch(pattern, case.case_id)
        }
        assert shapes == {True, False} or process == "inspection_plan", process


def test_ids_are_unique_and_differ_between_seeds() -> None:
    _, one = generate_workload(GenerateConfig(cases=2_000, seed=1))
    _, two = generate_workload(GenerateConfig(cases=2_000, seed=2))
    ids_one = {case.case_id for case in one}
    assert len(ids_one) == 2_000
    assert not ids_one & {case.case_id for case in two}


def test_privacy_masking_leaves_case_ids_readable() -> None:
    """No id looks like a phone, citizen ID or credit code: alerts show it as it is."""
    _, _, planted = moderate()
    for case in planted.values():
        assert mask_text(case.case_id) == case.case_id
    case_id = next(iter(planted))
    assert case_id in message_for("SKIPPED_STEP", "yellow", "approval", case_id, {})


def test_case_ids_need_no_random_draws() -> None:
    ids = CaseIds(7)
    day = date(2026, 3, 2).toordinal()
    assert ids.case_id("tender", 5, day, "D01") == CaseIds(7).case_id("tender", 5, day, "D01")
    assert ids.number(6) == f"{(int(ids.number(5)) + 1) % 100_000_000:08d}"
