"""/healthz and /readyz as a Kubernetes probe (and an operator with curl) sees them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.observability.health import HealthState
from streams.observability.metrics import Metrics
from tests.observability.conftest import Served


def test_not_ready_until_broker_and_storage_report(served: Served) -> None:
    reply = served.get("/readyz")
    assert reply.status == 503
    body = reply.json()
    assert body["ready"] is False
    assert body["broker"]["connected"] is False
    assert body["storage"]["connected"] is False


def test_ready_when_everything_is_up(served: Served) -> None:
    served.health.set_broker(True)
    served.health.set_storage(True)
    served.health.set_timer_lag(0)
    reply = served.get("/readyz")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert body == {
        "ready": True,
        "broker": {"connected": True, "detail": "connected", "since": body["broker"]["since"]},
        "storage": {"connected": True, "detail": "connected", "since": body["storage"]["since"]},
        "timers": {"keeping_up": True, "lag_seconds": 0.0, "max_lag_seconds": 60},
        "calendar": {"pending_cases": {}, "missing_years": []},
    }


def test_cases_waiting_for_a_calendar_year_are_a_detail_not_unreadiness(served: Served) -> None:
    """rules.md §1.5: the worker keeps working; operators read the missing year."""
    served.health.set_broker(True)
    served.health.set_storage(True)
    served.health.set_calendar_pending([{2027: 2}, {}, {2027: 1, 2028: 1}])
    reply = served.get("/readyz")
    assert reply.status == 200
    assert reply.json()["calendar"] == {
        "pending_cases": {"2027": 3, "2028": 1},
        "missing_years": [2027, 2028],
    }
    served.health.set_calendar_pending([{2027: 1}])
    assert served.get("/readyz").json()["calendar"] == {
        "pending_cases": {"2027": 1},
        "missing_years": [2027],
    }


def test_storage_down_makes_worker_unready_and_says_why_without_secrets(served: Served) -> None:
    served.health.set_broker(True)
    served.health.set_storage(False, "connect to clickhouse://writer:hunter2@ch:9000 refused")
    reply = served.get("/readyz")
    assert reply.status == 503
    body = reply.json()
    assert body["storage"]["connected"] is False
    assert "hunter2" not in reply.body
    assert "refused" in body["storage"]["detail"]


def test_timers_falling_behind_make_worker_unready(served: Served) -> None:
    served.health.set_broker(True)
    served.health.set_storage(True)
    served.health.set_timer_lag(61)
    reply = served.get("/readyz")
    assert reply.status == 503
    assert reply.json()["timers"] == {
        "keeping_up": False,
        "lag_seconds": 61.0,
        "max_lag_seconds": 60,
    }
    metrics = served.get("/metrics").body
    assert "supervision_timer_backlog_seconds 61.0" in metrics
    assert "supervision_ready 0.0" in metrics
    served.health.set_timer_lag(5)
    assert served.get("/readyz").status == 200
    assert "supervision_ready 1.0" in served.get("/metrics").body


def test_alive_without_heartbeat_yet_and_while_heartbeats_come(served: Served) -> None:
    assert served.get("/healthz").status == 200
    served.health.heartbeat()
    reply = served.get("/healthz")
    assert reply.status == 200
    assert reply.json()["alive"] is True


def test_stale_heartbeat_is_reported_dead() -> None:
    now = [1000.0]
    health = HealthState(
        liveness_timeout_seconds=30,
        metrics=Metrics(CollectorRegistry(), process_metrics=False),
        clock=lambda: now[0],
    )
    health.heartbeat()
    now[0] += 29
    assert health.liveness()[0] is True
    now[0] += 2
    alive, body = health.liveness()
    assert alive is False
    assert body["heartbeat_age_seconds"] == 31


def _clocked_health() -> tuple[HealthState, list[float]]:
    now = [1000.0]
    health = HealthState(
        liveness_timeout_seconds=30,
        metrics=Metrics(CollectorRegistry(), process_metrics=False),
        clock=lambda: now[0],
    )
    health.set_broker(True)
    health.set_storage(True)
    return health, now


def test_worker_waiting_out_an_outage_is_alive_but_not_ready() -> None:
    health, now = _clocked_health()
    health.heartbeat()
    health.loop_heartbeat()
    health.set_storage(False, "StorageUnavailable")
    now[0] += 300  # ticks wait behind the storage back-pressure; the loop still beats
    health.loop_heartbeat()
    alive, body = health.liveness()
    assert alive is True and body["waiting_on_outage"] is True
    assert health.readiness()[0] is False
    health.set_storage(True)  # storage back, ticks still stuck: dead
    assert health.liveness()[0] is False


def test_stuck_event_loop_is_dead_even_during_an_outage() -> None:
    health, now = _clocked_health()
    health.loop_heartbeat()
    health.set_broker(False, "KafkaConnectionError")
    now[0] += 31
    alive, body = health.liveness()
    assert alive is False
    assert body["loop_heartbeat_age_seconds"] == 31


def test_connection_flags_are_exported_as_metrics(served: Served) -> None:
    served.health.set_broker(True)
    served.health.set_storage(False)
    body = served.get("/metrics").body
    assert "supervision_broker_connected 1.0" in body
    assert "supervision_storage_connected 0.0" in body


def test_settings_drive_thresholds() -> None:
    from streams.settings import Settings

    settings = Settings(health_max_timer_lag_seconds=7, health_liveness_timeout_seconds=9)
    health = HealthState.from_settings(settings, metrics=None)
    assert health.max_timer_lag_seconds == 7
    assert health.liveness_timeout_seconds == 9


def test_unknown_path_is_404(served: Served) -> None:
    assert served.get("/nope").status == 404
