"""A worker started while ClickHouse is down answers /readyz (not ready: waiting for storage),
/healthz and /metrics during the wait, and becomes ready once the storage comes up."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tests.fixtures_kafka import KafkaNamespace, create_topics, free_port
from tests.live.harness import Worker
from tests.observability.test_worker_scrape import get


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


@contextmanager
def forwarder(listen_port: int, target_port: int) -> Iterator[None]:
    """The storage "comes up": ``listen_port`` forwards to the real server."""
    server = socket.create_server(("127.0.0.1", listen_port), reuse_port=False)
    server.settimeout(0.2)
    stop = threading.Event()
    sockets: list[socket.socket] = [server]

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", target_port))
            sockets.extend((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        for s in sockets:
            s.close()


def _readyz(base: str) -> tuple[int, dict[str, Any]]:
    status, body = get(f"{base}/readyz")
    return status, json.loads(body)


def _until(predicate: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except OSError as exc:  # not serving yet
            last = exc
        else:
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def test_worker_waiting_for_storage_serves_not_ready_then_ready(
    kafka_namespace: KafkaNamespace, clickhouse_server: Any, tmp_path: Path
) -> None:
    ns = kafka_namespace
    create_topics(ns, 1)
    storage_port, metrics_port = free_port(), free_port()
    database = f"wait_{uuid.uuid4().hex[:8]}"
    env = {
        **ns.env(1),
        "CLICKHOUSE_URL": f"clickhouse://127.0.0.1:{storage_port}/{database}",
        "CLICKHOUSE_MAX_WAIT_S": "300",
        "CLICKHOUSE_CONNECT_TIMEOUT_S": "0.5",
        "CLICKHOUSE_RETRY_MAX_S": "0.5",
        "WORKER_DATA_DIR": str(tmp_path / "faust"),
        "METRICS_PORT": str(metrics_port),
    }
    base = f"http://127.0.0.1:{metrics_port}"
    worker = Worker(env, tmp_path / "worker").start()
    try:

        def waiting() -> bool:
            status, body = _readyz(base)
            detail = body["storage"]["detail"]
            return status == 503 and "waiting for storage" in detail and "next try in" in detail

        _until(waiting, 60, "/readyz to name the storage wait")
        status, body = _readyz(base)
        assert body["ready"] is False and body["storage"]["connected"] is False
        assert get(f"{base}/healthz")[0] == 200
        status, text = get(f"{base}/metrics")
        assert status == 200 and "supervision_storage_connected 0.0" in text
        assert worker.alive()

        with forwarder(storage_port, clickhouse_server.port):
            _until(lambda: _readyz(base)[0] == 200, 120, "/readyz to become ready")
            status, body = _readyz(base)
            assert body["storage"]["connected"] is True and body["broker"]["connected"] is True
            assert "waiting for storage" not in body["storage"]["detail"]
            assert worker.alive()
            worker.stop()
    finally:
        worker.stop()
        print(worker.output()[-3000:])
