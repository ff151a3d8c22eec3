"""`make bench`: every benchmark, each printing its figures next to a baseline from the same run.

Usage: python benchmarks/run.py [replay] [storage] [live] [recovery] [late]   (default: all)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "replay": HERE / "bench_replay.py",
    "storage": HERE / "bench_storage.py",
    "live": HERE / "bench_live.py",
    "recovery": HERE / "bench_recovery.py",
    "late": HERE / "bench_late.py",
}


def main(names: list[str]) -> int:
    failed = []
    for name in names or list(BENCHMARKS):
        script = BENCHMARKS[name]
        print(f"=== {name} ({script.name})", flush=True)
        start = time.monotonic()
        result = subprocess.run([sys.executable, str(script)], check=False)
        print(
            f"=== {name}: {'ok' if result.returncode == 0 else 'FAILED'} in {time.monotonic() - start:.0f} s\n",
            flush=True,
        )
        if result.returncode != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
