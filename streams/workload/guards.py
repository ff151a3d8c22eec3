"""Cross-case guards: what earlier cases did, so compliant cases trip no cross-case rule.

The cross-case rules (DUPLICATE_DISBURSEMENT, SPLIT_PURCHASE, FREQUENT_INSPECTION)
look across cases. A compliant case must not trip them by accident, so the
builders consult and feed these records; ``prune`` forgets what no later case
can reach any more.
"""

from __future__ import annotations

from collections.abc import Callable

from streams.workload.config import DAY, SPLIT_THRESHOLD

PAYMENT_WINDOW = 31 * DAY
INSPECTION_WINDOW = 30 * DAY
AWARD_WINDOW = 366 * DAY


class Guards:
    def __init__(self) -> None:
        self.ent_starts: dict[str, list[int]] = {}  # enterprise -> non-exempt start times
        self.paid: dict[tuple[str, str, int], list[int]] = {}  # (program, payee, cents) -> times
        self.direct: dict[tuple[str, str], list[tuple[int, int]]] = {}  # (dept, winner) -> awards

    # ---------------------------------------------------------------- inspections

    def record_inspection(self, enterprise: str, start: int) -> None:
        self.ent_starts.setdefault(enterprise, []).append(start)

    def inspected(self, enterprise: str) -> bool:
        return bool(self.ent_starts.get(enterprise))

    def quiet_free(self, enterprise: str, when: int) -> bool:
        """True when adding a start at ``when`` keeps every 30-day window below 3 starts."""
        starts = self.ent_starts.get(enterprise, ())
        return sum(1 for other in starts if abs(other - when) <= INSPECTION_WINDOW) < 2

    # ---------------------------------------------------------------- payments

    def record_payment(self, program: str, payee: str, cents: int, when: int) -> None:
        self.paid.setdefault((program, payee, cents), []).append(when)

    def unique_payment(
        self, program: str, payee: str, cents: int, when: int, nudge: Callable[[], int]
    ) -> int:
        """Nudge a compliant payment so it does not duplicate another case's by accident."""
        while any(
            abs(when - other) <= PAYMENT_WINDOW
            for other in self.paid.get((program, payee, cents), ())
        ):
            cents += nudge()
        return cents

    # ---------------------------------------------------------------- direct awards

    def record_direct_award(self, dept: str, winner: str, when: int, cents: int) -> None:
        self.direct.setdefault((dept, winner), []).append((when, cents))

    def awarded(self, dept: str, winner: str) -> bool:
        return bool(self.direct.get((dept, winner)))

    def below_split_threshold(self, dept: str, winner: str, cents: int, when: int) -> bool:
        """Whether another direct award of ``cents`` keeps the pair's yearly sum below it."""
        awards = self.direct.get((dept, winner), ())
        return sum(c for w, c in awards if abs(w - when) <= AWARD_WINDOW) + cents < SPLIT_THRESHOLD

    # ---------------------------------------------------------------- memory

    def prune(self, now: int) -> None:
        horizon = now - PAYMENT_WINDOW
        for enterprise in [k for k, times in self.ent_starts.items() if max(times) < horizon]:
            del self.ent_starts[enterprise]
        for payment in [k for k, times in self.paid.items() if max(times) < horizon]:
            del self.paid[payment]
        year_horizon = now - AWARD_WINDOW
        for pair in [k for k, awards in self.direct.items() if max(awards)[0] < year_horizon]:
            del self.direct[pair]
