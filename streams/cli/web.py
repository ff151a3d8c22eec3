"""``supervise web``: the inspectors' pages (``streams.web``), served on HOST:PORT.

Behind an authenticating reverse proxy that sets ``WEB_USER_HEADER`` to the user's id;
the header is trusted only from ``WEB_TRUSTED_PROXIES`` (see README § supervise web).
"""

from __future__ import annotations

from typing import Annotated

import typer

from streams.cli import app


@app.command("web")
def web(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
) -> None:
    """Serve the inbox, workflow, 督办单, score and bulletin (通报) pages."""
    from aiohttp import web as aioweb

    from streams.cli.act import _config
    from streams.settings import get_settings
    from streams.web.app import WebApp

    config = _config()
    application = WebApp(get_settings(), config).build()
    typer.echo(f"supervise web: http://{host}:{port}/inbox ({len(config.users)} users)")
    aioweb.run_app(application, host=host, port=port, print=None)
