"""Health probe and consumer lag: the loop beats, the broker answers, the storage pings.

``HealthProbe.probe`` runs on its own timer. It takes no lock and waits on
nothing the pipeline holds, so it keeps beating while storage back-pressure
holds the ticks (``HealthState`` then reports the outage). ``LagReport`` keeps
the consumer-lag gauge of each owned partition from the further of the fetch
high watermark and the log end the broker last reported.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from streams.live.kafka_port import TP, KafkaPort
from streams.live.offsets import OffsetKeeper
from streams.live.persister import Persister
from streams.observability.health import HealthState
from streams.observability.metrics import Metrics

log = logging.getLogger(__name__)


class LagReport:
    """Consumer lag per owned partition (Tansu reports the start of the last batch as the log
    end, so the fetch high watermark may be further: the further of the two counts)."""

    def __init__(self, metrics: Metrics, offsets: OffsetKeeper) -> None:
        self.metrics = metrics
        self.offsets = offsets
        self.log_end: dict[tuple[str, int], int] = {}

    def report(self, tp: TP, highwater: int | None) -> None:
        end = self.log_end.get((tp.topic, tp.partition))
        if highwater is None or (end is not None and end > highwater):
            highwater = end
        if highwater is not None:
            self.metrics.set_consumer_lag(
                tp.topic, tp.partition, highwater - self.offsets.expected(tp)
            )

    def forget(self, tp: TP) -> None:
        self.log_end.pop((tp.topic, tp.partition), None)
        self.metrics.forget_partition(tp.topic, tp.partition)


class HealthProbe:
    def __init__(
        self,
        *,
        port: KafkaPort,
        persister: Persister,
        lags: LagReport,
        health: HealthState,
        domain: frozenset[str],
        interval_s: float,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.port = port
        self.persister = persister
        self.lags = lags
        self.health = health
        self.domain = domain
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.clock = clock
        self.ping: asyncio.Task[None] | None = None  # the storage ping under way

    async def probe(self) -> None:
        """Beat; ask the broker for metadata (then for log ends); ping an idle storage."""
        health = self.health
        health.loop_heartbeat()
        try:
            brokers = await self.port.broker_count(self.timeout_s)
            health.set_broker(True, f"{brokers} broker(s) answer")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            health.set_broker(False, type(exc).__name__)
        else:
            await self.refresh_log_ends()
        persister = self.persister
        idle = self.clock() - persister.storage_seen >= self.interval_s
        if idle and persister.unpersisted == 0 and (self.ping is None or self.ping.done()):
            self.ping = asyncio.ensure_future(self.ping_storage())

    async def refresh_log_ends(self) -> None:
        """Ask the broker where the owned event partitions end, and report their lag.

        The lag the tick reports compares with the high watermark of this worker's own
        fetches, which stops moving when the fetches do (a stuck consumer, a paused
        partition): the broker's answer keeps it growing, so the stalled-worker and
        growing-lag alerts see it.
        """
        owned = [tp for tp in self.port.assignment() or () if tp.topic in self.domain]
        if not owned:
            return
        try:
            ends = await self.port.log_ends(owned, self.timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next probe asks again; the fetch high watermark stands
            log.debug("log ends: %r", exc)
            return
        for tp, end in ends.items():
            self.lags.log_end[(tp.topic, tp.partition)] = end
        for tp in owned:
            if self.lags.offsets.known(tp):
                self.lags.report(tp, self.port.highwater(tp))

    async def ping_storage(self) -> None:
        """Ping the storage when nothing was written for a while (never beside a write)."""
        persister = self.persister
        try:
            await persister.ping(self.timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if persister.unpersisted == 0:  # a write since then reported for itself
                self.health.set_storage(False, type(exc).__name__)
        else:
            if persister.unpersisted == 0:
                self.health.set_storage(True, "ok")
        persister.storage_seen = self.clock()
