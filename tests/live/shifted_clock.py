"""``python -m tests.live.shifted_clock ARGS``: ``supervise ARGS`` with its wall clock shifted.

Tests only: ``SHIFT_CLOCK_S`` seconds are added to ``time.time`` (and ``time.time_ns``)
before anything else is imported, so the worker's clock, aiokafka's fetch timestamps and
everything else that reads the wall clock in the process agree. A test can then place the
worker's "now" a few seconds before a deadline instant (local midnight) of the past.
"""

from __future__ import annotations

import os
import runpy
import sys
import time

SHIFT_S = float(os.environ["SHIFT_CLOCK_S"])
_time, _time_ns = time.time, time.time_ns
time.time = lambda: _time() + SHIFT_S
time.time_ns = lambda: _time_ns() + int(SHIFT_S * 1e9)

if __name__ == "__main__":
    sys.argv = ["supervise", *sys.argv[1:]]
    runpy.run_module("streams.cli", run_name="__main__", alter_sys=True)
