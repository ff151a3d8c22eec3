"""The ``supervise`` command line.

Each sub-command lives in its own module and registers itself on ``app``;
this module only assembles them.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="supervise",
    help="Electronic supervision stream processor (电子监察系统).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Electronic supervision stream processor (电子监察系统)."""


# Sub-command modules register themselves on import.
from streams.cli import act as _act  # noqa: E402,F401
from streams.cli import bulletin as _bulletin  # noqa: E402,F401
from streams.cli import db as _db  # noqa: E402,F401
from streams.cli import deadletter as _deadletter  # noqa: E402,F401
from streams.cli import diff as _diff  # noqa: E402,F401
from streams.cli import generate as _generate  # noqa: E402,F401
from streams.cli import query as _query  # noqa: E402,F401
from streams.cli import replay as _replay  # noqa: E402,F401
from streams.cli import web as _web  # noqa: E402,F401
from streams.cli import worker as _worker  # noqa: E402,F401


def main() -> None:
    app()
