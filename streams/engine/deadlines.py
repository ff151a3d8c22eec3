"""The deadline index: which cases are due at which instant.

Timed instants are local midnights, so the index keeps a heap of the few
distinct instants and, per instant, the states of the cases due then; it fires
them in (instant, key) order. An entry whose case has moved on (its
``next_at`` differs; a state replaced by ``CaseEngine.load`` has none) is stale
and skipped. No scan of open cases.
"""

from __future__ import annotations

import heapq

from streams.engine.model import Alert
from streams.engine.state import CaseState


class DueHandler:
    """What ``DeadlineIndex.advance_into`` calls for each case due (``CaseEngine`` is one).

    A base class rather than a callable: compiled, the call is direct.
    """

    def fire_due(self, state: CaseState, instant: int, alerts: list[Alert]) -> None:
        """The timer of ``state`` at ``instant`` is due: append its alerts, re-arm it."""
        raise NotImplementedError


def _armed_at(state: CaseState) -> int | None:
    return state.next_at


def _key_of(state: CaseState) -> str:
    return state.key


class DeadlineIndex:
    """A heap of instants and, per instant, the states due then."""

    def __init__(self) -> None:
        self._instants: list[int] = []  # heap of the instants that have entries
        self._due_at: dict[int, list[CaseState]] = {}  # instant -> states of the cases due then
        # While advance_into() fires a case at an instant, re-arming it at that same instant
        # is left to advance_into().
        self._firing = -1
        self._firing_state: CaseState | None = None

    def add(self, instant: int, state: CaseState) -> None:
        """Index ``state`` as due at ``instant``."""
        if instant == self._firing and state is self._firing_state:
            return  # advance_into() fires this case again at this instant
        due = self._due_at.get(instant)
        if due is None:
            self._due_at[instant] = [state]
            heapq.heappush(self._instants, instant)
        else:
            due.append(state)

    def next_instant(self) -> int | None:
        """The earliest instant with a live entry (stale entries on the way are dropped)."""
        instants = self._instants
        while instants:
            instant = instants[0]
            due = self._due_at[instant]
            while due:
                if due[-1].next_at == instant:
                    return instant
                due.pop()  # stale entry
            heapq.heappop(instants)
            del self._due_at[instant]
        return None

    def first_instant(self) -> int | None:
        """The earliest instant in the index (its entries may all be stale)."""
        return self._instants[0] if self._instants else None

    def entries(self) -> list[tuple[int, str]]:
        """Every (instant, key) of the index, stale ones included (for measurements)."""
        return [(instant, state.key) for instant, due in self._due_at.items() for state in due]

    def advance_into(self, until: int, handler: DueHandler, alerts: list[Alert]) -> None:
        """Fire every live entry with instant <= ``until``, in (instant, key) order."""
        instants = self._instants
        while instants and instants[0] <= until:
            instant = heapq.heappop(instants)
            due = self._due_at.pop(instant)
            due.sort(key=_key_of)  # (instant, key) order
            self._firing = instant
            done = 0
            try:
                for state in due:
                    done += 1
                    if state.next_at != instant:
                        continue  # stale index entry
                    self._firing_state = state
                    handler.fire_due(state, instant, alerts)
                    # Re-armed at this same instant (another clock)? Read through a call: mypy
                    # would keep next_at narrowed to this instant across fire_due().
                    while _armed_at(state) == instant:
                        handler.fire_due(state, instant, alerts)
            except BaseException:
                # An error stopped this instant: keep the rest indexed, the failed case too
                # (it may be re-armed here; a stale entry is skipped).
                self._firing = -1
                self._firing_state = None
                for state in due[max(done - 1, 0) :]:
                    self.add(instant, state)
                raise
            finally:
                self._firing = -1
                self._firing_state = None
