"""The local demonstration mode of ``supervise web`` (``--local``; what ``make run`` starts).

No authenticating proxy stands in front of a developer's machine, so in this mode the
identity is picked on a page (``/local``: every user of the users file with name, role and
departments) and kept in a cookie; every page carries the banner 本地演示模式. The mode is
a command-line switch only (no setting or environment variable turns it on, so a deployment
cannot inherit it), the command refuses it on any address but a loopback one, and the
server answers only requests from loopback addresses while in it. The proxy header is not
read in this mode. Scope, CSRF and every other check stay as in a deployment.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from aiohttp import web

from streams.web.keys import USER, USER_ID

if TYPE_CHECKING:
    from streams.web.app import WebApp

COOKIE = "supervision_local_user"
PICKER = "/local"


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (an address, or ``localhost``) is a loopback address."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LocalMode:
    def __init__(self, web_app: WebApp) -> None:
        self.app = web_app

    def routes(self) -> list[web.RouteDef]:
        return [web.get(PICKER, self.picker), web.post(PICKER, self.choose)]

    def user_id(self, request: web.Request) -> str | web.StreamResponse:
        """The picked user's id; a refusal off loopback; the picker when none is picked."""
        if not is_loopback(request.remote):
            request[USER_ID], request[USER] = "-", None
            return self.app.refuse(request, "本地演示模式只接受本机访问", 403)
        user_id = request.cookies.get(COOKIE, "")
        if user_id in self.app.config.users or request.path == PICKER:
            return user_id
        raise web.HTTPFound(PICKER)

    async def picker(self, request: web.Request) -> web.Response:
        users = [
            {"user_id": uid, "name": u.name, "role": u.role, "departments": sorted(u.departments)}
            for uid, u in sorted(self.app.config.users.items())
        ]
        return self.app.pages.render(request, "local.html", {"users": users})

    async def choose(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        user_id = str(form.get("user", ""))
        if user_id not in self.app.config.users:
            return self.app.refuse(request, "用户不在用户名册中", 400)
        response = web.HTTPSeeOther("/inbox")
        response.set_cookie(COOKIE, user_id, httponly=True, samesite="Strict")
        raise response
