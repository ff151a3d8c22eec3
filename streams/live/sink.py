"""Where the rows of a batch go: the storage writer (ClickHouse server or chdb).

``RowStore`` is the one call the live service needs; ``WriterStore`` adapts the
storage package's ``Writer`` to it. Writes are synchronous (the drivers are) and
run in a worker thread so the event loop keeps serving Kafka heartbeats; they
are idempotent (unique by ``event_id`` / ``alert_id`` / highest case version),
so a batch written twice after a crash is read once.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from streams.contract import DeadLetter
from streams.engine.model import Alert, CaseStatus, Event, Withdrawal
from streams.privacy import mask_text

if TYPE_CHECKING:
    from streams.observability.metrics import Metrics
    from streams.storage.writer import Writer

log = logging.getLogger(__name__)


class RowStore(Protocol):
    def store(
        self,
        events: Sequence[Event],
        alerts: Sequence[Alert],
        cases: Sequence[CaseStatus],
        dead_letters: Sequence[DeadLetter],
        shadow_alerts: Sequence[Alert] = (),
        withdrawals: Sequence[Withdrawal] = (),
    ) -> None: ...

    def case_events(self, cases: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """The stored events of the cases ``(process, case_id)`` (``queries.case_events``)."""
        ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


class WriterStore:
    """``RowStore`` over ``streams.storage.Writer`` (rows converted by the storage package).

    The writer's own retry loop is bounded (``max_wait_s``) so an outage comes
    back here as ``StorageUnavailable`` and the service's retry loop (which
    reports health and never gives up) takes over. Rows the engine refuses as
    malformed are named in the log and counted; every other row is stored.
    """

    def __init__(
        self, writer: Writer, max_wait_s: float = 5.0, metrics: Metrics | None = None
    ) -> None:
        self.writer = writer
        if getattr(writer, "max_wait_s", 0) is None:
            writer.max_wait_s = max_wait_s
        if metrics is not None:  # batches, rows, latency and failed attempts, per table
            writer.observer = metrics
        self.refused = 0

    def store(
        self,
        events: Sequence[Event],
        alerts: Sequence[Alert],
        cases: Sequence[CaseStatus],
        dead_letters: Sequence[DeadLetter],
        shadow_alerts: Sequence[Alert] = (),
        withdrawals: Sequence[Withdrawal] = (),
    ) -> None:
        """One write; the withdrawals after the alerts they withdraw (``Writer.write``)."""
        from streams.storage import MalformedRows

        try:
            self.writer.write(
                events=events,
                alerts=alerts,
                case_status=cases,
                deadletters=dead_letters,
                shadow_alerts=shadow_alerts,
                withdrawals=withdrawals,
            )
        except MalformedRows as exc:
            self.refused += len(exc.rejected)
            log.error("storage refused %d row(s), all others stored: %s", len(exc.rejected), exc)

    def case_events(self, cases: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """Called on the persister's thread only (never beside one of its writes)."""
        from streams.storage.queries import case_events

        return case_events(self.writer.backend, cases)

    def ping(self) -> None:
        """One round trip to the storage engine; raises when it is unreachable."""
        self.writer.backend.query("SELECT 1")

    def close(self) -> None:
        close = getattr(self.writer, "close", None)
        if close is not None:
            close()


class LocalTime(Protocol):
    def format(self, instant: int) -> str: ...


class AlertPrinter:
    """The demo's live view: one line per stored alert."""

    COLORS = {"notice": "\033[36m", "yellow": "\033[33m", "red": "\033[31m"}

    def __init__(
        self, local: LocalTime, out: TextIO = sys.stdout, color: bool | None = None
    ) -> None:
        self.local = local
        self.out = out
        self.color = out.isatty() if color is None else color

    def __call__(self, alerts: Sequence[Alert]) -> None:
        for a in alerts:
            level = a.level.upper().ljust(6)
            if self.color:
                level = f"{self.COLORS.get(a.level, '')}{level}\033[0m"
            self.out.write(
                f"{level} {a.rule:<26} {self.local.format(a.raised_at)}  {a.dept:<10} "
                f"{a.process}/{mask_text(a.case_id)}  {a.message}\n"
            )
        self.out.flush()
