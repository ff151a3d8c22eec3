"""Terminal cases leave the state after a retention (issue #13; ``[state]`` of the config).

A terminal case raises nothing more; it is kept only so that its later events
(late input, facts other cases compare) meet it. ``terminal_retention_days`` after
its terminal event (event time) it may go: ``Retention`` says when, for the bulk
eviction (``CaseEngine.evict``: replay daily, the live service by its partition
horizon) and for one case when its own next event comes after that (that event
then starts a new case, in replay and live alike). A case still waiting for
something (a pending calendar decision, a timer) stays.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from streams.engine.state import CaseState
from streams.engine.timeutil import DAY_US


class Retention:
    """When terminal cases may leave the state: a heap of (closed_at + retention, key)."""

    def __init__(self, retention_days: int) -> None:
        self.retention_us = retention_days * DAY_US
        self._heap: list[tuple[int, str]] = []

    def closed(self, key: str, closed_at: int) -> None:
        """A case ended at ``closed_at`` (or was loaded ended)."""
        heapq.heappush(self._heap, (closed_at + self.retention_us, key))

    def evictable(self, state: CaseState, now: int) -> bool:
        """Terminal longer than the retention before ``now``, and waiting for nothing."""
        return (
            state.terminal
            and state.closed_at is not None
            and state.closed_at + self.retention_us < now
            and state.pending is None
            and state.next_at is None
        )

    def next_instant(self) -> int | None:
        """The earliest instant a terminal case may leave the state (None: none will)."""
        return self._heap[0][0] if self._heap else None

    def due(self, states: Mapping[str, CaseState], now: int) -> list[str]:
        """The keys of ``states`` to drop at ``now``; cases still waiting are looked at
        again a day later."""
        heap = self._heap
        out: list[str] = []
        seen: set[str] = set()  # a case installed again (a correction, a reload) has two entries
        while heap and heap[0][0] < now:
            _, key = heapq.heappop(heap)
            state = states.get(key)
            if key in seen or state is None or not state.terminal or state.closed_at is None:
                continue
            seen.add(key)
            if self.evictable(state, now):
                out.append(key)
            elif state.closed_at + self.retention_us < now:  # waits for something
                heapq.heappush(heap, (now + DAY_US, key))
            else:  # loaded again meanwhile, with a later close
                heapq.heappush(heap, (state.closed_at + self.retention_us, key))
        return out
