"""The workflows an engine holds: by id, by alert, by case; their clocks' index; what
changed; the stored form of the whole (a JSON-able dict with a format version)."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from typing import Any, Final

from streams.engine.timeutil import LocalTime
from streams.workflow.clocks import Clocks
from streams.workflow.state import Timer, Workflow, workflow_from_dict, workflow_to_dict

STATE_FORMAT: Final = 1


class WorkflowStore:
    def __init__(self, local: LocalTime, clocks: Clocks) -> None:
        self.local = local
        self.clocks = clocks
        self.workflows: dict[str, Workflow] = {}  # by workflow_id, in creation order
        self.by_alert: dict[str, str] = {}
        self.by_case: dict[tuple[str, str], list[str]] = {}
        self.orphans: dict[str, dict[str, Any]] = {}  # results of actions on no workflow
        self._timers: list[tuple[int, str, str]] = []  # heap of (instant, workflow_id, clock)
        self._changed: dict[str, None] = {}

    def add(self, wf: Workflow) -> None:
        self.workflows[wf.workflow_id] = wf
        for card in wf.cards:
            self.by_alert[card.alert_id] = wf.workflow_id
        case = self.by_case.setdefault((wf.process, wf.case_id), [])
        if wf.workflow_id not in case:
            case.append(wf.workflow_id)
        self.touched(wf)

    def touched(self, wf: Workflow) -> None:
        """Mark ``wf`` changed and index its clocks (stale entries are skipped when popped)."""
        self._changed[wf.workflow_id] = None
        for name, timer in wf.timers.items():
            if timer.at is not None:
                heapq.heappush(self._timers, (timer.at, wf.workflow_id, name))

    def due(self, until: int) -> Iterator[tuple[Workflow, str, Timer]]:
        """Each clock that runs out at or before ``until``, in (instant, workflow, name)
        order, taken off its workflow."""
        heap = self._timers
        while heap and heap[0][0] <= until:
            at, wid, name = heapq.heappop(heap)
            wf = self.workflows.get(wid)
            timer = wf.timers.get(name) if wf is not None else None
            if wf is None or timer is None or timer.at != at:
                continue  # stale: the clock was stopped or moved
            del wf.timers[name]
            self._changed[wid] = None
            yield wf, name, timer

    def due_of(self, case_id: str, until: int) -> Iterator[tuple[Workflow, str, Timer]]:
        """``due`` for the workflows of one case only (their index entries go stale)."""
        wids = [w for (_, case), ids in self.by_case.items() if case == case_id for w in ids]
        ran_out = sorted(
            (timer.at, wid, name)
            for wid in wids
            for name, timer in self.workflows[wid].timers.items()
            if timer.at is not None and timer.at <= until
        )
        for _, wid, name in ran_out:
            wf = self.workflows[wid]
            timer = wf.timers.pop(name)
            self._changed[wid] = None
            yield wf, name, timer

    def next_timer(self) -> int | None:
        """The earliest instant a clock may run out (stale entries included)."""
        return self._timers[0][0] if self._timers else None

    def take_changed(self) -> list[Workflow]:
        """The workflows changed since the last call (to store, to save in a changelog)."""
        changed = [self.workflows[wid] for wid in self._changed if wid in self.workflows]
        self._changed.clear()
        return changed

    def pending_calendar(self) -> dict[int, int]:
        """Workflows with a clock waiting for a calendar year without data, per year."""
        years: dict[int, int] = {}
        for wf in self.workflows.values():
            for year in {t.pending_year for t in wf.timers.values() if t.pending_year}:
                years[year] = years.get(year, 0) + 1
        return years

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "workflows": [workflow_to_dict(wf, self.local) for wf in self.workflows.values()],
            "orphans": self.orphans,
        }

    def load(self, data: Mapping[str, Any]) -> None:
        if data.get("format") != STATE_FORMAT:
            raise ValueError(f"engine state of format {data.get('format')!r}")
        self.workflows, self.by_alert, self.by_case, self._timers = {}, {}, {}, []
        for item in data["workflows"]:
            self.load_workflow(item)
        self.orphans = dict(data["orphans"])
        self._changed.clear()

    def load_workflow(self, data: Mapping[str, Any]) -> Workflow:
        """Add one saved workflow; its clocks pending a calendar year are decided now if
        the calendar has that year."""
        wf = workflow_from_dict(dict(data))
        for timer in wf.timers.values():
            if timer.at is None:
                self.clocks.resolve(timer)
        self.add(wf)
        return wf
