"""``supervise web`` against a real worker, broker and ClickHouse server, driven by
Playwright in Debian's chromium (``executable_path``: Playwright's own browser download
cannot work here; ``make test`` installs the package through scripts/install-tools.sh).

``web_stack`` (module scope: one worker and one web server for a module's tests): a
private topic namespace and database, the worked scenario 05's events (its red
``OVERDUE`` card on AP-2026-0901, department SCJ) through a worker, and ``supervise web``
on a free loopback port trusting the ``X-Remote-User`` header from 127.0.0.1.
``browser`` (module scope): headless chromium. ``as_user(id)`` opens a page whose requests
carry that user's header, as an authenticating proxy would set it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_kafka import KafkaNamespace, create_topics, free_port, wait_port
from tests.live.flow import SCENARIO, produce_events, scenario_lines, wait_until
from tests.live.harness import ROOT, Store, Worker

PARTITIONS = 2
ARTIFACTS = ROOT / "var" / "web-test-artifacts"
RED_WORKFLOW = SCENARIO.expected_workflows[0]["workflow_id"]
PUSH_INTERVAL_S = 1.0


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError("no chromium: make test installs it (scripts/install-tools.sh)")
    return found


@dataclass
class WebStack:
    base_url: str
    env: dict[str, str]
    store: Store
    tmp: Path
    ns: KafkaNamespace

    def workflow_state(self, wid: str) -> str:
        rows = self.store.query(f"SELECT state FROM workflows_current WHERE workflow_id = '{wid}'")
        return str(rows[0][0]) if rows else ""


@pytest.fixture(scope="module")
def web_stack(
    kafka_bootstrap: str, clickhouse_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebStack]:
    tmp = tmp_path_factory.mktemp("web")
    tag = uuid.uuid4().hex[:8]
    ns = KafkaNamespace(kafka_bootstrap, f"sv.web{tag}", f"live-web{tag}")
    create_topics(ns, PARTITIONS)
    store = Store(url=clickhouse_server.url(f"web_{tag}"))
    env = {
        **ns.env(PARTITIONS),
        **store.env(),
        "WORKER_DATA_DIR": str(tmp / "faust"),
        "SUPERVISION_CONFIG": str(SCENARIO.config_file(tmp)),
    }
    produce_events(ns, scenario_lines("events.jsonl"), PARTITIONS)
    worker = Worker(env, tmp / "worker").start()
    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    web_log = (ARTIFACTS / "web.log").open("wb")
    web = None
    try:
        wait_until(
            lambda: (
                store.query(
                    f"SELECT count() FROM workflows_current WHERE workflow_id = '{RED_WORKFLOW}' "
                    "AND level = 'red'"
                )[0][0]
                == 1
            ),
            180,
            "the red card's workflow stored",
        )
        web = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "web", "--port", str(port)],
            cwd=ROOT,
            env={
                **os.environ,
                **env,
                "WEB_TRUSTED_PROXIES": "127.0.0.1",
                "WEB_PUSH_INTERVAL_S": str(PUSH_INTERVAL_S),
            },
            stdout=web_log,
            stderr=subprocess.STDOUT,
        )
        wait_port(port, 30)
        yield WebStack(f"http://127.0.0.1:{port}", env, store, tmp, ns)
    finally:
        if web is not None:
            web.terminate()
            web.wait(30)
        web_log.close()
        worker.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # --no-sandbox: tests may run as root in containers, where chromium's sandbox refuses
        found = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield found
        finally:
            found.close()


@pytest.fixture
def as_user(browser: Any, web_stack: WebStack) -> Iterator[Callable[[str], Any]]:
    contexts: list[Any] = []

    def open_as(user_id: str) -> Any:
        context = browser.new_context(
            base_url=web_stack.base_url,
            extra_http_headers={"X-Remote-User": user_id},
            locale="zh-CN",
        )
        contexts.append(context)
        return context.new_page()

    yield open_as
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> None:
    """A screenshot of the page as a test artifact (var/web-test-artifacts/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
