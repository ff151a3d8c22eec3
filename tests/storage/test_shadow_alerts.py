"""The shadow_alerts table (issue #17): one row per configuration version and alert, on
ClickHouse 18.16 and chdb, however often a batch is written; nothing in ``alerts``."""

from __future__ import annotations

from streams.engine import Alert
from streams.storage.backends import Backend
from streams.storage.migrations import migrate
from streams.storage.writer import Writer


def alert(version: str, level: str = "red") -> Alert:
    return Alert(
        "a1", "OVERDUE", level, "C1", "approval", "D01", 1_781_097_044_000_000, ["e1"],
        "办件C1超期", {"last_day": "2026-06-10"}, version,
    )  # fmt: skip


def test_shadow_alerts_are_stored_apart_once_per_version(storage_backend: Backend) -> None:
    migrate(storage_backend)
    writer = Writer(storage_backend)
    batch = [alert("cfg-a"), alert("cfg-b")]
    assert writer.write(shadow_alerts=batch) == 2
    assert writer.write(shadow_alerts=batch) == 2  # a retried or re-read batch
    rows = storage_backend.query(
        "SELECT alert_id, config_version, level, raised_at_us, evidence, details "
        "FROM shadow_alerts_v ORDER BY config_version"
    ).rows
    assert [tuple(r) for r in rows] == [
        ("a1", "cfg-a", "red", 1_781_097_044_000_000, ["e1"], '{"last_day":"2026-06-10"}'),
        ("a1", "cfg-b", "red", 1_781_097_044_000_000, ["e1"], '{"last_day":"2026-06-10"}'),
    ]
    assert storage_backend.query("SELECT count() FROM alerts").rows[0][0] == 0
    assert writer.stats.rows_by_table["shadow_alerts"] == 4
