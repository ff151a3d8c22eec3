"""What can be generated (``streams/workload/config.py``)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from streams.workload import GenerateConfig


@pytest.mark.parametrize(
    "bad",
    [
        dict(start=date(2025, 12, 1)),
        dict(start=date(2026, 12, 1)),
        dict(until=date(2026, 12, 15)),
        dict(order="random"),
        dict(open_share=1.5),
        dict(cases=-1),
    ],
)
def test_config_rejects_what_cannot_be_generated(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        GenerateConfig(**bad)
