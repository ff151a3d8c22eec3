"""Identity and form checks of ``supervise web`` without a browser or services: the proxy
header counts only from trusted addresses; a form without this user's CSRF token is
refused before anything is read or sent."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.engine import load_config
from streams.settings import Settings
from streams.web.app import WebApp
from tests.live.flow import SCENARIO


class NoBackend:
    """Fails the test if a page reads storage."""

    def __call__(self) -> Any:
        raise AssertionError("storage read")


def _app(tmp_path: Path, trusted: str, sent: list[Any]) -> WebApp:
    config = load_config(SCENARIO.config_file(tmp_path))
    settings = Settings(web_trusted_proxies=trusted)  # type: ignore[call-arg]
    return WebApp(settings, config, backend=NoBackend(), send=lambda *a: sent.append(a))


async def _get(app: WebApp, method: str, path: str, **kw: Any) -> tuple[int, str]:
    async with TestClient(TestServer(app.build())) as client:
        response = await client.request(method, path, allow_redirects=False, **kw)
        return response.status, await response.text()


@pytest.mark.parametrize(
    ("trusted", "header", "status"),
    [
        ("10.0.0.1", "I-01", 401),  # the header from an untrusted address counts for nothing
        ("127.0.0.1", "", 401),  # no header
        ("127.0.0.1", "NOBODY", 401),  # not in the users file
        ("127.0.0.1", "I-01", 302),  # known: / goes to the inbox
    ],
)
def test_identity_from_a_trusted_proxy_header(
    tmp_path: Path, trusted: str, header: str, status: int
) -> None:
    app = _app(tmp_path, trusted, [])
    headers = {"X-Remote-User": header} if header else {}
    got, text = asyncio.run(_get(app, "GET", "/", headers=headers))
    assert got == status
    if status == 401:
        assert "未能识别您的身份" in text


def test_a_post_without_the_users_csrf_token_is_refused(tmp_path: Path) -> None:
    sent: list[Any] = []
    app = _app(tmp_path, "127.0.0.1", sent)
    wid = "b" * 32
    form = {"type": "claim", "expected_version": "1", "action_id": "web-x"}
    for token in ("", app.csrf("I-02")):  # none, or another user's
        got, text = asyncio.run(
            _get(app, "POST", f"/workflow/{wid}/act", headers={"X-Remote-User": "I-01"},
                 data={**form, "csrf": token})
        )  # fmt: skip
        assert got == 403 and "安全校验未通过" in text
    assert sent == []
