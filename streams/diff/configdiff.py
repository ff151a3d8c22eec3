"""The configuration difference itself: every key whose value differs, old → new.

Both files are compared in their validated form with every default filled in, so a key
written out at its default value is no change, and a key left out on one side shows
its default there. Tables are followed key by key (``overdue.red_after_working_days``,
``processes.approval.limit``); a list is one value. Calendar and catalogue data files
are part of the version but not of these keys: when the versions differ and no key
does, the difference is in that data, and one row says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.diff.sides import Configuration

ABSENT = None  # a key only one side has (a process template, a rule table)
DATA_FILES = "(calendar or catalogue data)"


@dataclass(frozen=True, slots=True)
class KeyChange:
    key: str
    base: Any
    candidate: Any


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for name, inner in value.items():
            _flatten(inner, f"{prefix}.{name}" if prefix else str(name), out)
    else:
        out[prefix] = value


def config_changes(base: Configuration, candidate: Configuration) -> list[KeyChange]:
    """Keys whose values differ, in key order."""
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    _flatten(base.keys, "", old)
    _flatten(candidate.keys, "", new)
    changes = [
        KeyChange(key, old.get(key, ABSENT), new.get(key, ABSENT))
        for key in sorted(old.keys() | new.keys())
        if old.get(key, ABSENT) != new.get(key, ABSENT)
    ]
    if not changes and base.config.version != candidate.config.version:
        changes.append(KeyChange(DATA_FILES, base.config.version, candidate.config.version))
    return changes
