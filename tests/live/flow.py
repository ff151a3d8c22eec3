"""The 督办 workflow through real workers: inputs, replay, and what users read of it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import orjson

from streams.engine import Alert, load_config
from streams.replay import replay
from streams.replay_flow import FlowReplay
from streams.workflow import Decision
from tests.fixtures_kafka import KafkaNamespace
from tests.live.harness import Store, TopicReader, alert_key
from tests.scenarios import WORKED_DIR, load_scenarios

SCENARIO = next(s for s in load_scenarios(WORKED_DIR) if s.name.startswith("05-"))


def scenario_lines(name: str) -> list[bytes]:
    return [line for line in (SCENARIO.path / name).read_bytes().splitlines() if line.strip()]


RECURRING = "AP-2026-1104"
"""A case of the scenario's department whose OVERDUE cards come after the red card's
workflow was closed as confirmed_rectified (2026-10-23): SUP_RECURRENCE. Its workflow
partition is not the closed case's (``partition_for``, 4 partitions)."""


def recurring_event(occurred_at: str, time_limit_days: int, case_id: str = RECURRING) -> bytes:
    """The accept of a case at the scenario's department (SCJ) raising OVERDUE cards."""
    return orjson.dumps(
        {
            "event_id": f"E-{case_id}",
            "case_id": case_id,
            "process": "approval",
            "action": "accept",
            "occurred_at": occurred_at,
            "dept": "SCJ",
            "attrs": {"time_limit_days": time_limit_days},
        }
    )


def published_alerts(ns: KafkaNamespace, partitions: int, rule: str) -> list[dict[str, Any]]:
    """The records of ``rule`` on the alerts topic, as published."""
    reader = TopicReader(ns.bootstrap, ns.env(partitions)["TOPIC_ALERTS"])
    try:
        found = [json.loads(r.value) for r in reader.read_to_end()]
    finally:
        reader.close()
    return [a for a in found if a.get("rule") == rule]


def cloned(lines: list[bytes], copies: int) -> list[bytes]:
    """The scenario's inputs for ``copies`` cases of each of its cases (ids suffixed), so a
    stream of actions is long enough to kill a worker in the middle of it."""
    from streams.workflow import workflow_id_of

    out: list[bytes] = []
    for n in range(copies):
        for line in lines:
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError:
                out.append(line)
                continue
            if not isinstance(doc, dict):
                out.append(line)
                continue
            suffix = f"-{n:03d}"
            doc["case_id"] = doc.get("case_id", "") + suffix
            for key in ("event_id", "action_id"):
                if key in doc:
                    doc[key] = doc[key] + suffix
            if "workflow_id" in doc:
                doc["workflow_id"] = workflow_id_of("OVERDUE", "approval", doc["case_id"], "")
            out.append(orjson.dumps(doc))
    return sorted(out, key=_instant_of)


def _instant_of(line: bytes) -> int:
    """When an input happened (0: unreadable): the copies are sent in time order, as a live
    upstream sends (``horizon``: a partition carries its input roughly in time order)."""
    from streams.engine.timeutil import InstantError, parse_instant

    try:
        doc = orjson.loads(line)
        return parse_instant(doc.get("acted_at") or doc["occurred_at"])
    except (orjson.JSONDecodeError, InstantError, KeyError, AttributeError):
        return 0


def replay_flow(
    config_path: Path,
    events: list[bytes],
    actions: list[bytes],
    as_of: int,
    alerts: list[Alert] | None = None,
) -> tuple[set[tuple[Any, ...]], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Replay's alerts, results by action_id and workflows by id, as of ``as_of``
    (``alerts``: filled with the alerts themselves)."""
    config = load_config(config_path)
    alerts = [] if alerts is None else alerts
    results: dict[str, dict[str, Any]] = {}
    workflows: dict[str, dict[str, Any]] = {}

    def on_result(d: Decision) -> None:
        results[d.result.action_id] = d.result.to_dict(config.local)

    flow = FlowReplay(
        config,
        actions,
        on_result,
        lambda n, reason, raw: None,
        lambda wf: workflows.__setitem__(wf["workflow_id"], wf),
    )
    replay(events, config, alerts.append, lambda r: None, as_of=as_of, flow=flow)
    return {alert_key(a) for a in alerts}, results, workflows


def produce_actions(
    ns: KafkaNamespace, lines: list[bytes], partitions: int, first: int = 0
) -> None:
    """Actions as a client with another partitioner sends them: round robin over the
    partitions, keyed by the action id (never by the case)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=ns.bootstrap)
    topic = ns.env(partitions)["TOPIC_ACTIONS"]
    for i, line in enumerate(lines, start=first):
        producer.send(topic, key=f"k{i}".encode(), value=line, partition=i % partitions)
    producer.flush()
    producer.close()


