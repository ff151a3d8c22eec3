"""Deterministic test data for the storage tests."""

from __future__ import annotations

from typing import Any

from streams.engine.model import Alert, CaseStatus, Event
from streams.engine.timeutil import parse_instant
from streams.engine.validate import EventValidator

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z = 08:00 Asia/Shanghai
HOUR = 3_600_000_000
DAY = 24 * HOUR


def events(n: int, *, cases: int = 10, prefix: str = "e") -> list[Event]:
    out = []
    for i in range(n):
        case = i % cases
        out.append(
            Event(
                event_id=f"{prefix}{i:06d}",
                case_id=f"FD-{case:04d}",
                process="fund_disbursement",
                action="disburse" if i % 2 else "apply",
                occurred_at=T0 + i * 1_000_001,
                dept=f"D{case % 3}",
                actor=None if i % 4 == 0 else f"u{i % 7}",
                attrs={
                    "amount": "1200.50" if i % 2 else 99.9,
                    "payee": f"P{case}",
                    "program": "春耕",
                },
                occurred_at_text="2026-01-01T08:00:00+08:00",
            )
        )
    return out


def alert(
    i: int,
    level: str = "yellow",
    rule: str = "OVERDUE",
    case: int = 0,
    dept: str = "D0",
    raised_at: int = T0 + HOUR,
) -> Alert:
    return Alert(
        alert_id=f"a{i:04d}",
        rule=rule,
        level=level,
        case_id=f"FD-{case:04d}",
        process="fund_disbursement",
        dept=dept,
        raised_at=raised_at,
        evidence=[f"e{i:06d}"],
        message="办件超时未办结",
        details={"deadline": "2026-01-10T00:00:00+08:00", "amount": "12.30"},
        config_version="cfg-1",
    )


def status(
    case: int,
    version: int,
    *,
    dept: str = "D0",
    terminal: bool = False,
    on_time: bool | None = None,
    card: str = "",
) -> CaseStatus:
    return CaseStatus(
        process="approval",
        case_id=f"AP-{case:04d}",
        dept=dept,
        started_at=T0,
        deadline=T0 + 10 * DAY,
        terminal=terminal,
        terminal_action="complete" if terminal else None,
        closed_at=T0 + 2 * DAY if terminal else None,
        card_level=card,
        updated_at=T0 + version * HOUR,
        version=version,
        completed_on_time=on_time,
    )


# --- the processes of issue #19 (key_task, proposal, meeting_item) -----------------------

VALIDATOR = EventValidator()


def local(text: str) -> int:
    return parse_instant(f"{text}+08:00")


def new_event(
    event_id: str,
    case_id: str,
    process: str,
    action: str,
    when: str,
    dept: str,
    attrs: dict[str, Any] | None = None,
) -> Event:
    document: dict[str, Any] = {
        "event_id": event_id,
        "case_id": case_id,
        "process": process,
        "action": action,
        "occurred_at": f"{when}+08:00",
        "dept": dept,
    }
    if attrs is not None:
        document["attrs"] = attrs
    return VALIDATOR.from_document(document)  # contract-valid, or the test data is wrong


def new_status(
    process: str,
    case_id: str,
    dept: str,
    started: str,
    deadline: str,
    closed: str | None = None,
    on_time: bool | None = None,
    card: str = "",
) -> CaseStatus:
    return CaseStatus(
        process=process,
        case_id=case_id,
        dept=dept,
        started_at=local(started),
        deadline=local(deadline),
        terminal=closed is not None,
        terminal_action="complete" if closed else None,
        closed_at=local(closed) if closed else None,
        card_level=card,
        updated_at=local(closed or started),
        version=2 if closed else 1,
        completed_on_time=on_time,
    )


def new_card(alert_id: str, level: str, process: str, case_id: str, dept: str, when: str) -> Alert:
    return Alert(
        alert_id=alert_id,
        rule="OVERDUE",
        level=level,
        case_id=case_id,
        process=process,
        dept=dept,
        raised_at=local(when),
        evidence=[f"{case_id}-assign"],
        message=f"{case_id} 超期",
        details={},
        config_version="cfg-1",
    )


# Department DK: a key task and a meeting item completed on time, a meeting item still open
# with a yellow card. Department DP: two proposals, one completed late (yellow, then red).
NEW_EVENTS = [
    new_event(
        "KT-1-assign",
        "KT-1",
        "key_task",
        "assign",
        "2026-03-02T09:00:00",
        "DK",
        {"due_date": "2026-03-31", "title": "老旧小区改造", "source": "government"},
    ),
    new_event(
        "KT-1-progress",
        "KT-1",
        "key_task",
        "progress",
        "2026-03-16T09:00:00",
        "DK",
        {"summary": "进度72%"},
    ),
    new_event("KT-1-complete", "KT-1", "key_task", "complete", "2026-03-20T09:00:00", "DK"),
    new_event(
        "MI-1-assign",
        "MI-1",
        "meeting_item",
        "assign",
        "2026-03-03T09:00:00",
        "DK",
        {"time_limit_days": 5, "meeting": "第12次常务会议"},
    ),
    new_event("MI-1-complete", "MI-1", "meeting_item", "complete", "2026-03-10T09:00:00", "DK"),
    new_event(
        "MI-2-assign",
        "MI-2",
        "meeting_item",
        "assign",
        "2026-03-03T10:00:00",
        "DK",
        {"time_limit_days": 15},
    ),
    new_event(
        "PR-1-assign",
        "PR-1",
        "proposal",
        "assign",
        "2026-03-02T09:00:00",
        "DP",
        {"time_limit_days": 30, "kind": "npc_suggestion"},
    ),
    new_event("PR-1-reply", "PR-1", "proposal", "reply", "2026-04-18T09:00:00", "DP"),
    new_event("PR-1-complete", "PR-1", "proposal", "complete", "2026-04-20T09:00:00", "DP"),
    new_event(
        "PR-2-assign",
        "PR-2",
        "proposal",
        "assign",
        "2026-03-05T09:00:00",
        "DP",
        {"time_limit_days": 20, "kind": "cppcc_proposal"},
    ),
    new_event("PR-2-complete", "PR-2", "proposal", "complete", "2026-03-30T09:00:00", "DP"),
]
NEW_STATUSES = [
    new_status(
        "key_task",
        "KT-1",
        "DK",
        "2026-03-02T09:00:00",
        "2026-04-01T00:00:00",
        "2026-03-20T09:00:00",
        True,
    ),
    new_status(
        "meeting_item",
        "MI-1",
        "DK",
        "2026-03-03T09:00:00",
        "2026-03-11T00:00:00",
        "2026-03-10T09:00:00",
        True,
    ),
    new_status(
        "meeting_item", "MI-2", "DK", "2026-03-03T10:00:00", "2026-03-25T00:00:00", card="yellow"
    ),
    new_status(
        "proposal",
        "PR-1",
        "DP",
        "2026-03-02T09:00:00",
        "2026-04-14T00:00:00",
        "2026-04-20T09:00:00",
        False,
        "red",
    ),
    new_status(
        "proposal",
        "PR-2",
        "DP",
        "2026-03-05T09:00:00",
        "2026-04-03T00:00:00",
        "2026-03-30T09:00:00",
        True,
    ),
]
NEW_ALERTS = [
    new_card("a-mi2-y", "yellow", "meeting_item", "MI-2", "DK", "2026-03-25T00:00:00"),
    new_card("a-pr1-y", "yellow", "proposal", "PR-1", "DP", "2026-04-14T00:00:00"),
    new_card("a-pr1-r", "red", "proposal", "PR-1", "DP", "2026-04-17T00:00:00"),
]
