"""A separate process writing to chdb, for the crash test (chdb is in-process).

python -m tests.storage.chdb_child PATH write N   write N events in batches of 50,
                                                  printing "written K" after each
python -m tests.storage.chdb_child PATH count     print counts as JSON
"""

from __future__ import annotations

import sys
import time

import orjson

from streams.storage.backends import ChdbBackend
from streams.storage.migrations import migrate
from streams.storage.writer import Writer
from tests.storage.data import events


def main(path: str, mode: str, n: int = 0) -> None:
    backend = ChdbBackend(path, database="crash")
    if mode == "write":
        migrate(backend)
        writer = Writer(backend, batch_rows=50)
        stream = events(n)
        for start in range(0, n, 50):
            writer.write(events=stream[start : start + 50])
            print(f"written {writer.stats.rows_written}", flush=True)
            time.sleep(0.01)
    else:
        rows = backend.query(
            "SELECT count(), count(DISTINCT event_id), min(event_id), max(event_id)"
            " FROM events FINAL"
        ).rows[0]
        print(orjson.dumps(list(rows)).decode(), flush=True)
    backend.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
