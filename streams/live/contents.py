"""The content window: what each event id a source partition applied recently said.

The engine remembers each case's event ids, not their content; ``Pipeline`` (in
``processor``) asks this window whether a repeated ``event_id`` comes with other
content, to dead-letter it as ``conflicting_duplicate`` (events.md, rules.md §1.3).
"""

from __future__ import annotations

import hashlib

import orjson

from streams.engine.model import Event
from streams.engine.state import event_hash

__all__ = ["CONTENT_WINDOW", "ContentWindow", "content_digest"]

# Event ids and content digests a source partition remembers (two generations of this many):
# how far back a repeat with other content is recognised as such (see ``ContentWindow``).
CONTENT_WINDOW = 20_000


def content_digest(event: Event) -> int:
    """What an event says, whatever its JSON's key order or spacing (8 bytes)."""
    canonical = orjson.dumps(event.to_dict(), option=orjson.OPT_SORT_KEYS)
    return int.from_bytes(hashlib.blake2b(canonical, digest_size=8).digest(), "big")


class ContentWindow:
    """The content digest of each event id a partition applied recently (rules.md §1.3).

    The engine remembers each case's event ids, not what they said; this remembers the
    last ``CONTENT_WINDOW`` to ``2 * CONTENT_WINDOW`` event ids of the partition with a
    digest of their content, in memory only: a repeat with other content is told from an
    identical one when its first is in the window (since the worker took the partition).
    Beyond it a repeat of the same case is still ignored (the engine's ids), only not
    dead-lettered; one in another case of the partition is then evaluated with that case.
    """

    __slots__ = ("capacity", "current", "previous")

    def __init__(self, capacity: int = CONTENT_WINDOW) -> None:
        self.capacity = capacity
        self.current: dict[int, int] = {}
        self.previous: dict[int, int] = {}

    def get(self, event_id: str) -> int | None:
        key = int.from_bytes(event_hash(event_id), "big")
        found = self.current.get(key)
        return self.previous.get(key) if found is None else found

    def add(self, event_id: str, digest: int) -> None:
        if len(self.current) >= self.capacity:
            self.previous, self.current = self.current, {}
        self.current[int.from_bytes(event_hash(event_id), "big")] = digest
