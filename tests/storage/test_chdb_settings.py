"""Embedded chdb starts with bounded caches (CHDB_SETTINGS).

chdb reads its engine settings once per process, at its start: each case runs in a
fresh interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[2]
NAMES = (
    "mark_cache_size",
    "index_mark_cache_size",
    "primary_index_cache_size",
    "query_condition_cache_size",
)
PROBE = f"""
import orjson
from streams.storage import open_backend
backend = open_backend(database="default")
sql = "SELECT name, value FROM system.server_settings WHERE name IN {NAMES!r}"
print(orjson.dumps(dict(backend.query(sql).rows)).decode())
print(orjson.dumps(backend.side_query(sql).rows).decode())
backend.close()
"""


def run_probe(probe: str, chdb_dir: Path, **env: str) -> list[str]:
    """The lines ``probe`` prints in a fresh interpreter storing in ``chdb_dir``."""
    environ = {k: v for k, v in os.environ.items() if k not in ("CLICKHOUSE_URL", "CHDB_SETTINGS")}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env={**environ, "CHDB_PATH": str(chdb_dir), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.splitlines()


def engine_settings(chdb_dir: Path, **env: str) -> tuple[dict[str, str], list[list[str]]]:
    """The engine settings a worker's backend sees, first and side connection."""
    first, side = run_probe(PROBE, chdb_dir, **env)[-2:]
    return orjson.loads(first), orjson.loads(side)


def test_default_engine_settings_bound_the_caches(tmp_path: Path) -> None:
    found, side = engine_settings(tmp_path / "chdb")
    assert found == {
        "mark_cache_size": str(64 << 20),
        "index_mark_cache_size": str(16 << 20),
        "primary_index_cache_size": str(16 << 20),
        "query_condition_cache_size": str(16 << 20),
    }
    assert dict(map(tuple, side)) == found  # one engine: the side connection sees the same


def test_chdb_settings_replace_the_defaults_and_empty_means_chdbs_own(tmp_path: Path) -> None:
    found, _ = engine_settings(tmp_path / "a", CHDB_SETTINGS="mark_cache_size=1048576")
    assert found["mark_cache_size"] == "1048576"
    assert found["query_condition_cache_size"] == str(100 << 20)  # not given: chdb's default
    found, _ = engine_settings(tmp_path / "b", CHDB_SETTINGS="")
    assert found["mark_cache_size"] == str(5 << 30)


def test_a_value_the_engine_cannot_parse_is_a_misconfiguration(tmp_path: Path) -> None:
    probe = (
        "from streams.storage.backends import ChdbBackend\n"
        "from streams.storage.errors import StorageMisconfigured\n"
        "try:\n"
        f"    ChdbBackend({str(tmp_path / 'chdb')!r}, settings='mark_cache_size=lots')\n"
        "except StorageMisconfigured as exc:\n"
        "    print('misconfigured:', exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert "misconfigured: chdb settings 'mark_cache_size=lots' refused" in done.stdout
    assert "mark_cache_size" in done.stdout.splitlines()[-1]


CONDITION_PROBE = """
import orjson
from streams.storage import open_backend
backend = open_backend(database="default")
backend.execute("CREATE TABLE t (k String, v UInt64) ENGINE = MergeTree ORDER BY k")
backend.execute("INSERT INTO t SELECT toString(number), number FROM numbers(100000)")
setting = "SELECT value FROM system.settings WHERE name = 'use_query_condition_cache'"
entries = "SELECT value FROM system.metrics WHERE metric = 'QueryConditionCacheEntries'"
for n in range(20):
    backend.query(f"SELECT count() FROM t WHERE v = {n * 997}")
    backend.side_query(f"SELECT count() FROM t WHERE v = {n * 991 + 1}")
print(orjson.dumps([backend.query(setting).rows[0][0], backend.side_query(setting).rows[0][0],
                    int(backend.query(entries).rows[0][0])]).decode())
backend.close()
"""


def condition_cache(chdb_dir: Path, **env: str) -> list[object]:
    return orjson.loads(run_probe(CONDITION_PROBE, chdb_dir, **env)[-1])


def test_the_query_condition_cache_is_off_by_default(tmp_path: Path) -> None:
    """Its entries cost about six times what it counts against its cap, and the worker's
    lookups never repeat a condition: off, on both connections (README: Storage memory)."""
    assert condition_cache(tmp_path / "a") == ["0", "0", 0]
    used, side, entries = condition_cache(tmp_path / "b", CHDB_SETTINGS="")  # chdb's own
    assert (used, side) == ("1", "1") and entries > 0
