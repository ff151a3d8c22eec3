"""Pushed inbox updates and the local demonstration mode of ``supervise web``, without a
browser or services (a stored-rows stand-in counts the reads).

The browser test of the push against the real worker is in test_browser.py
(``test_the_inbox_shows_a_new_red_card_without_reloading``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from typer.testing import CliRunner

from streams.engine import load_config
from streams.settings import Settings
from streams.storage.errors import StorageUnavailable
from streams.web.app import WebApp
from streams.web.local import COOKIE, is_loopback
from tests.live.flow import SCENARIO

INTERVAL_S = 0.05


def _row(n: int, dept: str, state: str, level: str = "red") -> dict[str, Any]:
    return {
        "workflow_id": f"{n:032x}",
        "version": 1,
        "state": state,
        "level": level,
        "rule": "OVERDUE",
        "process": "approval",
        "case_id": f"AP-{n}",
        "dept": dept,
        "created_at_us": n,
        "updated_at_us": n,
        "claimed_by": "",
        "drafter": "",
        "due_at_us": None,
        "overdue": 0,
        "fired": [],
    }


class Stored:
    """The open workflows as ``queries.inbox`` reads them; counts the reads."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.reads = 0
        self.down = False

    def __call__(self) -> Stored:
        return self

    def query(self, sql: str, params: Any = None) -> Any:
        assert "FROM workflows_current" in sql
        assert params["any_dept"] == 1 and params["any_state"] == 1  # one read for everyone
        self.reads += 1
        if self.down:
            raise StorageUnavailable("connection refused")
        rows = [dict(r) for r in self.rows]
        return mock.Mock(dicts=lambda: rows)

    def close(self) -> None:
        pass


def _app(tmp_path: Path, stored: Any, *, local: bool = False) -> WebApp:
    config = load_config(SCENARIO.config_file(tmp_path))
    settings = Settings(web_trusted_proxies="127.0.0.1", web_push_interval_s=INTERVAL_S)  # type: ignore[call-arg]
    return WebApp(settings, config, backend=stored, send=lambda *a: None, local=local)


async def _next_event(response: Any) -> dict[str, Any]:
    """The next ``inbox`` event of a server-sent event stream."""
    event = ""
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 5)).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "inbox":
            found: dict[str, Any] = orjson.loads(line[6:])
            return found


def test_one_read_serves_every_listener_within_its_own_scope(tmp_path: Path) -> None:
    stored = Stored()
    stored.rows = [_row(1, "SCJ", "new")]
    app = _app(tmp_path, stored)

    async def run() -> None:
        async with TestClient(TestServer(app.build())) as client:
            await asyncio.sleep(INTERVAL_S * 4)
            assert stored.reads == 0  # nobody listens: nothing is read
            inspector = await client.get("/inbox/events", headers={"X-Remote-User": "I-01"})
            dept = await client.get("/inbox/events", headers={"X-Remote-User": "DEP-ZJJ"})
            assert inspector.headers["Content-Type"].startswith("text/event-stream")
            first = await _next_event(inspector)
            assert first["count"] == 1 and f"{1:032x}" in first["rows"]
            assert (await _next_event(dept)) == {"count": 0, "rows": "", "pending": ""}
            # a new red card in SCJ and a dispatched workflow of ZJJ arrive
            stored.rows = [
                _row(1, "SCJ", "new"),
                _row(2, "SCJ", "new"),
                _row(3, "ZJJ", "dispatched"),
            ]
            second = await _next_event(inspector)
            assert second["count"] == 2 and f"{2:032x}" in second["rows"]
            assert f"{3:032x}" not in second["rows"]  # not the inspector's department
            theirs = await _next_event(dept)
            assert theirs["count"] == 1 and f"{3:032x}" in theirs["rows"]
            assert "SCJ" not in theirs["rows"] and f"{2:032x}" not in theirs["rows"]
            # one read per interval, whatever the number of listeners
            assert stored.reads == app.watcher.polls
            inspector.close()
            dept.close()
            await asyncio.sleep(INTERVAL_S * 4)
            assert not app.watcher.listeners
            quiet = stored.reads
            await asyncio.sleep(INTERVAL_S * 4)
            assert stored.reads == quiet  # the last page closed: the reads stop

    asyncio.run(run())


def test_a_listener_is_sent_only_what_changed_for_it(tmp_path: Path) -> None:
    stored = Stored()
    stored.rows = [_row(1, "SCJ", "new")]
    app = _app(tmp_path, stored)

    async def run() -> None:
        async with TestClient(TestServer(app.build())) as client:
            dept = await client.get("/inbox/events", headers={"X-Remote-User": "DEP-ZJJ"})
            assert (await _next_event(dept))["count"] == 0
            stored.rows = [_row(1, "SCJ", "new"), _row(2, "SCJ", "new")]  # not ZJJ's
            reads = stored.reads
            while stored.reads < reads + 3:
                await asyncio.sleep(INTERVAL_S)
            stored.rows.append(_row(3, "ZJJ", "received"))
            assert (await _next_event(dept))["count"] == 1  # the SCJ change sent nothing
            dept.close()

    asyncio.run(run())


