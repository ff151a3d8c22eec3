"""Deterministic test data for the storage tests."""

from __future__ import annotations

from streams.engine.model import Alert, CaseStatus, Event

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
