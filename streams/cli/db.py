"""``supervise db``: ClickHouse schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from streams.cli import app
from streams.storage.backends import open_backend
from streams.storage.errors import StorageError
from streams.storage.migrations import current_version, load_migrations, migrate

db_app = typer.Typer(help="ClickHouse schema (migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"supervise db: {message}", err=True)
    return typer.Exit(code=2)


@db_app.command("migrate")
def migrate_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be applied.")
    ] = False,
) -> None:
    """Apply the missing migrations of schemas/clickhouse/ (safe to run twice)."""
    try:
        backend = open_backend()
        try:
            report = migrate(backend, dry_run=dry_run)
        finally:
            backend.close()
    except StorageError as exc:
        raise _fail(str(exc)) from None
    verb = "would apply" if dry_run else "applied"
    for m in report.applied:
        typer.echo(f"{verb} {m.version:04d}_{m.name}")
    if report.skipped_statements:
        typer.echo(f"skipped {report.skipped_statements} optional statement(s) this engine lacks")
    if not dry_run:
        typer.echo(f"{backend.describe()}: schema version {report.current_version}")
        _record_scoring()


def _record_scoring() -> None:
    """Store the configuration's [scoring] as the active one (scores in ClickHouse)."""
    from streams.engine import load_config
    from streams.engine.config import ConfigError
    from streams.settings import get_settings
    from streams.storage.scoring_config import record_with_settings

    settings = get_settings()
    try:
        config = load_config(settings.supervision_config)
    except ConfigError as exc:
        typer.echo(f"supervise db: scoring not recorded: {exc}", err=True)
        return
    if record_with_settings(settings, config):
        typer.echo(f"recorded the [scoring] of configuration {config.version}")


@db_app.command("status")
def status_command() -> None:
    """Print the engine, database and schema version (applied / in code)."""
    try:
        backend = open_backend()
        try:
            applied = current_version(backend)
        finally:
            backend.close()
    except StorageError as exc:
        raise _fail(str(exc)) from None
    newest = max((m.version for m in load_migrations()), default=0)
    typer.echo(f"{backend.describe()}: schema version {applied} (code has {newest})")
    if applied < newest:
        typer.echo("run `supervise db migrate` to apply the missing migrations")
