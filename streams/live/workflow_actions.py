"""Actions in: ``supervision.actions``, keyed by any client's partitioner, to the partition
that owns their workflows.

Faust-free and synchronous. Per message of an actions partition, in offset order:
no value, over the size limit or not an action (``schemas/action.schema.json``):
dead-lettered like an invalid event (``supervision_input_rejected_total{topic=…actions}``);
a valid one is written to the workflow topic keyed by its ``case_id`` with the
worker's partitioner (``workflow_route``), exactly as sent. Each actions partition
keeps a consumption clock over ``acted_at`` (``horizon.SourceClock``): the workflow
partitions apply an action only once every actions partition is past its instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.contract import DeadLetter
from streams.live.deadletter import dead_letter, oversized
from streams.live.horizon import SourceClock
from streams.live.processor import Message
from streams.live.publish import Record
from streams.live.workflow_route import encode_action
from streams.workflow import ActionValidator, InvalidAction


@dataclass(slots=True)
class Forwarded:
    """What a batch of actions leaves: workflow-topic records and dead letters."""

    records: list[Record] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


class ActionIntake:
    def __init__(self, validator: ActionValidator, lateness_us: int) -> None:
        self.validator = validator
        self.lateness_us = lateness_us
        self.clocks: dict[int, SourceClock] = {}

    def clock(self, partition: int) -> SourceClock:
        found = self.clocks.get(partition)
        if found is None:
            found = self.clocks[partition] = SourceClock(self.lateness_us)
        return found

    def forget(self, partitions: set[int]) -> None:
        for p in partitions:
            self.clocks.pop(p, None)

    def run(self, messages: list[Message], out: Forwarded) -> None:
        for m in messages:
            clock = self.clock(m.partition)
            value = m.value
            if not value or oversized(value, m.key):
                self._reject(m, "", "", out)
                clock.observed(m.offset, None)
                continue
            try:
                action = self.validator.parse(value)
            except InvalidAction as exc:
                self._reject(m, str(exc), exc.kind, out)
                clock.observed(m.offset, None)
                continue
            out.records.append((None, action.case_id.encode("utf-8"), encode_action(value), ()))
            clock.observed(m.offset, action.acted_at)

    @staticmethod
    def _reject(m: Message, reason: str, kind: str, out: Forwarded) -> None:
        out.dead_letters.append(
            dead_letter(
                m.value, m.key, reason, kind, topic=m.topic, partition=m.partition, offset=m.offset
            )
        )
