"""`supervise generate` as a user runs it: files, standard output, and a real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

from streams.contract import PROGRESS_KEY
from streams.contract import TOPIC_SUFFIX_BY_PROCESS as TOPIC_OF
from streams.engine import EventValidator
from streams.engine.timeutil import parse_instant
from streams.live.progress import parse_marker
from tests.workload.corpus import SCHEMA_PROCESSES


def supervise(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        capture_output=True,
        timeout=300,
        check=False,
        env=env,
    )


def test_writes_json_lines_deterministically(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path, hash_seed in ((first, "1"), (second, "2")):  # str hashing must not matter
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = supervise(
            "generate", "--cases", "400", "--seed", "11", "--out", str(path), env=env
        )
        assert result.returncode == 0, result.stderr.decode()
    assert first.read_bytes() == second.read_bytes()
    lines = first.read_bytes().splitlines()
    validator = EventValidator()
    for line in lines:
        event = orjson.loads(line)
        if (
            event["process"] in SCHEMA_PROCESSES
        ):  # issue #19's: tests/workload/test_supervision_systems.py
            validator.check(event)
    assert len({orjson.loads(line)["case_id"] for line in lines}) == 400
    assert b"generate: " in supervise("generate", "--cases", "5", "--out", str(first)).stderr


def test_standard_output_matches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    args = (
        "generate",
        "--cases",
        "200",
        "--seed",
        "3",
        "--order",
        "shuffled",
        "--bad-rate",
        "0.05",
        "--duplicate-rate",
        "0.05",
        "--open-share",
        "0.2",
    )
    assert supervise(*args, "--out", str(path)).returncode == 0
    result = supervise(*args, "--out", "-", "--quiet")
    assert result.returncode == 0
    assert result.stdout == path.read_bytes()
    assert result.stderr == b""


def test_generated_file_replays_with_every_bad_line_rejected(tmp_path: Path) -> None:
    events, rejects = tmp_path / "events.jsonl", tmp_path / "rejects.jsonl"
    result = supervise(
        "generate",
        "--cases",
        "1500",
        "--seed",
        "21",
        "--bad-rate",
        "0.03",
        "--duplicate-rate",
        "0.02",
        "--out",
        str(events),
    )
    assert result.returncode == 0
    malformed = int(result.stderr.split(b" malformed")[0].rsplit(b" ", 1)[1])
    replayed = supervise(
        "replay", str(events), "--rejects", str(rejects), "--out", str(tmp_path / "alerts.jsonl")
    )
    assert replayed.returncode == 0, replayed.stderr.decode()
    assert malformed > 0
    # every malformed line, and the valid lines of processes this checkout's schema lacks
    unknown = sum(
        1
        for line in events.read_bytes().splitlines()
        if line.startswith(b'{"event_id":"E')
        and orjson.loads(line)["process"] not in SCHEMA_PROCESSES
    )
    assert len(rejects.read_bytes().splitlines()) == malformed + unknown
    rules = {
        orjson.loads(line)["rule"] for line in (tmp_path / "alerts.jsonl").read_bytes().splitlines()
    }
    assert {"OVERDUE", "SKIPPED_STEP", "UNAUTHORIZED_INSPECTION", "STEP_OVERDUE"} <= rules


def test_planted_record_beside_the_output(tmp_path: Path) -> None:
    """--planted says what each case carries; the ids say nothing; the events are unchanged."""
    events, planted, alerts = (tmp_path / n for n in ("e.jsonl", "p.jsonl", "a.jsonl"))
    args = ("generate", "--cases", "1200", "--seed", "9", "--violation-rate", "0.5")
    result = supervise(*args, "--out", str(events), "--planted", str(planted), "--quiet")
    assert result.returncode == 0, result.stderr.decode()
    plain = supervise(*args, "--out", "-", "--quiet")
    assert plain.stdout == events.read_bytes()  # the record changes no byte of the output

    record = [orjson.loads(line) for line in planted.read_bytes().splitlines()]
    assert len(record) == 1200
    assert all(set(r) == {"process", "case_id", "planted", "open"} for r in record)
    case_ids = {orjson.loads(line)["case_id"] for line in events.read_bytes().splitlines()}
    assert {r["case_id"] for r in record} == case_ids
    kinds = {kind for r in record for kind in r["planted"]}
    assert {"SKIP", "OVERDUE_R", "UNAUTH_NOPLAN"} <= kinds
    assert not any(kind in case_id for kind in kinds for case_id in case_ids)

    replayed = supervise("replay", str(events), "--out", str(alerts))
    assert replayed.returncode == 0, replayed.stderr.decode()
    skipped = {
        a["case_id"]
        for a in map(orjson.loads, alerts.read_bytes().splitlines())
        if a["rule"] == "SKIPPED_STEP"
    }
    assert skipped == {r["case_id"] for r in record if r["planted"] == ["SKIP"]}


@pytest.mark.parametrize(
    "args",
    [
        ("--out", "x.jsonl", "--kafka", "127.0.0.1:1"),
        ("--start", "2027-01-04"),
        ("--start", "2026-12-01"),
        ("--start", "Monday"),
        ("--order", "backwards"),
        ("--out", "x.jsonl", "--planted", "x.jsonl"),
    ],
)
def test_refuses_impossible_requests(args: tuple[str, ...], tmp_path: Path) -> None:
    result = supervise("generate", "--cases", "3", *args)
    assert result.returncode == 2
    assert b"supervise generate: " in result.stderr or b"Error" in result.stderr


@pytest.mark.broker
def test_produces_to_kafka_keyed_by_case(kafka_namespace) -> None:  # noqa: ANN001
    from kafka import KafkaConsumer

    ns = kafka_namespace
    result = supervise(
        "generate",
        "--cases",
        "300",
        "--seed",
        "5",
        "--bad-rate",
        "0.02",
        "--kafka",
        ns.bootstrap,
        "--topic-prefix",
        ns.prefix,
    )
    assert result.returncode == 0, result.stderr.decode()
    written = int(result.stderr.split(b" lines to ")[0].rsplit(b" ", 1)[1])

    topics = [f"{ns.prefix}.{suffix}" for suffix in ("approval", "fund", "trade", "inspection")]
    consumer = KafkaConsumer(
        bootstrap_servers=ns.bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5_000,
        enable_auto_commit=False,
        group_id=None,
    )
    consumer.subscribe(topics)
    per_topic: Counter[str] = Counter()
    partitions_of_case: dict[bytes, set[int]] = {}
    received = 0
    marks: dict[tuple[str, int], list[tuple[int, int]]] = {}  # (offset, watermark) per partition
    occurred: dict[tuple[str, int], list[tuple[int, int]]] = {}  # (offset, occurred_at)
    try:
        for message in consumer:
            received += 1
            where = (message.topic, message.partition)
            if message.key == PROGRESS_KEY:
                marker = parse_marker(message.value)
                assert marker.source == "supervise-generate"
                marks.setdefault(where, []).append((message.offset, marker.watermark))
                continue
            per_topic[message.topic] += 1
            partitions_of_case.setdefault(message.key, set()).add(message.partition)
            try:
                event = orjson.loads(message.value)
            except orjson.JSONDecodeError:
                continue  # a deliberately malformed line
            try:
                at = parse_instant(event["occurred_at"])
                occurred.setdefault(where, []).append((message.offset, at))
            except (KeyError, TypeError, ValueError):
                pass  # a deliberately malformed line
            if (
                isinstance(event, dict)
                and event.get("process") in TOPIC_OF
                and event.get("case_id")
            ):
                assert message.topic == f"{ns.prefix}.{TOPIC_OF[event['process']]}"
                assert message.key == event["case_id"].encode()
    finally:
        consumer.close()
    markers = sum(len(m) for m in marks.values())
    assert received == written + markers
    assert f"{markers} progress markers" in result.stderr.decode()
    assert set(per_topic) == set(topics)
    assert all(len(p) == 1 for p in partitions_of_case.values())  # one case, one partition
    # Markers on every partition of every topic, as a well-behaved upstream publishes them:
    # their watermarks never go back, and no event after a marker occurs before its watermark.
    assert set(marks) == {(t, p) for t in topics for p in range(4)}
    for where, seq in marks.items():
        assert [w for _, w in seq] == sorted(w for _, w in seq)
        for offset, watermark in seq:
            later = [at for o, at in occurred.get(where, []) if o > offset]
            assert all(at >= watermark for at in later), where
        assert all(at < seq[-1][1] for _, at in occurred.get(where, []))  # the last is past all


@pytest.mark.broker
def test_paces_events_with_rate(kafka_namespace) -> None:  # noqa: ANN001
    ns = kafka_namespace
    result = supervise(
        "generate",
        "--cases",
        "20",
        "--seed",
        "2",
        "--rate",
        "40",
        "--kafka",
        ns.bootstrap,
        "--topic-prefix",
        ns.prefix,
    )
    assert result.returncode == 0, result.stderr.decode()
    written = int(result.stderr.split(b" lines to ")[0].rsplit(b" ", 1)[1])
    seconds = float(result.stderr.split(b" in ")[1].split(b"s ")[0])
    assert seconds >= (written - 1) / 40 * 0.9
