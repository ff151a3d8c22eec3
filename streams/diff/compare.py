"""What changes from the base configuration to the candidate, over the same events.

- **Alerts added / removed**: the set difference of the two replays by ``alert_id``
  (an id is the rule, case, level and the rule's discriminator: no configuration in it),
  counted by rule × department × level.
- **Re-levelled**: cases whose highest level of a rule differs while both sides raise
  that rule for the case, by rule × department × (base level → candidate level). Their
  alerts are in added/removed too: a red card no longer raised is a removed red alert
  *and* a case re-levelled from red to yellow.
- **Re-timed**: the same alert raised at another instant on each side.
- **Deadlines**: cases whose deadline D = end(``last``) differs (or that have a case
  clock on one side only), the largest shift first.
- **Scores**: department scores, grades and ranks per month (``streams.scoring``) that
  differ; each side scored with its own ``[scoring]`` table, over the same departments
  and months (with recorded actions: its 督办 and dismissals too).
- **Open workflows** of the base (with recorded actions) none of whose alerts the
  candidate raises.

Each cell keeps a sample of its cases with the events that decide them (the alert's
evidence).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.diff.configdiff import KeyChange, config_changes
from streams.diff.sides import Side
from streams.engine.model import LEVELS, Alert
from streams.scoring import DeptScore, monthly_scores
from streams.workflow.state import Workflow

RANK = {level: i for i, level in enumerate(LEVELS)}


@dataclass(slots=True)
class Sample:
    """One case of a cell: the alert on each side (None where it is not raised)."""

    process: str
    case_id: str
    base: Alert | None
    candidate: Alert | None

    def evidence(self) -> list[str]:
        seen: dict[str, None] = {}
        for alert in (self.base, self.candidate):
            if alert is not None:
                seen.update(dict.fromkeys(alert.evidence))
        return list(seen)


@dataclass(slots=True)
class Cell:
    rule: str
    dept: str
    level: str  # "yellow"; for re-levelled cases "red→yellow"
    count: int = 0
    samples: list[Sample] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DeadlineShift:
    process: str
    case_id: str
    dept: str
    base: int | None
    candidate: int | None

    @property
    def shift(self) -> int | None:
        """Candidate minus base, µs (None when one side has no clock)."""
        if self.base is None or self.candidate is None:
            return None
        return self.candidate - self.base


@dataclass(frozen=True, slots=True)
class ScoreChange:
    month: str
    dept: str
    base: DeptScore
    candidate: DeptScore


@dataclass(slots=True)
class Diff:
    base: Side
    candidate: Side
    config: list[KeyChange]
    added: list[Cell]
    removed: list[Cell]
    relevelled: list[Cell]
    retimed: list[Cell]
    deadlines: list[DeadlineShift]
    scores: list[ScoreChange]
    orphaned: list[Workflow]  # base's open workflows none of whose alerts the candidate raises

    @staticmethod
    def total(cells: Iterable[Cell]) -> int:
        return sum(c.count for c in cells)

    def changed(self) -> bool:
        """Anything differs: configuration keys, alerts, deadlines or scores."""
        return bool(
            self.config
            or self.added
            or self.removed
            or self.relevelled
            or self.retimed
            or self.deadlines
            or self.scores
            or self.orphaned
        )


class _Cells:
    def __init__(self, sample_size: int) -> None:
        self.cells: dict[tuple[str, str, str], Cell] = {}
        self.sample_size = sample_size

    def add(self, rule: str, dept: str, level: str, sample: Sample) -> None:
        key = (rule, dept, level)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = Cell(rule, dept, level)
        cell.count += 1
        if len(cell.samples) < self.sample_size:
            cell.samples.append(sample)

    def listing(self) -> list[Cell]:
        """Largest cells first, then by rule, department and level."""
        return sorted(self.cells.values(), key=lambda c: (-c.count, c.rule, c.dept, c.level))


def _by_instant(alerts: Iterable[Alert]) -> list[Alert]:
    return sorted(alerts, key=lambda a: (a.raised_at, a.alert_id))


def _alert_cells(
    base: dict[str, Alert], candidate: dict[str, Alert], sample_size: int
) -> tuple[list[Cell], list[Cell], list[Cell]]:
    added, removed, retimed = _Cells(sample_size), _Cells(sample_size), _Cells(sample_size)
    for alert in _by_instant(a for i, a in candidate.items() if i not in base):
        added.add(
            alert.rule, alert.dept, alert.level, Sample(alert.process, alert.case_id, None, alert)
        )
    for alert in _by_instant(a for i, a in base.items() if i not in candidate):
        removed.add(
            alert.rule, alert.dept, alert.level, Sample(alert.process, alert.case_id, alert, None)
        )
    for alert in _by_instant(base.values()):
        other = candidate.get(alert.alert_id)
        if other is not None and other.raised_at != alert.raised_at:
            retimed.add(
                alert.rule,
                alert.dept,
                alert.level,
                Sample(alert.process, alert.case_id, alert, other),
            )
    return added.listing(), removed.listing(), retimed.listing()


def _highest(alerts: Iterable[Alert]) -> dict[tuple[str, str, str], Alert]:
    """Per (rule, process, case_id): the alert of the highest level."""
    out: dict[tuple[str, str, str], Alert] = {}
    for alert in _by_instant(alerts):
        key = (alert.rule, alert.process, alert.case_id)
        found = out.get(key)
        if found is None or RANK[alert.level] > RANK[found.level]:
            out[key] = alert
    return out


def _relevelled(
    base: dict[str, Alert], candidate: dict[str, Alert], sample_size: int
) -> list[Cell]:
    cells = _Cells(sample_size)
    high_base, high_candidate = _highest(base.values()), _highest(candidate.values())
    for key, old in sorted(high_base.items(), key=lambda kv: (kv[1].raised_at, kv[0])):
        new = high_candidate.get(key)
        if new is not None and new.level != old.level:
            cells.add(
                old.rule,
                old.dept,
                f"{old.level}→{new.level}",
                Sample(old.process, old.case_id, old, new),
            )
    return cells.listing()


def _deadlines(base: Side, candidate: Side) -> list[DeadlineShift]:
    shifts: list[DeadlineShift] = []
    for key in base.deadlines.keys() | candidate.deadlines.keys():
        old, new = base.deadlines.get(key), candidate.deadlines.get(key)
        before = old.deadline if old is not None else None
        after = new.deadline if new is not None else None
        if before != after:
            case = old or new
            assert case is not None
            shifts.append(DeadlineShift(case.process, case.case_id, case.dept, before, after))

    def order(s: DeadlineShift) -> tuple[bool, int, str, str]:
        shift = s.shift
        return (shift is None, -abs(shift) if shift is not None else 0, s.process, s.case_id)

    return sorted(shifts, key=order)


def _scores(base: Side, candidate: Side) -> list[ScoreChange]:
    depts = base.depts | candidate.depts

    def score(side: Side) -> dict[str, list[DeptScore]]:
        config = side.configuration.config
        return monthly_scores(
            side.scored_alerts(), config.scoring, config.local, depts=depts, duban=side.duban()
        )

    old, new = score(base), score(candidate)
    months = sorted(old.keys() | new.keys())
    changes: list[ScoreChange] = []
    for month in months:
        # Months only one side has an alert in: the other side scores them with no alerts.
        old_rows = {s.dept: s for s in old.get(month) or _empty(base, month, depts)}
        new_rows = {s.dept: s for s in new.get(month) or _empty(candidate, month, depts)}
        for dept in sorted(depts):
            a, b = old_rows[dept], new_rows[dept]
            if (a.score, a.grade, a.rank) != (b.score, b.grade, b.rank):
                changes.append(ScoreChange(month, dept, a, b))
    return changes


def _empty(side: Side, month: str, depts: set[str]) -> list[DeptScore]:
    config = side.configuration.config
    return monthly_scores((), config.scoring, config.local, depts=depts, months=[month])[month]


def compare(base: Side, candidate: Side, sample_size: int = 3) -> Diff:
    added, removed, retimed = _alert_cells(base.alerts, candidate.alerts, sample_size)
    return Diff(
        base=base,
        candidate=candidate,
        config=config_changes(base.configuration, candidate.configuration),
        added=added,
        removed=removed,
        relevelled=_relevelled(base.alerts, candidate.alerts, sample_size),
        retimed=retimed,
        deadlines=_deadlines(base, candidate),
        scores=_scores(base, candidate),
        orphaned=[
            wf
            for wf in base.open_workflows()
            if not any(card.alert_id in candidate.alerts for card in wf.cards)
        ],
    )
