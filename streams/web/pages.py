"""The page handlers of ``supervise web`` (see ``streams.web.app``): inbox, workflow,
printable 督办单 and scores, each read from ClickHouse within the user's scope."""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Any

import jinja2
from aiohttp import web

from streams.engine.calendar import CalendarYearMissing
from streams.storage import queries
from streams.web import reads
from streams.web.inbox import LEVELS, InboxFilter, decorate, scope, select
from streams.web.keys import USER, USER_ID
from streams.web.views import days_left, deadline_text, local_text, offered, workflow_state
from streams.workflow.clocks import TIMER_RULES
from streams.workflow.model import CONCLUSIONS, DISMISS_REASONS, STATES

if TYPE_CHECKING:
    from streams.web.app import WebApp

_WORKFLOW_ID = re.compile(r"^[0-9a-f]{32}$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
REFRESH_S = 30  # the inbox's meta refresh without JavaScript (with it: pushed updates)


class Pages:
    def __init__(self, web_app: WebApp, env: jinja2.Environment) -> None:
        self.app = web_app
        self.env = env

    def render(
        self, request: web.Request, template: str, data: dict[str, Any], status: int = 200
    ) -> web.Response:
        user_id = request.get(USER_ID, "-")
        user = request.get(USER)
        body = self.env.get_template(template).render(
            user_id=user_id,
            user=user,
            csrf=self.app.csrf(user_id) if user is not None else "",
            local_mode=self.app.local is not None,
            **data,
        )
        return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")

    # ------------------------------------------------------------------ inbox
    async def inbox(self, request: web.Request) -> web.Response:
        app, user = self.app, request[USER]
        filters = InboxFilter.parse(request.query)
        departments, states = scope(user, filters)
        now = app.now_us()

        def read(backend: Any) -> list[dict[str, Any]]:
            return queries.inbox(
                backend,
                now_us=now,
                departments=departments,
                states=states,
                overdue_only=filters.overdue,
            )

        rows = select(await app.read(read), user, filters)
        data = {
            "rows": decorate(rows, now, app.config),
            "pending": app.confirmations.for_approver(request[USER_ID]),
            "filters": filters,
            "states": STATES,
            "levels": LEVELS,
            "refresh_s": REFRESH_S,
        }
        return self.render(request, "inbox.html", data)

    # ------------------------------------------------------------------ workflow
    async def scoped_workflow(
        self, request: web.Request, wid: str
    ) -> dict[str, Any] | web.Response:
        """The stored workflow with its alerts, timeline and actions; a refusal page when
        it does not exist or lies outside the user's scope."""
        if not _WORKFLOW_ID.match(wid):
            return self.app.refuse(request, "督办件编号无效", 404)
        found = await self.app.read(lambda b: queries.workflow(b, wid))
        if found is None:
            return self.app.refuse(request, "督办件不存在（或尚未入库）", 404)
        if not request[USER].covers(found["dept"]):
            return self.app.refuse(request, "超出您的职责范围：该督办件不属于您负责的部门")
        return dict(found)

    async def workflow(
        self,
        request: web.Request,
        *,
        message: str = "",
        refusal: str = "",
        status: int = 200,
    ) -> web.Response:
        app = self.app
        wid = request.match_info["wid"]
        found = await self.scoped_workflow(request, wid)
        if isinstance(found, web.Response):
            return found
        now = app.now_us()
        wf = workflow_state(found["document"])
        kinds = offered(request[USER_ID], app.config, wf, now)
        deadlines = [
            {
                "name": name,
                "rule": TIMER_RULES[name][0] if name in TIMER_RULES else "",
                "level": TIMER_RULES[name][1] if name in TIMER_RULES else "",
                "due_text": deadline_text(timer.at, app.config) if timer.at else "待日历数据",
                "days_left": days_left(timer.at, now, app.config),
            }
            for name, timer in sorted(wf.timers.items(), key=lambda kv: kv[1].at or 0)
        ]
        for action in found["actions"]:
            action["acted_text"] = local_text(action["acted_at_us"], app.config)
        for event in found["timeline"]:
            event["at_text"] = local_text(event.get("occurred_at_us"), app.config)
        for alert in found["alerts"]:
            alert["raised_text"] = local_text(alert["raised_at_us"], app.config)
        data = {
            "wf": wf,
            "found": found,
            "kinds": kinds,
            "deadlines": deadlines,
            "dismiss_reasons": sorted(DISMISS_REASONS),
            "conclusions": sorted(CONCLUSIONS),
            "message": message,
            "refusal": refusal,
            "done": request.query.get("done", ""),
            "sent": request.query.get("sent", ""),
            "new_action_id": new_id(),
            "updated_text": local_text(wf.updated_at, app.config),
        }
        return self.render(request, "workflow.html", data, status=status)

    async def notice(self, request: web.Request) -> web.Response:
        """The printable 督办单 of a dispatched (approved) workflow: one A4 page."""
        app = self.app
        found = await self.scoped_workflow(request, request.match_info["wid"])
        if isinstance(found, web.Response):
            return found
        wf = workflow_state(found["document"])
        if wf.approved_at is None:
            return app.refuse(request, "督办单尚未审批签发，无法打印", 409)
        wd = wf.draft.get("due_working_days")
        try:  # as dispatched: the reply deadline from the approval day (workflow.md)
            reply = app.config.calendar.wd_after(app.config.local.date_of(wf.approved_at), wd)
        except (CalendarYearMissing, TypeError, ValueError):
            reply = None
        data = {
            "wf": wf,
            "found": found,
            "approved_text": local_text(wf.approved_at, app.config),
            "reply_due": date.fromordinal(reply).isoformat() + " 24:00" if reply else "",
            "names": {uid: u.name for uid, u in app.config.users.items()},
        }
        return self.render(request, "notice.html", data)

    async def alert(self, request: web.Request) -> web.StreamResponse:
        """From an alert (Grafana's alert board links here) to its workflow's page."""
        alert_id = request.match_info["alert_id"]
        if not _WORKFLOW_ID.match(alert_id):
            return self.app.refuse(request, "告警编号无效", 404)
        wid = await self.app.read(lambda b: reads.workflow_of_alert(b, alert_id))
        if wid is None:
            return self.app.refuse(request, "该告警尚无督办件（或尚未入库）", 404)
        raise web.HTTPFound(f"/workflow/{wid}")

    # ------------------------------------------------------------------ scores
    async def scores(self, request: web.Request) -> web.Response:
        app = self.app
        month = request.query.get("month", "")
        if not _MONTH.match(month):
            day = app.config.local.date_of(app.now_us())
            from streams.engine.timeutil import format_month, month_index

            month = format_month(month_index(day))
        rows = await app.read(lambda b: reads.month_scores(b, app.config, month))
        user = request[USER]
        rows = [r for r in rows if user.covers(r.dept)]
        return self.render(
            request, "scores.html", {"month": month, "rows": rows, "scoring": app.config.scoring}
        )


def new_id() -> str:
    import uuid

    return f"web-{uuid.uuid4().hex}"
