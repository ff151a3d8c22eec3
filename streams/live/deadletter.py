"""Error policy for bad input, in one place.

An invalid message goes to the dead-letter topic with its original bytes as the
value (and its original key); the reason and where it came from travel in
headers (``streams.contract.DeadLetter``, the one dead-letter shape). A
rejection-rate limit (after Arroyo's ``DlqLimit``) stops the worker loudly: a
broken upstream must not silently drain into the dead-letter topic.
"""

from __future__ import annotations

from collections import deque

from streams.contract import DeadLetter


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
