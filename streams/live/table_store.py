"""Where a worker keeps its engine-state tables locally: RocksDB on disk (default), or memory.

``WORKER_TABLE_STORE=rocksdb``: faust-streaming's RocksDB store (``rocksdict``),
one database per table and changelog partition under
``WORKER_DATA_DIR/tables-{WORKER_GROUP_ID}``. Each database also holds the
changelog offset it is complete up to, so a restart, or a partition assigned
again, reads only the changelog written since (its tail), not the whole
changelog. ``memory``: rebuilt from the whole changelog on every start and
rebalance.

The live service writes its states to the changelog first and to the local
store only once the changelog has acknowledged them (``apply_acked``), in one
RocksDB write batch per partition together with the offset reached: whatever
the moment of a crash, the local store is a prefix of the changelog (a crash
between the two re-reads those records from the changelog tail at the next
start). Writes of a partition revoked meanwhile are not applied locally.

Keys of both tables begin with their changelog partition (``"{p}|..."``,
``streams.live.state``): every read and write goes straight to that
partition's database, and a partition's entries are read by key prefix
(``prefix_items``), not by a scan of every partition.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import rocksdict
from faust.stores import rocksdb

log = logging.getLogger(__name__)

STORES = ("rocksdb", "memory")
ROCKSDB_URL = "supervision-rocksdb://"

# RocksDB's memory per partition database: the engine holds the live state in memory,
# so the store needs little cache; write buffers bound the memory of a recovery burst.
ROCKSDB_OPTIONS: dict[str, Any] = {
    "write_buffer_size": 8 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "target_file_size_base": 32 * 1024 * 1024,
    "block_cache_size": 16 * 1024 * 1024,
    "block_cache_compressed_size": 0,
    "driver": "rocksdict",
}

# (changelog partition, key, value or None for a deletion)
Record = tuple[int, bytes, bytes | None]


def key_partition(key: bytes) -> int:
    """The changelog partition a table key belongs to: its ``{p}|`` prefix."""
    return int(key[: key.index(b"|")])


def tables_dir(data_dir: Path, group_id: str) -> Path:
    """Local table directory: one per consumer group (the group names the changelogs)."""
    return data_dir / f"tables-{group_id}"


def register() -> None:
    """Make ``ROCKSDB_URL`` name ``PartitionedRocksStore`` in Faust's store registry."""
    from faust import stores

    stores.STORES.aliases["supervision-rocksdb"] = f"{__name__}:PartitionedRocksStore"


def apply_acked(
    data: MutableMapping[Any, Any], records: Sequence[Record], offsets: dict[int, int]
) -> None:
    """Apply changelog records the broker acknowledged (up to ``offsets`` per partition) to
    the local table: atomically with the offset for RocksDB, entry by entry in memory."""
    write = getattr(data, "write_acked", None)
    if write is not None:
        write(records, offsets)
        return
    for _, key, value in records:
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value


def acked_offsets(results: Iterable[Any]) -> dict[int, int]:
    """Highest acknowledged offset per partition of a send's results (``RecordMetadata``;
    for a record batch the batch's first offset: a restart then re-reads at most that batch)."""
    offsets: dict[int, int] = {}
    for meta in results:
        if offsets.get(meta.partition, -1) < meta.offset:
            offsets[meta.partition] = meta.offset
    return offsets


class PartitionedRocksStore(rocksdb.Store):
    """Faust's RocksDB store, addressed by the partition prefix of our table keys.

    Faust's store finds a key's partition from the current stream event (there is
    none in the persister) or by probing every partition's database; our keys
    carry their partition. Counts the changelog records each recovery applied.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recovered: Counter[int] = Counter()  # records read per partition by a recovery
        self.spans: dict[int, tuple[int, int]] = {}  # and their first and last offsets

    def _db(self, key: bytes) -> Any:
        return self._db_for_partition(key_partition(key))

    def _set(self, key: bytes, value: bytes | None) -> None:
        self._db(key).put(key, value)

    def _get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._db(key).get(key)
        return value

    def _del(self, key: bytes) -> None:
        self._db(key).delete(key)

    def _contains(self, key: bytes) -> bool:
        return self._db(key).get(key) is not None

    def prefix_items(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Entries whose key starts with ``prefix`` (``"{p}|..."``), in key order."""
        for key, value in self._db(prefix).items(from_key=prefix):
            if not key.startswith(prefix):
                break
            yield key, value

    def write_acked(self, records: Sequence[Record], offsets: dict[int, int]) -> None:
        batches: dict[int, Any] = {}
        for partition, key, value in records:
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = rocksdict.WriteBatch(raw_mode=True)
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        for partition, batch in batches.items():
            offset = offsets.get(partition)
            if offset is not None:
                batch.put(self.offset_key, str(offset).encode())
            self._db_for_partition(partition).write(batch)

    def _open_for_partition(self, partition: int) -> Any:
        db = super()._open_for_partition(partition)
        offset = db.get(self.offset_key)
        log.info(
            "table %s[%d]: local store %s",
            self.table_name,
            partition,
            f"holds its changelog up to offset {int(offset)}" if offset else "is empty",
        )
        return db

    def apply_changelog_batch(self, batch: Iterable[Any], to_key: Any, to_value: Any) -> None:
        events = list(batch)
        spans = self.spans
        for event in events:
            message = event.message
            self.recovered[message.partition] += 1
            first, _ = spans.get(message.partition, (message.offset, 0))
            spans[message.partition] = (first, message.offset)
        super().apply_changelog_batch(events, to_key, to_value)

    async def on_recovery_completed(self, active_tps: Any, standby_tps: Any) -> None:
        await super().on_recovery_completed(active_tps, standby_tps)
        read = dict(sorted(self.recovered.items()))
        log.info(
            "table %s recovered: %d changelog records read into the local store %s (offsets %s)",
            self.table_name,
            sum(read.values()),
            read,
            dict(sorted(self.spans.items())),
        )
        self.recovered.clear()
        self.spans.clear()
