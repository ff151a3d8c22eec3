"""What to generate (``GenerateConfig``) and the fixed bounds of the generated year."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

ORDERS = ("sorted", "feed", "shuffled")

FIRST_DAY = date(2026, 1, 1)
LAST_DAY = date(2026, 12, 30)
"""Every instant a rule may compute stays within [FIRST_DAY, LAST_DAY + 1 day)."""
LAST_START = date(2026, 11, 30)

OFFSET = "+08:00"
DAY = 86_400
SPLIT_THRESHOLD = 2_000_000_00  # cents
EXEMPT_CATEGORIES = ("safety", "environment", "unified")


@dataclass(frozen=True, slots=True)
class GenerateConfig:
    """What to generate. Every field has a sensible default."""

    cases: int = 1_000
    seed: int = 1
    start: date = date(2026, 1, 5)
    until: date = LAST_START
    violation_rate: float = 0.15
    open_share: float = 0.0
    duplicate_rate: float = 0.0
    order: str = "feed"
    max_delay: int = 900
    shuffle_window: int = 1_000

    def __post_init__(self) -> None:
        if self.cases < 0:
            raise ValueError("cases must be >= 0")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")
        if not FIRST_DAY <= self.start <= LAST_START:
            raise ValueError(
                f"start must lie between {FIRST_DAY} and {LAST_START}, got {self.start}"
            )
        if not self.start <= self.until <= LAST_START:
            raise ValueError(f"until must lie between start and {LAST_START}, got {self.until}")
        for name in ("violation_rate", "open_share", "duplicate_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {self.order!r}")
        if self.max_delay < 0 or self.shuffle_window < 1:
            raise ValueError("max_delay must be >= 0 and shuffle_window >= 1")
