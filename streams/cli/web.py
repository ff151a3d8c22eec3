"""``supervise web``: the inspectors' pages (``streams.web``), served on HOST:PORT.

Behind an authenticating reverse proxy that sets ``WEB_USER_HEADER`` to the user's id;
the header is trusted only from ``WEB_TRUSTED_PROXIES`` (see README § supervise web).
``--local``: the local demonstration mode (``streams.web.local``: a user picker, the banner
本地演示模式), refused on any but a loopback address; never used by a deployment.
"""

from __future__ import annotations

from typing import Annotated

import typer

from streams.cli import app


@app.command("web")
def web(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Local demonstration mode: pick a user on a page instead of the proxy's "
            "header (loopback addresses only; never in a deployment).",
        ),
    ] = False,
) -> None:
    """Serve the inbox, workflow, 督办单, score and bulletin (通报) pages."""
    from aiohttp import web as aioweb

    from streams.cli.act import _config
    from streams.settings import get_settings
    from streams.storage.scoring_config import record_with_settings
    from streams.web.app import WebApp
    from streams.web.local import is_loopback

    if local and not is_loopback(host):
        typer.echo(f"supervise web: --local serves loopback addresses only, not {host}", err=True)
        raise typer.Exit(2)
    config = _config()
    record_with_settings(get_settings(), config)  # the scores the dashboards show use it
    application = WebApp(get_settings(), config, local=local).build()
    mode = "本地演示模式, " if local else ""
    typer.echo(f"supervise web: http://{host}:{port}/inbox ({mode}{len(config.users)} users)")
    aioweb.run_app(application, host=host, port=port, print=None)
