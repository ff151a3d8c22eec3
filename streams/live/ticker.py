"""The tick's evaluation: timed alerts up to each partition's horizon, and the horizons.

Every ``worker_tick_s`` the service fires the timed alerts of each owned source
partition up to its horizon (rules.md §1.4: consumed up to there, or caught up and
within its upstreams' horizon, ``progress``) from the deadline index, and publishes each partition's horizon to every facts
partition (after the facts it derived: see ``horizon``). Runs under the
service's lock; reads the consumer's fetch high watermarks, never waits on it.
"""

from __future__ import annotations

from collections.abc import Iterable

from streams.live.evaluate import Step, observe_timer_lag
from streams.live.horizon import source_name
from streams.live.kafka_port import TP, KafkaPort
from streams.live.offsets import OffsetKeeper
from streams.live.partitions import Partitions
from streams.live.probe import LagReport
from streams.live.processor import Output
from streams.live.state import case_table_key
from streams.observability.health import HealthState
from streams.observability.metrics import Metrics


class Ticker:
    def __init__(
        self,
        *,
        partitions: Partitions,
        offsets: OffsetKeeper,
        port: KafkaPort,
        lags: LagReport,
        metrics: Metrics,
        health: HealthState,
    ) -> None:
        self.partitions = partitions
        self.offsets = offsets
        self.port = port
        self.lags = lags
        self.metrics = metrics
        self.health = health

    def fire(self, owned: Iterable[TP], now: int) -> Step | None:
        """Timed alerts due up to each owned source partition's horizon; the horizons.

        Also reports consumer lag, the timer backlog (how long the oldest alert still
        waiting for its partition's input has been due beyond ``UPSTREAM_DELAY``, the wait
        rules.md §1.4 allows: an upstream later than that, or a backlog) and engine gauges.
        """
        partitions, offsets, port = self.partitions, self.offsets, self.port
        out = Output()
        horizons: dict[str, int] = {}
        lag_s = 0.0
        allowed = now - partitions.upstreams.delay_us  # timers may wait this long by design
        assigned = port.assignment() or set()  # still: revoked meanwhile is skipped
        for tp in owned:
            if not offsets.known(tp) or tp not in assigned:
                continue
            part = partitions.case(tp.topic, tp.partition)
            if part.clock.next_offset is None:
                part.clock.next_offset = offsets.expected(tp)
            highwater = port.highwater(tp)
            self.lags.report(tp, highwater)
            caught_up = part.clock.caught_up(highwater)
            upstream = None
            if caught_up:
                upstream = partitions.upstream_horizon(part, now, port.fetched_at(tp))
            horizon = part.clock.horizon(caught_up, upstream)
            if horizon is None:
                continue
            horizons[source_name(tp.topic, tp.partition)] = horizon
            self.metrics.set_partition_horizon(tp.topic, tp.partition, horizon / 1e6)
            until = min(horizon, now)
            due = part.next_timer()
            if due is not None and due <= until:
                part.advance(until, out)
                part.collect(out, case_table_key)
                due = part.next_timer()
            if due is not None and due <= allowed:  # due, beyond the upstreams' allowance
                lag_s = max(lag_s, (allowed - due) / 1e6)
        self.health.set_timer_lag(lag_s)
        metrics = self.metrics
        observe_timer_lag(metrics, out, now)
        metrics.set_timer_backlog(lag_s)
        metrics.set_open_cases(partitions.open_cases())
        metrics.set_state_size(partitions.state_cases(), partitions.state_fact_keys())
        metrics.set_quarantined_cases(partitions.quarantined_cases())
        metrics.set_pending_timers(partitions.pending_timers())
        self.health.set_calendar_pending(
            p.cases.pending_calendar() for p in partitions.cases.values()
        )
        if out.empty() and not horizons:
            return None
        return Step(out, {}, horizons=horizons)

    def report_facts_lag(self, assignment: Iterable[TP]) -> None:
        """Facts partitions, after their flush: each tick publishes horizons there, read by
        the next flush, so measured before it an idle worker would always look one behind."""
        facts = self.partitions.topics.facts
        for tp in assignment:
            if tp.topic == facts and self.offsets.known(tp):
                self.lags.report(tp, self.port.highwater(tp))
