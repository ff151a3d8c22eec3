"""``supervise web``: the inspectors' pages (aiohttp, server-rendered Jinja2 templates).

Identity comes from the deployment: an authenticating reverse proxy sets
``WEB_USER_HEADER`` (default ``X-Remote-User``) to a user id of the users file
(``[workflow] users_file``); the header counts only on requests from
``WEB_TRUSTED_PROXIES``. No passwords are stored. Every read is scoped on the server
(a user sees only the workflows of departments it covers); every refusal, of a page or
of an action, is logged (``web refusal``) and shown in Chinese.

The pages read ClickHouse and act only by publishing an action to ``supervision.actions``
and waiting for its result (``streams.actions_client``): the worker decides and stores;
the web never writes workflow state (the only rows it writes are bulletins,
``streams.web.bulletins``). Two-person steps (red dismissals and closures,
reopening, a department's extension) wait in this process for the named approver's
confirmation in the approver's own session (``Confirmations``), then go as one action
naming both.

Forms carry a CSRF token (an HMAC of the user id under a key made at start) and the
action id made when the page was rendered.

The inbox page listens to ``/inbox/events`` (server-sent events from one shared watcher,
``streams.web.push``). ``local=True`` (``supervise web --local``, loopback only) is the
local demonstration mode of ``streams.web.local``: a user picker instead of the proxy.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from streams.actions_client import send_action
from streams.storage.backends import Backend, open_backend
from streams.web.bulletin_pages import BulletinPages
from streams.web.forms import FormError, action_document
from streams.web.keys import USER, USER_ID
from streams.web.local import PICKER, LocalMode
from streams.web.names import FILTERS
from streams.web.pages import Pages
from streams.web.push import InboxWatcher
from streams.web.views import actor_dept, offered, workflow_state

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Pending:
    """A two-person step waiting for its approver's confirmation."""

    pending_id: str
    document: dict[str, Any]
    approver: str
    rule: str
    dept: str


@dataclass
class Confirmations:
    items: dict[str, Pending] = field(default_factory=dict)

    def for_approver(self, user_id: str) -> list[Pending]:
        return [p for p in self.items.values() if p.approver == user_id]


