"""The interface both engines implement: :class:`Backend` and its :class:`QueryResult`."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.storage.errors import StorageUnavailable

log = logging.getLogger(__name__)

CAP_DEDUP_TOKEN = "insert_deduplication_token"
CAP_DEDUP_WINDOW = "non_replicated_deduplication_window"


@dataclass(slots=True)
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class Backend(ABC):
    """A connection to one database on one engine."""

    engine: str
    database: str
    version: str = ""
    capabilities: frozenset[str] = frozenset()

    def has(self, capability: str) -> bool:
        return capability in self.capabilities

    @property
    def takes_dedup_token(self) -> bool:
        """Whether ``insert`` uses its ``dedup_token`` (else callers may pass None)."""
        return self.has(CAP_DEDUP_TOKEN)

    @abstractmethod
    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    @abstractmethod
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult: ...

    @abstractmethod
    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        dedup_token: str | None = None,
    ) -> None: ...

    def send_insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        dedup_token: str | None = None,
    ) -> Callable[[], None]:
        """Start an insert; the returned ``answer()`` waits for it (see the package docstring)."""
        self.insert(table, columns, rows, dedup_token)
        return answered

    def side_query(self, sql: str) -> QueryResult:
        """``query`` on a connection of its own, usable while an insert is in flight.

        For short reads next to the writer's inserts (the first-seen lookup);
        a backend without one raises :class:`StorageUnavailable` and the
        caller queries once the insert is answered.
        """
        raise StorageUnavailable(f"{self.engine} has no side connection")

    @abstractmethod
    def create_database(self) -> None:
        """Create the database if missing (migrations only)."""

    @abstractmethod
    def reconnect(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def describe(self) -> str:
        return f"{self.engine} {self.version} database {self.database}"

    def _detect(self) -> None:
        """Version and optional features, read once at connect time."""
        caps = set()
        self.version = str(self.query("SELECT version()").rows[0][0])
        rows = self.query(
            "SELECT name FROM system.settings WHERE name = 'insert_deduplication_token'"
        ).rows
        if rows:
            caps.add(CAP_DEDUP_TOKEN)
        rows = self.query(
            "SELECT name FROM system.merge_tree_settings"
            " WHERE name = 'non_replicated_deduplication_window'"
        ).rows
        if rows:
            caps.add(CAP_DEDUP_WINDOW)
        self.capabilities = frozenset(caps)
        log.info("storage: %s, capabilities %s", self.describe(), sorted(caps) or "none")


def answered() -> None:
    """The answer of an insert that already completed."""


def first_line(text: str) -> str:
    """The first line of an engine's message (the rest is its stack trace)."""
    return (text or "").strip().splitlines()[0] if text and text.strip() else "(no message)"
