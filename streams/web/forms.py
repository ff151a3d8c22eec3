"""An action's JSON document from a submitted form (``schemas/action.schema.json``).

The form carries the action's id (made when the page was rendered: a double-clicked
submit sends one action twice, which the worker answers once), its type and the
version the user saw; the actor comes from the session, never from the form.
"""

from __future__ import annotations

from typing import Any

from streams.workflow import ActionValidator, InvalidAction


class FormError(ValueError):
    """The form does not make a valid action (the message is Chinese, for the page)."""


def _int(text: str, name: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise FormError(f"{name}须为整数") from None


def action_document(
    form: Any, *, workflow_id: str, case_id: str, actor: dict[str, str], acted_at: str
) -> dict[str, Any]:
    version = _int(str(form.get("expected_version", "")), "版本")
    action_id = str(form.get("action_id", "")).strip()
    if version is None or not action_id:
        raise FormError("表单不完整，请刷新页面")
    document: dict[str, Any] = {
        "action_id": action_id,
        "workflow_id": workflow_id,
        "case_id": case_id,
        "type": str(form.get("type", "")),
        "actor": actor,
        "acted_at": acted_at,
        "expected_version": version,
    }
    measures = [m.strip() for m in str(form.get("measures", "")).splitlines() if m.strip()]
    optional: dict[str, Any] = {
        "text": str(form.get("text", "")).strip(),
        "reason_code": str(form.get("reason_code", "")),
        "conclusion": str(form.get("conclusion", "")),
        "plan_date": str(form.get("plan_date", "")),
        "due_working_days": _int(str(form.get("due_working_days", "")), "工作日数"),
        "measures": measures,
    }
    document.update({k: v for k, v in optional.items() if v not in ("", None, [])})
    try:
        ActionValidator().from_document(document)
    except InvalidAction as exc:
        raise FormError(f"表单内容无效：{exc}") from None
    return document
