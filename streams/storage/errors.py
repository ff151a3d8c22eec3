"""Storage errors. Which engine error becomes which is decided in one place,
:mod:`streams.storage.policy`.

- :class:`StorageUnavailable`: the engine cannot be reached right now (server
  down, network, timeouts, "too many parts"). Transient: the writer retries
  with backoff; it escapes to callers only as back-pressure when they set a
  ``max_wait_s`` (``retry_after`` says when to try again).
- :class:`StorageUnclassified`: an engine error the policy does not know. A
  kind of :class:`StorageUnavailable`: retried and counted, never blamed on
  the rows.
- :class:`StorageRefused`: the engine refused a value of the data (the
  input's fault). Permanent for that data: retrying the same rows will fail
  again; the writer stores each such row as a dead letter with the reason.
- :class:`StorageMisconfigured`: the schema or the account is wrong (missing
  table or column, no database, no permission, bad password). Not the data's
  fault: the writer never blames rows for it; it propagates so the caller's
  retry loop and health checks see it and nothing is dropped.
- :class:`MalformedRows`: raised by the writer after it has written every
  good row of a call (and a dead letter for each refused one), naming each
  row it could not store and why.
"""

from __future__ import annotations

from dataclasses import dataclass


class StorageError(Exception):
    """Base of every storage error."""


class StorageUnavailable(StorageError):
    """The engine is unreachable for now; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageRefused(StorageError):
    """The engine refused the statement or the data (will not succeed on retry)."""


class StorageMisconfigured(StorageError):
    """Schema, database or permissions are wrong (run ``supervise db migrate``?)."""


class StorageUnclassified(StorageUnavailable):
    """An engine error the policy does not know: treated as transient, and counted."""


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """One row that could not be stored: which table, which id, and why."""

    table: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.table} {self.key}: {self.reason}"


class MalformedRows(StorageError):
    """Some rows were refused; every other row of the call was written."""

    def __init__(self, rejected: list[RejectedRow]) -> None:
        self.rejected = rejected
        shown = "; ".join(str(r) for r in rejected[:5])
        more = f" (and {len(rejected) - 5} more)" if len(rejected) > 5 else ""
        super().__init__(f"{len(rejected)} row(s) refused, all others written: {shown}{more}")
