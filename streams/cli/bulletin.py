"""``supervise bulletin draft|approve|export --month YYYY-MM --as USER``: the monthly
bulletin (通报, workflow.md § Scoring and bulletins) from the command line, the same
functions as the web pages (``streams.web.bulletins``, ``streams.web.bulletin_pdf``).

``draft`` freezes the month's scores as its next revision (an inspector or an approver);
``approve`` approves the month's latest revision (or ``--revision N``): an approver other
than its author, once; ``export`` writes the latest approved revision (or ``--revision
N``, which must be approved) as an A4 PDF, with the rows of the departments within the
user's scope. A revision not approved is not a bulletin yet: export refuses it.

The user comes from the users file of the configuration (``[workflow] users_file``), as
for ``supervise act``. Exit 0 done; 1 refused (the reason in Chinese on stderr); 2 bad
input or storage unreachable.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from streams.cli import app
from streams.cli.query import Format, _emit

bulletin_app = typer.Typer(
    help="Monthly bulletins (通报): draft, approve, export as PDF.", no_args_is_help=True
)
app.add_typer(bulletin_app, name="bulletin")

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MonthOption = Annotated[str, typer.Option("--month", help="The month, YYYY-MM (local time).")]
UserOption = Annotated[str, typer.Option("--as", help="Who acts (a user of the users file).")]
RevisionOption = Annotated[
    int | None, typer.Option("--revision", help="This revision (default: see the command).")
]


MONTH_COLUMNS = [
    "rank", "dept", "score", "grade", "yellow", "red", "duban", "sup_receipt_reply",
    "sup_rectify", "notice", "on_time_rate", "receipt_rate", "reply_rate", "completed",
    "completed_on_time",
]  # fmt: skip


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"supervise bulletin: {message}", err=True)
    return typer.Exit(code=code)


def _refused(reason: str) -> typer.Exit:
    return _fail(f"拒绝：{reason}", 1)


def _start(month: str, user_id: str) -> tuple[Any, Any]:
    """(configuration, user) once the month and the user are valid."""
    from streams.cli.act import _config, _user

    if not _MONTH.match(month):
        raise _fail(f"--month {month!r}: expected YYYY-MM")
    config = _config()
    return config, _user(config, user_id)


def _with_backend(fn: Any) -> Any:
    from streams.settings import get_settings
    from streams.storage.backends import open_backend
    from streams.storage.errors import StorageError

    try:
        backend = open_backend(get_settings())
        try:
            return fn(backend)
        finally:
            backend.close()
    except StorageError as exc:
        raise _fail(str(exc)) from None


def _pick(found: list[Any], month: str, revision: int | None, approved_only: bool) -> Any:
    if not found:
        raise _refused(f"{month} 尚无通报（请先起草）")
    if revision is not None:
        chosen = next((b for b in found if b.revision == revision), None)
        if chosen is None:
            raise _refused(f"{month} 没有第 {revision} 版通报（共 {len(found)} 版）")
        if approved_only and not chosen.approver:
            raise _refused(f"{month} 第 {revision} 版通报尚未审批，不能导出")
        return chosen
    if not approved_only:
        return found[-1]
    approved = [b for b in found if b.approver]
    if not approved:
        raise _refused(f"{month} 的通报尚未审批（共 {len(found)} 版，均待审批），不能导出")
    return approved[-1]


def _step(month: str, user_id: str, step: Any) -> Any:
    """``step(backend, config, now_us)`` (a draft or an approval) for a valid month and
    user; a refusal exits 1 with its reason."""
    from streams.web import bulletins

    config, _ = _start(month, user_id)
    now = int(time.time() * 1_000_000)
    try:
        return _with_backend(lambda backend: step(backend, config, now))
    except bulletins.BulletinRefused as exc:
        raise _refused(str(exc)) from None


@bulletin_app.command("draft")
def draft_command(month: MonthOption, user_id: UserOption) -> None:
    """Freeze the month's scores as its next revision."""
    from streams.web import bulletins

    def run(backend: Any, config: Any, now: int) -> Any:
        return bulletins.bulletin(backend, bulletins.draft(backend, config, month, user_id, now))

    made = _step(month, user_id, run)
    typer.echo(
        f"drafted {month} revision {made.revision}: bulletin {made.bulletin_id} "
        f"(config {made.config_version}, author {user_id}, {len(made.scores)} departments)"
    )


@bulletin_app.command("approve")
def approve_command(
    month: MonthOption, user_id: UserOption, revision: RevisionOption = None
) -> None:
    """Approve the month's latest revision (or --revision N): an approver, not its author."""
    from streams.web import bulletins

    def run(backend: Any, config: Any, now: int) -> Any:
        chosen = _pick(bulletins.revisions(backend, month), month, revision, False)
        return bulletins.approve(backend, config, chosen.bulletin_id, user_id, now)

    done = _step(month, user_id, run)
    typer.echo(
        f"approved {month} revision {done.revision}: bulletin {done.bulletin_id} "
        f"(author {done.author}, approver {done.approver})"
    )


@bulletin_app.command("export")
def export_command(
    month: MonthOption,
    user_id: UserOption,
    revision: RevisionOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="The PDF file (default: bulletin-YYYY-MM-rN.pdf)."),
    ] = None,
) -> None:
    """Write the latest approved revision (or --revision N, approved) as an A4 PDF."""
    from streams.web import bulletin_pdf, bulletins

    config, user = _start(month, user_id)
    chosen = _with_backend(
        lambda backend: _pick(bulletins.revisions(backend, month), month, revision, True)
    )
    try:
        pdf = bulletin_pdf.render(chosen, config, user)
    except bulletin_pdf.ExportError as exc:
        raise _fail(str(exc)) from None
    path = output or Path(f"bulletin-{month}-r{chosen.revision}.pdf")
    path.write_bytes(pdf)
    typer.echo(
        f"wrote {path}: bulletin {chosen.bulletin_id}, {month} revision {chosen.revision}, "
        f"author {chosen.author}, approver {chosen.approver} ({len(pdf)} bytes)"
    )


def print_month_scores(month: str, fmt: Format) -> None:
    """``supervise query performance --month``: ``report.month_report`` as a table, CSV or
    JSON Lines (the rows a bulletin of the month would freeze, without cards and trend)."""
    from streams.cli.act import _config
    from streams.web.report import month_report

    if not _MONTH.match(month):
        raise _fail(f"--month {month!r}: expected YYYY-MM")
    config = _config()
    rows = _with_backend(lambda backend: month_report(backend, config, month))
    _emit(rows, MONTH_COLUMNS, fmt, f"department scores (绩效测评) {month}")
