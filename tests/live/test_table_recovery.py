"""A restart recovers from the local table store plus the changelog tail (real broker).

Run 1 processes part A and stops; its data directory is kept aside. Run 2 processes
part B. Run 3 starts from the directory kept aside: it must read exactly the changelog
records written after what that directory holds (run 2's), not the whole changelog.
Run 4 starts from an empty directory: it reads the whole changelog (the baseline).
After each run the local store equals the changelog's last value per key.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from streams.live.table_store import tables_dir
from tests.fixtures_kafka import KafkaNamespace, create_topics
from tests.live.harness import Store, Worker, read_topic
from tests.live.test_service import (
    PARTITIONS,
    check_matches_replay,
    domain_names,
    run_to_completion,
    worker_env,
)
from tests.live.workload import produce, workload

TABLES = ("case-state", "cross-state")
OFFSET_KEY = b"__faust\0offset__"


def local_tables(data_dir: Path, group: str) -> dict[str, dict[bytes, bytes]]:
    """Every entry of the worker's RocksDB tables (worker stopped), per table."""
    from rocksdict import AccessType, Options, Rdict

    found: dict[str, dict[bytes, bytes]] = {t: {} for t in TABLES}
    for path in sorted(tables_dir(data_dir, group).glob("*.db")):
        table = path.name.rsplit("-", 1)[0]
        db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            found[table].update((k, v) for k, v in db.items() if k != OFFSET_KEY)
        finally:
            db.close()
    return found


def persisted_offsets(data_dir: Path, group: str, table: str) -> dict[int, int]:
    from rocksdict import AccessType, Options, Rdict

    offsets = {}
    for path in tables_dir(data_dir, group).glob(f"{table}-*.db"):
        db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            value = db.get(OFFSET_KEY)
        finally:
            db.close()
        if value is not None:
            offsets[int(path.stem.rsplit("-", 1)[1])] = int(value)
    return offsets


def changelog(ns: KafkaNamespace, table: str) -> list[Any]:
    return read_topic(ns.bootstrap, f"{ns.group_id}-{table}-changelog")


def compacted(records: list[Any]) -> dict[bytes, bytes]:
    last: dict[bytes, bytes | None] = {}
    for r in records:
        last[r.key] = r.value
    return {k: v for k, v in last.items() if v is not None}


def recovered(output: str, table: str) -> list[dict[int, tuple[int, int, int]]]:
    """Per recovery in a worker's log: changelog records read into the local store, per
    partition, as (count, first offset, last offset)."""
    pattern = (
        rf"table {re.escape(table)} recovered: \d+ changelog records read into the local "
        r"store (\{[^}]*\}) \(offsets (\{[^}]*\})\)"
    )
    found = []
    for counts, spans in re.findall(pattern, output):
        n, span = ast.literal_eval(counts), ast.literal_eval(spans)
        found.append({p: (n[p], *span[p]) for p in n})
    return found


def run(worker: Worker, ns: KafkaNamespace, events: list[dict[str, Any]], store: Store) -> str:
    worker.start()
    try:
        run_to_completion(ns, events, store=store)
    finally:
        code = worker.stop()
    out = worker.output()
    assert code == 0, out[-3000:]
    return worker.logs[-1].read_text(errors="replace")


def approvals(tag: str, seed: int) -> list[dict[str, Any]]:
    """New approval cases, sent after the first part: their alerts do not depend on when they
    arrive (no cross-case facts), so that the stored alerts equal replay of all parts."""
    return [
        {**e, "event_id": f"{tag}{e['event_id']}", "case_id": f"{tag}{e['case_id']}"}
        for e in workload(60, seed=seed)
        if e["process"] == "approval"
    ]


def engine_states(table: dict[bytes, bytes], without: str) -> dict[bytes, bytes]:
    """Case states (no bookkeeping entries), except those of cases whose id starts ``without``."""
    return {k: v for k, v in table.items() if b"|@" not in k and f"|{without}".encode() not in k}


def test_restart_reads_only_the_changelog_tail(
    kafka_namespace: KafkaNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVE_TEST_LOGLEVEL", "info")
    ns = kafka_namespace
    create_topics(ns, PARTITIONS)
    store = Store(chdb_path=tmp_path / "chdb")
    part_a = workload(200, seed=21)
    part_b, part_c, part_d = (
        approvals(tag, seed) for tag, seed in (("B", 22), ("X", 23), ("Y", 24))
    )
    data = tmp_path / "faust"
    env = worker_env(ns, store, tmp_path)
    assert env["WORKER_DATA_DIR"] == str(data)
    worker = Worker(env, tmp_path / "worker")
    group = ns.group_id

    produce(ns.bootstrap, domain_names(ns), part_a)
    run(worker, ns, part_a, store)
    kept = tmp_path / "faust-after-a"
    shutil.copytree(data, kept)
    kept_offsets = persisted_offsets(kept, group, "case-state")
    assert kept_offsets, "run 1 left no local state"

    produce(ns.bootstrap, domain_names(ns), part_b)
    log2 = run(worker, ns, part_a + part_b, store)
    assert "case-state[0]: local store holds its changelog up to offset" in log2
    state = local_tables(data, group)
    for table in TABLES:
        assert state[table] == compacted(changelog(ns, table)), table
    whole = changelog(ns, "case-state")
    # Run 2 read nothing but, at most, its store's last acknowledged batch again.
    read2 = recovered(log2, "case-state")[0]
    assert all(first > kept_offsets.get(p, -1) for p, (_, first, _) in read2.items()), read2
    assert sum(n for n, _, _ in read2.values()) < len(whole) // 4, read2

    # Run 3: the local state as after run 1, plus the tail that run 2 wrote; then part C.
    shutil.rmtree(data)
    shutil.copytree(kept, data)
    produce(ns.bootstrap, domain_names(ns), part_c)
    log3 = run(worker, ns, part_a + part_b + part_c, store)
    # The tail only: each partition is read from just after the offset its local store held.
    # (Tansu reports a partition's end as its last record batch's first offset + 1, so Faust
    # may stop before the rest of that batch; the service re-derives those states from the
    # events, as after any crash. Kafka reports the true end.)
    read3 = recovered(log3, "case-state")[0]
    assert read3, "nothing read from the changelog tail"
    for p, (n, first, last) in read3.items():
        assert first == kept_offsets[p] + 1 and 0 < n <= last - kept_offsets[p], (p, read3)
    assert 0 < sum(n for n, _, _ in read3.values()) < len(whole), read3
    after3 = local_tables(data, group)
    assert after3["case-state"] == compacted(changelog(ns, "case-state"))
    # The cases of parts A and B are as run 2 left them.
    assert engine_states(after3["case-state"], "X") == engine_states(state["case-state"], "X")

    # Run 4, the baseline: no local state, the whole changelog is read; then part D.
    shutil.rmtree(data)
    whole = changelog(ns, "case-state")
    produce(ns.bootstrap, domain_names(ns), part_d)
    log4 = run(worker, ns, part_a + part_b + part_c + part_d, store)
    read4 = recovered(log4, "case-state")[0]
    assert sorted(read4) == list(range(PARTITIONS))
    assert all(first == 0 for _, first, _ in read4.values()), read4
    whole_read, tail_read = (sum(n for n, _, _ in r.values()) for r in (read4, read3))
    assert whole_read > len(whole) // 2 and whole_read > tail_read
    after4 = local_tables(data, group)
    assert after4["case-state"] == compacted(changelog(ns, "case-state"))
    assert engine_states(after4["case-state"], "Y") == engine_states(after3["case-state"], "Y")
    check_matches_replay(store, part_a + part_b + part_c + part_d)
