"""The workload as a stream: slots per day, cases built in start order, events in output order.

Memory stays bounded: cases are built in start-time order and an event leaves
the heap as soon as no later-built case can precede it. What each case
carries (its planted violation, or that it was left open) is reported per case
as a ``PlantedCase`` to the ``on_case`` callback, never in its ids.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from streams.workload.builder import Case, CaseBuilder, cumulative
from streams.workload.calendar import OutOfYear
from streams.workload.config import GenerateConfig
from streams.workload.processes import build_one_day_approval, build_slot
from streams.workload.reference import PROCESS_WEIGHTS, REST_DAY_WEIGHT, VIOLATION_KINDS

PRUNE_EVERY = 4_096  # slots between prunings of the cross-case guards
ATTEMPTS = 8  # builds of a slot before the one-day fallback; from the 5th, simpler processes
SIMPLE_PROCESSES = ("approval", "complaint", "inspection", "penalty")


@dataclass(frozen=True, slots=True)
class PlantedCase:
    """What the generator planted in one case: its violation kinds, or that it is left open."""

    process: str
    case_id: str
    planted: tuple[str, ...]  # kinds of VIOLATION_KINDS; empty for a compliant case
    open: bool = False  # cut before its terminal action

    @property
    def tag(self) -> str:
        """One word for the case: its violation kind, ``OPEN`` or ``OK``."""
        return self.planted[0] if self.planted else "OPEN" if self.open else "OK"

    def to_dict(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "case_id": self.case_id,
            "planted": list(self.planted),
            "open": self.open,
        }


@dataclass(slots=True)
class GenerateStats:
    cases: int = 0
    events: int = 0
    duplicates: int = 0
    open_cases: int = 0
    by_process: dict[str, int] = field(default_factory=dict)
    by_tag: dict[str, int] = field(default_factory=dict)


class WorkloadGenerator:
    """Builds cases in start order and yields their events in the configured order."""

    def __init__(
        self, config: GenerateConfig, on_case: Callable[[PlantedCase], None] | None = None
    ) -> None:
        self.cfg = config
        self.on_case = on_case
        self.builder = CaseBuilder(config)
        self.rng = self.builder.rng
        self._delay_random = random.Random(config.seed ^ 0xFEED).random
        self.stats = GenerateStats()
        self._seq = 0
        self._heap: list[tuple[int, int, dict[str, Any]]] = []
        self._slot_count = 0
        self._proc_names = [p for p, _ in PROCESS_WEIGHTS]
        self._proc_cum = cumulative([w for _, w in PROCESS_WEIGHTS])
        self._floor: int | None = None  # key of the last event taken from the heap
        self._latest: int | None = None  # latest occurrence generated
        self._shuffle: LocalShuffle | None = None

    def events(self) -> Iterator[dict[str, Any]]:
        """All events, in the configured order (duplicates included)."""
        keyed = self._ordered()
        if self.cfg.order == "shuffled":
            self._shuffle = LocalShuffle(
                self.cfg.shuffle_window, random.Random(self.cfg.seed ^ 0x5EED)
            )
            keyed = self._shuffle.run(keyed)
        stream: Iterator[dict[str, Any]] = (ev for _, ev in keyed)
        if self.cfg.duplicate_rate > 0:
            stream = self._with_duplicates(stream)
        for ev in stream:
            self.stats.events += 1
            yield ev

    def watermark(self) -> str | None:
        """An upstream's progress watermark for what ``events`` yielded so far (events.md §
        Transport): every event still to come, re-sends aside, occurs at or after it. None
        before anything can be said; ``end_watermark`` once ``events`` is exhausted.

        Events leave in key order (occurrence, or simulated arrival in ``feed`` order, at most
        ``max_delay`` after occurrence), and later cases start later: what is still to come
        has a key at or after the last one taken, minus the arrival delay, and whatever the
        shuffle buffer still holds."""
        if self._floor is None:
            return None
        bound = self._floor - (self.cfg.max_delay if self.cfg.order == "feed" else 0)
        if self._shuffle is not None and self._shuffle.buffer:
            bound = min(bound, min(key for key, _ in self._shuffle.buffer))
        return self.builder.fmt(bound) if bound >= 0 else None

    def end_watermark(self) -> str | None:
        """Past every event generated (the second after the latest occurrence); None if none."""
        return None if self._latest is None else self.builder.fmt(self._latest + 1)

    def _day_slots(self, ordinal: int, slots: int, working: bool) -> list[tuple[int, str]]:
        """The (start instant, process) of a day's slots, in start order."""
        b = self.builder
        plan: list[tuple[int, str]] = []
        for _ in range(slots):
            process = self._proc_names[b.pick_cum(self._proc_cum)] if working else "complaint"
            if process == "complaint":
                t = b.t(ordinal, self.rng.randrange(28_800, 75_600))  # 08:00-21:00
            else:
                t = b.wtime(ordinal)
            plan.append((t, process))
        plan.sort()
        return plan

    def _taken(self) -> tuple[int, dict[str, Any]]:
        key, _, ev = heapq.heappop(self._heap)
        self._floor = key
        return key, ev

    def _ordered(self) -> Iterator[tuple[int, dict[str, Any]]]:
        cfg = self.cfg
        cal = self.builder.cal
        first_day, last_day = cfg.start.toordinal(), cfg.until.toordinal()
        days = list(range(first_day, last_day + 1))
        weights = [1.0 if cal.is_workday(o) else REST_DAY_WEIGHT for o in days]
        total_weight = sum(weights)
        made = 0
        cum_weight = 0.0
        heap = self._heap
        for n, (ordinal, weight) in enumerate(zip(days, weights, strict=True)):
            cum_weight += weight
            target = (
                cfg.cases if n == len(days) - 1 else round(cfg.cases * cum_weight / total_weight)
            )
            slots = target - made
            if slots <= 0:
                continue
            for t, process in self._day_slots(ordinal, slots, weight == 1.0):
                if made >= cfg.cases:
                    break
                while heap and heap[0][0] < t:
                    yield self._taken()
                made += self._slot(t, process, cfg.cases - made)
        while heap:
            yield self._taken()

    def _slot(self, t: int, process: str, room: int) -> int:
        """Build one case (or a group of related cases) starting at ``t``; returns the count."""
        b = self.builder
        self._slot_count += 1
        if self._slot_count % PRUNE_EVERY == 0:
            b.guards.prune(t)
        for attempt in range(ATTEMPTS):
            if attempt >= ATTEMPTS // 2:
                process = self.rng.choice(SIMPLE_PROCESSES)
            tag = "OK"
            if b.chance(self.cfg.open_share):
                tag = "OPEN"
            elif b.chance(self.cfg.violation_rate):
                tag = self.rng.choice(VIOLATION_KINDS[process])
            try:
                cases = build_slot(b, process, tag, t, room)
            except OutOfYear:
                continue
            if cases is not None:
                break
        else:
            cases = [build_one_day_approval(b, t)]
        for case in cases:
            self._commit(case)
        return len(cases)

    def _commit(self, case: Case) -> None:
        tag = case.tag
        if tag == "OPEN" and len(case.events) > 1:
            cut = self.rng.randint(1, len(case.events) - 1)
            del case.events[cut:]
        stats = self.stats
        stats.cases += 1
        stats.by_process[case.process] = stats.by_process.get(case.process, 0) + 1
        stats.by_tag[tag] = stats.by_tag.get(tag, 0) + 1
        if tag == "OPEN":
            stats.open_cases += 1
        if self.on_case is not None:
            planted = () if tag in ("OK", "OPEN") else (tag,)
            self.on_case(PlantedCase(case.process, case.case_id, planted, tag == "OPEN"))
        heap = self._heap
        last = case.events[-1][0] if case.events else None
        if last is not None and (self._latest is None or last > self._latest):
            self._latest = last
        if self.cfg.order == "feed":
            max_delay = self.cfg.max_delay
            rnd = self._delay_random  # own stream: the order never changes the content
            arrival = 0
            for t, ev in case.events:
                arrival = max(arrival, t + int(rnd() ** 3 * max_delay))
                self._seq += 1
                heapq.heappush(heap, (arrival, self._seq, ev))
        else:
            for t, ev in case.events:
                self._seq += 1
                heapq.heappush(heap, (t, self._seq, ev))

    def _with_duplicates(self, stream: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Re-send some events (same event_id, same bytes) a little later in the stream."""
        rng = random.Random(self.cfg.seed ^ 0xD0B1E)
        rate = self.cfg.duplicate_rate
        pending: list[tuple[int, int, dict[str, Any]]] = []
        for position, ev in enumerate(stream, 1):
            yield ev
            while pending and pending[0][0] <= position:
                self.stats.duplicates += 1
                yield heapq.heappop(pending)[2]
            if rng.random() < rate:
                heapq.heappush(pending, (position + rng.randint(1, 200), position, ev))
        while pending:
            self.stats.duplicates += 1
            yield heapq.heappop(pending)[2]


class LocalShuffle:
    """Emits items in a random order that never moves one more than ~``window`` places;
    ``buffer`` holds those taken and not yet emitted."""

    def __init__(self, window: int, rng: random.Random) -> None:
        self.window = window
        self.rng = rng
        self.buffer: list[tuple[int, dict[str, Any]]] = []

    def run(
        self, stream: Iterator[tuple[int, dict[str, Any]]]
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        buffer, rng = self.buffer, self.rng
        for item in stream:
            buffer.append(item)
            if len(buffer) >= self.window:
                i = rng.randrange(len(buffer))
                buffer[i], buffer[-1] = buffer[-1], buffer[i]
                yield buffer.pop()
        rng.shuffle(buffer)
        buffer.reverse()  # emitted in the shuffled order, from the end (what is left stays)
        while buffer:
            yield buffer.pop()


def generate_events(config: GenerateConfig) -> Iterator[dict[str, Any]]:
    """The events of ``config``'s workload, in its order."""
    return WorkloadGenerator(config).events()


def generate_workload(config: GenerateConfig) -> tuple[list[dict[str, Any]], list[PlantedCase]]:
    """All events of ``config``'s workload and, beside them, what each case carries."""
    planted: list[PlantedCase] = []
    events = list(WorkloadGenerator(config, planted.append).events())
    return events, planted
