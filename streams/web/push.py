"""Pushed inbox updates: server-sent events (``GET /inbox/events``) from one shared watcher.

``InboxWatcher`` runs one poll loop for all connected inbox pages: every
``WEB_PUSH_INTERVAL_S`` seconds, and only while at least one page listens, it reads the open
workflows of every department once (``queries.inbox``, up to ``WATCH_LIMIT`` rows). When
they changed (a new workflow, a new version of one: a new card, an action, a deadline
passed) or the local day changed (the working days left), each listener's rows are chosen
from that one read within the listener's own scope and filters (``streams.web.inbox``:
the same choice as the page's), rendered with the page's row template, and sent as an
``inbox`` event (JSON ``{"count": n, "rows": "<tr>…", "pending": "…"}``) when they differ from what that
listener was last sent. So ClickHouse sees one query per interval, whatever the number of
listeners; a listener never receives a row outside its scope. The event also carries the
operations waiting for the listener's own confirmation (two-person steps, held in this
process: ``app.Confirmations``), re-sent when one is added or taken.

The page replaces its table body with the event's rows (a few lines of JavaScript in
``inbox.html``); without JavaScript it falls back to a meta refresh. A read that fails
(ClickHouse unavailable) is logged (once, until a read succeeds) and retried at the
next interval; the listeners keep
their connection (a comment line every ``KEEPALIVE_S`` keeps proxies from closing it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from streams.storage import queries
from streams.web.inbox import InboxFilter, decorate, select
from streams.web.keys import USER, USER_ID

if TYPE_CHECKING:
    from streams.web.app import WebApp

log = logging.getLogger(__name__)
WATCH_LIMIT = 100_000
KEEPALIVE_S = 15.0


@dataclass(eq=False)
class Listener:
    user_id: str
    user: Any
    filters: InboxFilter
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    latest: str | None = None  # the payload to send next
    sent: str | None = None  # the payload last queued
    closed: bool = False


class InboxWatcher:
    def __init__(self, web_app: WebApp, interval_s: float) -> None:
        self.app = web_app
        self.interval_s = interval_s
        self.listeners: set[Listener] = set()
        self.rows: list[dict[str, Any]] | None = None
        self.fingerprint: tuple[Any, ...] | None = None
        self.polls = 0  # reads made (one per interval while anyone listens)
        self.failing = False  # the last read failed (logged once until one succeeds)
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ the loop
    async def start(self, _app: web.Application) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close_listeners(self, _app: web.Application) -> None:
        for listener in list(self.listeners):
            listener.closed = True
            listener.ready.set()

    async def stop(self, _app: web.Application) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            if self.listeners:
                try:
                    await self.poll()
                except Exception as exc:  # noqa: BLE001 -- storage down: try again next time
                    if not self.failing:
                        log.warning("inbox push: read failed (%s); retrying", type(exc).__name__)
                    self.failing = True
                else:
                    if self.failing:
                        log.info("inbox push: reading again")
                    self.failing = False
            await asyncio.sleep(self.interval_s)

    async def poll(self) -> None:
        """One read for every listener; each gets its new rows, if any."""
        app = self.app
        now = app.now_us()
        rows = await app.read(lambda b: queries.inbox(b, now_us=now, limit=WATCH_LIMIT))
        self.polls += 1
        fingerprint = (
            app.config.local.date_of(now),
            tuple((r["workflow_id"], r["version"], r["overdue"]) for r in rows),
            tuple(sorted(app.confirmations.items)),  # two-person steps waiting here
        )
        if fingerprint != self.fingerprint:
            self.rows, self.fingerprint = decorate(rows, now, app.config), fingerprint
            for listener in self.listeners:
                self.offer(listener)

    def offer(self, listener: Listener) -> None:
        if self.rows is None:
            return
        app = self.app
        chosen = select(self.rows, listener.user, listener.filters)
        html = app.pages.env.get_template("inbox_rows.html").render(rows=chosen).strip()
        pending = app.pages.env.get_template("inbox_pending.html").render(
            pending=app.confirmations.for_approver(listener.user_id),
            csrf=app.csrf(listener.user_id),
        )
        payload = orjson.dumps(
            {"count": len(chosen), "rows": html, "pending": pending.strip()}
        ).decode()
        if payload != listener.sent:
            listener.sent = listener.latest = payload
            listener.ready.set()

    # ------------------------------------------------------------------ the stream
    async def events(self, request: web.Request) -> web.StreamResponse:
        """``GET /inbox/events?<the page's filters>``: the user's inbox rows as they change."""
        listener = Listener(request[USER_ID], request[USER], InboxFilter.parse(request.query))
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
            }
        )
        await response.prepare(request)
        await response.write(b"retry: 5000\n\n")
        self.listeners.add(listener)
        try:
            while not listener.closed:
                try:
                    await asyncio.wait_for(listener.ready.wait(), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                listener.ready.clear()
                payload, listener.latest = listener.latest, None
                if payload is not None and not listener.closed:
                    await response.write(f"event: inbox\ndata: {payload}\n\n".encode())
        except (ConnectionResetError, ConnectionError):
            pass  # the page went away
        finally:
            self.listeners.discard(listener)
        return response
