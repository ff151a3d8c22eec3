"""Action validation against ``schemas/action.schema.json``.

An invalid action is refused like an invalid event (``InvalidAction`` is
``InvalidEvent``: the same kinds and masked reason, so it dead-letters the same
way); a valid one becomes an ``Action`` for the engine to accept or reject.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

from streams.engine.timeutil import InstantError, parse_date, parse_instant
from streams.engine.validate import (
    CONTRACT,
    MAX_MESSAGE_BYTES,
    NOT_JSON,
    NOT_OBJECT,
    InvalidEvent,
    load_schema,
)
from streams.workflow.model import Action, Actor

InvalidAction = InvalidEvent
"""An input line or message that breaks the action contract: the event's refusal itself (the
same kinds, masked reason and field), so it dead-letters the same way. An alias, not a
subclass: the compiled engine's exception class cannot be subclassed by interpreted code."""


class ActionValidator:
    """Parses raw bytes or text into an ``Action``, or raises ``InvalidAction``."""

    def __init__(self, schemas_dir: Path | None = None) -> None:
        self._validator = jsonschema_rs.validator_for(
            load_schema("action.schema.json", schemas_dir), validate_formats=True
        )

    def explain(self, document: Any) -> tuple[str, str]:
        """(field, reason) of the first violation: the deepest error of the first field."""
        errors = sorted(
            self._validator.iter_errors(document),
            key=lambda e: (len(list(e.instance_path)), str(list(e.instance_path))),
        )
        first = list(errors[0].instance_path)[:1]
        same = [e for e in errors if list(e.instance_path)[:1] == first]
        error = max(same, key=lambda e: len(list(e.instance_path)))
        return ".".join(str(p) for p in error.instance_path), error.message

    def parse(self, raw: bytes | str) -> Action:
        if len(raw) > MAX_MESSAGE_BYTES:
            raise InvalidAction(f"message of {len(raw)} bytes, more than {MAX_MESSAGE_BYTES}")
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidAction(f"not valid JSON: {exc}", NOT_JSON) from None
        return self.from_document(document)

    def from_document(self, document: Any) -> Action:
        if not isinstance(document, dict):
            raise InvalidAction(f"not a JSON object but {type(document).__name__}", NOT_OBJECT)
        if not self._validator.is_valid(document):
            field, message = self.explain(document)
            raise InvalidAction(f"{field}: {message}" if field else message, CONTRACT, field)
        try:
            acted_at = parse_instant(document["acted_at"])
        except InstantError as exc:
            raise InvalidAction(f"acted_at: {exc}", CONTRACT, "acted_at") from None
        plan_text = document.get("plan_date")
        try:
            plan_date = parse_date(plan_text) if plan_text is not None else None
        except ValueError:
            raise InvalidAction(
                f"plan_date: {plan_text!r} is not a date", CONTRACT, "plan_date"
            ) from None
        actor = document["actor"]
        return Action(
            action_id=document["action_id"],
            workflow_id=document["workflow_id"],
            case_id=document["case_id"],
            type=document["type"],
            actor=Actor(actor["user_id"], actor["role"], actor["dept"]),
            acted_at=acted_at,
            expected_version=document["expected_version"],
            document=document,
            reason_code=document.get("reason_code", ""),
            text=document.get("text", ""),
            due_working_days=document.get("due_working_days"),
            plan_date=plan_date,
            conclusion=document.get("conclusion", ""),
            approver=document.get("approver", ""),
            measures=tuple(document.get("measures", ())),
        )

    def read_lines(
        self, lines: Iterable[bytes], on_reject: Callable[[int, str, bytes], None]
    ) -> tuple[list[Action], int, int]:
        """Valid actions of JSON Lines in read order; (actions, lines read, blank lines).
        Each invalid line goes to ``on_reject`` with its 1-based number and the reason."""
        actions: list[Action] = []
        number = blank = 0
        for raw in lines:
            number += 1
            line = raw.strip()
            if not line:
                blank += 1
                continue
            try:
                actions.append(self.parse(line))
            except InvalidAction as exc:
                on_reject(number, str(exc), raw.rstrip(b"\r\n"))
        return actions, number, blank
