"""chdb's memory under the worker's write pattern, without the worker (README: Storage memory).

Writes events and alerts through the storage ``Writer`` at ``--rate`` events per second in
writes of ``--every`` seconds (first-seen lookups on the side connection included), reads
``case_events`` of 50 cases after each write (the corrections' read), and every 20 s prints
the process's RSS, glibc's heap (``mallinfo2``) and what chdb reports: ``MemoryTracking``,
global pool threads, parts active / outdated, loaded marks.

    python benchmarks/chdb_memory.py [--seconds 120] [--rate 800] [--every 0.5]
        [--settings CHDB_SETTINGS]   (default: the product's; "" = chdb's own)
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_storage import T0, make_alerts, make_events  # noqa: E402
from streams.storage.backends import ChdbBackend  # noqa: E402
from streams.storage.backends.chdb import SETTINGS  # noqa: E402
from streams.storage.migrations import migrate  # noqa: E402
from streams.storage.queries import case_events  # noqa: E402
from streams.storage.writer import Writer  # noqa: E402

METRICS = "('MemoryTracking', 'GlobalThread', 'GlobalThreadActive', 'PartsActive', 'PartsOutdated')"


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                     "uordblks", "fordblks", "keepcost")
    ]  # fmt: skip


def rss_mib() -> int:
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmRSS"))
    return int(line.split()[1]) // 1024


def report(backend: ChdbBackend, label: str) -> None:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    heap = libc.mallinfo2()
    metrics = dict(
        backend.query(f"SELECT metric, value FROM system.metrics WHERE metric IN {METRICS}").rows
    )
    marks = backend.query(
        "SELECT value FROM system.events WHERE event = 'LoadedMarksMemoryBytes'"
    ).rows
    print(
        f"{label:>8} rss={rss_mib()}MiB glibc_inuse={heap.uordblks >> 20}MiB "
        f"glibc_free={heap.fordblks >> 20}MiB tracked={metrics.get('MemoryTracking', 0) >> 20}MiB "
        f"threads={metrics.get('GlobalThread')} (active {metrics.get('GlobalThreadActive')}) "
        f"parts={metrics.get('PartsActive')} outdated={metrics.get('PartsOutdated')} "
        f"marks={(marks[0][0] if marks else 0) >> 10}KiB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--rate", type=int, default=800)
    parser.add_argument("--every", type=float, default=0.5)
    parser.add_argument("--settings", default=SETTINGS)
    args = parser.parse_args()
    backend = ChdbBackend(
        tempfile.mkdtemp(prefix="chdb-memory-"), database="memory", settings=args.settings
    )
    backend.create_database()
    migrate(backend)
    writer = Writer(backend)
    events, alerts = make_events(5000), make_alerts(200)
    per_write = max(10, int(args.rate * args.every))
    report(backend, "start")
    started = last = time.monotonic()
    sent = writes = 0
    while time.monotonic() - started < args.seconds:
        batch = [
            dataclasses.replace(
                events[(sent + k) % len(events)],
                event_id=f"e{sent + k:09d}",
                case_id=f"FD-{(sent + k) // 4:07d}",
                occurred_at=T0 + (sent + k) * 997_000,
            )
            for k in range(per_write)
        ]
        raised = [
            dataclasses.replace(alerts[j % len(alerts)], alert_id=f"a{sent}-{j}",
                                case_id=batch[j * 10].case_id, raised_at=batch[j * 10].occurred_at)
            for j in range(per_write // 10)
        ]  # fmt: skip
        writer.write(events=batch, alerts=raised)
        case_events(backend, [(e.process, e.case_id) for e in batch[:50]])
        sent += per_write
        writes += 1
        if time.monotonic() - last >= 20:
            last = time.monotonic()
            report(backend, f"{last - started:.0f}s")
        time.sleep(max(0.0, args.every * writes - (time.monotonic() - started)))
    report(backend, "end")
    backend.close()


if __name__ == "__main__":
    main()
