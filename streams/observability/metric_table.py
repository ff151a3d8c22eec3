"""The declaration table of every Prometheus metric of the worker (used by ``metrics``).

One row per metric: the ``Metrics`` attribute, kind, name (without the ``supervision_``
prefix), help text, label names and histogram buckets. The naming rules are in
``streams.observability.metrics``.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram, Info
from prometheus_client.metrics import MetricWrapperBase

NAMESPACE = "supervision"

# Engine evaluation of one batch (up to WORKER_BATCH_MAX events, ~10 µs each).
EVALUATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# How late a timed alert fires behind its instant: seconds to hours.
TIMER_LAG_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0)
# From a late event's arrival to its corrections stored: a batch, a storage read, a write.
CORRECTION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
# One ClickHouse batch insert.
WRITE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Every metric: (attribute, kind, name, help, labels, histogram buckets).
DECLARATIONS: tuple[
    tuple[
        str, Callable[..., MetricWrapperBase], str, str, tuple[str, ...], tuple[float, ...] | None
    ],
    ...,
] = (
    ("build_info", Info, "build", "Version of the supervision worker.", (), None),
    # --- input
    (
        "events_consumed",
        Counter,
        "events_consumed",
        "Kafka messages read by the worker.",
        ("topic",),
        None,
    ),
    (
        "events_accepted",
        Counter,
        "events_accepted",
        "Events that passed validation and were evaluated.",
        ("topic",),
        None,
    ),
    (
        "events_rejected",
        Counter,
        "events_rejected",
        "Messages rejected as invalid, by reason code.",
        ("topic", "reason"),
        None,
    ),
    (
        "events_duplicate",
        Counter,
        "events_duplicate",
        "Events ignored because their event_id was already seen.",
        ("topic",),
        None,
    ),
    (
        "events_rerouted",
        Counter,
        "events_rerouted",
        "Events whose message key was not their case_id, read on a partition that is not "
        "their case's: re-published keyed by case_id to their case's partition.",
        ("topic",),
        None,
    ),
    (
        "deadletter_messages",
        Counter,
        "deadletter_messages",
        "Messages published to the dead-letter topic, by source topic and reason.",
        ("topic", "reason"),
        None,
    ),
    (
        "progress_markers",
        Counter,
        "progress_markers",
        "Progress markers read (events.md § Transport), by outcome: advanced, unchanged, "
        "backwards (an earlier watermark than the source's latest: ignored), unconfigured (a "
        "source not configured for the topic: ignored), malformed (dead-lettered).",
        ("topic", "outcome"),
        None,
    ),
    (
        "partition_horizon",
        Gauge,
        "partition_horizon_timestamp_seconds",
        "Unix time up to which a source partition counts as consumed (rules.md §1.4): timed "
        "alerts of its cases fire up to it.",
        ("topic", "partition"),
        None,
    ),
    (
        "last_event_timestamp",
        Gauge,
        "last_event_consumed_timestamp_seconds",
        "Unix time the worker last consumed a message.",
        (),
        None,
    ),
    (
        "consumer_lag",
        Gauge,
        "consumer_lag_messages",
        "Messages behind the partition's high watermark.",
        ("topic", "partition"),
        None,
    ),
    (
        "offsets_truncated",
        Counter,
        "offsets_truncated_messages",
        "Offsets retention deleted before the worker read them (lost to supervision).",
        ("topic", "partition"),
        None,
    ),
    (
        "offsets_gaps",
        Counter,
        "offsets_gaps_passed",
        "Offset gaps passed because the broker holds no record there for a read_committed reader (transaction markers, aborted or compacted records).",
        ("topic", "partition"),
        None,
    ),
    (
        "breaker_tripped",
        Gauge,
        "deadletter_breaker_tripped",
        "1 while a source partition is stopped by the rejection-rate limit (an operator decides: supervise deadletter skip).",
        ("topic", "partition"),
        None,
    ),
    (
        "cases_quarantined",
        Counter,
        "cases_quarantined",
        "Cases quarantined because the engine failed on one of their valid events (their events are dead-lettered as engine_error).",
        ("topic",),
        None,
    ),
    (
        "hot_cases",
        Counter,
        "hot_cases",
        "Cases that passed [state] hot_case_events events (usually an upstream bug: a "
        "placeholder case_id); each is logged with its key. Their state stays bounded.",
        ("topic",),
        None,
    ),
    (
        "state_records_unreadable",
        Counter,
        "state_records_unreadable",
        "Stored case states or facts this release cannot read (a newer format version, or "
        "corrupt): the case is quarantined on this worker, the fact dead-lettered.",
        ("table", "reason"),
        None,
    ),
    (
        "quarantined_cases",
        Gauge,
        "quarantined_cases",
        "Cases in quarantine on the partitions this worker owns.",
        (),
        None,
    ),
    # --- engine
    ("alerts", Counter, "alerts", "Alerts raised, by rule and level.", ("rule", "level"), None),
    (
        "alerts_withdrawn",
        Counter,
        "alerts_withdrawn",
        "Alerts withdrawn because late input disproves them (rules.md §1.4), stored and "
        "published, by rule.",
        ("rule",),
        None,
    ),
    (
        "corrections",
        Counter,
        "case_corrections",
        "Cases evaluated again from their stored events for a late event, by outcome: "
        "corrected; inconsistent (its stored events did not give the state held); "
        "no_history (its events were not read: applied as any other event).",
        ("topic", "outcome"),
        None,
    ),
    (
        "fact_corrections",
        Counter,
        "fact_corrections",
        "Late cross-case facts at their comparison key (rules.md §1.4), by outcome: "
        "rejudged (the key's facts from its place on judged again); beyond_log (before what "
        "the key's log keeps: not judged).",
        ("outcome",),
        None,
    ),
    (
        "correction_delay",
        Histogram,
        "correction_delay_seconds",
        "From a late event's arrival (its Kafka timestamp) to its case's corrections stored.",
        (),
        CORRECTION_BUCKETS,
    ),
    # Timed per batch: a histogram observation per event would cost more than many rules.
    # Per event: rate(..._seconds_sum) / rate(supervision_engine_events_evaluated_total).
    (
        "evaluation_seconds",
        Histogram,
        "engine_batch_evaluation_seconds",
        "Time the rule engine took to evaluate one batch: validation, rules and the timed alerts the batch made due.",
        (),
        EVALUATION_BUCKETS,
    ),
    (
        "events_evaluated",
        Counter,
        "engine_events_evaluated",
        "Messages in the batches the engine evaluated (valid or not).",
        (),
        None,
    ),
    (
        "open_cases",
        Gauge,
        "open_cases",
        "Cases held in engine state that have not reached a terminal action.",
        (),
        None,
    ),
    (
        "state_cases",
        Gauge,
        "state_cases",
        "Cases held in engine state: the open ones and the terminal ones within "
        "terminal_retention_days (what the worker's memory grows with).",
        (),
        None,
    ),
    (
        "state_fact_keys",
        Gauge,
        "state_fact_keys",
        "Cross-case comparison keys held in engine state, each with its facts inside the "
        "rule's window (two windows of them for late facts; plans: plan_retention_hours).",
        (),
        None,
    ),
    (
        "pending_timers",
        Gauge,
        "pending_timers",
        "Cases with a timed alert scheduled and not yet fired or cancelled.",
        (),
        None,
    ),
    (
        "timer_lag",
        Histogram,
        "timer_lag_seconds",
        "How late a timed alert fired behind its instant (wall clock).",
        (),
        TIMER_LAG_BUCKETS,
    ),
    (
        "calendar_pending",
        Gauge,
        "calendar_pending_cases",
        "Cases whose timed decisions wait for a calendar year without working-day data "
        "(rules.md §1.5), by year.",
        ("year",),
        None,
    ),
    (
        "timer_backlog",
        Gauge,
        "timer_backlog_seconds",
        "Age of the oldest due timed alert not yet fired (0 when timers keep up).",
        (),
        None,
    ),
    # --- storage
    (
        "storage_batches",
        Counter,
        "storage_batches",
        "Batches written to ClickHouse.",
        ("table",),
        None,
    ),
    ("storage_rows", Counter, "storage_rows", "Rows written to ClickHouse.", ("table",), None),
    (
        "storage_failures",
        Counter,
        "storage_write_failures",
        "Failed ClickHouse write attempts, by error class.",
        ("table", "error"),
        None,
    ),
    (
        "storage_rows_refused",
        Counter,
        "storage_rows_refused",
        "Rows ClickHouse refused for good (every other row of the batch was stored); each is logged with its id and reason.",
        ("table",),
        None,
    ),
    (
        "storage_retries",
        Counter,
        "storage_retries",
        "ClickHouse writes retried after a failure.",
        ("table",),
        None,
    ),
    (
        "storage_write_seconds",
        Histogram,
        "storage_write_duration_seconds",
        "Time one successful ClickHouse batch write took.",
        ("table",),
        WRITE_BUCKETS,
    ),
    (
        "storage_last_success",
        Gauge,
        "storage_last_success_timestamp_seconds",
        "Unix time of the last successful write.",
        ("table",),
        None,
    ),
    # --- health (mirrored by HealthState)
    (
        "broker_connected",
        Gauge,
        "broker_connected",
        "1 while the worker is connected to Kafka.",
        (),
        None,
    ),
    (
        "storage_connected",
        Gauge,
        "storage_connected",
        "1 while the worker can reach ClickHouse.",
        (),
        None,
    ),
    ("ready", Gauge, "ready", "1 while the worker reports ready on /readyz.", (), None),
)
