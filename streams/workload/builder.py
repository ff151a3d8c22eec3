"""What every process builder shares: the case under construction, instants, people, amounts.

Instants are integer seconds since ``FIRST_DAY`` 00:00 (+08:00); days are date
ordinals; working days are indexes of the ``WorkdayIndex``. Every random draw
comes from the one seeded ``rng``, in build order: that order *is* the
workload, so a change here changes every byte after it.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from datetime import date
from typing import Any

from streams.workload.calendar import WorkdayIndex
from streams.workload.config import DAY, OFFSET, GenerateConfig
from streams.workload.guards import Guards
from streams.workload.ids import CaseIds

_HMS: list[str] = []


def _hms_table() -> list[str]:
    if not _HMS:
        _HMS.extend(f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{OFFSET}" for s in range(DAY))
    return _HMS


class Case:
    """A case under construction: its id, its planted tag and its (instant, event) pairs."""

    __slots__ = ("case_id", "process", "tag", "events", "eid_prefix")

    def __init__(self, case_id: str, process: str, tag: str, eid_prefix: str) -> None:
        self.case_id = case_id
        self.process = process
        self.tag = tag  # "OK", "OPEN" or a kind of VIOLATION_KINDS
        self.events: list[tuple[int, dict[str, Any]]] = []
        self.eid_prefix = eid_prefix


class CaseBuilder:
    """Shared state and helpers of the process builders (``streams.workload.processes``)."""

    def __init__(self, config: GenerateConfig) -> None:
        self.seed = config.seed
        self.open_share = config.open_share
        self.rng = random.Random(config.seed)
        self.random = self.rng.random
        self.cal = WorkdayIndex()
        self.guards = Guards()
        self.ids = CaseIds(config.seed)
        self.serial = 0
        self._hms = _hms_table()
        self._dates = [
            date.fromordinal(o).isoformat() for o in range(self.cal.first, self.cal.last + 1)
        ]
        self._officers: dict[str, list[str]] = {}

    # ---------------------------------------------------------------- cases and events

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def new_case(self, process: str, tag: str, start: int, dept: str, series: str = "") -> Case:
        """A new case of ``process`` starting at instant ``start``, opened by ``dept``."""
        serial = self.next_serial()
        case_id = self.ids.case_id(process, serial, self.day(start), dept, series)
        return Case(case_id, process, tag, f"E{self.seed}-{serial:07d}-")

    def ev(
        self,
        case: Case,
        action: str,
        t: int,
        dept: str,
        attrs: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> int:
        """Append an event at instant ``t``; returns ``t``. The actor is left out now and then."""
        ev: dict[str, Any] = {
            "event_id": f"{case.eid_prefix}{len(case.events) + 1:02d}",
            "case_id": case.case_id,
            "process": case.process,
            "action": action,
            "occurred_at": self.fmt(t),
            "dept": dept,
        }
        if actor is not None and self.random() < 0.93:
            ev["actor"] = actor
        if attrs is not None:
            ev["attrs"] = attrs
        case.events.append((t, ev))
        return t

    # ---------------------------------------------------------------- instants

    def t(self, ordinal: int, seconds: int) -> int:
        return (ordinal - self.cal.first) * DAY + seconds

    def day(self, t: int) -> int:
        return self.cal.first + t // DAY

    def fmt(self, t: int) -> str:
        day_index, seconds = divmod(t, DAY)
        return self._dates[day_index] + self._hms[seconds]

    def date(self, ordinal: int) -> str:
        return self._dates[self.cal.check(ordinal) - self.cal.first]

    def wsec(self) -> int:
        """A second of office hours: 09:00-12:00 or 13:30-17:30."""
        s = int(self.random() * 25_200)
        return 32_400 + s if s < 10_800 else 48_600 + (s - 10_800)

    def wtime(self, ordinal: int) -> int:
        return self.t(self.cal.check(ordinal), self.wsec())

    def after(self, prev: int, ordinal: int) -> int:
        """An instant on day ``ordinal`` strictly after ``prev`` (office hours when possible)."""
        self.cal.check(ordinal)
        base = self.t(ordinal, 0)
        if base > prev:
            return base + self.wsec()
        day_end = base + DAY - 1
        t = prev + 300 + int(self.random() * 5_100)
        if t <= min(day_end, base + 64_800):  # not later than 18:00
            return t
        return min(prev + 30 + int(self.random() * 570), day_end) if prev < day_end else prev + 1

    # ---------------------------------------------------------------- draws

    def pick_cum(self, cum: list[float]) -> int:
        """An index drawn by cumulative weights."""
        return bisect_right(cum, self.rng.random() * cum[-1])

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def between(self, lo: int, hi: int) -> int:
        return lo if hi <= lo else self.rng.randint(lo, hi)

    # ---------------------------------------------------------------- people and organisations

    def officer(self, dept: str) -> str:
        """One of the department's case officers (a pool drawn the first time it is asked)."""
        pool = self._officers.get(dept)
        if pool is None:
            pool = [f"U{self.rng.getrandbits(32):08x}" for _ in range(self.rng.randint(6, 30))]
            self._officers[dept] = pool
        return self.rng.choice(pool)

    def leader(self, dept: str) -> str:
        return f"L-{dept}-{self.rng.randint(1, 6)}"

    def enterprise(self) -> str:
        return f"91330100MA2{self.rng.randrange(36**6):06X}"[:18]

    def org(self, kind: str, pool: int) -> str:
        return f"{kind}{self.rng.randrange(pool):05d}"

    def payee(self) -> str:
        return self.org("ORG-", 4_000)

    def supplier(self) -> str:
        return self.org("SUP-", 20_000)

    def amount(self, cents: int) -> Any:
        """An amount as the upstream systems send it: decimal string or JSON number."""
        yuan, fen = divmod(cents, 100)
        r = self.rng.random()
        if fen == 0:
            if r < 0.4:
                return yuan
            return str(yuan) if r < 0.7 else f"{yuan}.00"
        if r < 0.05:
            return cents / 100  # a JSON number with two decimals
        return f"{yuan}.{fen:02d}"


def cumulative(weights: list[float]) -> list[float]:
    out: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return out
