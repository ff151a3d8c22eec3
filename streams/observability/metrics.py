"""Every Prometheus metric of the worker, defined once, in one registry.

The worker never touches a metric object directly: it calls the small helper
methods of :class:`Metrics` (the default instance is ``METRICS``), so names,
labels and units live in this file and its table (``metric_table``) only.

Naming follows the Prometheus conventions: ``supervision_`` prefix, base units
in the name (``_seconds``), counters end in ``_total``. Label values must come
from small, bounded sets (topics, rule codes, levels, reason *codes*, table
names) — never event ids, case ids or free text.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import suppress

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)

from streams.observability.metric_table import DECLARATIONS, NAMESPACE

MAX_LABEL_LENGTH = 64
FACT_CORRECTION_OUTCOMES = ("rejudged", "beyond_log")  # supervision_fact_corrections_total


def _label(value: object) -> str:
    """A label value: text, bounded in length (a guard against high cardinality)."""
    text = str(value)
    return text if len(text) <= MAX_LABEL_LENGTH else text[:MAX_LABEL_LENGTH]


class Metrics:
    """The worker's metrics, registered in ``registry``.

    One instance per process (``METRICS``); tests may build their own on a
    fresh :class:`CollectorRegistry`.
    """

    build_info: Info
    events_consumed: Counter
    events_accepted: Counter
    events_rejected: Counter
    events_duplicate: Counter
    events_rerouted: Counter
    progress_markers: Counter
    partition_horizon: Gauge
    deadletter_messages: Counter
    last_event_timestamp: Gauge
    consumer_lag: Gauge
    offsets_truncated: Counter
    offsets_gaps: Counter
    breaker_tripped: Gauge
    cases_quarantined: Counter
    hot_cases: Counter
    state_records_unreadable: Counter
    quarantined_cases: Gauge
    alerts: Counter
    alerts_withdrawn: Counter
    corrections: Counter
    fact_corrections: Counter
    correction_delay: Histogram
    evaluation_seconds: Histogram
    events_evaluated: Counter
    open_cases: Gauge
    state_cases: Gauge
    state_fact_keys: Gauge
    pending_timers: Gauge
    timer_lag: Histogram
    calendar_pending: Gauge
    timer_backlog: Gauge
    storage_batches: Counter
    storage_rows: Counter
    storage_failures: Counter
    storage_rows_refused: Counter
    storage_retries: Counter
    storage_write_seconds: Histogram
    storage_last_success: Gauge
    broker_connected: Gauge
    storage_connected: Gauge
    ready: Gauge

    def __init__(
        self, registry: CollectorRegistry | None = None, *, process_metrics: bool = True
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        if process_metrics:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
        self._calendar_years: set[int] = set()  # years ever reported (set to 0 once gone)
        for attr, kind, name, help_text, labels, buckets in DECLARATIONS:
            extra = {} if buckets is None else {"buckets": buckets}
            metric = kind(name, help_text, labels, namespace=NAMESPACE, registry=r, **extra)
            setattr(self, attr, metric)

    # --- helpers the worker calls ------------------------------------------------
    def declare(
        self,
        topics: Iterable[str],
        reasons: Iterable[str],
        tables: Iterable[str],
        marker_outcomes: Iterable[str] = (),
        correction_outcomes: Iterable[str] = (),
    ) -> None:
        """Create every labelled series at 0 before the first message.

        ``increase()`` and ``rate()`` see nothing of a series' first sample: a dead-letter
        surge on a topic that never had one would otherwise be undercounted by a scrape.
        """
        reasons, marker_outcomes = tuple(reasons), tuple(marker_outcomes)
        for outcome in FACT_CORRECTION_OUTCOMES:
            self.fact_corrections.labels(outcome)
        correction_outcomes = tuple(correction_outcomes)
        for topic in map(_label, topics):
            for outcome in map(_label, marker_outcomes):
                self.progress_markers.labels(topic, outcome)
            for outcome in map(_label, correction_outcomes):
                self.corrections.labels(topic, outcome)
            for counter in (
                self.events_consumed,
                self.events_accepted,
                self.events_duplicate,
                self.events_rerouted,
            ):
                counter.labels(topic)
            for reason in map(_label, reasons):
                self.events_rejected.labels(topic, reason)
                self.deadletter_messages.labels(topic, reason)
        for table in map(_label, tables):
            for counter in (
                self.storage_batches,
                self.storage_rows,
                self.storage_rows_refused,
                self.storage_retries,
            ):
                counter.labels(table)

    def set_build_info(self, version: str, **extra: str) -> None:
        self.build_info.info({"version": version, **{k: _label(v) for k, v in extra.items()}})

    def record_consumed(self, topic: str, count: int = 1) -> None:
        self.events_consumed.labels(_label(topic)).inc(count)
        self.last_event_timestamp.set(time.time())

    def record_accepted(self, topic: str, count: int = 1) -> None:
        self.events_accepted.labels(_label(topic)).inc(count)

    def record_rejected(self, topic: str, reason: str, count: int = 1) -> None:
        """``reason`` is a short code (``streams.contract.REJECTION_KINDS``: ``not_json``,
        ``not_object``, ``contract``, ``wrong_topic``, ``empty_value``, ``oversized``,
        ``conflicting_duplicate``), never a message."""
        self.events_rejected.labels(_label(topic), _label(reason)).inc(count)

    def record_duplicate(self, topic: str, count: int = 1) -> None:
        self.events_duplicate.labels(_label(topic)).inc(count)

    def record_rerouted(self, topic: str, count: int = 1) -> None:
        self.events_rerouted.labels(_label(topic)).inc(count)

    def record_progress_marker(self, topic: str, outcome: str, count: int = 1) -> None:
        """``outcome``: ``streams.live.progress.MARKER_OUTCOMES``."""
        self.progress_markers.labels(_label(topic), _label(outcome)).inc(count)

    def set_partition_horizon(self, topic: str, partition: int, unix_s: float) -> None:
        self.partition_horizon.labels(_label(topic), str(partition)).set(unix_s)

    def set_calendar_pending(self, by_year: dict[int, int]) -> None:
        """Pending cases per missing calendar year; a year no longer missing reads 0."""
        for year, count in by_year.items():
            self.calendar_pending.labels(str(year)).set(count)
        for labels in list(self._calendar_years - set(by_year)):
            self.calendar_pending.labels(str(labels)).set(0)
        self._calendar_years |= set(by_year)

    def record_deadletter(self, topic: str, reason: str, count: int = 1) -> None:
        self.deadletter_messages.labels(_label(topic), _label(reason)).inc(count)

    def record_offsets_truncated(self, topic: str, partition: int, count: int) -> None:
        self.offsets_truncated.labels(_label(topic), str(partition)).inc(count)

    def record_offsets_gap(self, topic: str, partition: int) -> None:
        self.offsets_gaps.labels(_label(topic), str(partition)).inc()

    def set_breaker_tripped(self, topic: str, partition: int, tripped: bool) -> None:
        self.breaker_tripped.labels(_label(topic), str(partition)).set(1 if tripped else 0)

    def record_quarantined(self, topic: str, count: int = 1) -> None:
        self.cases_quarantined.labels(_label(topic)).inc(count)

    def record_hot_cases(self, topic: str, count: int = 1) -> None:
        self.hot_cases.labels(_label(topic)).inc(count)

    def record_unreadable_state(self, table: str, reason: str, count: int = 1) -> None:
        """``reason``: ``format_too_new`` or ``corrupt``."""
        self.state_records_unreadable.labels(_label(table), _label(reason)).inc(count)

    def set_quarantined_cases(self, count: int) -> None:
        self.quarantined_cases.set(count)

    def record_alert(self, rule: str, level: str, count: int = 1) -> None:
        self.alerts.labels(_label(rule), _label(level)).inc(count)

    def record_withdrawal(self, rule: str, count: int = 1) -> None:
        self.alerts_withdrawn.labels(_label(rule)).inc(count)

    def record_correction(self, topic: str, outcome: str) -> None:
        """``outcome``: ``streams.live.corrections.CORRECTION_OUTCOMES``."""
        self.corrections.labels(_label(topic), _label(outcome)).inc()

    def record_fact_corrections(self, rejudged: int, beyond_log: int) -> None:
        """Late facts judged again at their key, and those before what its log keeps."""
        if rejudged:
            self.fact_corrections.labels("rejudged").inc(rejudged)
        if beyond_log:
            self.fact_corrections.labels("beyond_log").inc(beyond_log)

    def observe_correction_delay(self, seconds: float) -> None:
        self.correction_delay.observe(max(0.0, seconds))

    def observe_evaluation(self, seconds: float, events: int) -> None:
        """The engine evaluated a batch of ``events`` messages in ``seconds``."""
        self.evaluation_seconds.observe(seconds)
        self.events_evaluated.inc(events)

    def set_open_cases(self, count: int) -> None:
        self.open_cases.set(count)

    def set_state_size(self, cases: int, fact_keys: int) -> None:
        self.state_cases.set(cases)
        self.state_fact_keys.set(fact_keys)

    def set_pending_timers(self, count: int) -> None:
        self.pending_timers.set(count)

    def observe_timer_lag(self, seconds: float) -> None:
        """A timed alert fired ``seconds`` after its instant (negative values count as 0)."""
        self.timer_lag.observe(max(0.0, seconds))

    def set_timer_backlog(self, seconds: float) -> None:
        self.timer_backlog.set(max(0.0, seconds))

    def set_consumer_lag(self, topic: str, partition: int, lag: int) -> None:
        self.consumer_lag.labels(_label(topic), str(partition)).set(max(0, lag))

    def forget_partition(self, topic: str, partition: int) -> None:
        """Drop the lag and horizon series of a partition this worker no longer owns (after a
        rebalance)."""
        for gauge in (self.consumer_lag, self.partition_horizon):
            with suppress(KeyError):
                gauge.remove(_label(topic), str(partition))

    def record_storage_batch(self, table: str, rows: int, seconds: float) -> None:
        t = _label(table)
        self.storage_batches.labels(t).inc()
        self.storage_rows.labels(t).inc(rows)
        self.storage_write_seconds.labels(t).observe(seconds)
        self.storage_last_success.labels(t).set(time.time())

    def record_storage_refused(self, table: str, count: int = 1) -> None:
        self.storage_rows_refused.labels(_label(table)).inc(count)

    def record_storage_failure(
        self, table: str, error: BaseException | str, *, will_retry: bool = True
    ) -> None:
        name = error if isinstance(error, str) else type(error).__name__
        t = _label(table)
        self.storage_failures.labels(t, _label(name)).inc()
        if will_retry:
            self.storage_retries.labels(t).inc()


METRICS = Metrics()
REGISTRY = METRICS.registry
