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
    "events_v",
    "alerts_v",
    "alerts_withdrawn_v",
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


def test_parse_sql_reads_unless_column() -> None:
    statements = parse_sql("-- unless-column: a.y\nALTER TABLE a ADD COLUMN y UInt8;\nSELECT 1;\n")
    assert [(s.sql, s.unless_column) for s in statements] == [
        ("ALTER TABLE a ADD COLUMN y UInt8", "a.y"),
        ("SELECT 1", None),
    ]
    with pytest.raises(MigrationError, match="table.column"):
        parse_sql("-- unless-column: y\nSELECT 1;\n")


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


def test_an_interrupted_migration_runs_again(storage_backend: Backend) -> None:
    """0004 stopped after its first ALTER (18.16 has no ADD COLUMN IF NOT EXISTS): the
    whole migration runs again, skipping the columns that exist."""
    migrations = load_migrations()
    late = next(m for m in migrations if m.name == "late_input")
    migrate(storage_backend, [m for m in migrations if m.version < late.version])
    storage_backend.execute(late.statements[0].sql)  # events gained its columns, then a crash
    report = migrate(storage_backend)
    # it, then the migrations after it
    assert [m.version for m in report.applied] == [
        m.version for m in migrations if m.version >= late.version
    ]
    assert "dept_daily" not in _tables(storage_backend)
    columns = storage_backend.query(
        "SELECT name FROM system.columns WHERE database = %(db)s AND table = 'alerts'",
        {"db": storage_backend.database},
    ).rows
    assert {"withdrawn_at", "withdrawn_reason", "withdrawn_by"} <= {r[0] for r in columns}
