"""What ``SUP_RECURRENCE`` compares: closures as ``confirmed_rectified`` per (rule, dept).

A cross-case memory (another case of the same department): the live side hosts it
where the (rule, dept) key lives, as the case engine's cross-case facts are.
Closures older than the window are dropped as time moves on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.engine.timeutil import LocalTime, parse_instant


@dataclass(frozen=True, slots=True)
class Closure:
    workflow_id: str
    case_id: str
    closed_at: int
    action_id: str


class RecurrenceIndex:
    def __init__(self, local: LocalTime, window_days: int) -> None:
        self.local = local
        self.window_days = window_days
        self._closures: dict[tuple[str, str], list[Closure]] = {}

    def add(self, rule: str, dept: str, closure: Closure) -> None:
        self._closures.setdefault((rule, dept), []).append(closure)

    def remove(self, rule: str, dept: str, workflow_id: str) -> None:
        """A reopened workflow is no longer closed as rectified."""
        found = self._closures.get((rule, dept))
        if found:
            found[:] = [c for c in found if c.workflow_id != workflow_id]
            if not found:
                del self._closures[(rule, dept)]

    def match(self, rule: str, dept: str, case_id: str, at: int) -> Closure | None:
        """The latest closure of ``rule`` at ``dept`` on another case that ``at`` falls within
        the window of: ``date(closed) <= date(at) <= date(closed) + window``."""
        found = self._closures.get((rule, dept))
        if not found:
            return None
        day = self.local.date_of(at)
        # Closures beyond the window as of ``at`` can never match again (time moves on).
        found[:] = [c for c in found if self.local.date_of(c.closed_at) + self.window_days >= day]
        best: Closure | None = None
        for closure in found:
            if (
                closure.case_id != case_id
                and closure.closed_at <= at
                and (best is None or closure.closed_at > best.closed_at)
            ):
                best = closure
        return best

    def to_dict(self) -> dict[str, Any]:
        return {
            f"{rule}\x1f{dept}": [
                [c.workflow_id, c.case_id, self.local.format(c.closed_at), c.action_id]
                for c in closures
            ]
            for (rule, dept), closures in sorted(self._closures.items())
        }

    def load(self, data: dict[str, Any]) -> None:
        self._closures = {}
        for key, rows in data.items():
            rule, dept = key.split("\x1f", 1)
            self._closures[(rule, dept)] = [
                Closure(row[0], row[1], parse_instant(row[2]), row[3]) for row in rows
            ]
