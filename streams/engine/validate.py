"""Event validation against the JSON Schema contract (``schemas/event.schema.json``).

The schema is compiled once (jsonschema-rs); a valid event costs about a
microsecond. For an invalid one the error names the field and the reason,
e.g. ``attrs.time_limit_days: 0 is less than the minimum of 1``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

from streams.engine.config import SCHEMAS_DIR
from streams.engine.model import Event
from streams.engine.timeutil import InstantError, parse_instant

# Why an input was refused, for metrics and dead-letter records.
NOT_JSON = "not_json"
NOT_OBJECT = "not_object"
CONTRACT = "contract"


class InvalidEvent(ValueError):
    """An input line or message that breaks the event contract."""

    def __init__(self, reason: str, kind: str = CONTRACT, field: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.field = field


def load_schema(name: str, schemas_dir: Path | None = None) -> dict[str, Any]:
    path = (schemas_dir or SCHEMAS_DIR) / name
    with path.open("rb") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


class EventValidator:
    """Parses raw bytes or text into an ``Event``, or raises ``InvalidEvent``."""

    def __init__(self, schemas_dir: Path | None = None) -> None:
        self._schema = load_schema("event.schema.json", schemas_dir)
        self._validator = jsonschema_rs.validator_for(self._schema, validate_formats=True)

    def explain(self, document: Any) -> tuple[str, str]:
        """(field, reason) of the first contract violation of a decoded document."""
        errors = sorted(
            self._validator.iter_errors(document),
            key=lambda e: (len(list(e.instance_path)), str(list(e.instance_path))),
        )
        if not errors:
            return "", ""
        # The deepest error of the first field names the actual problem best.
        first_field = errors[0].instance_path
        same = [e for e in errors if list(e.instance_path)[:1] == list(first_field)[:1]]
        error = max(same, key=lambda e: len(list(e.instance_path)))
        path = ".".join(str(p) for p in error.instance_path)
        message = error.message
        if "does not match" in message and '"^[0-9]{4}-[0-9]{2}-[0-9]{2}' in message:
            shown = message.split(" does not match", 1)[0]
            what = (
                "a date YYYY-MM-DD"
                if "T[0-9]" not in message
                else "an RFC 3339 date-time with offset"
            )
            message = (
                f"{shown} is not {what} (e.g. 2026-03-02T10:00:00+08:00)"
                if "T[0-9]" in message
                else (f"{shown} is not {what}")
            )
        return path, message

    def check(self, document: Any) -> None:
        """Raise ``InvalidEvent`` unless the decoded document satisfies the contract."""
        if not isinstance(document, dict):
            raise InvalidEvent(f"not a JSON object but {type(document).__name__}", NOT_OBJECT)
        if not self._validator.is_valid(document):
            field, message = self.explain(document)
            reason = f"{field}: {message}" if field else message
            raise InvalidEvent(reason, CONTRACT, field)

    def parse(self, raw: bytes | str) -> Event:
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidEvent(f"not valid JSON: {exc}", NOT_JSON) from None
        return self.from_document(document)

    def from_document(self, document: Any) -> Event:
        self.check(document)
        text = document["occurred_at"]
        try:
            occurred_at = parse_instant(text)
        except InstantError as exc:
            raise InvalidEvent(f"occurred_at: {exc}", CONTRACT, "occurred_at") from None
        return Event(
            event_id=document["event_id"],
            case_id=document["case_id"],
            process=document["process"],
            action=document["action"],
            occurred_at=occurred_at,
            dept=document["dept"],
            actor=document.get("actor"),
            attrs=document.get("attrs") or {},
            occurred_at_text=text,
        )
