"""Event validation against the JSON Schema contract (``schemas/event.schema.json``).

The schema is compiled once (jsonschema-rs). Events are checked by a schema
specialized to their ``process`` and ``action`` (``specialize``): the branches
of the contract that cannot apply are removed, so a valid event costs well
under a microsecond. For an invalid one the error comes from the whole
schema and names the field and the reason, e.g.
``attrs.time_limit_days: 0 is less than the minimum of 1``.

The contract's limits (events.md) are checked too: a message of at most
``MAX_MESSAGE_BYTES`` (before it is parsed), ``attrs`` nested at most
``MAX_ATTRS_DEPTH`` levels and dates in years 2000..2099 (both in the schema,
explained here in one short sentence). Beyond them an event is invalid.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

from streams.engine.config import SCHEMAS_DIR
from streams.engine.model import Event
from streams.engine.timeutil import InstantError, parse_instant
from streams.privacy import mask_text

# Why an input was refused, for metrics and dead-letter records.
NOT_JSON = "not_json"
NOT_OBJECT = "not_object"
CONTRACT = "contract"
CONFLICTING_DUPLICATE = "conflicting_duplicate"
"""An ``event_id`` read again with other content (rules.md §1.3): ignored, and reported."""

# The contract's limits (events.md § Envelope): beyond them an event is invalid.
MAX_MESSAGE_BYTES = 256 * 1024
MAX_ATTRS_DEPTH = 16  # attrs itself is level 1


@dataclass
class LineCounts:
    """What ``EventValidator.read_lines`` read besides the events it returned."""

    lines: int = 0
    blank: int = 0
    rejected: int = 0
    duplicates: int = 0
    conflicting: int = 0
    """Of the duplicates, those whose content differs from the first read (also rejected)."""


def same_content(a: Event, b: Event) -> bool:
    """Whether two events say the same, whatever their JSON's key order or spacing."""
    return orjson.dumps(a.to_dict(), option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        b.to_dict(), option=orjson.OPT_SORT_KEYS
    )


class InvalidEvent(ValueError):
    """An input line or message that breaks the event contract."""

    def __init__(self, reason: str, kind: str = CONTRACT, field: str = "") -> None:
        # Validator messages quote the offending value, which may be an identifier:
        # the reason goes to dead letters, logs and dashboards, so it is masked here.
        reason = mask_text(reason)
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.field = field


# Distinct (process, action) pairs with a specialized validator; pairs beyond it use the whole
# schema (a stream of made-up actions must not grow memory).
_SPECIALIZED_MAX = 256
_KNOWN = ("process", "action")
_NAMES_MAX = 1 << 14


def _decided(entry: Any, known: dict[str, str]) -> tuple[bool, Any]:
    """For an ``allOf`` entry ``{"if": {K: const V, required K}, "then": X}`` with K known:
    (True, X) when the known value is V, (True, None) when it is not. (False, None) otherwise."""
    if not isinstance(entry, dict) or set(entry) != {"if", "then"}:
        return False, None
    condition = entry["if"]
    if not isinstance(condition, dict) or set(condition) != {"properties", "required"}:
        return False, None
    properties = condition["properties"]
    if not isinstance(properties, dict) or len(properties) != 1:
        return False, None
    ((name, test),) = properties.items()
    if name not in known or condition["required"] != [name]:
        return False, None
    if not isinstance(test, dict) or set(test) != {"const"}:
        return False, None
    return True, (entry["then"] if test["const"] == known[name] else None)


