"""The bulletin pages of ``supervise web`` (``streams.web.bulletins``): a month's
revisions with their author and approver, drafting and approving (office staff), the
printable bulletin (A4): the ranking, the bottom departments and why, and an approved
bulletin's PDF (``bulletin_pdf``, as ``supervise bulletin export`` writes it)."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from streams.engine.timeutil import format_month, month_index
from streams.web import bulletin_pdf, bulletins
from streams.web.keys import USER, USER_ID
from streams.web.views import local_text
from streams.workflow.policy import APPROVER, INSPECTOR

if TYPE_CHECKING:
    from streams.web.app import WebApp

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_ID = re.compile(r"^[0-9a-f]{32}$")


class BulletinPages:
    def __init__(self, web_app: WebApp) -> None:
        self.app = web_app

    def _month(self, text: str) -> str:
        if _MONTH.match(text):
            return text
        return format_month(month_index(self.app.config.local.date_of(self.app.now_us())))

    async def listing(self, request: web.Request) -> web.Response:
        app, user = self.app, request[USER]
        month = self._month(request.query.get("month", ""))
        found = await app.read(lambda b: bulletins.revisions(b, month))
        data = {
            "month": month,
            "revisions": found,
            "texts": {b.bulletin_id: self._times(b) for b in found},
            "may_draft": user.role in (INSPECTOR, APPROVER),
            "may_approve": user.role == APPROVER,
            "refusal": request.query.get("refusal", ""),
        }
        return app.pages.render(request, "bulletins.html", data)

    def _times(self, b: bulletins.Bulletin) -> dict[str, str]:
        config = self.app.config
        return {
            "drafted": local_text(b.drafted_at_us, config),
            "approved": local_text(b.approved_at_us, config),
        }

    async def draft(self, request: web.Request) -> web.StreamResponse:
        app = self.app
        month = self._month(str((await request.post()).get("month", "")))
        now, user_id = app.now_us(), request[USER_ID]
        try:
            bid = await app.read(lambda b: bulletins.draft(b, app.config, month, user_id, now))
        except bulletins.BulletinRefused as exc:
            return app.refuse(request, str(exc))
        raise web.HTTPSeeOther(f"/bulletins/{bid}")

    async def approve(self, request: web.Request) -> web.StreamResponse:
        app = self.app
        bid = request.match_info["bid"]
        now, user_id = app.now_us(), request[USER_ID]
        try:
            await app.read(lambda b: bulletins.approve(b, app.config, bid, user_id, now))
        except bulletins.BulletinRefused as exc:
            return app.refuse(request, str(exc), 409)
        raise web.HTTPSeeOther(f"/bulletins/{bid}")

    async def show(self, request: web.Request) -> web.Response:
        app, user = self.app, request[USER]
        bid = request.match_info["bid"]
        found = await app.read(lambda b: bulletins.bulletin(b, bid)) if _ID.match(bid) else None
        if found is None:
            return app.refuse(request, "通报不存在", 404)
        rows = [r for r in found.scores if user.covers(r["dept"])]
        data: dict[str, Any] = {
            "b": found,
            "rows": rows,
            "bottom": bulletins.bottom(found, rows),
            "rate": bulletin_pdf.rate_text,
            "times": self._times(found),
            "names": {uid: u.name for uid, u in app.config.users.items()},
            "may_approve": user.role == APPROVER
            and not found.approver
            and request[USER_ID] != found.author,
        }
        return app.pages.render(request, "bulletin.html", data)

    async def export(self, request: web.Request) -> web.StreamResponse:
        """The approved bulletin as the PDF ``supervise bulletin export`` writes for this
        user (``bulletin_pdf.render``): the rows within the user's scope."""
        app, user = self.app, request[USER]
        bid = request.match_info["bid"]
        found = await app.read(lambda b: bulletins.bulletin(b, bid)) if _ID.match(bid) else None
        if found is None:
            return app.refuse(request, "通报不存在", 404)
        if not found.approver:
            return app.refuse(request, "该版通报尚未审批，不能导出", 409)
        loop = asyncio.get_running_loop()
        try:
            pdf = await loop.run_in_executor(None, bulletin_pdf.render, found, app.config, user)
        except bulletin_pdf.ExportError as exc:
            return app.refuse(request, str(exc), 500)
        name = f"bulletin-{found.month}-r{found.revision}.pdf"
        return web.Response(
            body=pdf,
            content_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
