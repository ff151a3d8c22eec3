"""The transport contract every room shares (events.md § Transport).

One place says which topic carries which process, what a progress marker looks
like, and what a dead letter is.
The live service, storage, the workload generator, the benchmarks and the
tests read it from here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
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

ACTIONS_SUFFIX: Final = "actions"
"""``{prefix}.actions``: the 督办 workflow's actions (workflow.md § Objects), keyed by ``case_id``,
JSON per ``schemas/action.schema.json``; invalid ones are dead-lettered like invalid events."""
ACTION_RESULTS_SUFFIX: Final = "action-results"
"""``{prefix}.action-results``: each action's result (accepted, or rejected with a reason),
keyed by ``action_id`` so that a client can wait for its answer."""
WORKFLOW_INPUTS_SUFFIX: Final = "workflow"
"""``{prefix}.workflow``: internal; a workflow's inputs (its alerts, its case's end, withdrawals,
actions) keyed by ``case_id`` with the worker's own partitioner (``live.workflow_route``)."""
WORKFLOW_SUFFIXES: Final[tuple[str, ...]] = (
    ACTIONS_SUFFIX,
    ACTION_RESULTS_SUFFIX,
    WORKFLOW_INPUTS_SUFFIX,
)
"""The workflow's topics, created with the others."""


def topic_suffix(process: str) -> str | None:
    """The suffix of the topic carrying ``process``; None for a process the contract lacks."""
    return TOPIC_SUFFIX_BY_PROCESS.get(process)


def topic_for(process: str, prefix: str = "supervision") -> str:
    """The topic carrying ``process``; unknown processes go with approvals."""
    return f"{prefix}.{TOPIC_SUFFIX_BY_PROCESS.get(process, 'approval')}"


def topics_by_process(by_suffix: dict[str, str]) -> dict[str, str]:
    """Topic name per process, given the topic name per suffix."""
    return {p: by_suffix[s] for p, s in TOPIC_SUFFIX_BY_PROCESS.items()}


# --------------------------------------------------------------------------- progress markers

PROGRESS_KEY: Final = b"__progress__"
"""Key of a progress marker (events.md § Transport): an upstream's message saying that it has
published, to this partition, every event with ``occurred_at`` before its ``watermark``."""

PROGRESS_FIELDS: Final = frozenset({"source", "watermark"})
"""The fields of a marker's value, all required, none other: ``{"source": S, "watermark": T}``."""

SOURCE_MAX_CHARS: Final = 128


def progress_marker(source: str, watermark: str) -> bytes:
    """The value of a progress marker: ``{"source": S, "watermark": T}`` (T RFC 3339)."""
    import orjson

    return orjson.dumps({"source": source, "watermark": watermark})


# --------------------------------------------------------------------------- dead letters

REJECTION_KINDS: Final[tuple[str, ...]] = (
    "not_json",
    "not_object",
    "contract",
    "wrong_topic",
    "empty_value",
    "oversized",
    "conflicting_duplicate",
    "progress_marker",
)
"""Why a message was rejected, as metrics label it: the validator's three kinds; an event
valid in itself but published on another process's topic (an upstream routing error); a
message with no value (a tombstone); a message over the contract's size limit (dead-lettered
by reference); an ``event_id`` seen before with other content (rules.md §1.3: the first wins);
a message keyed ``__progress__`` that is not a well-formed progress marker."""

WRONG_TOPIC: Final = "wrong_topic"
EMPTY_VALUE: Final = "empty_value"
OVERSIZED: Final = "oversized"
CONFLICTING_DUPLICATE: Final = "conflicting_duplicate"
PROGRESS_MARKER: Final = "progress_marker"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One rejected input record, exactly as read, with the reason and where it came from.

    The one shape of a dead letter: the live service publishes it to the dead-letter topic
    (``raw`` as the value, ``key`` as the key, the rest in ``headers()``) and stores it
    (``streams.storage``); file inputs fill ``file``/``line`` instead of the Kafka position.
    ``received_at`` is epoch microseconds (stamped when stored); ``kind`` is one of
    ``REJECTION_KINDS``. An oversized record is kept by reference: ``raw`` is its first bytes,
    ``original_size`` and ``original_sha256`` say what the whole was (the position names it).
    """

    raw: bytes
    reason: str
    received_at: int = 0
    topic: str = ""
    partition: int = -1
    offset: int = -1
    file: str = ""
    line: int = 0
    key: bytes | None = None
    kind: str = "contract"
    # Set when ``raw`` is only a prefix of the record (``OVERSIZED``: a dead letter by
    # reference): the record's size in bytes and the SHA-256 of its value, hex.
    original_size: int = -1
    original_sha256: str = ""

    @property
    def source(self) -> str:
        if self.topic:
            return f"{self.topic}/{self.partition}@{self.offset}"
        return f"{self.file}:{self.line}"

    @property
    def deadletter_id(self) -> str:
        """Deterministic: the same record from the same position is one dead letter."""
        digest = hashlib.sha256()
        digest.update(self.source.encode())
        digest.update(b"\0")
        digest.update(self.raw)
        return digest.hexdigest()[:32]

    def headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers of the dead-letter record: the reason and the origin."""
        return [
            ("reason", self.reason.encode("utf-8")),
            ("source_topic", self.topic.encode("utf-8")),
            ("source_partition", str(self.partition).encode("ascii")),
            ("source_offset", str(self.offset).encode("ascii")),
        ] + (
            [
                ("original_size", str(self.original_size).encode("ascii")),
                ("original_sha256", self.original_sha256.encode("ascii")),
            ]
            if self.original_size >= 0
            else []
        )
