"""Engine state in Faust tables, written in batches, never per event.

Two tables, both co-partitioned with the supervision topics:

- ``case-state``: key ``"{p}|{topic}|{case key}"``, changelog partition ``p`` =
  the source partition of the case. Value = 8-byte big-endian offset of the
  newest event of that case the blob contains (diagnostics), then the engine
  blob. ``"{p}|@next|{topic}"`` holds the partition's next offset to read,
  written after that partition's states in the same changelog partition.
- ``cross-state``: key ``"{q}|{fact key}"``, changelog partition ``q`` = the
  facts partition of the key. Value = the (``occurred_at``, digest) of the last
  fact applied, then the blob; ``"{q}|@next|{facts topic}"`` the offset the
  facts partition may restart from (its first fact still held).

Replays after a crash are exact: the state may already contain events whose
offsets were not committed (the changelog is written before the commit); the
case engine ignores an event its case already holds, and a fact at or before
its key's stamp is not applied again.

Writes bypass ``Table.__setitem__`` (which needs a current stream event and
sends one changelog record per assignment): the dirty states of a whole batch
are produced with an explicit partition and awaited before anything is
committed. Deletions are tombstones (value ``None``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

_OFFSET = struct.Struct(">q")
_FACT = struct.Struct(">q20s")

NO_OFFSET = -1


def case_table_key(partition: int, topic: str, case_key: str) -> bytes:
    return f"{partition}|{topic}|{case_key}".encode()


def cross_table_key(partition: int, fact_key: str) -> bytes:
    return f"{partition}|{fact_key}".encode()


def next_offset_key(partition: int, topic: str) -> bytes:
    """Table key of a source partition's next offset (stored with its states)."""
    return f"{partition}|@next|{topic}".encode()


def expired_key(partition: int) -> bytes:
    """Table key of a facts partition's expiry horizon (``FactPartition.expired_at``)."""
    return f"{partition}|@expired".encode()


def pack_case(applied_offset: int, blob: bytes) -> bytes:
    return _OFFSET.pack(applied_offset) + blob


def unpack_case(value: bytes) -> tuple[int, bytes]:
    return _OFFSET.unpack_from(value)[0], value[_OFFSET.size :]


def pack_cross(marker: tuple[int, bytes], blob: bytes) -> bytes:
    return _FACT.pack(marker[0], marker[1]) + blob


def unpack_cross(value: bytes) -> tuple[tuple[int, bytes], bytes]:
    t, digest = _FACT.unpack_from(value)
    return (t, digest), value[_FACT.size :]


def scan_prefix(data: Mapping[Any, Any], prefix: bytes) -> Iterator[tuple[str, bytes]]:
    """(rest of key, value) of every live engine-state entry whose key starts with ``prefix``.

    Bookkeeping entries (``{p}|@...``, e.g. a partition's next offset) are not engine state.
    A store that reads by prefix (``table_store``, RocksDB) is read so, not scanned whole.
    """
    n = len(prefix)
    scan = getattr(data, "prefix_items", None)
    for key, value in list(data.items()) if scan is None else scan(prefix):
        if isinstance(key, str):
            key = key.encode()
        if value and key.startswith(prefix) and key[n : n + 1] != b"@":
            yield key[n:].decode(), value


@dataclass(frozen=True, slots=True)
class StateTable:
    """One engine-state table as the live service uses it: the local data (rebuilt by Faust
    from the changelog) and the changelog topic the service writes in batches."""

    data: MutableMapping[Any, Any]
    changelog: str

    def get_int(self, key: bytes) -> int | None:
        """An integer bookkeeping entry (next offset, expiry horizon); None when absent."""
        value = self.data.get(key)
        return int(value) if value else None
