"""``supervise act`` and ``supervise inbox``: the 督办 workflow from the command line.

``supervise act TYPE WORKFLOW_ID --as USER [...]`` publishes one action to
``supervision.actions`` (keyed by its ``case_id``) and waits for its result on
``supervision.action-results`` (keyed by ``action_id``): it prints the new state and
deadlines (exit 0) or the refusal's reason (exit 1; 2: no answer in time, or bad
input). The actor's role and department come from the users file of the
configuration (``[workflow] users_file``); the workflow's case and current version
from ClickHouse unless given (``--case``, ``--version``).

``supervise inbox [--as USER] [--state S] [--overdue]`` lists from ClickHouse the open
workflows a user must act on (``queries.DUTIES`` within the user's departments),
overdue first.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

import typer

from streams.cli import app
from streams.cli.query import Format, FormatOption, _emit
from streams.engine.timeutil import InstantError, LocalTime, parse_instant
from streams.workflow.model import ACTION_TYPES, STATE_NAMES, STATES

TIMEOUT_S = 30.0


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"supervise: {message}", err=True)
    return typer.Exit(code=code)


def _config() -> Any:
    from streams.engine import load_config
    from streams.engine.config import ConfigError
    from streams.settings import get_settings

    try:
        return load_config(get_settings().supervision_config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _user(config: Any, user_id: str) -> Any:
    user = config.users.get(user_id)
    if user is None:
        raise _fail(f"{user_id} is not in the users file ([workflow] users_file)")
    return user


def _current(workflow_id: str) -> tuple[str, int]:
    """(case_id, version) of the workflow's current version in ClickHouse."""
    from streams.settings import get_settings
    from streams.storage import queries
    from streams.storage.backends import open_backend
    from streams.storage.errors import StorageError

    try:
        backend = open_backend(get_settings())
        try:
            rows = backend.query(queries.WORKFLOW_SQL, {"workflow_id": workflow_id}).dicts()
        finally:
            backend.close()
    except StorageError as exc:
        raise _fail(
            f"cannot read the workflow from ClickHouse ({exc}); give --case and --version"
        ) from None
    if not rows:
        raise _fail(f"no workflow {workflow_id} in ClickHouse (not stored yet?)")
    return rows[0]["case_id"], int(rows[0]["version"])