def specialize(schema: dict[str, Any], known: dict[str, str]) -> dict[str, Any]:
    """``schema`` for documents whose top-level fields ``known`` hold those string values.

    Only subschemas that apply to the document itself (the root, its ``allOf``
    entries, local ``$ref`` targets and ``then`` branches reached from them) are
    rewritten: an ``if`` that tests a known field for a constant is decided,
    leaving its ``then`` or nothing. Everything else is kept as written, so a
    document with those values is valid under the result exactly when it is
    valid under ``schema``.
    """
    defs: dict[str, Any] = schema.get("$defs", {})

    def at_root(node: Any, depth: int) -> Any:
        if not isinstance(node, dict) or depth > 32:
            return node
        out = dict(node)
        parts: list[Any] = []
        for entry in out.pop("allOf", []):
            decided, then = _decided(entry, known)
            if not decided:
                parts.append(at_root(entry, depth + 1))
            elif then is not None:
                parts.append(at_root(then, depth + 1))
        ref = out.get("$ref")
        target = defs.get(ref[8:]) if isinstance(ref, str) and ref.startswith("#/$defs/") else None
        if isinstance(target, dict) and "$id" not in target:
            del out["$ref"]
            parts.append(at_root(target, depth + 1))
        if parts:
            out["allOf"] = parts
        return out

    specialized: dict[str, Any] = at_root(schema, 0)
    return specialized


