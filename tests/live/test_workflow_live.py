"""The 督办 workflow through the live worker: real Tansu broker, ClickHouse server 18.16 and chdb.

The worked scenario 05 (red card → claim → draft → approval by a second person → receipt →
reply → return → reply → plan accepted → SUP_RECTIFY_OVERDUE → report → close, with its
refusals, a resent action_id and an invalid action) goes through one worker, with a case
of the same department whose cards come after the closure, on another workflow partition
(SUP_RECURRENCE): what it stores and publishes equals ``supervise replay --actions`` of
the same inputs. Actions are
sent round robin, keyed by their own id (another client's partitioner): the worker
co-locates them with their workflows itself. The CLI acts and lists the inbox against the
same worker.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from streams.engine import alert_to_dict, load_config
from streams.live.publish import partition_for
from tests.fixtures_kafka import KafkaNamespace, create_topics
from tests.live.flow import (
    RECURRING,
    SCENARIO,
    clock_events,
    cloned,
    comparable,
    produce_actions,
    produce_events,
    produce_in_time_order,
    published_alerts,
    read_results,
    recurring_event,
    replay_flow,
    scenario_lines,
    stored_results,
    stored_versions,
    stored_workflows,
    wait_until,
)
from tests.live.harness import ROOT, Store, Worker, read_topic, stored_alerts
from tests.live.test_service import store as store  # noqa: F401 - the fixture, both engines

PARTITIONS = 4
pytestmark = pytest.mark.broker


def worker_env(ns: KafkaNamespace, store: Store, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **ns.env(PARTITIONS),
        **store.env(),
        "WORKER_DATA_DIR": str(tmp_path / "faust"),
        "SUPERVISION_CONFIG": str(SCENARIO.config_file(tmp_path)),
        **extra,
    }


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wait_for_results(ns: KafkaNamespace, action_ids: set[str], timeout_s: float = 240) -> None:
    """Until every action has its result on the results topic (published after storage)."""
    wait_until(
        lambda: action_ids <= {k for k, _ in read_results(ns, PARTITIONS)},
        timeout_s,
        f"{len(action_ids)} action results",
    )
    time.sleep(2.0)  # a few ticks more: nothing else may come


def check_equals_replay(
    store: Store,
    config: Path,
    events: list[bytes],
    actions: list[bytes],
    as_of: int,
    replayed: list[Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Stored alerts, results and workflows equal replay's (read with the worker stopped:
    chdb is one process's; ``replayed``: filled with replay's alerts)."""
    alerts, results, workflows = replay_flow(config, events, actions, as_of, replayed)
    got = stored_results(store)
    want = {k: comparable(v) for k, v in results.items()}
    differ = {
        k: (got.get(k), want.get(k)) for k in got.keys() | want.keys() if got.get(k) != want.get(k)
    }
    assert not differ, list(differ.items())[:3]
    assert set(stored_alerts(store)) == alerts
    assert stored_workflows(store) == workflows
    return results, workflows


