"""Every example beside the schemas is validated: valid ones pass, invalid ones fail on the named field."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest

from streams.engine import EventValidator, InvalidEvent
from streams.engine.validate import SCHEMAS_DIR, load_schema
from tests.scenarios import load_scenarios

EXAMPLES = SCHEMAS_DIR / "examples"
VALIDATOR = EventValidator()


def files(folder: str) -> list[Path]:
    found = sorted((EXAMPLES / folder).glob("*.json"))
    assert found, f"no examples in {folder}"
    return found


def test_schemas_are_valid_draft_2020_12() -> None:
    for name in ("event.schema.json", "alert.schema.json"):
        meta = jsonschema_rs.validator_for({"$ref": "https://json-schema.org/draft/2020-12/schema"})
        assert meta.is_valid(load_schema(name))


@pytest.mark.parametrize("path", files("valid"), ids=lambda p: p.stem)
def test_valid_example(path: Path) -> None:
    event = VALIDATOR.parse(path.read_bytes())
    assert event.event_id.startswith("EX-")


@pytest.mark.parametrize("path", files("invalid"), ids=lambda p: p.stem)
def test_invalid_example_names_the_field(path: Path) -> None:
    example = json.loads(path.read_text(encoding="utf-8"))
    with pytest.raises(InvalidEvent) as caught:
        VALIDATOR.from_document(example["event"])
    assert caught.value.field == example["expected_field"], str(caught.value)
    assert str(caught.value)


ALERT_VALIDATOR = jsonschema_rs.validator_for(
    load_schema("alert.schema.json"), validate_formats=True
)


@pytest.mark.parametrize("path", files("alerts"), ids=lambda p: p.stem)
def test_alert_example(path: Path) -> None:
    ALERT_VALIDATOR.validate(json.loads(path.read_text(encoding="utf-8")))


def test_every_scenario_alert_matches_the_alert_schema() -> None:
    from streams.engine import alert_to_dict, load_config
    from streams.engine.timeutil import parse_instant
    from streams.replay import replay

    config = load_config()
    count = 0
    for scenario in load_scenarios():
        alerts: list[dict] = []
        collect = alerts.append
        with scenario.events.open("rb") as lines:
            replay(
                lines,
                config,
                lambda a, collect=collect: collect(alert_to_dict(a, config.local)),
                lambda r: None,
                as_of=parse_instant(scenario.as_of),
            )
        for alert in alerts:
            ALERT_VALIDATOR.validate(alert)
            count += 1
    assert count >= 15


def test_every_process_has_a_topic_and_a_display_name() -> None:
    from streams.contract import TOPIC_SUFFIX_BY_PROCESS
    from streams.engine.validate import process_titles

    processes = load_schema("event.schema.json")["properties"]["process"]["enum"]
    assert sorted(TOPIC_SUFFIX_BY_PROCESS) == sorted(processes)
    for name in ("key_task", "proposal", "meeting_item"):  # events.md § Transport
        assert TOPIC_SUFFIX_BY_PROCESS[name] == "approval"
    titles = process_titles()
    assert list(titles) == processes
    assert all(titles.values()) and len(set(titles.values())) == len(titles)
    assert titles["fund_disbursement"] == "专项资金拨付单"
    alert_processes = load_schema("alert.schema.json")["properties"]["process"]["enum"]
    assert alert_processes == [*processes, "supervision"]  # supervision: the SUP_* rules


def test_every_rule_the_engine_knows_is_an_alert_rule() -> None:
    from streams.engine.config import RULES
    from streams.workflow.sup import SUP_RULES

    rules = load_schema("alert.schema.json")["properties"]["rule"]["enum"]
    assert set(RULES) <= set(rules)
    assert rules == [*RULES, *SUP_RULES]
    # rules.md § 3.6, among them the monthly reports and risk reports of issue #19
    assert {"REPORT_MISSING", "RISK_NOT_REPORTED", "DEEMED_APPROVAL"} <= set(rules)
