"""The end-to-end harness compares what users read with replay: its alert key."""

from __future__ import annotations

from tests.live.harness import alert_key, replay_alerts
from tests.live.workload import workload


def test_alert_key_matches_between_replay_and_rows() -> None:
    alerts = replay_alerts(workload(30, seed=2))
    assert all(len(k) == 8 for k in alerts)
    assert alert_key(
        {
            "alert_id": "a",
            "rule": "R",
            "level": "red",
            "case_id": "c",
            "process": "p",
            "dept": "d",
            "raised_at_us": "5",
            "evidence": ["e"],
        }
    ) == ("a", "R", "red", "c", "p", "d", 5, ("e",))
