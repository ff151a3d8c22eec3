"""Helpers shared by the benchmarks: workload files, timing, peak memory."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / ".bench"
WORKLOAD_FORMAT = 3  # bumped when the generator's bytes change (2: upstream-style case ids;
# 3: issue #19 processes, catalogue items, 超时默许 and notice-period cases)


def workload_file(cases: int, seed: int, open_share: float, order: str = "feed") -> Path:
    """A generated JSONL workload, cached under .bench/ (same parameters, same bytes)."""
    from streams.workload import GenerateConfig, generate_events

    BENCH_DIR.mkdir(exist_ok=True)
    name = f"workload-v{WORKLOAD_FORMAT}-{cases}-{seed}-{open_share}-{order}.jsonl"
    path = BENCH_DIR / name
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as out:
            config = GenerateConfig(cases=cases, seed=seed, open_share=open_share, order=order)
            for event in generate_events(config):
                out.write(orjson.dumps(event) + b"\n")
        tmp.rename(path)
    return path


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_count() -> int:
    return os.cpu_count() or 1
