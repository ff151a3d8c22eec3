"""Quarantine: a valid event the engine fails on stops its case, not its partition (issue #13).

An exception from the engine on a contract-valid event (a bug, a corrupt state)
quarantines that event's case, ``(process, case_id)``, on its source partition:

- the event, and every later event of the case, is stored as an event (the
  audit trail keeps it) and dead-lettered with reason ``engine_error`` (the
  exception's type and message, masked and short); none is evaluated;
- the case's engine state is dropped (a tombstone in the state table): its
  timers never fire again, so the tick cannot meet the same failure;
- the other cases of the partition go on.

A stored case state this release cannot read (``FormatTooNew``: written by a newer
release during a rolling upgrade; or corrupt) quarantines its case the same way on
this worker, but in memory only: the record is left as it is (a newer worker reads
it), nothing is written over it, and the reason says ``state_format`` (or
``state_unreadable``); ``supervision_state_records_unreadable_total`` counts it.

The quarantine survives restarts: each quarantined case has a bookkeeping entry
``"{p}|@quarantine|{topic}|{case key}"`` (value: the reason) in the case-state
table, written with the partition's states before its next offset, and read back
when the partition is restored. A re-read of the failing event after a crash
fails the same way (its state was not saved) or finds the entry: the same
outcome either way. Offline replay quarantines the same cases
(``streams.replay``). Counted in ``supervision_cases_quarantined_total`` and
``supervision_quarantined_cases``; alert ``SupervisionCasesQuarantined``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from streams.contract import DeadLetter
from streams.engine import CaseEngine
from streams.engine.model import Event, FormatTooNew
from streams.live.processor import CasePartition, Message, Output, case_key
from streams.live.state import case_table_key
from streams.privacy import mask_text

log = logging.getLogger(__name__)

ENGINE_ERROR = "engine_error"
STATE_FORMAT = "state_format"  # a stored record of a newer format version (module doc)
REASON_MAX = 200  # characters of the exception's message kept in a dead letter's reason


def engine_error_reason(exc: BaseException, prefix: str = ENGINE_ERROR) -> str:
    """``engine_error: <type>: <message>``, masked, at most ``REASON_MAX`` characters."""
    text = mask_text(f"{prefix}: {type(exc).__name__}: {exc}")
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"


def quarantine_prefix(partition: int, topic: str) -> bytes:
    return f"{partition}|@quarantine|{topic}|".encode()


def quarantine_key(partition: int, topic: str, key: str) -> bytes:
    """Case-state table key of a quarantined case (bookkeeping, not engine state)."""
    return quarantine_prefix(partition, topic) + key.encode()


@dataclass(slots=True)
class EngineError:
    """One event of a quarantined case, to dead-letter."""

    offset: int
    reason: str


class GuardedCasePartition(CasePartition):
    """A ``CasePartition`` that quarantines a case the engine fails on (module doc)."""

    def __init__(self, topic: str, partition: int, cases: CaseEngine, lateness_us: int = 0) -> None:
        super().__init__(topic, partition, cases, lateness_us)
        self.quarantined: dict[str, str] = {}  # case key -> reason
        self.engine_errors: list[EngineError] = []  # of the batch at hand
        self.newly_quarantined = 0  # since the metrics last took them
        self.unreadable_states: list[str] = []  # kinds, since the metrics last took them

    def load(self, entries: Iterable[tuple[str, bytes]]) -> int:
        """``CasePartition.load``; a state it cannot read quarantines its case (module doc)."""
        n = 0
        for key, value in entries:
            try:
                n += super().load(((key, value),))
            except FormatTooNew as exc:
                self.unreadable(key, f"{STATE_FORMAT}: {exc}", "format_too_new")
            except Exception as exc:  # noqa: BLE001 - a corrupt record stops its case only
                self.unreadable(key, engine_error_reason(exc, "state_unreadable"), "corrupt")
        return n

    def unreadable(self, key: str, reason: str, kind: str) -> None:
        log.error(
            "case state of %s in %s[%d] cannot be read (%s); the case is quarantined on this "
            "worker and its stored state left as it is",
            key,
            self.topic,
            self.partition,
            reason,
        )
        self.quarantined[key] = reason
        self.newly_quarantined += 1
        self.unreadable_states.append(kind)

    def load_quarantine(self, entries: Iterable[tuple[str, bytes]]) -> int:
        for key, reason in entries:
            self.quarantined[key] = reason.decode("utf-8", "replace")
        return len(self.quarantined)

    def process(
        self, event: Event, offset: int, out: Output, arrived_at: int | None = None
    ) -> bool:
        """``CasePartition.process``; True also for an event of a quarantined case (stored)."""
        key = case_key(event.process, event.case_id)
        reason = self.quarantined.get(key)
        if reason is not None:
            self.engine_errors.append(EngineError(offset, f"case quarantined: {reason}"))
            return True
        marks = (len(out.alerts), len(out.timed), len(out.facts), len(out.withdrawals))
        try:
            # The case's timed alerts due before the event first, as replay advances time
            # before it feeds an event: they stand even when the event itself fails.
            due = self.cases.advance_case(key, event.occurred_at)
            if due:
                out.alerts.extend(due)
                out.timed.extend([a.raised_at for a in due])
                marks = (len(out.alerts), len(out.timed), len(out.facts), len(out.withdrawals))
            return super().process(event, offset, out, arrived_at)
        except Exception as exc:  # noqa: BLE001 - any engine failure quarantines the case
            # Nothing the failing event produced goes out.
            del out.alerts[marks[0] :], out.timed[marks[1] :], out.facts[marks[2] :]
            del out.withdrawals[marks[3] :]
            reason = engine_error_reason(exc)
            log.exception(
                "engine failed on %s[%d]@%d (event %s); case %s quarantined",
                self.topic,
                self.partition,
                offset,
                event.event_id,
                key,
            )
            self.quarantine(key, reason, out)
            self.engine_errors.append(EngineError(offset, reason))
            return True

    def quarantine(self, key: str, reason: str, out: Output) -> None:
        """Drop the case's state (a tombstone) and remember the quarantine in the table."""
        self.cases.load(key, None)
        self.applied.pop(key, None)
        self.quarantined[key] = reason
        self.newly_quarantined += 1
        p, topic = self.partition, self.topic
        out.case_states.append((p, case_table_key(p, topic, key), None, self))
        out.case_states.append((p, quarantine_key(p, topic, key), reason.encode(), self))

    def dead_letters(self, messages: dict[int, Message], out: Output) -> None:
        """Dead letters (``engine_error``) of the batch's events of quarantined cases."""
        for error in self.engine_errors:
            m = messages.get(error.offset)
            if m is None:  # pragma: no cover - every processed event was admitted
                continue
            out.dead_letters.append(
                DeadLetter(
                    raw=m.value,
                    key=m.key,
                    reason=error.reason,
                    topic=m.topic,
                    partition=m.partition,
                    offset=m.offset,
                    kind=ENGINE_ERROR,
                )
            )
        self.engine_errors.clear()