def produce_events(ns: KafkaNamespace, lines: list[bytes], partitions: int) -> None:
    from kafka import KafkaProducer

    from streams.contract import topic_suffix

    env = ns.env(partitions)
    producer = KafkaProducer(bootstrap_servers=ns.bootstrap)
    for line in lines:
        doc = json.loads(line)
        topic = env[f"TOPIC_{(topic_suffix(doc['process']) or 'approval').upper()}"]
        producer.send(topic, key=doc["case_id"].encode(), value=line)
    producer.flush()
    producer.close()


def stored_results(store: Store) -> dict[str, dict[str, Any]]:
    rows = store.query(
        "SELECT action_id, workflow_id, case_id, type, user_id, acted_at_us, status, reason, "
        "detail, version, state, due FROM workflow_actions FINAL"
    )
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), "an action is read twice"
    return {
        r[0]: {
            "workflow_id": r[1],
            "case_id": r[2],
            "type": r[3],
            "user_id": r[4],
            "acted_at_us": int(r[5]),
            "status": r[6],
            "reason": r[7],
            "detail": r[8],
            "version": int(r[9]),
            "state": r[10],
            "due": json.loads(r[11]),
        }
        for r in rows
    }


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    """A replay result as the table holds it."""
    from streams.engine.timeutil import parse_instant

    out = {k: v for k, v in result.items() if k not in ("action_id", "acted_at")}
    out["acted_at_us"] = parse_instant(result["acted_at"])
    return out


def stored_workflows(store: Store) -> dict[str, dict[str, Any]]:
    rows = store.query("SELECT workflow_id, document FROM workflows_current")
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), "a workflow is read twice"
    return {r[0]: json.loads(r[1]) for r in rows}


def stored_versions(store: Store) -> list[tuple[str, int]]:
    rows = store.query("SELECT workflow_id, version FROM workflows FINAL")
    return sorted((r[0], int(r[1])) for r in rows)


def wait_until(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            found = check()
        except RuntimeError:  # the worker has not created the tables yet
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def read_results(ns: KafkaNamespace, partitions: int) -> list[tuple[str, dict[str, Any]]]:
    reader = TopicReader(ns.bootstrap, ns.env(partitions)["TOPIC_ACTION_RESULTS"])
    try:
        return [(r.key.decode(), json.loads(r.value)) for r in reader.read_to_end()]
    finally:
        reader.close()


def clock_events(first: str, last: str, step_hours: int) -> list[bytes]:
    """Inspection plans approved every ``step_hours`` from ``first`` to ``last``: events that
    raise nothing and move the stream's clock (``WATERMARK_IDLE=stream``)."""
    from datetime import datetime, timedelta

    out: list[bytes] = []
    t, end = datetime.fromisoformat(first), datetime.fromisoformat(last)
    n = 0
    while t <= end:
        out.append(
            orjson.dumps(
                {
                    "event_id": f"CLOCK-{n}",
                    "case_id": f"PLAN-CLOCK-{n}",
                    "process": "inspection_plan",
                    "action": "approve",
                    "occurred_at": t.isoformat(),
                    "dept": "SUP",
                    "attrs": {
                        "inspecting_dept": "SCJ",
                        "enterprise_ids": ["ENT-CLOCK"],
                        "valid_from": t.date().isoformat(),
                        "valid_to": t.date().isoformat(),
                    },
                }
            )
        )
        t += timedelta(hours=step_hours)
        n += 1
    return out


def produce_in_time_order(
    ns: KafkaNamespace, events: list[bytes], actions: list[bytes], partitions: int, chunks: int,
    pause_s: float,
) -> None:  # fmt: skip
    """Events and actions merged in time order, sent in ``chunks`` with a pause between: a
    stream that goes on while the worker is killed and restarted."""
    merged = sorted(
        [(_instant_of(line), 0, line) for line in events]
        + [(_instant_of(line), 1, line) for line in actions],
        key=lambda item: (item[0], item[1]),
    )
    size = max(1, len(merged) // chunks)
    sent_actions = 0
    for start in range(0, len(merged), size):
        chunk = merged[start : start + size]
        batch = [line for _, kind, line in chunk if kind == 1]
        produce_actions(ns, batch, partitions, first=sent_actions)
        sent_actions += len(batch)
        time.sleep(pause_s / 3)  # the actions of a chunk are read before its events' time
        produce_events(ns, [line for _, kind, line in chunk if kind == 0], partitions)
        time.sleep(pause_s)
