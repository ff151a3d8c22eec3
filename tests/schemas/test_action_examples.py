"""The action contract: every example beside the schema is validated (valid ones pass,
invalid ones fail on the named field), and the engine's vocabulary matches the schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest

from streams.engine.validate import SCHEMAS_DIR, load_schema
from streams.workflow import ActionValidator, InvalidAction
from streams.workflow.model import ACTION_TYPES, CONCLUSIONS

EXAMPLES = SCHEMAS_DIR / "examples"
VALIDATOR = ActionValidator()


def files(folder: str) -> list[Path]:
    found = sorted((EXAMPLES / folder).glob("*.json"))
    assert found, f"no examples in {folder}"
    return found


def test_the_action_schema_is_valid_draft_2020_12() -> None:
    meta = jsonschema_rs.validator_for({"$ref": "https://json-schema.org/draft/2020-12/schema"})
    assert meta.is_valid(load_schema("action.schema.json"))


@pytest.mark.parametrize("path", files("actions"), ids=lambda p: p.stem)
def test_valid_action_example(path: Path) -> None:
    action = VALIDATOR.parse(path.read_bytes())
    assert action.action_id.startswith("EX-act-")
    assert action.document == json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", files("actions-invalid"), ids=lambda p: p.stem)
def test_invalid_action_example_names_the_field(path: Path) -> None:
    example = json.loads(path.read_text(encoding="utf-8"))
    with pytest.raises(InvalidAction) as caught:
        VALIDATOR.from_document(example["action"])
    assert caught.value.field == example["expected_field"], str(caught.value)
    assert str(caught.value)


@pytest.mark.parametrize(
    ("raw", "kind"), [(b"{not json", "not_json"), (b"[1, 2]", "not_object"), (b"{}", "contract")]
)
def test_an_unreadable_action_is_refused_like_an_event(raw: bytes, kind: str) -> None:
    with pytest.raises(InvalidAction) as caught:
        VALIDATOR.parse(raw)
    assert caught.value.kind == kind


def test_every_type_and_conclusion_of_the_engine_is_in_the_schema() -> None:
    properties = load_schema("action.schema.json")["properties"]
    assert tuple(properties["type"]["enum"]) == ACTION_TYPES
    assert set(properties["conclusion"]["enum"]) == CONCLUSIONS
    assert {p.stem for p in files("actions")} >= {t.replace("_", "-") for t in ACTION_TYPES} - {
        "dismiss", "receive", "reply", "extend", "close",
    }  # fmt: skip


def test_the_workflow_topics_are_created_with_the_others() -> None:
    from streams.contract import WORKFLOW_SUFFIXES
    from streams.live.topics import Topics
    from streams.settings import Settings

    topics = Topics.from_settings(Settings())
    assert topics.workflow == (
        "supervision.actions",
        "supervision.action-results",
        "supervision.workflow",
    )
    assert set(topics.workflow) <= set(topics.all)
    assert all(t.endswith(s) for t, s in zip(topics.workflow, WORKFLOW_SUFFIXES, strict=True))
