"""SUP_RECURRENCE across workflow partitions, without a broker: the closures, reopenings and
probes of every partition meet on the partition of their (rule, department), behind a gate
over every workflow partition's horizon; the answers fire on the case's partition. What
fires equals replay, whatever the read order, across a restart of the key's partition,
and with records read twice."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.engine import Alert, alert_to_dict, load_config
from streams.engine.timeutil import parse_instant
from streams.live.horizon import source_name
from streams.live.publish import partition_for
from streams.live.state import scan_prefix
from streams.live.workflow_partition import WorkflowOutput, WorkflowPartition, gate_sources
from streams.live.workflow_recur import CLOSED, PROBE, REOPENED, recurrence_key
from streams.live.workflow_route import encode_action, encode_alert
from streams.replay import replay
from streams.replay_flow import FlowReplay
from tests.live.flow import SCENARIO, scenario_lines

N = 4
TOPIC = "wf"
SOURCES = gate_sources(("approval", "fund", "trade", "inspection"), "actions", 1)
CLOSED_CASE = "AP-2026-0901"  # its workflow is closed as confirmed_rectified on 2026-10-23
AGAIN = "AP-2026-1104"  # OVERDUE at SCJ again from 2026-11-16: on another partition
KEY = recurrence_key("OVERDUE", "SCJ")


def recurring_event(case_id: str = AGAIN, day: str = "2026-11-02") -> bytes:
    return orjson.dumps(
        {
            "event_id": f"E-{case_id}",
            "case_id": case_id,
            "process": "approval",
            "action": "accept",
            "occurred_at": f"{day}T10:00:00+08:00",
            "dept": "SCJ",
            "attrs": {"time_limit_days": 10},
        }
    )


def reopen_line() -> bytes:
    closed = SCENARIO.expected_workflows[0]
    return orjson.dumps(
        {
            "action_id": "ND-15",
            "workflow_id": closed["workflow_id"],
            "case_id": CLOSED_CASE,
            "type": "reopen",
            "actor": {"user_id": "I-01", "role": "inspector", "dept": "OFFICE"},
            "acted_at": "2026-10-27T10:00:00+08:00",
            "expected_version": closed["version"],
            "text": "复查发现问题",
            "approver": "A-01",
        }
    )


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return SCENARIO.config_file(tmp_path_factory.mktemp("cfg"))


def replayed(
    config_path: Path,
    events: list[bytes],
    actions: list[bytes],
    workflows: list[Any] = [],  # noqa: B006 - filled
) -> list[Alert]:
    config = load_config(config_path)
    alerts: list[Alert] = []
    flow = FlowReplay(config, actions, lambda d: None, lambda n, r, raw: None, workflows.append)
    as_of = parse_instant("2026-12-31T00:00:00+08:00")
    replay(events, config, alerts.append, lambda r: None, as_of=as_of, flow=flow)
    return alerts


class Bus:
    """N workflow partitions and the topic between them: records routed by key with the
    worker's partitioner, each partition's horizon reported after its records."""

    def __init__(self, config: Any, seed: int = 0) -> None:
        self.config = config
        self.parts = [self.partition(p) for p in range(N)]
        self.log: list[list[bytes]] = [[] for _ in range(N)]  # every record, by partition
        self.alerts: list[Alert] = []
        self.table: dict[bytes, bytes] = {}  # the workflow-state changelog
        self.rng = random.Random(seed)

    def partition(self, p: int) -> WorkflowPartition:
        from streams.workflow import ActionValidator

        return WorkflowPartition(p, TOPIC, self.config, SOURCES, ActionValidator(), partitions=N)

    def send(self, key: bytes, value: bytes) -> None:
        p = partition_for(key, N)
        self.parts[p].add(len(self.log[p]), value)
        self.log[p].append(value)

    def run(self, horizon: str, rounds: int = 8, silent: int | None = None) -> None:
        """Every domain source past ``horizon``; release, route, report, ``rounds`` times
        (``silent``: a partition that reports no horizon)."""
        for part in self.parts:
            part.report({s: parse_instant(horizon) for s in SOURCES})
        for _ in range(rounds):
            reports: dict[str, int] = {}
            routed: list[tuple[bytes, bytes]] = []
            order = list(self.parts)
            self.rng.shuffle(order)
            for part in order:
                out = WorkflowOutput()
                part.release(out)
                self.alerts.extend(out.alerts)
                for _, key, value in out.states:
                    if value is None:
                        self.table.pop(key, None)
                    else:
                        self.table[key] = value
                routed += [(key, value) for _, key, value, _ in out.records if key and value]
                h = part.gate.horizon()
                if h is not None and part.partition != silent:
                    reports[source_name(TOPIC, part.partition)] = h
            for key, value in routed:
                self.send(key, value)
            for part in self.parts:
                part.report(reports)

    def restart(self, p: int) -> None:
        """Partition ``p`` from its table, its records read again from the start."""
        part = self.partition(p)
        part.load(scan_prefix(self.table, f"{p}|".encode()), None)
        for offset, value in enumerate(self.log[p]):
            part.add(offset, value)
        self.parts[p] = part


def feed(bus: Bus, alerts: list[Alert], actions: list[bytes], seed: int = 0) -> None:
    """The case rules' alerts and the actions, each to its case's partition, in any order."""
    inputs = [(a.case_id.encode(), encode_alert(a)) for a in alerts if a.process != "supervision"]
    inputs += [(orjson.loads(line)["case_id"].encode(), encode_action(line)) for line in actions]
    random.Random(seed).shuffle(inputs)
    for key, value in inputs:
        bus.send(key, value)


def sup(alerts: list[Alert], local: Any, rule: str = "SUP_RECURRENCE") -> list[dict[str, Any]]:
    return sorted(
        (alert_to_dict(a, local) for a in alerts if a.rule == rule), key=lambda d: d["alert_id"]
    )


def valid_actions(extra: list[bytes] = []) -> list[bytes]:  # noqa: B006 - read only
    from streams.workflow import ActionValidator, InvalidAction

    out = []
    for line in scenario_lines("actions.jsonl") + extra:
        try:
            ActionValidator().parse(line)
        except InvalidAction:
            continue
        out.append(line)
    return out


def test_a_recurrence_on_another_partition_fires_as_in_replay(config_path: Path) -> None:
    config = load_config(config_path)
    assert len({partition_for(k, N) for k in (CLOSED_CASE.encode(), AGAIN.encode(), KEY)}) == 3
    events = scenario_lines("events.jsonl") + [recurring_event()]
    actions = valid_actions()
    workflows: list[dict[str, Any]] = []
    want = replayed(config_path, events, actions, workflows)
    assert [(a.rule, a.case_id) for a in want if a.rule == "SUP_RECURRENCE"] == [
        ("SUP_RECURRENCE", AGAIN)
    ]
    for seed in range(4):
        bus = Bus(config, seed)
        feed(bus, want, actions, seed)
        bus.run("2026-12-30T00:00:00+08:00")
        assert sup(bus.alerts, config.local) == sup(want, config.local)
        # every SUP_* alert as replay's, the workflows too (SUP_RECURRENCE among their fired)
        assert sup(bus.alerts, config.local, "SUP_TRIAGE_OVERDUE") == sup(
            want, config.local, "SUP_TRIAGE_OVERDUE"
        )
        got = {
            w: part.engine.to_dict(wf)
            for part in bus.parts
            for w, wf in part.engine.workflows.items()
        }
        assert got == {w["workflow_id"]: w for w in workflows}
        # the key's index lives on its partition's table, nowhere else
        held = [k for k in bus.table if b"|rc|" in k]
        assert held == [f"{partition_for(KEY, N)}|rc|".encode() + KEY]


def test_nothing_recurs_before_every_workflow_partition_is_past_the_alert(
    config_path: Path,
) -> None:
    config = load_config(config_path)
    events = scenario_lines("events.jsonl") + [recurring_event()]
    want = replayed(config_path, events, valid_actions())
    bus = Bus(config)
    feed(bus, want, valid_actions())
    busy = {partition_for(k, N) for k in (CLOSED_CASE.encode(), AGAIN.encode(), KEY)}
    silent = next(p for p in range(N) if p not in busy)  # holds no workflow
    bus.run("2026-12-30T00:00:00+08:00", silent=silent)
    assert sup(bus.alerts, config.local) == []
    host = bus.parts[partition_for(KEY, N)]
    assert host.host.gate.missing_sources() == [source_name(TOPIC, silent)]
    assert host.held_from() is not None  # the held probes keep the partition uncommitted
    bus.run("2026-12-30T00:00:00+08:00")
    assert sup(bus.alerts, config.local) == sup(want, config.local)


def test_a_reopened_closure_does_not_recur_even_read_twice(config_path: Path) -> None:
    """Reopened before the alert: no recurrence (replay's), and the closure read again after
    its reopening (a redelivery, the reopening's in a later batch) adds nothing."""
    config = load_config(config_path)
    events = scenario_lines("events.jsonl") + [recurring_event()]
    actions = valid_actions([reopen_line()])
    want = replayed(config_path, events, actions)
    assert sup(want, config.local) == []
    bus = Bus(config)
    feed(bus, want, actions)
    bus.run("2026-11-01T00:00:00+08:00")  # the close and the reopening are applied
    host = partition_for(KEY, N)
    kinds = [v[:1] for v in bus.log[host]]
    assert CLOSED in kinds and REOPENED in kinds
    for value in [v for v in bus.log[host] if v[:1] == CLOSED]:
        bus.send(KEY, value)  # read again after the horizon passed it (its reopening later)
    bus.run("2026-12-30T00:00:00+08:00")
    assert PROBE in [v[:1] for v in bus.log[host]]
    assert sup(bus.alerts, config.local) == []


def test_the_key_partition_restarts_from_its_table(config_path: Path) -> None:
    """Killed after the closure was applied and stored, its records read again from the
    start (nothing committed): the recurrence fires once, as in replay."""
    config = load_config(config_path)
    events = scenario_lines("events.jsonl") + [recurring_event()]
    actions = valid_actions()
    want = replayed(config_path, events, actions)
    bus = Bus(config)
    feed(bus, want, actions)
    bus.run("2026-11-01T00:00:00+08:00")
    host = partition_for(KEY, N)
    assert any(b"|rc|" in k for k in bus.table)
    bus.restart(host)
    bus.run("2026-12-30T00:00:00+08:00")
    assert sup(bus.alerts, config.local) == sup(want, config.local)
    # The recurring case's partition restarted too: its workflow fired once, the answer
    # read again changes nothing.
    again = partition_for(AGAIN.encode(), N)
    bus.restart(again)
    bus.run("2026-12-30T00:00:00+08:00")
    assert sup(bus.alerts, config.local) == sup(want, config.local)
