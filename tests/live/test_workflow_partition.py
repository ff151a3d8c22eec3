"""A workflow partition without a broker: time order below the horizon, whatever the read
order; restarts from its table; duplicates and bad input; co-location by case_id."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.engine import load_config
from streams.engine.model import Alert
from streams.engine.timeutil import parse_instant
from streams.live.horizon import source_name
from streams.live.processor import Message
from streams.live.publish import partition_for
from streams.live.state import scan_prefix
from streams.live.workflow_actions import ActionIntake, Forwarded
from streams.live.workflow_partition import (
    WorkflowOutput,
    WorkflowPartition,
    gate_sources,
    orphans_key,
)
from streams.live.workflow_route import encode_action, encode_alert, routed_records
from streams.workflow import ActionValidator
from tests.scenarios import WORKED_DIR, load_scenarios

SCENARIO = next(s for s in load_scenarios(WORKED_DIR) if s.name.startswith("05-"))
DOMAIN = ("approval", "fund", "trade", "inspection")
SOURCES = gate_sources(DOMAIN, "actions", 1)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return load_config(SCENARIO.config_file(tmp_path_factory.mktemp("cfg")))


def _alerts() -> list[Alert]:
    return [a for a in SCENARIO.expected_alerts() if a.process != "supervision"]


def _inputs() -> list[bytes]:
    """The scenario's workflow-topic records: its case alerts and its valid actions."""
    validator = ActionValidator()
    inputs = [encode_alert(a) for a in _alerts()]
    for line in SCENARIO.actions.read_bytes().splitlines():
        try:
            validator.parse(line)
        except Exception:  # noqa: BLE001 - the invalid one is dead-lettered at the intake
            continue
        inputs.append(encode_action(line))
    return inputs


def _horizon(at: str) -> dict[str, int]:
    return {s: parse_instant(at) for s in SOURCES}


def _run(
    config: Any, inputs: list[bytes], horizon: str
) -> tuple[WorkflowPartition, WorkflowOutput]:
    part = WorkflowPartition(0, "wf", config, SOURCES, ActionValidator())
    out = WorkflowOutput()
    for offset, value in enumerate(inputs):
        part.add(offset, value)
    part.gate.report(_horizon(horizon))
    part.release(out)
    return part, out


def test_any_read_order_gives_the_scenario(config: Any) -> None:
    """Alerts and actions read in any order, released below the horizon: replay's results,
    workflows and SUP_* alerts."""
    expected_results = {r["action_id"]: r for r in SCENARIO.expected_results}
    expected_workflows = {w["workflow_id"]: w for w in SCENARIO.expected_workflows}
    for seed in range(4):
        inputs = _inputs()
        random.Random(seed).shuffle(inputs)
        part, out = _run(config, inputs, "2026-10-30T00:00:00+08:00")
        assert {a.result["action_id"]: a.result for a in out.actions} == expected_results
        workflows = {w: part.engine.to_dict(wf) for w, wf in part.engine.workflows.items()}
        assert workflows == expected_workflows
        assert [(a.rule, a.level) for a in out.alerts] == [("SUP_RECTIFY_OVERDUE", "red")]
        # the resent ND-01 was published twice, stored once
        assert [k for k, _ in out.results].count(b"ND-01") == 2
        assert [a.result["action_id"] for a in out.actions].count("ND-01") == 1
        assert not out.dead_letters


def test_nothing_is_applied_before_every_source_is_past_it(config: Any) -> None:
    part = WorkflowPartition(0, "wf", config, SOURCES, ActionValidator())
    for offset, value in enumerate(_inputs()):
        part.add(offset, value)
    out = WorkflowOutput()
    partial = dict(list(_horizon("2026-10-30T00:00:00+08:00").items())[:-1])
    part.gate.report(partial)  # one source has not reported
    assert part.release(out) == 0 and out.empty()
    assert part.held_from() == 0
    part.gate.report(_horizon("2026-09-21T12:00:00+08:00"))  # every source: up to the claim
    part.release(out)
    assert [a.result["action_id"] for a in out.actions] == ["ND-20", "ND-01"]
    assert part.held_from() is not None and part.held_from() > 0