def nesting_depth(value: Any, limit: int) -> int:
    """Levels of objects and arrays in ``value`` (a scalar is 0), counted up to ``limit + 1``.

    Iterative and bounded, so no input can exhaust the stack."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if level > deepest:
            deepest = level
            if deepest > limit:
                return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _utf8_size(raw: bytes | str) -> int:
    return len(raw) if not isinstance(raw, str) else len(raw.encode("utf-8", "surrogatepass"))


def load_schema(name: str, schemas_dir: Path | None = None) -> dict[str, Any]:
    path = (schemas_dir or SCHEMAS_DIR) / name
    with path.open("rb") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


def process_titles(schemas_dir: Path | None = None) -> dict[str, str]:
    """Display name (Chinese) of each process, in contract order: the ``title`` of its
    ``$defs/process_<name>`` in the event schema (the process itself when it has none)."""
    schema = load_schema("event.schema.json", schemas_dir)
    defs = schema.get("$defs", {})
    return {
        name: defs.get(f"process_{name}", {}).get("title") or name
        for name in schema.get("properties", {}).get("process", {}).get("enum", ())
    }


class EventValidator:
    """Parses raw bytes or text into an ``Event``, or raises ``InvalidEvent``."""

    def __init__(self, schemas_dir: Path | None = None) -> None:
        self._schema = load_schema("event.schema.json", schemas_dir)
        self._validator = jsonschema_rs.validator_for(self._schema, validate_formats=True)
        self._processes = frozenset(
            self._schema.get("properties", {}).get("process", {}).get("enum", ())
        )
        self._specialized: dict[str, dict[str, Any]] = {}  # process -> action -> validator
        self.specialized_count = 0
        self._names: dict[str, str] = {}

    def _name(self, text: str) -> str:
        """One shared copy of a name that repeats across events (bounded, like sys.intern but in
        a dict small enough to stay in the processor's cache)."""
        found = self._names.get(text)
        if found is None:
            if len(self._names) >= _NAMES_MAX:
                self._names.clear()
            found = self._names[text] = text
        return found

    def validator_for(self, process: Any, action: Any) -> Any:
        """The compiled validator for events of one (process, action): the whole schema's
        when the pair is not a known process with a string action."""
        if type(process) is not str or type(action) is not str:
            return self._validator
        by_action = self._specialized.get(process)
        if by_action is not None:
            found = by_action.get(action)
            if found is not None:
                return found
        if process not in self._processes or self.specialized_count >= _SPECIALIZED_MAX:
            return self._validator
        schema = specialize(self._schema, {"process": process, "action": action})
        found = jsonschema_rs.validator_for(schema, validate_formats=True)
        self._specialized.setdefault(process, {})[action] = found
        self.specialized_count += 1
        return found

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
        if "does not match" in message and '"^20[0-9]{2}-[0-9]{2}-[0-9]{2}' in message:
            shown = message.split(" does not match", 1)[0]
            if "T[0-9]" in message:
                message = (
                    f"{shown} is not an RFC 3339 date-time with offset in years 2000..2099"
                    " (e.g. 2026-03-02T10:00:00+08:00)"
                )
            else:
                message = f"{shown} is not a date YYYY-MM-DD in years 2000..2099"
        return path, message

    def check(self, document: Any) -> None:
        """Raise ``InvalidEvent`` unless the decoded document satisfies the contract."""
        if not isinstance(document, dict):
            raise InvalidEvent(f"not a JSON object but {type(document).__name__}", NOT_OBJECT)
        validator = self.validator_for(document.get("process"), document.get("action"))
        if not validator.is_valid(document):
            attrs = document.get("attrs")
            if nesting_depth(attrs, MAX_ATTRS_DEPTH) > MAX_ATTRS_DEPTH:
                raise InvalidEvent(
                    f"attrs: nested more than {MAX_ATTRS_DEPTH} levels deep", CONTRACT, "attrs"
                )
            field, message = self.explain(document)
            reason = f"{field}: {message}" if field else message
            raise InvalidEvent(reason, CONTRACT, field)

    def parse(self, raw: bytes | str) -> Event:
        if len(raw) > MAX_MESSAGE_BYTES // 4 and _utf8_size(raw) > MAX_MESSAGE_BYTES:
            raise InvalidEvent(
                f"message of {_utf8_size(raw)} bytes, more than the {MAX_MESSAGE_BYTES} "
                "(256 KiB) allowed",
                CONTRACT,
            )
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
        reported = document.get("reported_at")
        reported_at = None
        if reported is not None:
            try:
                reported_at = parse_instant(reported)
            except InstantError as exc:
                raise InvalidEvent(f"reported_at: {exc}", CONTRACT, "reported_at") from None
        # Names that repeat across events (process, action, department, officer) are interned:
        # replay holds every event until it has sorted them, and one copy each is smaller.
        actor = document.get("actor")
        return Event(
            event_id=document["event_id"],
            case_id=document["case_id"],
            process=self._name(document["process"]),
            action=self._name(document["action"]),
            occurred_at=occurred_at,
            dept=self._name(document["dept"]),
            actor=self._name(actor) if actor is not None else None,
            attrs=document.get("attrs") or {},
            occurred_at_text=text,
            reported_at=reported_at,
            reported_at_text=reported,
        )

    def read_lines(
        self, lines: Iterable[bytes], on_reject: Callable[[int, str, bytes], None]
    ) -> tuple[list[Event], LineCounts]:
        """Validated events of JSON Lines in read order, each ``event_id`` once (first read wins).

        Blank lines are skipped; each rejected line goes to ``on_reject`` with
        its 1-based number, the reason and the line without its line break.
        """
        events: list[Event] = []
        seen: dict[str, int] = {}  # event id -> the first's index in events
        counts = LineCounts()
        number = 0
        for raw in lines:
            number += 1
            if len(raw) > MAX_MESSAGE_BYTES:
                raw = raw.rstrip(b"\r\n")  # the limit is on the line without its line break
            try:
                event = self.parse(raw)  # JSON allows spaces, tabs and line breaks around it
            except InvalidEvent as exc:
                line = raw.strip()
                if not line:
                    counts.blank += 1
                    continue
                try:
                    if exc.kind != NOT_JSON or len(line) == len(raw):
                        raise
                    event = self.parse(line)  # other ASCII whitespace around it (\f, \v)
                except InvalidEvent as final:
                    counts.rejected += 1
                    on_reject(number, str(final), raw.rstrip(b"\r\n"))
                    continue
            event_id = event.event_id
            first = seen.get(event_id)
            if first is not None:
                counts.duplicates += 1
                if not same_content(events[first], event):
                    counts.conflicting += 1
                    on_reject(
                        number,
                        f"{CONFLICTING_DUPLICATE}: event_id read before with other content; "
                        "the first read stands",
                        raw.rstrip(b"\r\n"),
                    )
                continue
            seen[event_id] = len(events)
            events.append(event)
        counts.lines = number
        return events, counts
