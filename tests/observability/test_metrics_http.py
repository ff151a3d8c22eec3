"""The worker's /metrics, scraped over HTTP and parsed as Prometheus would."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.observability.conftest import Served


def scrape(served: Served) -> dict[str, list[Sample]]:
    reply = served.get("/metrics")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/plain")
    samples: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(reply.body):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list[Sample]], name: str, **labels: str) -> float:
    for sample in samples.get(name, []):
        if all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    raise AssertionError(f"no sample {name}{labels}; have {sorted(samples)}")


def test_every_operator_metric_is_exposed_with_its_labels(served: Served) -> None:
    m = served.metrics
    m.set_build_info("0.1.0")
    m.record_consumed("supervision.approval", 3)
    m.record_accepted("supervision.approval", 2)
    m.record_rejected("supervision.approval", "schema")
    m.record_duplicate("supervision.approval")
    m.record_deadletter("supervision.approval", "schema")
    m.record_alert("OVERDUE", "yellow")
    m.record_alert("OVERDUE", "yellow")
    m.record_alert("SKIPPED_STEP", "red")
    m.observe_evaluation(0.0004, events=1)
    m.observe_evaluation(0.002, events=250)
    m.set_open_cases(42)
    m.set_state_size(cases=60, fact_keys=9)
    m.set_pending_timers(17)
    m.observe_timer_lag(12.5)
    m.set_timer_backlog(3.0)
    m.set_consumer_lag("supervision.approval", 0, 120)
    m.set_consumer_lag("supervision.approval", 1, 0)
    m.record_storage_batch("events", rows=500, seconds=0.04)
    m.record_storage_failure("alerts", ConnectionRefusedError())
    m.record_storage_refused("alerts")
    m.record_rerouted("supervision.approval", 2)
    m.set_calendar_pending({2027: 4})
    s = scrape(served)

    assert value(s, "supervision_build_info", version="0.1.0") == 1
    assert value(s, "supervision_events_consumed_total", topic="supervision.approval") == 3
    assert value(s, "supervision_events_accepted_total", topic="supervision.approval") == 2
    assert (
        value(s, "supervision_events_rejected_total", topic="supervision.approval", reason="schema")
        == 1
    )
    assert value(s, "supervision_events_duplicate_total", topic="supervision.approval") == 1
    assert (
        value(
            s,
            "supervision_deadletter_messages_total",
            topic="supervision.approval",
            reason="schema",
        )
        == 1
    )
    assert value(s, "supervision_alerts_total", rule="OVERDUE", level="yellow") == 2
    assert value(s, "supervision_alerts_total", rule="SKIPPED_STEP", level="red") == 1
    assert value(s, "supervision_engine_batch_evaluation_seconds_count") == 2
    assert value(s, "supervision_engine_batch_evaluation_seconds_bucket", le="0.001") == 1
    assert value(s, "supervision_engine_batch_evaluation_seconds_bucket", le="0.0025") == 2
    assert value(s, "supervision_engine_events_evaluated_total") == 251
    assert value(s, "supervision_open_cases") == 42
    assert value(s, "supervision_state_cases") == 60
    assert value(s, "supervision_state_fact_keys") == 9
    assert value(s, "supervision_pending_timers") == 17
    assert value(s, "supervision_timer_lag_seconds_sum") == 12.5
    assert value(s, "supervision_timer_lag_seconds_bucket", le="15.0") == 1
    assert value(s, "supervision_timer_lag_seconds_bucket", le="5.0") == 0
    assert value(s, "supervision_timer_backlog_seconds") == 3.0
    assert (
        value(s, "supervision_consumer_lag_messages", topic="supervision.approval", partition="0")
        == 120
    )
    assert (
        value(s, "supervision_consumer_lag_messages", topic="supervision.approval", partition="1")
        == 0
    )
    assert value(s, "supervision_storage_batches_total", table="events") == 1
    assert value(s, "supervision_storage_rows_total", table="events") == 500
    assert value(s, "supervision_storage_write_duration_seconds_count", table="events") == 1
    assert value(s, "supervision_storage_last_success_timestamp_seconds", table="events") > 1.7e9
    assert (
        value(
            s,
            "supervision_storage_write_failures_total",
            table="alerts",
            error="ConnectionRefusedError",
        )
        == 1
    )
    assert value(s, "supervision_storage_retries_total", table="alerts") == 1
    assert value(s, "supervision_storage_rows_refused_total", table="alerts") == 1
    assert value(s, "supervision_last_event_consumed_timestamp_seconds") > 1.7e9
    assert value(s, "supervision_events_rerouted_total", topic="supervision.approval") == 2
    assert value(s, "supervision_calendar_pending_cases", year="2027") == 4
    assert "process_cpu_seconds_total" in s


def test_counters_end_in_total_and_units_are_in_names(served: Served) -> None:
    reply = served.get("/metrics")
    families = list(text_string_to_metric_families(reply.body))
    ours = [f for f in families if f.name.startswith("supervision_")]
    assert len(ours) >= 20
    for family in ours:
        assert family.documentation, family.name
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family.name
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name


def test_declared_series_are_scraped_at_zero_before_any_message(served: Served) -> None:
    """A first dead letter on a topic is counted by increase(), which ignores a new series."""
    served.metrics.declare(["supervision.fund"], ["contract", "not_json"], ["events"])
    s = scrape(served)
    assert value(s, "supervision_events_consumed_total", topic="supervision.fund") == 0
    assert (
        value(
            s, "supervision_deadletter_messages_total", topic="supervision.fund", reason="not_json"
        )
        == 0
    )
    assert (
        value(s, "supervision_events_rejected_total", topic="supervision.fund", reason="contract")
        == 0
    )
    assert value(s, "supervision_storage_rows_refused_total", table="events") == 0
    assert value(s, "supervision_storage_batches_total", table="events") == 0


def test_rebalanced_partition_disappears_from_lag(served: Served) -> None:
    served.metrics.set_consumer_lag("supervision.fund", 3, 10)
    served.metrics.forget_partition("supervision.fund", 3)
    served.metrics.forget_partition("supervision.fund", 3)  # twice is harmless
    assert "supervision_consumer_lag_messages" not in scrape(served) or all(
        sample.labels.get("partition") != "3"
        for sample in scrape(served)["supervision_consumer_lag_messages"]
    )


def test_openmetrics_is_served_when_asked(served: Served) -> None:
    served.metrics.record_alert("OVERDUE", "red")
    reply = served.get("/metrics", accept="application/openmetrics-text; version=1.0.0")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/openmetrics-text")
    assert reply.body.rstrip().endswith("# EOF")


def test_long_label_values_are_bounded(served: Served) -> None:
    served.metrics.record_rejected("supervision.trade", "x" * 500)
    reasons = [s.labels["reason"] for s in scrape(served)["supervision_events_rejected_total"]]
    assert all(len(r) <= 64 for r in reasons)


def test_default_registry_holds_every_metric_once() -> None:
    from prometheus_client.metrics import MetricWrapperBase

    from streams.observability.metrics import METRICS, REGISTRY

    declared = [v for v in vars(METRICS).values() if isinstance(v, MetricWrapperBase)]
    described = [family.name for metric in declared for family in metric.describe()]
    served = [family.name for family in REGISTRY.collect()]
    assert len(served) == len(set(served))  # no metric twice
    assert len(described) == len(set(described)) and set(described) <= set(served)
    assert "supervision_alerts" in described and len(declared) >= 25


def test_a_calendar_year_no_longer_missing_reads_zero(served: Served) -> None:
    """The gauge behind SupervisionCalendarYearMissing: a year added (or its cases gone)
    falls to 0, so the alert resolves instead of keeping its last value."""
    served.health.set_calendar_pending([{2027: 2}, {2027: 1, 2028: 1}])
    s = scrape(served)
    assert value(s, "supervision_calendar_pending_cases", year="2027") == 3
    assert value(s, "supervision_calendar_pending_cases", year="2028") == 1
    served.health.set_calendar_pending([{2028: 1}])
    s = scrape(served)
    assert value(s, "supervision_calendar_pending_cases", year="2027") == 0
    assert value(s, "supervision_calendar_pending_cases", year="2028") == 1