def test_restart_from_the_table_goes_on_where_it_stopped(config: Any) -> None:
    """Half the inputs applied and written; a new partition loads the table, the rest are
    read (the first half again, as after a crash before the commit): the same end."""
    inputs = _inputs()
    inputs.sort(key=lambda v: 0 if v[:1] == b"A" else 1)
    half = len(inputs) - 8
    first, out = _run(config, inputs[:half], "2026-10-12T00:00:00+08:00")
    table: dict[bytes, bytes] = {k: v for _, k, v in out.states if v is not None}
    second = WorkflowPartition(0, "wf", config, SOURCES, ActionValidator())
    second.load(scan_prefix(table, b"0|"), table.get(orphans_key(0)))
    assert second.revisions == first.revisions
    again = WorkflowOutput()
    for offset, value in enumerate(inputs):
        second.add(offset, value)
    second.gate.report(_horizon("2026-10-30T00:00:00+08:00"))
    second.release(again)
    whole, _ = _run(config, inputs, "2026-10-30T00:00:00+08:00")
    assert {w: second.engine.to_dict(wf) for w, wf in second.engine.workflows.items()} == {
        w: whole.engine.to_dict(wf) for w, wf in whole.engine.workflows.items()
    }
    # what was stored before is not stored again: only the rest of the results are new
    stored = {a.result["action_id"] for a in out.actions}
    assert not stored & {a.result["action_id"] for a in again.actions}


def test_a_resend_with_other_content_is_a_dead_letter_and_changes_nothing(config: Any) -> None:
    inputs = _inputs()
    claim = orjson.loads(SCENARIO.actions.read_bytes().splitlines()[0])
    other = {**claim, "actor": {**claim["actor"], "user_id": "I-02"}}
    part, out = _run(
        config, [*inputs, encode_action(orjson.dumps(other))], "2026-10-30T00:00:00+08:00"
    )
    assert [d.kind for d in out.dead_letters] == ["conflicting_duplicate"]
    assert {a.result["action_id"]: a.result for a in out.actions} == {
        r["action_id"]: r for r in SCENARIO.expected_results
    }


def test_an_action_on_no_workflow_is_refused_and_its_resend_answered_again(config: Any) -> None:
    claim = orjson.loads(SCENARIO.actions.read_bytes().splitlines()[0])
    orphan = encode_action(orjson.dumps({**claim, "workflow_id": "f" * 32}))
    part, out = _run(config, [orphan, orphan], "2026-10-30T00:00:00+08:00")
    assert [(a.result["status"], a.result["reason"]) for a in out.actions] == [
        ("rejected", "unknown_workflow")
    ]
    assert len(out.results) == 2
    assert orphans_key(0) in {k for _, k, _ in out.states}


def test_actions_go_to_their_case_partition_whatever_the_client_partitioned() -> None:
    """The intake keys each valid action by its case_id (the worker's partitioner decides the
    partition); an invalid one is a dead letter with its position."""
    intake = ActionIntake(ActionValidator(), lateness_us=0)
    lines = SCENARIO.actions.read_bytes().splitlines()
    messages = [Message("sv.actions", i % 3, i, f"k{i}".encode(), v) for i, v in enumerate(lines)]
    out = Forwarded()
    intake.run(messages, out)
    assert len(out.records) == len(lines) - 1
    assert {key for _, key, _, _ in out.records} == {b"AP-2026-0901", b"AP-2026-0902"}
    assert all(partition is None for partition, _, _, _ in out.records)  # key decides
    assert [(d.topic, d.kind) for d in out.dead_letters] == [("sv.actions", "contract")]
    assert intake.clock(0).last_event_at is not None


