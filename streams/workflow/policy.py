"""Who may do what, from which state, with what (workflow.md § States and actions,
§ Who may do what). ``refusal`` answers one action on one workflow: None when it may
go ahead, else (reason, detail).

Checks, in order: the actor is who the users directory says (``unknown_actor``); the
role may take this action and the workflow's department is in the actor's scope
(``not_in_scope``); the version the actor saw is the current one (``stale_version``);
the state allows the action (``wrong_state``: terminal states accept only ``reopen``
and ``comment``); the reason, conclusion or text it needs is there (``missing_reason``);
the two-person rule (``missing_approver``, ``same_person``; the approver must hold the
role, ``not_in_scope``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from streams.engine.model import RED
from streams.engine.users import User
from streams.workflow.model import (
    CLOSED,
    CONCLUSIONS,
    DISMISS_REASONS,
    DISMISSED,
    DISPATCHED,
    DRAFT,
    INVALID_VALUE,
    MISSING_APPROVER,
    MISSING_REASON,
    NEW,
    NOT_IN_SCOPE,
    RECEIVED,
    RECTIFYING,
    REPLIED,
    SAME_PERSON,
    STALE_VERSION,
    STATES,
    TRIAGE,
    UNKNOWN_ACTOR,
    WRONG_STATE,
    Action,
)
from streams.workflow.state import Workflow

INSPECTOR: Final = "inspector"
APPROVER: Final = "approver"
DEPARTMENT: Final = "department"

ROLES_FOR: Final = {
    "claim": frozenset({INSPECTOR, APPROVER}),
    "dismiss": frozenset({INSPECTOR, APPROVER}),
    "draft": frozenset({INSPECTOR, APPROVER}),
    "approve": frozenset({APPROVER}),
    "reject_draft": frozenset({APPROVER}),
    "receive": frozenset({DEPARTMENT, INSPECTOR}),
    "reply": frozenset({DEPARTMENT, INSPECTOR}),
    "accept_plan": frozenset({INSPECTOR, APPROVER}),
    "return": frozenset({INSPECTOR, APPROVER}),
    "extend": frozenset({DEPARTMENT, INSPECTOR}),
    "close": frozenset({INSPECTOR, APPROVER}),
    "reopen": frozenset({INSPECTOR, APPROVER}),
    "comment": frozenset({INSPECTOR, APPROVER, DEPARTMENT}),
}
"""Roles that may take each action: the office lead (approver) may also do an inspector's
triage and drafting (and then another user approves); auditors read, admins administer:
neither acts."""

FROM_STATES: Final = {
    "claim": frozenset({NEW}),
    "dismiss": frozenset({NEW, TRIAGE}),
    "draft": frozenset({TRIAGE}),
    "approve": frozenset({DRAFT}),
    "reject_draft": frozenset({DRAFT}),
    "receive": frozenset({DISPATCHED}),
    "reply": frozenset({DISPATCHED, RECEIVED, RECTIFYING}),
    "accept_plan": frozenset({REPLIED}),
    "return": frozenset({REPLIED}),
    "extend": frozenset({DISPATCHED, RECEIVED}),
    "close": frozenset({REPLIED}),
    "reopen": frozenset({CLOSED, DISMISSED}),
    "comment": frozenset(STATES),
}

_NEEDS_TEXT: Final = frozenset(
    {"dismiss", "draft", "reject_draft", "return", "extend", "close", "reopen", "comment"}
)

Refusal = tuple[str, str]


def _identity(action: Action, users: Mapping[str, User], wf: Workflow) -> Refusal | None:
    actor = action.actor
    user = users.get(actor.user_id)
    if user is None:
        return UNKNOWN_ACTOR, f"user {actor.user_id} is not in the users directory"
    if user.role != actor.role:
        return UNKNOWN_ACTOR, f"user {actor.user_id} has role {user.role}, not {actor.role}"
    if user.role == DEPARTMENT and actor.dept not in user.departments:
        # a department user's departments are where it belongs; an inspector's are its scope
        return UNKNOWN_ACTOR, f"user {actor.user_id} does not belong to {actor.dept}"
    if user.role not in ROLES_FOR[action.type]:
        return NOT_IN_SCOPE, f"role {user.role} may not {action.type}"
    if not user.covers(wf.dept):
        return NOT_IN_SCOPE, f"{wf.dept} is outside the scope of {actor.user_id}"
    return None


def _reason(action: Action) -> Refusal | None:
    kind = action.type
    if kind == "dismiss":
        if not action.reason_code:
            return MISSING_REASON, "dismiss needs a reason_code and a text"
        if action.reason_code not in DISMISS_REASONS:
            codes = ", ".join(sorted(DISMISS_REASONS))
            return INVALID_VALUE, f"reason_code {action.reason_code} is not one of {codes}"
    if kind == "close" and action.conclusion not in CONCLUSIONS:
        return MISSING_REASON, "close needs a conclusion and a text"
    if kind in _NEEDS_TEXT and not action.has_text:
        return MISSING_REASON, f"{kind} needs a text"
    if kind == "reply" and not action.has_text and not action.document.get("attachments"):
        return MISSING_REASON, "a reply needs a text or attachments"
    if kind == "accept_plan" and action.plan_date is None:
        return INVALID_VALUE, "accept_plan needs a plan_date"
    if kind == "extend" and action.due_working_days is None:
        return INVALID_VALUE, "extend needs due_working_days"
    return None


def _needs_approver(action: Action, wf: Workflow) -> frozenset[str]:
    """The roles the ``approver`` of this action must hold; empty: no approver needed."""
    if action.type in ("dismiss", "close") and wf.level == RED:
        return frozenset({APPROVER})
    if action.type == "reopen":
        return frozenset({APPROVER})
    if action.type == "extend" and action.actor.role == DEPARTMENT:
        return frozenset({INSPECTOR, APPROVER})
    return frozenset()


def _two_person(action: Action, users: Mapping[str, User], wf: Workflow) -> Refusal | None:
    if action.type == "approve" and action.actor.user_id == wf.drafter:
        return SAME_PERSON, f"{wf.drafter} drafted this notice: another user approves it"
    roles = _needs_approver(action, wf)
    if not roles and not action.approver:
        return None
    if not action.approver:
        return MISSING_APPROVER, f"{action.type} of this workflow needs an approver"
    if action.approver == action.actor.user_id:
        return SAME_PERSON, "the approver must be another user than the actor"
    approver = users.get(action.approver)
    roles = roles or frozenset({INSPECTOR, APPROVER})
    if approver is None or approver.role not in roles or not approver.covers(wf.dept):
        return NOT_IN_SCOPE, f"{action.approver} may not approve this {action.type}"
    return None


def refusal(action: Action, users: Mapping[str, User], wf: Workflow) -> Refusal | None:
    """Why ``action`` may not go ahead on ``wf`` (None: it may)."""
    found = _identity(action, users, wf)
    if found is not None:
        return found
    if action.expected_version != wf.version:
        return STALE_VERSION, f"expected version {action.expected_version}, it is {wf.version}"
    if wf.state not in FROM_STATES[action.type]:
        return WRONG_STATE, f"{action.type} is not possible in state {wf.state}"
    if action.case_id != wf.case_id:
        return INVALID_VALUE, f"the workflow belongs to case {wf.case_id}, not {action.case_id}"
    return _reason(action) or _two_person(action, users, wf)
