"""An exception inside the tick stops the worker through its own fatal path (F14).

Faust's crash path stops the worker slowly, with the persister still running: a batch
persisted meanwhile could save a case whose timer fired in memory without its alert.
"""

from __future__ import annotations

import asyncio

import pytest

from streams.live import service as service_module
from streams.live.processor import CasePartition
from tests.live.core import TOPICS
from tests.live.fakes import TP, Port, Store, build_service


class Died(BaseException):
    pass


def test_an_exception_in_the_tick_dies_before_anything_more_is_persisted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reasons: list[str] = []

    def die(reason: str) -> None:
        reasons.append(reason)
        raise Died(reason)

    def broken_advance(self: CasePartition, t: int, out: object) -> None:
        raise RuntimeError("corrupt timer")

    monkeypatch.setattr(service_module, "die", die, raising=False)
    port, store = Port(partitions=TOPICS.partitions, log_end=0), Store()
    port.assigned = {TP(TOPICS.approval, 0)}
    service = build_service(port, store)
    monkeypatch.setattr(CasePartition, "next_timer", lambda self: 0)
    monkeypatch.setattr(CasePartition, "advance", broken_advance)
    enqueued: list[object] = []

    async def enqueue(step: object) -> None:
        enqueued.append(step)

    monkeypatch.setattr(service.persister, "enqueue", enqueue)

    async def tick() -> None:
        part = service.partitions.case(TOPICS.approval, 0)
        part.clock.observed(0, 1)  # consumed: the partition has a horizon
        await service.tick()

    with pytest.raises(Died):
        asyncio.run(tick())
    assert reasons and "tick failed" in reasons[0] and "corrupt timer" in reasons[0]
    assert enqueued == []  # nothing of the failed tick (nor after it) reaches the persister
    assert port.committed == [] and store.events == []