def _await_result(settings: Any, document: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    from streams.actions_client import send_action

    result = send_action(settings, document, timeout_s)
    if result is None:
        raise _fail(
            f"no result for {document['action_id']} in {timeout_s:.0f}s (is a worker running?)"
        )
    return result


def _instant(text: str | None) -> int:
    if not text:
        return int(time.time() * 1_000_000)
    try:
        return parse_instant(text)
    except InstantError as exc:
        raise _fail(f"--at: {exc}") from None


@app.command("act")
def act(
    kind: Annotated[
        str,
        typer.Argument(
            metavar="TYPE",
            help="claim, dismiss, draft, approve, "
            "reject-draft, receive, reply, accept-plan, return, extend, close, reopen, comment",
        ),
    ],  # fmt: skip
    workflow_id: Annotated[str, typer.Argument(help="The workflow (32 hex digits).")],
    user_id: Annotated[str, typer.Option("--as", help="Who acts (a user of the users file).")],
    text: Annotated[str, typer.Option("--text", help="Opinion, reason, reply or comment.")] = "",
    reason: Annotated[str, typer.Option("--reason", help="reason_code (dismiss).")] = "",
    conclusion: Annotated[str, typer.Option(help="close: confirmed_rectified, ...")] = "",
    approver: Annotated[str, typer.Option(help="The second person (user id).")] = "",
    due_days: Annotated[
        int | None, typer.Option("--due-days", help="draft/return/extend: working days.")
    ] = None,
    plan_date: Annotated[str, typer.Option(help="accept-plan: YYYY-MM-DD.")] = "",
    measure: Annotated[list[str] | None, typer.Option(help="draft: a measure (repeat).")] = None,
    dept: Annotated[
        str, typer.Option(help="The actor's department (default: from the users file).")
    ] = "",  # fmt: skip
    case_id: Annotated[
        str, typer.Option("--case", help="The workflow's case (default: stored).")
    ] = "",  # fmt: skip
    version: Annotated[
        int | None, typer.Option(help="The version acted on (default: stored).")
    ] = None,  # fmt: skip
    at: Annotated[str, typer.Option("--at", help="acted_at, RFC 3339 (default: now).")] = "",
    action_id: Annotated[str, typer.Option(help="The idempotency key (default: new).")] = "",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the result.")] = TIMEOUT_S,
) -> None:
    """Publish one workflow action and wait for its result."""
    from streams.settings import get_settings

    kind = kind.replace("-", "_")
    if kind not in ACTION_TYPES:
        raise _fail(f"unknown action type {kind!r}: one of {', '.join(ACTION_TYPES)}")
    config = _config()
    user = _user(config, user_id)
    if not case_id or version is None:
        stored_case, stored_version = _current(workflow_id)
        case_id = case_id or stored_case
        version = stored_version if version is None else version
    local: LocalTime = config.local
    if not dept:
        dept = (
            sorted(user.departments)[0]
            if user.role == "department" and user.departments
            else config.workflow.office_dept
        )
    document: dict[str, Any] = {
        "action_id": action_id or f"cli-{uuid.uuid4().hex}",
        "workflow_id": workflow_id,
        "case_id": case_id,
        "type": kind,
        "actor": {"user_id": user_id, "role": user.role, "dept": dept},
        "acted_at": local.format(_instant(at)),
        "expected_version": version,
    }
    optional = {
        "text": text,
        "reason_code": reason,
        "conclusion": conclusion,
        "approver": approver,
        "plan_date": plan_date,
        "due_working_days": due_days,
        "measures": list(measure or []),
    }
    document.update({k: v for k, v in optional.items() if v not in ("", None, [])})
    from streams.workflow import ActionValidator, InvalidAction

    try:
        ActionValidator().from_document(document)
    except InvalidAction as exc:
        raise _fail(f"not a valid action: {exc}") from None
    settings = get_settings()
    result = _await_result(settings, document, timeout)
    _print_result(result)
    if result["status"] != "accepted":
        raise typer.Exit(code=1)


def _print_result(result: dict[str, Any]) -> None:
    state = result["state"]
    head = f"{result['status']}: {result['type']} {result['workflow_id']}"
    if result["status"] == "accepted":
        typer.echo(f"{head} -> {state} {STATE_NAMES.get(state, '')} (version {result['version']})")
    else:
        typer.echo(f"{head}: {result['reason']}: {result['detail']}")
        if state:
            typer.echo(f"  the workflow is {state} {STATE_NAMES.get(state, '')}, version {result['version']}")  # fmt: skip
    for name, due in sorted(result["due"].items()):
        typer.echo(f"  {name:<16} {due or 'pending: the calendar lacks its year'}")


INBOX_COLUMNS = (
    "overdue", "level", "state", "due_at", "dept", "rule", "process", "case_id", "workflow_id",
    "version", "claimed_by", "fired",
)  # fmt: skip
TABLE_COLUMNS = ("overdue", "level", "state", "due_at", "dept", "rule", "case_id", "workflow_id")


@app.command("inbox")
def inbox(
    user_id: Annotated[str, typer.Option("--as", help="List what this user must act on.")] = "",
    state: Annotated[list[str] | None, typer.Option(help="Only these states (repeat).")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue workflows.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 1000,
    fmt: FormatOption = Format.table,
) -> None:
    """Open workflows a user must act on (all open ones without --as), overdue first."""
    from streams.settings import get_settings
    from streams.storage import queries
    from streams.storage.backends import open_backend
    from streams.storage.errors import StorageError

    for s in state or []:
        if s not in STATES:
            raise _fail(f"unknown state {s!r}: one of {', '.join(STATES)}")
    departments: list[str] | None = None
    states = list(state) if state else None
    if user_id:
        user = _user(_config(), user_id)
        if user.role not in queries.DUTIES:
            raise _fail(f"{user_id} is {user.role}: nothing to act on")
        departments = sorted(user.departments) or None
        states = states or list(queries.DUTIES[user.role])
    local = LocalTime("Asia/Shanghai")
    try:
        backend = open_backend(get_settings())
        try:
            rows = queries.inbox(
                backend,
                now_us=int(time.time() * 1_000_000),
                departments=departments,
                states=states,
                overdue_only=overdue,
                limit=limit,
            )
        finally:
            backend.close()
    except StorageError as exc:
        raise _fail(str(exc)) from None
    for row in rows:
        due = row["due_at_us"]
        row["due_at"] = local.format(due) if due is not None else ""
        row["overdue"] = "OVERDUE" if row["overdue"] else ""
    title = f"{len(rows)} open workflow(s)" + (f" for {user_id}" if user_id else "")
    _emit(rows, TABLE_COLUMNS if fmt is Format.table else INBOX_COLUMNS, fmt, title)
