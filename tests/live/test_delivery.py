"""At-least-once plumbing: the offset gate admits in exact order and never skips a hole."""

from __future__ import annotations

from streams.live.delivery import HOLE, OLD, PROCESS, OffsetGate


def test_offset_gate_admits_in_exact_order_and_seeks_back_over_holes() -> None:
    now = [0.0]
    gate = OffsetGate(reseek_after_s=10, clock=lambda: now[0])
    gate.start("tp", 5)
    assert gate.admit("tp", 3) == (OLD, None)  # stored before the restart: skipped
    assert gate.admit("tp", 5) == (PROCESS, None)
    # Faust skipped 6..7 (flow control around a rebalance): never process past the hole.
    assert gate.admit("tp", 8) == (HOLE, 6)
    assert gate.admit("tp", 9) == (HOLE, None)  # seek requested once
    assert gate.admit("tp", 6) == (PROCESS, None)  # re-read after the seek
    assert gate.admit("tp", 7) == (PROCESS, None)
    assert gate.expected("tp") == 8


def test_offset_gate_asks_again_when_the_hole_persists() -> None:
    now = [0.0]
    gate = OffsetGate(reseek_after_s=10, clock=lambda: now[0])
    gate.start("tp", 10)
    assert gate.admit("tp", 12) == (HOLE, 10)
    now[0] = 5
    assert gate.admit("tp", 13) == (HOLE, None)
    now[0] = 11
    assert gate.admit("tp", 14) == (HOLE, 10)  # never skipped: asked again
    assert gate.expected("tp") == 10
