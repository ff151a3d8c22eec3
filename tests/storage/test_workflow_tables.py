"""The workflow tables (0006) on both engines: written idempotently, read back exactly; the
current version, a workflow's history and the inbox."""

from __future__ import annotations

from typing import Any

import pytest

from streams.replay import replay
from streams.replay_flow import FlowReplay
from streams.storage import queries
from streams.storage.backends import Backend
from streams.storage.workflow_rows import ActionRecord, WorkflowVersion
from streams.storage.writer import Writer
from streams.workflow import Decision, WorkflowEngine
from tests.scenarios import WORKED_DIR, load_scenarios

SCENARIO = next(s for s in load_scenarios(WORKED_DIR) if s.name.startswith("05-"))


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Scenario 05 replayed, keeping every action with its result and every version."""
    from streams.engine import load_config

    directory = tmp_path_factory.mktemp("config")
    config = load_config(SCENARIO.config_file(directory))
    actions: list[ActionRecord] = []
    versions: list[WorkflowVersion] = []
    revisions: dict[str, int] = {}
    flow: FlowReplay | None = None

    def on_result(d: Decision) -> None:
        actions.append(ActionRecord(dict(d.action.document), d.result.to_dict(config.local)))

    flow = FlowReplay(
        config, SCENARIO.actions.read_bytes().splitlines(), on_result, lambda *a: None
    )
    engine: WorkflowEngine = flow.engine
    original = flow._handle  # noqa: SLF001 - a version after every outcome, as the worker keeps

    def handle(out: Any) -> None:
        original(out)
        for wf in engine.take_changed():
            revisions[wf.workflow_id] = revisions.get(wf.workflow_id, 0) + 1
            versions.append(WorkflowVersion(engine.to_dict(wf), revisions[wf.workflow_id]))

    flow._handle = handle  # type: ignore[method-assign]  # noqa: SLF001
    from streams.engine.timeutil import parse_instant

    replay(
        SCENARIO.events.read_bytes().splitlines(),
        config,
        lambda a: None,
        lambda r: None,
        as_of=parse_instant(SCENARIO.as_of),
        flow=flow,
    )
    return {"actions": actions, "versions": versions, "engine": engine}


def test_workflow_tables_hold_every_action_and_version_once(
    migrated_backend: Backend, history: dict[str, Any]
) -> None:
    writer = Writer(migrated_backend)
    actions, versions = history["actions"], history["versions"]
    writer.write(workflow_actions=actions, workflows=versions)
    writer.write(workflow_actions=actions[:5], workflows=versions[3:])  # a retry, re-batched
    rows = migrated_backend.query(
        "SELECT action_id, status, reason, version, state FROM workflow_actions FINAL"
    ).rows
    assert len(rows) == len(actions) == 15
    assert sorted(r[0] for r in rows) == sorted(a.result["action_id"] for a in actions)
    count = migrated_backend.query("SELECT count() FROM workflows FINAL").rows[0][0]
    assert count == len({(v.document["workflow_id"], v.document["version"]) for v in versions})
    current = migrated_backend.query(
        "SELECT workflow_id, version, state, document FROM workflows_current ORDER BY workflow_id"
    ).rows
    expected = {w["workflow_id"]: w for w in SCENARIO.expected_workflows}
    assert {r[0]: (r[1], r[2]) for r in current} == {
        k: (w["version"], w["state"]) for k, w in expected.items()
    }
    import orjson

    assert {r[0]: orjson.loads(r[3]) for r in current} == expected


def test_the_last_revision_of_a_version_is_read(migrated_backend: Backend) -> None:
    """A clock that runs out changes a workflow without a new version: the later content
    wins, whatever the order the rows were written in."""
    doc = dict(SCENARIO.expected_workflows[0])
    later = {**doc, "fired": [*doc["fired"], "SUP_CONCLUSION_OVERDUE/yellow"]}
    writer = Writer(migrated_backend)
    writer.write(workflows=[WorkflowVersion(later, 2)])
    writer.write(workflows=[WorkflowVersion(doc, 1)])
    found = migrated_backend.query("SELECT revision, fired FROM workflows_current").rows
    assert [(r[0], list(r[1])) for r in found] == [(2, later["fired"])]


def test_a_workflow_with_its_alerts_timeline_and_history(
    migrated_backend: Backend, history: dict[str, Any]
) -> None:
    from streams.engine import EventValidator

    validator = EventValidator()
    events = [validator.parse(line) for line in SCENARIO.events.read_bytes().splitlines()]
    Writer(migrated_backend).write(
        events=events,
        alerts=SCENARIO.expected_alerts(),
        workflow_actions=history["actions"],
        workflows=history["versions"],
    )
    wid = SCENARIO.expected_workflows[0]["workflow_id"]
    found = queries.workflow(migrated_backend, wid)
    assert found is not None
    assert found["state"] == "closed" and found["version"] == 13
    assert found["document"] == SCENARIO.expected_workflows[0]
    # its three cards and the SUP_* alert about it; not the other case's notice
    assert [(a["rule"], a["level"]) for a in found["alerts"]] == [
        ("OVERDUE", "notice"),
        ("OVERDUE", "yellow"),
        ("OVERDUE", "red"),
        ("SUP_RECTIFY_OVERDUE", "red"),
    ]
    assert [e["event_id"] for e in found["timeline"]] == ["NDE-1"]
    expected = [r["action_id"] for r in SCENARIO.expected_results if r["workflow_id"] == wid]
    assert [a["action_id"] for a in found["actions"]] == expected  # refusals included, once
    assert found["actions"][0]["document"]["type"] == "claim"
    assert queries.workflow(migrated_backend, "0" * 32) is None


def test_inbox_by_duty_scope_and_deadline(
    migrated_backend: Backend, history: dict[str, Any]
) -> None:
    """Written up to the red card's draft: the office lead must approve it; once dispatched
    (later versions), the department must receive and reply, overdue first."""
    versions: list[WorkflowVersion] = history["versions"]
    wid = SCENARIO.expected_workflows[0]["workflow_id"]
    cut = next(
        i for i, v in enumerate(versions)
        if v.document["workflow_id"] == wid and v.document["state"] == "draft"
    )  # fmt: skip
    writer = Writer(migrated_backend)
    writer.write(workflows=versions[: cut + 1])
    now = 1_790_000_000_000_000  # 2026-09-21, before every deadline
    drafts = queries.inbox(migrated_backend, now_us=now, states=["draft"])
    assert [r["workflow_id"] for r in drafts] == [wid]
    assert queries.inbox(migrated_backend, now_us=now, departments=["ZJJ"]) == []
    dispatched = next(
        i for i, v in enumerate(versions)
        if v.document["workflow_id"] == wid and v.document["state"] == "dispatched"
    )  # fmt: skip
    writer.write(workflows=versions[: dispatched + 1])
    duty = ["dispatched", "received", "rectifying"]
    found = queries.inbox(migrated_backend, now_us=now, departments=["SCJ"], states=duty)
    assert [(r["workflow_id"], r["overdue"]) for r in found] == [(wid, False)]
    assert found[0]["due_at_us"] is not None
    later = found[0]["due_at_us"] + 1  # past its next deadline: overdue
    overdue = queries.inbox(migrated_backend, now_us=later, overdue_only=True)
    assert [(r["workflow_id"], r["overdue"]) for r in overdue] == [(wid, True)]
    assert queries.inbox(migrated_backend, now_us=now, overdue_only=True) == []
