"""The workflow's vocabulary (workflow.md § States and actions): states, action types,
reason codes, and the two records every step leaves: the action and its result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from streams.engine.timeutil import LocalTime

# --------------------------------------------------------------------------- states
NEW: Final = "new"  # 待研判
TRIAGE: Final = "triage"  # 研判中
DISMISSED: Final = "dismissed"  # 已摘牌
DRAFT: Final = "draft"  # 督办待审
DISPATCHED: Final = "dispatched"  # 已督办
RECEIVED: Final = "received"  # 已签收
REPLIED: Final = "replied"  # 已反馈
RECTIFYING: Final = "rectifying"  # 整改中
CLOSED: Final = "closed"  # 已销号
STATES: Final = (NEW, TRIAGE, DISMISSED, DRAFT, DISPATCHED, RECEIVED, REPLIED, RECTIFYING, CLOSED)
TERMINAL: Final = frozenset({DISMISSED, CLOSED})
STATE_NAMES: Final = {
    NEW: "待研判",
    TRIAGE: "研判中",
    DISMISSED: "已摘牌",
    DRAFT: "督办待审",
    DISPATCHED: "已督办",
    RECEIVED: "已签收",
    REPLIED: "已反馈",
    RECTIFYING: "整改中",
    CLOSED: "已销号",
}

# --------------------------------------------------------------------------- actions
ACTION_TYPES: Final = (
    "claim",
    "dismiss",
    "draft",
    "approve",
    "reject_draft",
    "receive",
    "reply",
    "accept_plan",
    "return",
    "extend",
    "close",
    "reopen",
    "comment",
)
DISMISS_REASONS: Final = frozenset(
    {"false_positive", "lawful_pause_unreported", "duplicate", "finished_on_time", "other"}
)
ALERT_WITHDRAWN: Final = "alert_withdrawn"
"""The reason code of the engine's dismissal of a workflow whose alerts were all withdrawn."""
FINISHED_ON_TIME: Final = "finished_on_time"
CONCLUSIONS: Final = frozenset({"confirmed_rectified", "partly_confirmed", "not_confirmed"})
CONFIRMED_RECTIFIED: Final = "confirmed_rectified"
SYSTEM_ROLE: Final = "system"

# --------------------------------------------------------------------------- results
ACCEPTED: Final = "accepted"
REJECTED: Final = "rejected"
STALE_VERSION: Final = "stale_version"
WRONG_STATE: Final = "wrong_state"
MISSING_REASON: Final = "missing_reason"
SAME_PERSON: Final = "same_person"
NOT_IN_SCOPE: Final = "not_in_scope"
UNKNOWN_WORKFLOW: Final = "unknown_workflow"
UNKNOWN_ACTOR: Final = "unknown_actor"
MISSING_APPROVER: Final = "missing_approver"
INVALID_VALUE: Final = "invalid_value"
LIMIT_REACHED: Final = "limit_reached"
TOO_LATE: Final = "too_late"
CALENDAR_MISSING: Final = "calendar_missing"
REJECTIONS: Final = (
    STALE_VERSION,
    WRONG_STATE,
    MISSING_REASON,
    SAME_PERSON,
    NOT_IN_SCOPE,
    UNKNOWN_WORKFLOW,
    UNKNOWN_ACTOR,
    MISSING_APPROVER,
    INVALID_VALUE,
    LIMIT_REACHED,
    TOO_LATE,
    CALENDAR_MISSING,
)
"""Why an action is refused: the five of workflow.md (stale version, wrong state, missing
reason, same person as the drafter, not in the actor's scope) and the checks they imply."""


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: str
    role: str
    dept: str


@dataclass(frozen=True, slots=True)
class Action:
    """One valid action (``schemas/action.schema.json``); ``document`` is its JSON as read."""

    action_id: str
    workflow_id: str
    case_id: str
    type: str
    actor: Actor
    acted_at: int  # epoch microseconds
    expected_version: int
    document: dict[str, Any]
    reason_code: str = ""
    text: str = ""
    due_working_days: int | None = None
    plan_date: int | None = None  # date ordinal
    conclusion: str = ""
    approver: str = ""
    measures: tuple[str, ...] = field(default=())

    @property
    def has_text(self) -> bool:
        return bool(self.text.strip())


@dataclass(frozen=True, slots=True)
class Result:
    """What an action came to: accepted (the workflow's new version) or rejected (why)."""

    action_id: str
    workflow_id: str
    case_id: str
    type: str
    user_id: str
    acted_at: int
    status: str  # ACCEPTED or REJECTED
    reason: str  # "" when accepted; one of REJECTIONS otherwise
    detail: str  # one sentence: what was checked
    version: int  # the workflow's version after the action (0: no such workflow)
    state: str  # the workflow's state after the action ("" : no such workflow)
    due: tuple[tuple[str, int | None], ...] = ()  # armed clocks after it: (name, instant)

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED

    def to_dict(self, local: LocalTime) -> dict[str, Any]:
        """The result as published on ``supervision.action-results`` and stored."""
        return {
            "action_id": self.action_id,
            "workflow_id": self.workflow_id,
            "case_id": self.case_id,
            "type": self.type,
            "user_id": self.user_id,
            "acted_at": local.format(self.acted_at),
            "status": self.status,
            "reason": self.reason,
            "detail": self.detail,
            "version": self.version,
            "state": self.state,
            "due": {name: local.format(at) if at is not None else None for name, at in self.due},
        }


def result_from_dict(data: dict[str, Any]) -> Result:
    from streams.engine.timeutil import parse_instant

    return Result(
        action_id=data["action_id"],
        workflow_id=data["workflow_id"],
        case_id=data["case_id"],
        type=data["type"],
        user_id=data["user_id"],
        acted_at=parse_instant(data["acted_at"]),
        status=data["status"],
        reason=data["reason"],
        detail=data["detail"],
        version=data["version"],
        state=data["state"],
        due=tuple(
            (name, parse_instant(at) if at is not None else None)
            for name, at in data["due"].items()
        ),
    )


@dataclass(slots=True)
class Decision:
    """An action and its result; ``duplicate``: a resent ``action_id`` (the first result,
    nothing changed)."""

    action: Action
    result: Result
    duplicate: bool = False
