"""The Kafka edge: every call into Faust's or aiokafka's internals lives in this module.

The live service takes offsets out of Faust's hands (see ``delivery``): it seeks,
commits and learns start offsets itself, produces batches with the aiokafka
producer, watches table recovery and asks the broker for log ends. ``KafkaPort``
is that surface, typed, over one Faust app; the steps never see the app. The Faust
app class with the worker's consumer patches (``faust_app_class``) is here too.

Nothing here that calls into the consumer's thread (seek, commit, offsets
lookups) may run under the service's lock: Faust's rebalance callback holds that
thread while it waits for ``on_partitions_revoked``, which takes the lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Hashable
from typing import Any, Protocol

from streams.live.topics import bootstrap_list

log = logging.getLogger(__name__)

FETCH_RACE_RETRIES = 20
EARLIEST_TIMEOUT_S = 10.0
GAP_PROBE_TIMEOUT_S = 2.0  # the flush or tick that met the hole waits this long at most
# Records of aborted transactions are never read (nor are those of open ones, until they
# commit): the worker's consumer and its gap probe read committed records only.
ISOLATION_LEVEL = "read_committed"


class TP(Hashable, Protocol):
    """A topic partition as the consumer names it (Faust's ``TP``)."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...


class KafkaPort:
    """The consumer, producer, tables' recovery and broker metadata of one Faust app."""

    def __init__(self, app: Any, *, bootstrap: str, client_id: str) -> None:
        self.app = app
        self.bootstrap = bootstrap
        self.client_id = client_id
        self._log_end_client: Any = None  # aiokafka consumer without a group (log ends)
        self._gap_client: Any = None  # aiokafka consumer without a group (``first_offset_from``)
        self._gap_lock = asyncio.Lock()

    # ------------------------------------------------------------ consumer
    def assignment(self) -> set[TP] | None:
        """The partitions assigned to this worker; None before the consumer started."""
        try:
            assigned: set[TP] = set(self.app.consumer.assignment())
        except Exception:
            return None
        return assigned

    def highwater(self, tp: TP) -> int | None:
        """The high watermark of the consumer's last fetch of ``tp``; None when it has none."""
        try:
            highwater: int | None = self.app.consumer.highwater(tp)
        except Exception:
            return None
        return highwater

    def fetched_at(self, tp: TP) -> float | None:
        """Unix time the broker last answered a fetch of ``tp`` (aiokafka's
        ``last_poll_timestamp``: a fetch response, with or without records); None when none
        has yet. Idle partitions are fetched every ``worker_fetch_max_wait_ms``."""
        try:
            consumer = self.app.consumer._thread._ensure_consumer()  # noqa: SLF001
            stamp: int | None = consumer.last_poll_timestamp(tp)
        except Exception:  # not started, or not assigned (any more)
            return None
        return None if stamp is None else stamp / 1000.0

    async def earliest_offsets(self, tps: set[TP]) -> dict[TP, int]:
        result: dict[TP, int] = await asyncio.wait_for(
            self.app.consumer.earliest_offsets(*tps), EARLIEST_TIMEOUT_S
        )
        return result

    async def seek(self, tp: TP, offset: int) -> None:
        """Faust's own seek (it also resets the read offset below which its drain drops
        messages).

        Known limitation: Faust's ``Consumer.seek`` changes aiokafka's fetcher from this
        thread while the consumer thread iterates it; once, during a rebalance of two
        workers, that raised KeyError in the fetcher and stopped the worker (nothing is
        lost: it restarts from what is stored). Seeking inside the consumer thread
        instead raced with Faust's read offset and left partitions unread, which is worse.
        The consumer thread retries such a fetch (``faust_app_class``).
        """
        await self.app.consumer.seek(tp, offset)

    async def commit(self, offsets: dict[TP, int]) -> None:
        """Commit with the consumer thread directly: Faust's own commit follows acks, which
        the agents never give (faust-streaming #606, see ``delivery``)."""
        await self.app.consumer._thread.commit(offsets)  # noqa: SLF001

    # ------------------------------------------------------------ producer
    def producer(self) -> Any:
        """The aiokafka producer under Faust's (its batch API, see ``publish``)."""
        return self.app.producer._ensure_producer()  # noqa: SLF001

    async def send(self, topic: str, partition: int, value: bytes) -> Awaitable[Any]:
        """Queue one keyless record on ``partition``; returns its delivery future."""
        future: Awaitable[Any] = await self.app.producer.send(
            topic, None, value, partition, None, None
        )
        return future

    async def broker_count(self, timeout: float) -> int:
        """Brokers that answer a metadata request (raises when none does in time)."""
        client = self.producer().client
        cluster = await asyncio.wait_for(client.fetch_all_metadata(), timeout)
        return len(cluster.brokers())

    async def log_ends(self, tps: list[TP], timeout: float) -> dict[TP, int]:
        """Where the broker says ``tps`` end, from a client of its own (no group)."""
        from aiokafka.structs import TopicPartition

        if self._log_end_client is None:
            from aiokafka import AIOKafkaConsumer

            client = AIOKafkaConsumer(
                bootstrap_servers=bootstrap_list(self.bootstrap),
                group_id=None,
                enable_auto_commit=False,
                client_id=f"{self.client_id}-log-ends",
            )
            try:
                await asyncio.wait_for(client.start(), timeout)
            except BaseException:
                await client.stop()
                raise
            self._log_end_client = client
        ends = await asyncio.wait_for(
            self._log_end_client.end_offsets(
                [TopicPartition(tp.topic, tp.partition) for tp in tps]
            ),
            timeout,
        )
        found: dict[TP, int] = {}
        for tp in tps:
            end = ends.get(TopicPartition(tp.topic, tp.partition))
            if end is not None:
                found[tp] = end
        return found

    async def first_offset_from(
        self, tp: TP, offset: int, timeout: float = GAP_PROBE_TIMEOUT_S
    ) -> int | None:
        """The first offset at or after ``offset`` the broker hands a read_committed reader.

        Asked of a client of its own (no group, nothing committed), fetching from
        ``offset``: the offset of the first record it returns, or, when the fetch returned
        only transaction markers or aborted records, the position it moved to past them.
        None when the broker said nothing in ``timeout`` (nothing there yet). Greater than
        ``offset``: the broker confirms there is no record in between (``offsets``).
        """
        from aiokafka.structs import TopicPartition

        async with self._gap_lock:
            client = await self._gap_consumer(timeout)
            part = TopicPartition(tp.topic, tp.partition)
            client.assign([part])
            client.seek(part, offset)
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                fetched = await client.getmany(part, timeout_ms=200, max_records=1)
                records = fetched.get(part) or []
                if records:
                    first: int = records[0].offset
                    return first
                position: int = await client.position(part)
                if position > offset:
                    return position
                if asyncio.get_running_loop().time() >= deadline:
                    return None

    async def read_all(
        self, topic: str, timeout: float = EARLIEST_TIMEOUT_S
    ) -> list[tuple[bytes | None, bytes | None]]:
        """(key, value) of every record of partition 0 of ``topic``, from its start to its
        end now (the operators' decisions, ``breaker``); empty when the topic is missing."""
        from aiokafka.structs import TopicPartition

        async with self._gap_lock:
            client = await self._gap_consumer(timeout)
            partitions = await asyncio.wait_for(client._client.fetch_all_metadata(), timeout)  # noqa: SLF001
            if topic not in partitions.topics():
                return []
            part = TopicPartition(topic, 0)
            client.assign([part])
            start = (await asyncio.wait_for(client.beginning_offsets([part]), timeout))[part]
            end = (await asyncio.wait_for(client.end_offsets([part]), timeout))[part]
            client.seek(part, start)
            records: list[tuple[bytes | None, bytes | None]] = []
            clock = asyncio.get_running_loop().time
            began = clock()
            while True:
                fetched = await client.getmany(part, timeout_ms=200)
                records += [(r.key, r.value) for r in fetched.get(part, ())]
                position = await client.position(part)
                # A fetch's high watermark is exact on every broker; some answer list-offsets
                # requests short (Tansu), so the listed end only serves until a fetch answers.
                highwater = client.highwater(part)
                at_end = position >= (end if highwater is None else max(end, highwater))
                if at_end and (highwater is not None or clock() - began > 1.0):
                    return records
                if clock() - began >= timeout:
                    raise TimeoutError(f"reading {topic} took over {timeout}s")

    async def _gap_consumer(self, timeout: float) -> Any:
        if self._gap_client is None:
            from aiokafka import AIOKafkaConsumer

            client = AIOKafkaConsumer(
                bootstrap_servers=bootstrap_list(self.bootstrap),
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="none",
                isolation_level=ISOLATION_LEVEL,
                client_id=f"{self.client_id}-gaps",
            )
            try:
                await asyncio.wait_for(client.start(), timeout)
            except BaseException:
                await client.stop()
                raise
            self._gap_client = client
        return self._gap_client

    # ------------------------------------------------------------ tables
    def in_recovery(self) -> bool:
        return bool(getattr(self.app, "in_recovery", False))

    def rebalancing(self) -> bool:
        return bool(getattr(self.app, "rebalancing", False))

    def recovery_progress(self) -> tuple[dict[TP, int], dict[TP, int]]:
        """(records still to read, offset read last) per active changelog partition."""
        recovery = self.app.tables.recovery
        return dict(recovery.active_remaining()), dict(recovery.active_offsets)

    def recovery_completed(self) -> bool:
        completed = getattr(self.app.tables.recovery, "completed", None)
        return completed is None or bool(completed.is_set())

    async def close(self, timeout: float) -> None:
        for name in ("_log_end_client", "_gap_client"):
            client = getattr(self, name)
            if client is None:
                continue
            setattr(self, name, None)
            try:
                await asyncio.wait_for(client.stop(), timeout)
            except Exception as exc:
                log.debug("%s: %r", name, exc)


def faust_app_class() -> Any:
    """``faust.App`` whose Kafka consumer waits at most ``fetch_max_wait_ms`` per fetch.

    Faust creates its aiokafka consumer ``read_uncommitted`` unless the app itself
    produces in transactions: the worker's consumer reads committed records only
    (``ISOLATION_LEVEL``), so that an upstream's aborted transactions are never
    evaluated. Faust creates it with ``fetch_max_wait_ms=1500`` and no
    setting to change it. Apache Kafka answers a fetch as soon as one byte is
    there, so the limit only paces idle polling; a broker that holds every fetch
    to its limit (Tansu does) delays each event by up to that long. The consumer
    is created unstarted; aiokafka reads the value when it starts its fetcher.
    """
    import faust
    from faust.transport.drivers import aiokafka as driver

    class ConsumerThread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = getattr(self.app, "fetch_max_wait_ms", 1500)  # noqa: SLF001
            consumer._isolation_level = ISOLATION_LEVEL  # noqa: SLF001
            return consumer

        async def _fetch_records(self, *args: Any, **kwargs: Any) -> Any:
            # Faust seeks from the event loop's thread; aiokafka's fetched_records, iterating
            # its buffered partitions in this thread, then meets one the seek just dropped
            # (KeyError) and Faust's fetcher crashes the worker. Ask again instead: records
            # that call had taken from other partitions are skipped, and the offset gate sees
            # those holes and seeks back to them (see ``delivery``).
            for attempt in range(1, FETCH_RACE_RETRIES + 1):
                try:
                    return await super()._fetch_records(*args, **kwargs)
                except KeyError as exc:
                    if attempt == FETCH_RACE_RETRIES:
                        raise
                    log.warning("fetch raced a seek (%r); fetching again", exc)
            return {}

    class WorkerConsumer(driver.Consumer):
        def _new_consumer_thread(self) -> Any:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class Transport(driver.Transport):
        Consumer = WorkerConsumer

    class App(faust.App):
        fetch_max_wait_ms = 1500

        def _new_transport(self) -> Any:
            return Transport(self.conf.broker_consumer, self)

    return App
