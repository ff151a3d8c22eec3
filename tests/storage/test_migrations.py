from __future__ import annotations

import pytest

from streams.storage.backends import Backend
from streams.storage.migrations import (
    MigrationError,
    applied_versions,
    load_migrations,
    migrate,
    parse_sql,
)

TABLES = {
    "events",
    "events_by_dept",
    "alerts",
    "deadletter",
    "case_status",
    "dept_daily",
    "events_v",
    "alerts_v",
    "case_status_v",
    "dept_daily_v",
    "schema_migrations",
}


def test_parse_sql_splits_statements_and_reads_requirements() -> None:
    text = (
        "-- header\nCREATE TABLE a (x UInt8)\nENGINE = Memory;\n\n"
        "-- requires: feat\nALTER TABLE a X;\n"
    )
    statements = parse_sql(text)
    assert [s.sql for s in statements] == [
        "CREATE TABLE a (x UInt8)\nENGINE = Memory",
        "ALTER TABLE a X",
    ]
    assert [s.requires for s in statements] == [None, "feat"]


def test_migration_files_are_numbered_and_parse() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(m.statements for m in migrations)


def _tables(backend: Backend) -> set[str]:
    rows = backend.query(
        "SELECT name FROM system.tables WHERE database = %(db)s", {"db": backend.database}
    ).rows
    return {r[0] for r in rows}


def test_migrate_from_empty_then_reapply(storage_backend: Backend) -> None:
    first = migrate(storage_backend)
    newest = load_migrations()[-1].version
    assert [m.version for m in first.applied] == list(range(1, newest + 1))
    assert first.current_version == newest
    assert _tables(storage_backend) >= TABLES

    again = migrate(storage_backend)
    assert again.applied == []
    assert again.current_version == newest
    assert sorted(applied_versions(storage_backend)) == list(range(1, newest + 1))


def test_migrate_refuses_a_database_newer_than_the_code(storage_backend: Backend) -> None:
    migrate(storage_backend)
    storage_backend.insert(
        "schema_migrations",
        ("version", "name", "checksum", "applied_at"),
        [(999, "future", "x", 0)],
    )
    with pytest.raises(MigrationError, match="newer than this code"):
        migrate(storage_backend)
