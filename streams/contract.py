"""The transport contract every room shares (events.md § Transport).

One place says which topic carries which process. The live service, the
workload generator, the benchmarks and the tests read it from here.
"""

from __future__ import annotations

from typing import Final

TOPIC_SUFFIX_BY_PROCESS: Final[dict[str, str]] = {
    "approval": "approval",
    "leader_assignment": "approval",
    "complaint": "approval",
    "penalty": "approval",
    "key_task": "approval",
    "proposal": "approval",
    "meeting_item": "approval",
    "fund_disbursement": "fund",
    "tender": "trade",
    "inspection_plan": "inspection",
    "inspection": "inspection",
}
"""Topic of each process is ``{prefix}.{suffix}``; suffixes name the ``topic_*`` settings."""

DOMAIN_SUFFIXES: Final[tuple[str, ...]] = ("approval", "fund", "trade", "inspection")
"""The domain topics, in the order the live service lists them."""


def topic_suffix(process: str) -> str | None:
    """The suffix of the topic carrying ``process``; None for a process the contract lacks."""
    return TOPIC_SUFFIX_BY_PROCESS.get(process)


def topic_for(process: str, prefix: str = "supervision") -> str:
    """The topic carrying ``process``; unknown processes go with approvals."""
    return f"{prefix}.{TOPIC_SUFFIX_BY_PROCESS.get(process, 'approval')}"


def topics_by_process(by_suffix: dict[str, str]) -> dict[str, str]:
    """Topic name per process, given the topic name per suffix."""
    return {p: by_suffix[s] for p, s in TOPIC_SUFFIX_BY_PROCESS.items()}
