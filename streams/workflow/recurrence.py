"""What ``SUP_RECURRENCE`` compares: closures as ``confirmed_rectified`` per (rule, dept).

A cross-case memory (another case of the same department). The engine talks to it
through ``RecurrenceLink``: a closure (``add``), a reopening (``remove``) and, for each
alert of a workflow that has not fired ``SUP_RECURRENCE`` yet, a ``Probe`` (``ask``).
Replay answers at once from its ``RecurrenceIndex``; the live worker hosts each (rule,
dept) key's index on the workflow-topic partition of that key and answers a probe later
(``streams.live.workflow_recur``), the engine firing it then (``recurred``) with the
probe's snapshot of the workflow.

Closures older than the window are dropped as time moves on. A reopened closure stays as
a tombstone until then, so a closure read again (a redelivery) is not added twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from streams.engine.timeutil import LocalTime, parse_instant


@dataclass(frozen=True, slots=True)
class Closure:
    workflow_id: str
    case_id: str
    closed_at: int
    action_id: str
    reopened: bool = False


@dataclass(frozen=True, slots=True)
class Probe:
    """An alert asking for a closure: its (rule, dept, case, instant) and the workflow it
    joined as it was then (the ``SUP_RECURRENCE`` alert reads its level and state)."""

    rule: str
    dept: str
    case_id: str
    at: int
    alert_id: str
    workflow_id: str
    level: str
    state: str


class RecurrenceLink(Protocol):
    """Where the engine's closures, reopenings and probes go."""

    def add(self, rule: str, dept: str, closure: Closure) -> None: ...

    def remove(self, rule: str, dept: str, workflow_id: str, at: int) -> None:
        """``workflow_id`` reopened at ``at``: its closure no longer counts."""
        ...

    def ask(self, probe: Probe) -> Closure | None:
        """The closure ``probe`` recurs after, if known now (None: none, or answered later)."""
        ...


class RecurrenceIndex:
    def __init__(self, local: LocalTime, window_days: int) -> None:
        self.local = local
        self.window_days = window_days
        self._closures: dict[tuple[str, str], list[Closure]] = {}

    def add(self, rule: str, dept: str, closure: Closure) -> None:
        found = self._closures.setdefault((rule, dept), [])
        if all(c.action_id != closure.action_id for c in found):
            found.append(closure)

    def remove(self, rule: str, dept: str, workflow_id: str, at: int) -> None:
        """A reopened workflow is no longer closed as rectified (from now: the index is
        given its inputs in time order)."""
        found = self._closures.get((rule, dept))
        if found:
            found[:] = [
                replace(c, reopened=True) if c.workflow_id == workflow_id else c for c in found
            ]

    def ask(self, probe: Probe) -> Closure | None:
        return self.match(probe.rule, probe.dept, probe.case_id, probe.at)

    def match(self, rule: str, dept: str, case_id: str, at: int) -> Closure | None:
        """The latest closure (by instant, then action id) of ``rule`` at ``dept`` on another
        case, not reopened, that ``at`` falls within the window of:
        ``date(closed) <= date(at) <= date(closed) + window``."""
        found = self._closures.get((rule, dept))
        if not found:
            return None
        day = self.local.date_of(at)
        # Closures beyond the window as of ``at`` can never match again (time moves on).
        found[:] = [c for c in found if self.local.date_of(c.closed_at) + self.window_days >= day]
        if not found:
            del self._closures[(rule, dept)]
            return None
        best: Closure | None = None
        for closure in found:
            if (
                not closure.reopened
                and closure.case_id != case_id
                and closure.closed_at <= at
                and (
                    best is None
                    or (closure.closed_at, closure.action_id) > (best.closed_at, best.action_id)
                )
            ):
                best = closure
        return best

    def holds(self, rule: str, dept: str) -> bool:
        return (rule, dept) in self._closures

    def keys(self) -> list[tuple[str, str]]:
        return sorted(self._closures)

    def rows(self, rule: str, dept: str) -> list[list[Any]]:
        """One key's closures in their stored form (``load_rows`` reads them back)."""
        return [
            [c.workflow_id, c.case_id, self.local.format(c.closed_at), c.action_id]
            + ([1] if c.reopened else [])
            for c in self._closures.get((rule, dept), ())
        ]

    def load_rows(self, rule: str, dept: str, rows: list[list[Any]]) -> None:
        closures = [
            Closure(row[0], row[1], parse_instant(row[2]), row[3], len(row) > 4 and bool(row[4]))
            for row in rows
        ]
        if closures:
            self._closures[(rule, dept)] = closures
        else:
            self._closures.pop((rule, dept), None)

    def to_dict(self) -> dict[str, Any]:
        return {f"{rule}\x1f{dept}": self.rows(rule, dept) for rule, dept in self.keys()}

    def load(self, data: dict[str, Any]) -> None:
        self._closures = {}
        for key, rows in data.items():
            rule, dept = key.split("\x1f", 1)
            self.load_rows(rule, dept, rows)