class WebApp:
    def __init__(
        self,
        settings: Any,
        config: Any,
        *,
        backend: Callable[[], Backend] | None = None,
        send: Callable[[Any, dict[str, Any], float], dict[str, Any] | None] = send_action,
        clock: Callable[[], float] = time.time,
        local: bool = False,
    ) -> None:
        self.settings = settings
        self.config = config
        self.open_backend = backend or functools.partial(open_backend, settings)
        self.send = send
        self.clock = clock
        self.trusted = {a.strip() for a in settings.web_trusted_proxies.split(",") if a.strip()}
        self.key = os.urandom(32)
        self.confirmations = Confirmations()
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
        )
        for name, table in FILTERS.items():
            env.filters[name] = functools.partial(lambda t, code: t.get(code, code), table)
        self.pages = Pages(self, env)
        self.watcher = InboxWatcher(self, settings.web_push_interval_s)
        self.local = LocalMode(self) if local else None

    # ------------------------------------------------------------------ plumbing
    def now_us(self) -> int:
        return int(self.clock() * 1_000_000)

    def csrf(self, user_id: str) -> str:
        return hmac.new(self.key, user_id.encode(), hashlib.sha256).hexdigest()

    async def read(self, fn: Callable[[Backend], Any]) -> Any:
        def run() -> Any:
            backend = self.open_backend()
            try:
                return fn(backend)
            finally:
                backend.close()

        return await asyncio.get_running_loop().run_in_executor(None, run)

    async def act(self, document: dict[str, Any]) -> dict[str, Any] | None:
        # the worker applies an action once every partition is past its acted_at
        settings = self.settings
        timeout = settings.upstream_delay.total_seconds() + settings.web_action_timeout_s
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.send, self.settings, document, timeout)

    def refuse(self, request: web.Request, reason: str, status: int = 403) -> web.Response:
        log.warning(
            "web refusal: user=%s %s %s: %s",
            request.get(USER_ID, "-"),
            request.method,
            request.path,
            reason,
        )
        return self.pages.render(request, "refused.html", {"reason": reason}, status=status)

    @web.middleware
    async def identify(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        user_id = ""
        if self.local is not None:
            found = self.local.user_id(request)
            if not isinstance(found, str):
                return found
            user_id = found
        elif request.remote in self.trusted:
            user_id = request.headers.get(self.settings.web_user_header, "").strip()
        user = self.config.users.get(user_id) if user_id else None
        if user is None and self.local is not None and request.path == PICKER:
            request[USER_ID], request[USER] = "-", None  # picking who one is: no identity yet
            return await handler(request)
        if user is None:
            request[USER_ID] = user_id or "-"
            request[USER] = None
            return self.refuse(request, "未能识别您的身份：请经单位统一认证入口访问", 401)
        request[USER_ID], request[USER] = user_id, user
        if request.method == "POST":
            form = await request.post()
            if not hmac.compare_digest(str(form.get("csrf", "")), self.csrf(user_id)):
                return self.refuse(request, "表单已失效（安全校验未通过），请刷新页面后重试")
        return await handler(request)

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self.identify])
        p, b = self.pages, BulletinPages(self)
        app.on_startup.append(self.watcher.start)
        app.on_shutdown.append(self.watcher.close_listeners)
        app.on_cleanup.append(self.watcher.stop)
        if self.local is not None:
            app.add_routes(self.local.routes())
        app.add_routes(
            [
                web.get("/", self.home),
                web.get("/inbox", p.inbox),
                web.get("/inbox/events", self.watcher.events),
                web.get("/workflow/{wid}", p.workflow),
                web.get("/workflow/{wid}/notice", p.notice),
                web.post("/workflow/{wid}/act", self.post_action),
                web.post("/confirm/{pid}", self.post_confirm),
                web.get("/scores", p.scores),
                web.get("/alert/{alert_id}", p.alert),
                web.get("/bulletins", b.listing),
                web.post("/bulletins/draft", b.draft),
                web.get("/bulletins/{bid}", b.show),
                web.get("/bulletins/{bid}/pdf", b.export),
                web.post("/bulletins/{bid}/approve", b.approve),
            ]
        )
        return app

    async def home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/inbox")

    # ------------------------------------------------------------------ actions
    async def post_action(self, request: web.Request) -> web.StreamResponse:
        wid = request.match_info["wid"]
        found = await self.pages.scoped_workflow(request, wid)
        if isinstance(found, web.Response):
            return found
        form = await request.post()
        user_id, user = request[USER_ID], request[USER]

        actor = {
            "user_id": user_id,
            "role": user.role,
            "dept": actor_dept(user, self.config.workflow.office_dept),
        }
        try:
            document = action_document(
                form,
                workflow_id=wid,
                case_id=found["case_id"],
                actor=actor,
                acted_at=self.config.local.format(self.now_us()),
            )
        except FormError as exc:
            return await self.pages.workflow(request, message=str(exc), status=400)
        wf = workflow_state(found["document"])
        approvers = offered(user_id, self.config, wf, self.now_us()).get(document["type"])
        if approvers is not None:  # a two-person step: the named approver confirms first
            approver = str(form.get("approver", ""))
            if approver not in approvers:
                return await self.pages.workflow(
                    request, message="此操作须由另一位有权限的人员确认：请选择确认人", status=400
                )
            pid = document["action_id"]
            self.confirmations.items[pid] = Pending(
                pid, document, approver, found["rule"], found["dept"]
            )
            raise web.HTTPSeeOther(f"/workflow/{wid}?sent=pending")
        return await self._send(request, wid, document)

    async def _send(
        self, request: web.Request, wid: str, document: dict[str, Any]
    ) -> web.StreamResponse:
        result = await self.act(document)
        if result is None:
            reason = "timeout"
        elif result["status"] == "accepted":
            raise web.HTTPSeeOther(f"/workflow/{wid}?done={document['type']}")
        else:
            reason = str(result["reason"])
        log.warning(
            "web refusal: user=%s action %s: %s", request[USER_ID], document["type"], reason
        )
        return await self.pages.workflow(request, refusal=reason, status=409)

    async def post_confirm(self, request: web.Request) -> web.StreamResponse:
        pending = self.confirmations.items.get(request.match_info["pid"])
        if pending is None or pending.approver != request[USER_ID]:
            return self.refuse(request, "没有待您确认的此项操作")
        form = await request.post()
        del self.confirmations.items[pending.pending_id]
        if form.get("decision") != "confirm":
            raise web.HTTPSeeOther("/inbox")
        # the step is taken when the second person confirms it
        document = dict(
            pending.document,
            approver=pending.approver,
            acted_at=self.config.local.format(self.now_us()),
        )
        wid = str(document["workflow_id"])
        request.match_info["wid"] = wid
        return await self._send(request, wid, document)
