"""Numbered DDL migrations from ``schemas/clickhouse/NNNN_name.sql``.

``migrate(backend)`` creates the database if missing, applies every migration
not yet recorded in ``schema_migrations`` in number order, records each one
after all its statements succeeded, and is safe to run twice (statements are
``IF NOT EXISTS``, so a migration interrupted half-way is simply re-run). It
refuses to touch a database that has migrations newer than the code.

File format: statements end with ``;`` at the end of a line. ``--`` comment
lines are dropped. A statement preceded by ``-- requires: <capability>`` runs
only on engines that have it (see ``Backend.capabilities``) and is skipped
elsewhere: used for optional optimisations, never for correctness. A statement
preceded by ``-- unless-column: <table>.<column>`` is skipped when that column
exists: ``ALTER TABLE … ADD COLUMN`` has no ``IF NOT EXISTS`` on 18.16, and a
migration interrupted half-way must still re-run.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from streams.storage.backends import Backend
from streams.storage.errors import StorageError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "clickhouse"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

BOOKKEEPING_DDL = """CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime
)
ENGINE = ReplacingMergeTree()
ORDER BY version"""


class MigrationError(StorageError):
    """The database and the code disagree about the schema."""


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    requires: str | None = None
    unless_column: str | None = None  # "table.column": skipped when it exists


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    checksum: str
    statements: tuple[Statement, ...]


@dataclass(slots=True)
class MigrationReport:
    applied: list[Migration] = field(default_factory=list)
    skipped_statements: int = 0
    current_version: int = 0


def parse_sql(text: str) -> tuple[Statement, ...]:
    """Split a migration file into statements (pure)."""
    statements: list[Statement] = []
    lines: list[str] = []
    requires: str | None = None
    unless: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("-- requires:"):
            requires = stripped.split(":", 1)[1].strip()
            continue
        if stripped.startswith("-- unless-column:"):
            unless = stripped.split(":", 1)[1].strip()
            if unless.count(".") != 1:
                raise MigrationError(f"unless-column names table.column, not {unless!r}")
            continue
        if not lines and (not stripped or stripped.startswith("--")):
            continue
        if stripped.startswith("--"):
            continue
        lines.append(line.rstrip())
        if stripped.endswith(";"):
            sql = "\n".join(lines).rstrip()[:-1].rstrip()
            statements.append(Statement(sql, requires, unless))
            lines, requires, unless = [], None, None
    if any(line.strip() for line in lines):
        raise MigrationError("migration text ends without ';'")
    return tuple(statements)


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    out: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        text = path.read_text(encoding="utf-8")
        out.append(
            Migration(
                version=int(match.group(1)),
                name=match.group(2),
                checksum=hashlib.sha256(text.encode()).hexdigest()[:16],
                statements=parse_sql(text),
            )
        )
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration numbers in {directory}")
    return out


def applied_versions(backend: Backend) -> dict[int, str]:
    """{version: checksum} of recorded migrations ({} when none)."""
    exists = backend.query(
        "SELECT count() FROM system.tables WHERE database = %(db)s AND name = 'schema_migrations'",
        {"db": backend.database},
    ).rows[0][0]
    if not exists:
        return {}
    rows = backend.query(
        "SELECT version, any(checksum) FROM schema_migrations GROUP BY version"
    ).rows
    return {int(v): str(c) for v, c in rows}


def pending(backend: Backend, migrations: list[Migration]) -> list[Migration]:
    done = applied_versions(backend)
    newest_code = max((m.version for m in migrations), default=0)
    newest_db = max(done, default=0)
    if newest_db > newest_code:
        raise MigrationError(
            f"database {backend.database} is at schema version {newest_db}, newer than this "
            f"code ({newest_code}): upgrade the code, refusing to run"
        )
    for m in migrations:
        if m.version in done and done[m.version] != m.checksum:
            log.warning(
                "migration %04d_%s changed since it was applied (checksum %s, now %s)",
                m.version,
                m.name,
                done[m.version],
                m.checksum,
            )
    return [m for m in migrations if m.version not in done]


def migrate(
    backend: Backend, migrations: list[Migration] | None = None, *, dry_run: bool = False
) -> MigrationReport:
    """Apply the missing migrations; see the module docstring."""
    migrations = load_migrations() if migrations is None else migrations
    report = MigrationReport()
    if not dry_run:
        backend.create_database()
    todo = pending(backend, migrations) if not dry_run or _db_exists(backend) else migrations
    if dry_run:
        report.applied = todo
        return report
    backend.execute(BOOKKEEPING_DDL)
    for m in todo:
        log.info("applying migration %04d_%s", m.version, m.name)
        for st in m.statements:
            if st.requires and not backend.has(st.requires):
                report.skipped_statements += 1
                log.info("  skipped (engine lacks %s)", st.requires)
                continue
            if st.unless_column and _column_exists(backend, st.unless_column):
                log.info("  skipped (%s exists)", st.unless_column)
                continue
            backend.execute(st.sql)
        backend.insert(
            "schema_migrations",
            ("version", "name", "checksum", "applied_at"),
            [(m.version, m.name, m.checksum, int(time.time()))],
        )
        report.applied.append(m)
    report.current_version = max(applied_versions(backend), default=0)
    return report


def _column_exists(backend: Backend, name: str) -> bool:
    table, column = name.split(".")
    rows = backend.query(
        "SELECT count() FROM system.columns WHERE database = %(db)s AND table = %(t)s"
        " AND name = %(c)s",
        {"db": backend.database, "t": table, "c": column},
    ).rows
    return bool(rows[0][0])


def _db_exists(backend: Backend) -> bool:
    rows = backend.query(
        "SELECT count() FROM system.databases WHERE name = %(db)s", {"db": backend.database}
    ).rows
    return bool(rows[0][0])


def current_version(backend: Backend) -> int:
    return max(applied_versions(backend), default=0) if _db_exists(backend) else 0