def test_scenario_through_the_worker_equals_replay_and_the_cli_acts(
    kafka_namespace: KafkaNamespace, store: Store, tmp_path: Path
) -> None:
    ns = kafka_namespace
    create_topics(ns, PARTITIONS)
    # Ten minutes of allowance for late upstreams: a person's action is answered at once all
    # the same (the CLI below waits 60 s at most).
    env = worker_env(ns, store, tmp_path, UPSTREAM_DELAY="600")
    events, actions = scenario_lines("events.jsonl"), scenario_lines("actions.jsonl")
    events.append(recurring_event("2026-11-02T10:00:00+08:00", 10))  # cards from 2026-11-13
    closed_case = SCENARIO.expected_workflows[0]["case_id"]
    assert partition_for(RECURRING.encode(), PARTITIONS) != partition_for(
        closed_case.encode(), PARTITIONS
    )
    produce_actions(ns, actions, PARTITIONS)  # before the events: held until their alerts
    produce_events(ns, events, PARTITIONS)
    worker = Worker(env, tmp_path / "worker").start()
    expected = {r["action_id"]: r for r in SCENARIO.expected_results}
    try:
        wait_for_results(ns, set(expected))
        # Refusals came back as results, on the results topic keyed by action_id; the
        # resent ND-01 was answered twice with its one result.
        published = read_results(ns, PARTITIONS)
        assert dict(published) == expected
        assert [k for k, _ in published].count("ND-01") == 2
        refused = {r["reason"] for r in expected.values() if r["status"] == "rejected"}
        assert refused == {"not_in_scope", "stale_version", "wrong_state"}
        # The CLI: a comment on the closed workflow is accepted, a reply refused (exit 1).
        closed = SCENARIO.expected_workflows[0]
        assert closed["state"] == "closed"
        wid, case = closed["workflow_id"], closed["case_id"]
        done = run_cli(
            env, "act", "comment", wid, "--as", "I-01", "--text", "已归档",
            "--case", case, "--version", str(closed["version"]), "--timeout", "60",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "accepted" in done.stdout and "closed" in done.stdout
        done = run_cli(
            env, "act", "reply", wid, "--as", "DEP-SCJ", "--text", "再次反馈",
            "--case", case, "--version", str(closed["version"] + 1), "--timeout", "60",
        )  # fmt: skip
        assert done.returncode == 1, done.stdout + done.stderr
        assert "wrong_state" in done.stdout
        # The case of the same department recurs after the closure, from another partition.
        wait_until(
            lambda: published_alerts(ns, PARTITIONS, "SUP_RECURRENCE"), 120, "SUP_RECURRENCE"
        )
        time.sleep(2.0)  # a few ticks more: nothing else may come
        recurred = published_alerts(ns, PARTITIONS, "SUP_RECURRENCE")
    finally:
        code = worker.stop()
    assert code == 0, worker.output()[-3000:]
    # What the worker stored equals replay of every action sent (the CLI's two included).
    sent = [r.value for r in read_topic(ns.bootstrap, env["TOPIC_ACTIONS"])]
    assert len(sent) == len(actions) + 2
    config = Path(env["SUPERVISION_CONFIG"])
    now = int(time.time() * 1_000_000)
    replayed: list[Any] = []
    results, workflows = check_equals_replay(store, config, events, sent, now, replayed)
    local = load_config(config).local
    want = [alert_to_dict(a, local) for a in replayed if a.rule == "SUP_RECURRENCE"]
    assert recurred == want  # published once, as replay raises it (details, message)
    assert [(a["case_id"], a["evidence"][1]) for a in want] == [(RECURRING, "ND-13")]
    assert {k: results[k] for k in expected} == expected  # the scenario's own
    assert (
        workflows[SCENARIO.expected_workflows[1]["workflow_id"]] == (SCENARIO.expected_workflows[1])
    )
    assert workflows[wid]["version"] == closed["version"] + 1  # the comment
    # Every version is a row: 13 + 1 of the red card's workflow, 2 of the notice's, 3 of the
    # recurring case's (its three cards).
    assert len(stored_versions(store)) == 19
    # The action without an offset in acted_at is a dead letter.
    letters = store.query("SELECT topic, reason FROM deadletter FINAL")
    assert len(letters) == 1 and letters[0][0].endswith(".actions"), letters
    assert "acted_at" in letters[0][1]


def test_sigkill_mid_stream_of_actions_leaves_what_a_clean_run_leaves(
    kafka_namespace: KafkaNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 while a stream of events and actions (in time order, as upstreams send them)
    is worked through; restart each time: the stored actions, results, workflow versions
    and alerts (SUP_RECURRENCE of each copy's recurring case among them) are those of
    replay (of a clean run)."""
    ns = kafka_namespace
    store = Store(chdb_path=tmp_path / "chdb")
    create_topics(ns, PARTITIONS)
    env = worker_env(
        ns, store, tmp_path, WORKER_BATCH_MAX="5", WORKER_BATCH_WITHIN_S="0.05",
        # The stream's own clock, with 3 days of lateness: an action is applied once the
        # events read are 3 days past it (it was read long before).
        WATERMARK_IDLE="stream", WATERMARK_LATENESS_S="259200",
    )  # fmt: skip
    monkeypatch.setenv("LIVE_TEST_LOGLEVEL", "info")  # restart positions are logged
    copies = 6
    clock = clock_events("2026-09-01T08:00:00+08:00", "2026-11-02T08:00:00+08:00", 8)
    # Each copy with a case recurring at the department after the closures (2026-10-24).
    recurring = recurring_event("2026-10-21T09:00:00+08:00", 2)
    events = cloned([*scenario_lines("events.jsonl"), recurring], copies) + clock
    actions = cloned(scenario_lines("actions.jsonl"), copies)
    worker = Worker(env, tmp_path / "worker").start()
    sender = threading.Thread(
        target=produce_in_time_order, args=(ns, events, actions, PARTITIONS, 40, 0.6)
    )
    sender.start()
    kills = 0
    try:
        for delay in (9.0, 6.5, 7.3):
            time.sleep(delay)
            if not worker.alive():
                break
            worker.kill()
            kills += 1
            worker.start()
        sender.join()
        ids = {r["action_id"] for r in SCENARIO.expected_results}
        wait_for_results(ns, {f"{i}-{n:03d}" for i in ids for n in range(copies)})
    finally:
        sender.join()
        code = worker.stop()
    assert kills >= 2
    assert code == 0, worker.output()[-3000:]
    # Killed mid-stream: a restart went on from a workflow-topic offset stored before.
    resumed = re.findall(
        r"\.workflow', partition=\d\) starts at offset (\d+) \(stored", worker.output()
    )
    assert any(int(n) > 0 for n in resumed), resumed
    as_of = max(_instant(line) for line in events)
    replayed: list[Any] = []
    check_equals_replay(store, Path(env["SUPERVISION_CONFIG"]), events, actions, as_of, replayed)
    recurred = [a.case_id for a in replayed if a.rule == "SUP_RECURRENCE"]
    assert sorted(recurred) == [f"{RECURRING}-{n:03d}" for n in range(copies)]
    assert len(stored_versions(store)) == 18 * copies  # 15 of the scenario, 3 of the recurring


def _instant(line: bytes) -> int:
    from streams.engine.timeutil import parse_instant

    return parse_instant(json.loads(line)["occurred_at"])