def test_a_two_person_step_reaches_its_approvers_open_inbox(tmp_path: Path) -> None:
    """Confirmations wait in the web process: the named approver's open inbox is sent the
    confirmation form (with the approver's own CSRF token) as the step is asked and
    nothing once it is taken; another approver is sent none."""
    from streams.web.app import Pending

    stored = Stored()
    stored.rows = [_row(1, "SCJ", "replied")]
    app = _app(tmp_path, stored)
    document = {"type": "close", "actor": {"user_id": "I-01"}, "text": "经核实已整改"}

    async def run() -> None:
        async with TestClient(TestServer(app.build())) as client:
            named = await client.get("/inbox/events", headers={"X-Remote-User": "A-02"})
            other = await client.get("/inbox/events", headers={"X-Remote-User": "A-01"})
            assert (await _next_event(named))["pending"] == ""
            assert (await _next_event(other))["pending"] == ""
            pid = "web-" + "c" * 32
            app.confirmations.items[pid] = Pending(pid, document, "A-02", "OVERDUE", "SCJ")
            asked = (await _next_event(named))["pending"]
            assert f'action="/confirm/{pid}"' in asked and "经核实已整改" in asked
            assert app.csrf("A-02") in asked
            del app.confirmations.items[pid]
            assert (await _next_event(named))["pending"] == ""
            [theirs] = [x for x in app.watcher.listeners if x.user_id == "A-01"]
            assert theirs.sent is not None and "/confirm/" not in theirs.sent
            named.close()
            other.close()

    asyncio.run(run())


def test_a_storage_outage_keeps_the_listeners_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stored = Stored()
    stored.down = True
    app = _app(tmp_path, stored)

    async def run() -> None:
        async with TestClient(TestServer(app.build())) as client:
            page = await client.get("/inbox/events", headers={"X-Remote-User": "I-01"})
            while stored.reads < 5:
                await asyncio.sleep(INTERVAL_S)
            assert app.watcher.listeners  # still connected
            stored.rows, stored.down = [_row(1, "SCJ", "new")], False
            assert (await _next_event(page))["count"] == 1
            page.close()

    with caplog.at_level("INFO", logger="streams.web.push"):
        asyncio.run(run())
    failed = [r for r in caplog.records if "read failed" in r.getMessage()]
    assert len(failed) == 1 and "StorageUnavailable" in failed[0].getMessage()
    assert any("reading again" in r.getMessage() for r in caplog.records)


def test_the_stream_needs_an_identity(tmp_path: Path) -> None:
    app = _app(tmp_path, Stored())

    async def run() -> int:
        async with TestClient(TestServer(app.build())) as client:
            return (await client.get("/inbox/events")).status

    assert asyncio.run(run()) == 401


# ---------------------------------------------------------------------- local mode
def test_loopback_addresses() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "::1", "127.0.0.2", "localhost", "[::1]"]))
    assert not any(map(is_loopback, ["0.0.0.0", "10.0.0.1", "", None, "example.org", "::"]))


def test_local_mode_picks_a_user_and_ignores_the_proxy_header(tmp_path: Path) -> None:
    app = _app(tmp_path, Stored(), local=True)

    async def run() -> None:
        async with TestClient(TestServer(app.build())) as client:
            # no picked user: the picker, whatever header comes
            got = await client.get("/", headers={"X-Remote-User": "I-01"}, allow_redirects=False)
            assert got.status == 302 and got.headers["Location"] == "/local"
            picker = await client.get("/local")
            text = await picker.text()
            assert picker.status == 200 and "本地演示模式" in text
            assert "DEP-SCJ" in text and "赵主任" in text and "<td>部门</td>" in text
            chosen = await client.post("/local", data={"user": "DEP-SCJ"}, allow_redirects=False)
            assert chosen.status == 303 and chosen.cookies[COOKIE].value == "DEP-SCJ"
            home = await client.get("/", allow_redirects=False)
            assert home.status == 302 and home.headers["Location"] == "/inbox"
            # once someone is picked, switching is a form like any other: CSRF checked
            forged = await client.post("/local", data={"user": "A-01"}, allow_redirects=False)
            assert forged.status == 403
            unknown = await client.post(
                "/local", data={"user": "NOBODY", "csrf": app.csrf("DEP-SCJ")}
            )
            assert unknown.status == 400

    asyncio.run(run())


def test_local_mode_refuses_requests_from_elsewhere(tmp_path: Path) -> None:
    app = _app(tmp_path, Stored(), local=True)
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda key, default=None: (
        ("10.1.2.3", 4242) if key == "peername" else default
    )
    request = make_mocked_request(
        "GET", "/inbox", headers={"Cookie": f"{COOKIE}=I-01"}, transport=transport
    )
    assert request.remote == "10.1.2.3"
    refused = app.local.user_id(request)  # type: ignore[union-attr]
    assert getattr(refused, "status", None) == 403


def test_without_local_mode_there_is_no_picker(tmp_path: Path) -> None:
    app = _app(tmp_path, Stored())

    async def run() -> tuple[int, int]:
        async with TestClient(TestServer(app.build())) as client:
            anonymous = await client.get("/local")
            known = await client.get("/local", headers={"X-Remote-User": "I-01"})
            return anonymous.status, known.status

    assert asyncio.run(run()) == (401, 404)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.7", "::"])
def test_the_command_refuses_local_mode_off_loopback(host: str) -> None:
    from streams.cli import app

    result = CliRunner().invoke(app, ["web", "--local", "--host", host])
    assert result.exit_code == 2
    assert "loopback" in result.output
