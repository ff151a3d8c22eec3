"""The per-(process, action) validators accept exactly what the whole event schema accepts."""

from __future__ import annotations

import copy
import itertools
import json
import random
from typing import Any

import jsonschema_rs

from streams.engine import EventValidator
from streams.engine.validate import _SPECIALIZED_MAX, SCHEMAS_DIR, load_schema, specialize
from streams.workload import GenerateConfig, generate_events

SCHEMA = load_schema("event.schema.json")
WHOLE = jsonschema_rs.validator_for(SCHEMA, validate_formats=True)
PROCESSES = SCHEMA["properties"]["process"]["enum"]


def _actions(process: str) -> list[str]:
    return SCHEMA["$defs"][f"process_{process}"]["allOf"][0]["properties"]["action"]["enum"]


def _documents() -> list[dict[str, Any]]:
    """Generated events of every process, the examples, and their mutations."""
    docs = list(itertools.islice(generate_events(GenerateConfig(cases=400, seed=7)), 3000))
    for folder in ("valid", "invalid"):
        for path in sorted((SCHEMAS_DIR / "examples" / folder).glob("*.json")):
            example = json.loads(path.read_text(encoding="utf-8"))
            docs.append(example["event"] if folder == "invalid" else example)
    rnd = random.Random(20261125)
    mutated = []
    junk: list[Any] = [None, 0, -1, 1.5, "", "x", [], {}, True, "2026-02-30", "9" * 20]
    for doc in rnd.sample(docs, min(len(docs), 1500)):
        for _ in range(3):
            changed = copy.deepcopy(doc)
            what = rnd.randrange(5)
            if what == 0:  # another action of the same or another process
                process = rnd.choice(PROCESSES)
                changed["process"] = process
                changed["action"] = rnd.choice([*_actions(process), "unknown"])
            elif what == 1 and isinstance(changed.get("attrs"), dict) and changed["attrs"]:
                del changed["attrs"][rnd.choice(sorted(changed["attrs"]))]
            elif what == 2 and isinstance(changed.get("attrs"), dict) and changed["attrs"]:
                changed["attrs"][rnd.choice(sorted(changed["attrs"]))] = rnd.choice(junk)
            elif what == 3:
                changed[rnd.choice(sorted(changed))] = rnd.choice(junk)
            else:
                changed.pop(rnd.choice(sorted(changed)), None)
            mutated.append(changed)
    return docs + mutated


def test_specialized_validators_agree_with_the_whole_schema() -> None:
    validator = EventValidator()
    docs = _documents()
    valid = invalid = 0
    for doc in docs:
        expected = WHOLE.is_valid(doc)
        got = validator.validator_for(doc.get("process"), doc.get("action")).is_valid(doc)
        assert got == expected, doc
        valid += expected
        invalid += not expected
    assert valid > 1000 and invalid > 1000  # both sides exercised


def test_every_process_and_action_is_specialized_and_smaller() -> None:
    def rules(schema: dict[str, Any]) -> str:  # the schema without its definitions
        return json.dumps({k: v for k, v in schema.items() if k != "$defs"})

    whole = len(rules(SCHEMA)) + sum(
        len(json.dumps(SCHEMA["$defs"][f"process_{p}"])) for p in PROCESSES
    )
    for process in PROCESSES:
        for action in _actions(process):
            schema = specialize(SCHEMA, {"process": process, "action": action})
            assert schema["$defs"] == SCHEMA["$defs"]  # other references still resolve
            text = rules(schema)
            assert len(text) < whole / 2, (process, action)
            assert '"if"' not in text or '"const": "' + action not in text


def test_unknown_pairs_and_non_strings_use_the_whole_schema() -> None:
    validator = EventValidator()
    whole = validator.validator_for(None, None)
    assert validator.validator_for("approval", ["accept"]) is whole
    assert validator.validator_for("no_such_process", "accept") is whole
    for n in range(_SPECIALIZED_MAX + 10):  # made-up actions cannot grow memory without bound
        validator.validator_for("approval", f"made-up-{n}")
    assert validator.specialized_count == _SPECIALIZED_MAX
    assert validator.validator_for("approval", "made-up-99999") is whole


def _examples(folder: str) -> list[dict[str, Any]]:
    out = []
    for path in sorted((SCHEMAS_DIR / "examples" / folder).glob("*.json")):
        example = json.loads(path.read_text(encoding="utf-8"))
        out.append(example["event"] if folder == "invalid" else example)
    return out


def test_every_process_has_valid_and_invalid_examples() -> None:
    valid = {doc["process"] for doc in _examples("valid")}
    invalid = {doc["process"] for doc in _examples("invalid")}
    assert set(PROCESSES) <= valid
    assert {"key_task", "proposal", "meeting_item"} <= invalid


def test_specialized_validators_agree_on_every_action_of_every_example() -> None:
    """Each example under every action of its process and of every other process, and with
    each attribute dropped or replaced: the generated workload need not cover a process."""
    validator = EventValidator()
    junk: list[Any] = [None, 0, 400, "", "2026-09-30", "2026-02-30", [], {}, True]
    checked = valid = 0
    for doc in _examples("valid") + _examples("invalid"):
        variants = []
        for process in PROCESSES:
            for action in [*_actions(process), "unknown"]:
                variants.append({**doc, "process": process, "action": action})
        attrs = doc.get("attrs")
        if isinstance(attrs, dict):
            for key in sorted(attrs):
                variants.append({**doc, "attrs": {k: v for k, v in attrs.items() if k != key}})
                variants.extend({**doc, "attrs": {**attrs, key: value}} for value in junk)
        variants.append({k: v for k, v in doc.items() if k != "attrs"})
        for changed in variants:
            expected = WHOLE.is_valid(changed)
            got = validator.validator_for(changed["process"], changed["action"]).is_valid(changed)
            assert got == expected, changed
            checked += 1
            valid += expected
    assert valid > 500 and checked - valid > 500
