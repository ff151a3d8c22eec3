"""Error policy for bad input, in one place.

An invalid message goes to the dead-letter topic with its original bytes as the
value (and its original key); the reason and where it came from travel in
headers (``streams.contract.DeadLetter``, the one dead-letter shape). A
rejection-rate limit (after Arroyo's ``DlqLimit``) stops the worker loudly: a
broken upstream must not silently drain into the dead-letter topic.

A dead letter can always be published: its reason is cut to ``REASON_MAX_BYTES``,
and a record over the contract's message limit (events.md: 256 KiB) is
dead-lettered by reference (``OVERSIZED``): its position, size, SHA-256 and first
``PREFIX_BYTES`` bytes, never its whole value. So a dead letter stays below
``MESSAGE_MAX_BYTES`` plus a few KiB of headers, far under the producer's
``max_request_size`` (1 MB) and the broker's message limit, and is never retried forever.
A record with no value (a tombstone) is dead-lettered as ``EMPTY_VALUE``.
"""

from __future__ import annotations

import hashlib
from collections import deque

from streams.contract import EMPTY_VALUE, OVERSIZED, DeadLetter

MESSAGE_MAX_BYTES = 256 * 1024  # events.md § Envelope: a message value of at most 256 KiB
REASON_MAX_BYTES = 512  # a reason names the problem; it never quotes a whole value
PREFIX_BYTES = 1024  # what an oversized record's dead letter keeps of its value (and key)


def short_reason(reason: str, limit: int = REASON_MAX_BYTES) -> str:
    """``reason`` in at most ``limit`` UTF-8 bytes (cut on a character, marked with "…")."""
    encoded = reason.encode("utf-8")
    if len(encoded) <= limit:
        return reason
    return encoded[: limit - 3].decode("utf-8", errors="ignore") + "…"


def oversized(value: bytes, key: bytes | None) -> bool:
    """A record beyond the contract's message limit (value and key together)."""
    return len(value) + len(key or b"") > MESSAGE_MAX_BYTES


def dead_letter(
    value: bytes,
    key: bytes | None,
    reason: str,
    kind: str,
    *,
    topic: str,
    partition: int,
    offset: int,
) -> DeadLetter:
    """The dead letter of one rejected record: its bytes, or a reference when oversized."""
    if not value:
        return DeadLetter(
            raw=b"",
            key=key if key is None or len(key) <= PREFIX_BYTES else key[:PREFIX_BYTES],
            reason="empty_value: a message with no value (a tombstone); an event is a JSON object",
            kind=EMPTY_VALUE,
            topic=topic,
            partition=partition,
            offset=offset,
        )
    if oversized(value, key):
        size = len(value) + len(key or b"")
        digest = hashlib.sha256(value).hexdigest()
        return DeadLetter(
            raw=value[:PREFIX_BYTES],
            key=None if key is None else key[:PREFIX_BYTES],
            reason=(
                f"oversized: a message of {size} bytes over the {MESSAGE_MAX_BYTES}-byte limit; kept by "
                f"reference: value sha256 {digest}, its first {PREFIX_BYTES} bytes, the "
                f"record at {topic}/{partition}@{offset}"
            ),
            kind=OVERSIZED,
            original_size=size,
            original_sha256=digest,
            topic=topic,
            partition=partition,
            offset=offset,
        )
    return DeadLetter(
        raw=value,
        key=key,
        reason=short_reason(reason),
        kind=kind,
        topic=topic,
        partition=partition,
        offset=offset,
    )


class RejectionLimitExceeded(RuntimeError):
    """Too much input is being rejected: the worker must stop, not dead-letter it all."""


class RejectionLimit:
    """Counts accepted and rejected messages; raises when the limit is passed.

    The limit holds when either more than ``max_ratio`` of the last ``window``
    messages were rejected (judged once ``window`` messages were seen), or
    ``max_consecutive`` messages in a row were rejected.
    """

    def __init__(self, window: int, max_ratio: float, max_consecutive: int) -> None:
        self.window = window
        self.max_ratio = max_ratio
        self.max_consecutive = max_consecutive
        self._recent: deque[bool] = deque(maxlen=window)
        self._rejected_in_window = 0
        self._consecutive = 0
        self.rejected_total = 0
        self.accepted_total = 0

    def _push(self, rejected: bool) -> None:
        if len(self._recent) == self.window and self._recent[0]:
            self._rejected_in_window -= 1
        self._recent.append(rejected)
        if rejected:
            self._rejected_in_window += 1

    def accepted(self) -> None:
        self.accepted_total += 1
        self._consecutive = 0
        self._push(False)

    def rejected(self, letter: DeadLetter) -> None:
        self.rejected_total += 1
        self._consecutive += 1
        self._push(True)
        if self._consecutive >= self.max_consecutive:
            raise RejectionLimitExceeded(
                f"{self._consecutive} messages in a row rejected (limit {self.max_consecutive}); "
                f"last from {letter.topic}[{letter.partition}]@{letter.offset}: {letter.reason}"
            )
        if len(self._recent) == self.window:
            ratio = self._rejected_in_window / self.window
            if ratio > self.max_ratio:
                raise RejectionLimitExceeded(
                    f"{self._rejected_in_window} of the last {self.window} messages rejected "
                    f"(limit {self.max_ratio:.0%}); last from {letter.topic}[{letter.partition}]"
                    f"@{letter.offset}: {letter.reason}"
                )
