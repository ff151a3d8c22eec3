"""A TCP proxy in front of a Kafka broker that can stop answering fetches (tests only).

Every client connection is relayed to the broker. While ``hold`` is set, a Fetch request
(API key 1) is not forwarded, nor is anything after it on the same connection, until the
hold is lifted: to its consumer the broker has stopped answering fetches, while group
heartbeats, produce requests and commits (other connections) go on. That is a partition
leader that stalls while the rest of the cluster answers. The broker must advertise the
proxy's port (``TansuBroker(advertised_port=...)``) so clients come back through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from tests.fixtures_kafka import free_port

FETCH = 1


class FetchStallProxy:
    def __init__(self, broker_port: int) -> None:
        self.broker_port = broker_port
        self.port = free_port()
        self.hold = threading.Event()
        self.held = 0  # fetch requests held so far
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> FetchStallProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    def stop(self) -> None:
        self.hold.clear()

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            broker_r, broker_w = await asyncio.open_connection("127.0.0.1", self.broker_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(
            self._requests(client_r, broker_w),
            self._responses(broker_r, client_w),
            return_exceptions=True,
        )
        for w in (client_w, broker_w):
            w.close()

    async def _requests(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await src.readexactly(4)
                body = await src.readexactly(int.from_bytes(head, "big"))
                if int.from_bytes(body[:2], "big", signed=True) == FETCH and self.hold.is_set():
                    self.held += 1
                    while self.hold.is_set():
                        await asyncio.sleep(0.05)
                dst.write(head + body)
                await dst.drain()
        finally:
            dst.close()

    async def _responses(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        finally:
            dst.close()