def test_alerts_and_case_ends_are_routed_by_case_id(config: Any) -> None:
    from streams.engine.model import Event

    terminal = {name: frozenset(t.terminal) for name, t in config.templates.items()}
    ends = [
        Event("E1", "AP-9", "approval", "complete", 1, "SCJ"),
        Event("E2", "AP-9", "approval", "review", 2, "SCJ"),
    ]
    records = routed_records(_alerts(), ends, terminal)
    assert [r[2][:1] for r in records] == [b"A"] * len(_alerts()) + [b"E"]
    assert all(r[1] == r[2][:1] or r[1] for r in records)
    keys = {r[1] for r in records}
    assert keys == {b"AP-2026-0901", b"AP-2026-0902", b"AP-9"}
    assert partition_for(b"AP-9", 4) in range(4)
    assert source_name("actions", 0) in SOURCES


def test_a_late_input_is_applied_when_read(config: Any, tmp_path: Path) -> None:
    """Read after the horizon passed it: applied at once (not held forever)."""
    inputs = _inputs()
    alerts = [v for v in inputs if v[:1] == b"A"]
    actions = [v for v in inputs if v[:1] == b"C"]
    part, out = _run(config, alerts, "2026-09-21T12:00:00+08:00")
    late = WorkflowOutput()
    part.add(100, actions[0])
    part.release(late)
    assert [a.result["action_id"] for a in late.actions] == ["ND-01"]
    assert part.held_from() is None


def test_a_withdrawn_card_dismisses_its_workflow(config: Any) -> None:
    """Late input withdrew the only card of the notice's workflow: ``system`` dismisses it."""
    from streams.engine.model import withdrawal_of
    from streams.live.workflow_route import decode

    notice = next(a for a in _alerts() if a.case_id == "AP-2026-0902")
    withdrawal = withdrawal_of(notice, parse_instant("2026-09-16T10:00:00+08:00"), "late", [])
    records = routed_records([notice], [], {}, [withdrawal])
    assert [r[1] for r in records] == [b"AP-2026-0902", b"AP-2026-0902"]
    assert decode(records[1][2]).instant == notice.raised_at  # ordered just after its alert
    part, out = _run(config, [r[2] for r in reversed(records)], "2026-09-20T00:00:00+08:00")
    (result,) = [a.result for a in out.actions]
    assert (result["user_id"], result["type"], result["state"]) == (
        "system",
        "dismiss",
        "dismissed",
    )
    assert part.engine.to_dict(next(iter(part.engine.workflows.values())))["dismissal"] == (
        "alert_withdrawn"
    )


def test_an_action_acted_now_is_applied_at_once_after_its_case(config: Any) -> None:
    """A person acting now does not wait for the horizon (UPSTREAM_DELAY): the action is
    applied at the next release, after the inputs of its case read up to its instant; the
    other cases' inputs stay held."""
    alerts = [encode_alert(a) for a in _alerts()]
    claim = orjson.loads(SCENARIO.actions.read_bytes().splitlines()[0])
    now = parse_instant("2026-09-21T09:30:05+08:00")  # just after the claim's acted_at
    part = WorkflowPartition(0, "wf", config, SOURCES, ActionValidator(), realtime_us=10**9)
    for offset, value in enumerate(alerts):
        part.add(offset, value, now)
    part.add(len(alerts), encode_action(orjson.dumps(claim)), now)
    part.gate.report(_horizon("2026-09-01T00:00:00+08:00"))  # far behind: nothing released
    out = WorkflowOutput()
    part.release(out)
    assert [(a.result["action_id"], a.result["status"]) for a in out.actions] == [
        ("ND-01", "accepted")
    ]
    assert [wf.case_id for wf in part.engine.workflows.values()] == ["AP-2026-0901"]
    assert part.held_from() is not None  # the other case's notice waits for the horizon
    # the same action read as history (acted long before now) waits for the horizon
    later = WorkflowPartition(0, "wf", config, SOURCES, ActionValidator(), realtime_us=10**6)
    later.add(0, encode_action(orjson.dumps(claim)), now + 3_600_000_000)
    later.gate.report(_horizon("2026-09-01T00:00:00+08:00"))
    held = WorkflowOutput()
    later.release(held)
    assert held.actions == [] and later.held_from() == 0
