"""The local table store: RocksDB by key partition, written after the changelog acknowledged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streams.live.state import scan_prefix
from streams.live.table_store import (
    ROCKSDB_OPTIONS,
    acked_offsets,
    apply_acked,
    key_partition,
    tables_dir,
)
from streams.settings import Settings
from tests.live.fakes import Sent


def rocks_table(tmp_path: Path, name: str = "case-state") -> Any:
    """A Faust table over the worker's RocksDB store, as ``app.build`` makes it (no broker)."""
    from streams.live.faust_app import new_faust_app

    settings = Settings(worker_data_dir=tmp_path, worker_group_id="g1")
    app = new_faust_app(settings, 4)
    t = app.Table(
        name,
        default=None,
        partitions=4,
        key_type=bytes,
        value_type=bytes,
        options=dict(ROCKSDB_OPTIONS),
    )
    t.key_serializer = t.value_serializer = "raw"
    return t


def test_key_partition_and_directory() -> None:
    assert key_partition(b"12|supervision.approval|C1") == 12
    assert key_partition(b"0|@next|t") == 0
    assert tables_dir(Path("/d"), "grp") == Path("/d/tables-grp")


def test_acked_offsets_are_the_highest_per_partition() -> None:
    assert acked_offsets([Sent("t", 0, 5), Sent("t", 1, 2), Sent("t", 0, 9), Sent("t", 0, 7)]) == {
        0: 9,
        1: 2,
    }


def test_memory_table_takes_puts_and_deletions() -> None:
    data: dict[bytes, bytes] = {b"0|a": b"old", b"0|b": b"gone"}
    apply_acked(data, [(0, b"0|a", b"new"), (0, b"0|b", None), (1, b"1|c", b"x")], {0: 3, 1: 0})
    assert data == {b"0|a": b"new", b"1|c": b"x"}


def test_rocksdb_table_holds_states_and_offsets_per_partition(tmp_path: Path) -> None:
    t = rocks_table(tmp_path)
    data = t.data
    assert type(data).__name__ == "PartitionedRocksStore"
    records = [
        (0, b"0|topic|C1", b"s1"),
        (0, b"0|topic|C2", b"s2"),
        (0, b"0|@next|topic", b"17"),
        (2, b"2|topic|C3", b"s3"),
    ]
    apply_acked(data, records, {0: 40, 2: 7})
    apply_acked(data, [(0, b"0|topic|C2", None)], {0: 41})
    # Read by the key's partition, without a current stream event (the persister has none).
    assert data.get(b"0|topic|C1") == b"s1"
    assert data.get(b"0|topic|C2") is None
    assert b"2|topic|C3" in data
    assert sorted(scan_prefix(data, b"0|topic|")) == [("C1", b"s1")]
    assert sorted(scan_prefix(data, b"2|topic|")) == [("C3", b"s3")]

    class TP:
        def __init__(self, partition: int) -> None:
            self.topic, self.partition = t.changelog_topic.get_topic_name(), partition

    assert data.persisted_offset(TP(0)) == 41
    assert data.persisted_offset(TP(2)) == 7
    assert data.persisted_offset(TP(1)) is None
    # On disk, one database per partition under tables-{group}.
    names = sorted(p.name for p in tables_dir(tmp_path, "g1").iterdir() if p.suffix == ".db")
    assert {"case-state-0.db", "case-state-2.db"} <= set(names)


def test_memory_store_setting(tmp_path: Path) -> None:
    from streams.live.faust_app import table_store_url

    assert table_store_url(Settings(worker_table_store="memory")) == "memory://"
    assert table_store_url(Settings()) == "supervision-rocksdb://"
    with pytest.raises(ValueError):
        Settings(worker_table_store="redis")
