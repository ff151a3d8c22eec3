"""Table recovery: a stalled changelog partition is re-read, then the worker stops."""

from __future__ import annotations

import asyncio

import pytest

from streams.live import recovery as recovery_module
from streams.live.recovery import Recovery, RecoveryWatch


class RecoveringPort:
    """The part of ``KafkaPort`` recovery reads: one changelog partition stuck at offset 41."""

    def __init__(self) -> None:
        self.recovering = True
        self.completed = False
        self.seeks: list[tuple[str, int]] = []

    def in_recovery(self) -> bool:
        return self.recovering

    def rebalancing(self) -> bool:
        return self.recovering  # as Faust: the rebalance ends only once recovery has completed

    def recovery_progress(self) -> tuple[dict[str, int], dict[str, int]]:
        return {"cl-3": 9}, {"cl-3": 41}

    def recovery_completed(self) -> bool:
        return self.completed

    async def seek(self, tp: str, offset: int) -> None:
        self.seeks.append((tp, offset))


def test_recovery_watch_rereads_a_stalled_changelog_partition_then_gives_up() -> None:
    now = [0.0]
    watch = RecoveryWatch(stall_s=30, attempts=2, clock=lambda: now[0])
    remaining = {"cl-0": 5, "cl-1": 3, "cl-2": 0}
    offsets = {"cl-0": 10, "cl-1": -1, "cl-2": 7}
    assert watch.check(remaining, offsets) == {}
    now[0] = 29
    assert watch.check(remaining, offsets) == {}
    now[0] = 31  # cl-0 moved meanwhile: only cl-1 stalled (nothing read yet: from offset 0)
    assert watch.check(remaining, {**offsets, "cl-0": 12}) == {"cl-1": 0}
    assert watch.exhausted() == []
    now[0] = 62
    assert watch.check(remaining, {**offsets, "cl-0": 12}) == {"cl-0": 13, "cl-1": 0}
    assert watch.exhausted() == ["cl-1"]
    now[0] = 63  # cl-1 done meanwhile; a new recovery starts clean
    assert watch.check({"cl-0": 1, "cl-1": 0}, {"cl-0": 14, "cl-1": 20}) == {}
    assert watch.exhausted() == []
    watch.reset()
    assert watch.check(remaining, offsets) == {}


def test_a_stalled_recovery_is_reread_then_stops_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def die(reason: str) -> None:
        raise SystemExit(reason)

    monkeypatch.setattr(recovery_module, "die", die)
    now = [0.0]
    port = RecoveringPort()
    recovery = Recovery(port, RecoveryWatch(stall_s=30, attempts=2, clock=lambda: now[0]))
    for t in (0, 31):
        now[0] = t
        asyncio.run(recovery.watch())
    assert port.seeks == [("cl-3", 42)]
    now[0] = 62
    with pytest.raises(SystemExit, match="cl-3"):
        asyncio.run(recovery.watch())
    assert port.seeks == [("cl-3", 42), ("cl-3", 42)]
    port.recovering = False  # recovery over: nothing is watched
    asyncio.run(recovery.watch())
    assert recovery.stalls.exhausted() == []


def test_engine_state_is_touched_only_once_recovery_completed() -> None:
    port = RecoveringPort()
    recovery = Recovery(port, RecoveryWatch(stall_s=30))
    assert not recovery.ready_for_state()
    port.recovering = False
    assert not recovery.ready_for_state()
    port.completed = True
    assert recovery.ready_for_state()
