"""LATE_REPORTED 迟报补录 (rules.md §3.1) and the envelope's ``reported_at`` (events.md).

Table tests with worked times (+08:00): the default limit is 24 h, so an event of
03-02 09:00 recorded at 03-03 09:00 is on time (exactly 24 h) and one recorded at
03-03 09:00:01 is late; the alert is raised at the ``reported_at``.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.engine import CaseEngine, EventValidator, InvalidEvent, load_config
from streams.engine.timeutil import parse_instant
from tests.engine.harness import brief, config_with, ev, run

CONFIG = load_config()


def rep(event: dict, reported_at: str) -> dict:
    """``event`` with a ``reported_at`` (+08:00 when no offset is given)."""
    if "+" not in reported_at and not reported_at.endswith("Z"):
        reported_at += "+08:00"
    return {**event, "reported_at": reported_at}


ACCEPT = ev("A-0", "A", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=10)


def late(case: str, raised_at: str) -> tuple[str, str, str, str]:
    return ("LATE_REPORTED", "yellow", case, raised_at)


CASES = [
    pytest.param(
        [rep(ACCEPT, "2026-03-03T09:00:00")],
        "2026-03-10T00:00:00",
        [],
        id="exactly-24h-is-on-time",
    ),
    pytest.param(
        [rep(ACCEPT, "2026-03-03T09:00:01")],
        "2026-03-10T00:00:00",
        [late("A", "2026-03-03T09:00:01")],
        id="one-second-over-24h",
    ),
    pytest.param(
        [rep(ACCEPT, "2026-03-03T01:00:01Z")],  # = 03-03 09:00:01 +08:00, written in UTC
        "2026-03-10T00:00:00",
        [late("A", "2026-03-03T09:00:01")],
        id="other-offset-same-instant",
    ),
    pytest.param(
        [rep(ACCEPT, "2026-03-01T09:00:00")],  # recorded before it occurred: not late
        "2026-03-10T00:00:00",
        [],
        id="reported-before-occurred",
    ),
    pytest.param(
        [ACCEPT],
        "2026-03-10T00:00:00",
        [],
        id="no-reported-at-not-judged",
    ),
    pytest.param(
        [rep(ACCEPT, "2026-03-05T09:00:00")],
        "2026-03-05T08:59:59",  # the as-of cut: not raised yet
        [],
        id="as-of-before-reported-at",
    ),
    pytest.param(
        [rep(ACCEPT, "2026-03-05T09:00:00")],
        "2026-03-05T09:00:00",  # raised at its reported_at, inclusive
        [late("A", "2026-03-05T09:00:00")],
        id="as-of-at-reported-at",
    ),
    pytest.param(
        # A completion recorded 3 days late: the case ended on time (no OVERDUE), and the
        # late recording is carded at its reported_at although the case has ended by then.
        [
            ev("B-0", "B", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=1),
            ev("B-1", "B", "approval", "review", "2026-03-02T10:00:00"),
            ev("B-2", "B", "approval", "decide", "2026-03-02T11:00:00", decision="approve"),
            rep(
                ev("B-3", "B", "approval", "complete", "2026-03-03T16:00:00"),
                "2026-03-06T10:00:00",
            ),
        ],
        "2026-03-20T00:00:00",
        [late("B", "2026-03-06T10:00:00")],
        id="terminal-event-recorded-late",
    ),
    pytest.param(
        # Two late reviews: once per (case, action), the one recorded first raises it.
        [
            ACCEPT,
            rep(ev("A-1", "A", "approval", "review", "2026-03-02T10:00:00"), "2026-03-09T10:00:00"),
            rep(ev("A-2", "A", "approval", "review", "2026-03-03T10:00:00"), "2026-03-05T10:00:00"),
        ],
        "2026-03-10T00:00:00",
        [late("A", "2026-03-05T10:00:00")],
        id="once-per-action-earliest-recording",
    ),
    pytest.param(
        # Different actions are carded separately.
        [
            rep(ACCEPT, "2026-03-04T09:00:00"),
            rep(ev("A-1", "A", "approval", "review", "2026-03-02T10:00:00"), "2026-03-04T10:00:01"),
        ],
        "2026-03-10T00:00:00",
        [late("A", "2026-03-04T09:00:00"), late("A", "2026-03-04T10:00:01")],
        id="per-action",
    ),
    pytest.param(
        # After a terminal event nothing of the case raises (rules.md §1.1), LATE_REPORTED too.
        [
            ev("C-0", "C", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=5),
            ev("C-1", "C", "approval", "withdraw", "2026-03-02T10:00:00"),
            rep(ev("C-2", "C", "approval", "review", "2026-03-02T11:00:00"), "2026-03-06T09:00:00"),
        ],
        "2026-03-20T00:00:00",
        [],
        id="after-terminal-not-judged",
    ),
    pytest.param(
        # Raised while the case is paused: the pause holds the case clock, not this finding.
        [
            ev("D-0", "D", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=10),
            rep(
                ev("D-1", "D", "approval", "suspend", "2026-03-02T10:00:00", reason="hearing"),
                "2026-03-04T12:00:00",
            ),
        ],
        "2026-03-06T00:00:00",
        [late("D", "2026-03-04T12:00:00")],
        id="while-paused",
    ),
    pytest.param(
        # Cases without a clock (a fund disbursement) are judged too.
        [
            rep(
                ev("F-0", "F", "fund_disbursement", "apply", "2026-03-02T09:00:00",
                   amount=10, payee="P1", program="PG"),
                "2026-03-10T09:00:00",
            )
        ],
        "2026-03-31T00:00:00",
        [late("F", "2026-03-10T09:00:00")],
        id="case-without-clock",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("events", "as_of", "expected"), CASES)
def test_late_reported(events: list[dict], as_of: str, expected: list[tuple]) -> None:
    found = [a for a in brief(run(events, as_of)) if a[0] == "LATE_REPORTED"]
    assert found == sorted(expected)


def test_alert_fields_give_both_times_and_the_delay() -> None:
    events = [rep(ev("A-1", "A", "approval", "accept", "2026-03-02T09:00:00",
                     dept="D07", time_limit_days=10), "2026-03-04T10:30:00")]  # fmt: skip
    (alert,) = [a for a in run(events, "2026-03-10T00:00:00") if a["rule"] == "LATE_REPORTED"]
    assert alert["level"] == "yellow" and alert["dept"] == "D07"
    assert alert["raised_at"] == "2026-03-04T10:30:00+08:00"
    assert alert["evidence"] == ["A-1"]
    assert alert["details"] == {
        "action": "accept",
        "occurred_at": "2026-03-02T09:00:00+08:00",
        "reported_at": "2026-03-04T10:30:00+08:00",
        "delay_hours": 49.5,
        "max_delay_hours": 24,
    }
    assert "迟至2026-03-04T10:30:00+08:00才录入" in alert["message"]
    assert "迟报49.5小时" in alert["message"]
    # the discriminator is the action: another case's or action's alert has another id
    other = run([rep(ev("A-2", "A", "approval", "accept", "2026-03-02T09:00:00",
                        time_limit_days=10), "2026-03-04T10:30:00")], "2026-03-10T00:00:00")  # fmt: skip
    assert [a["alert_id"] for a in other if a["rule"] == "LATE_REPORTED"] == [alert["alert_id"]]


def test_threshold_and_switch_come_from_the_configuration(tmp_path: Path) -> None:
    events = [rep(ACCEPT, "2026-03-02T15:00:00")]  # 6 h late
    assert not [a for a in run(events, "2026-03-10T00:00:00") if a["rule"] == "LATE_REPORTED"]
    strict = config_with(tmp_path, {"max_delay_hours = 24": "max_delay_hours = 4"})
    assert [a["rule"] for a in run(events, "2026-03-10T00:00:00", strict)] == ["LATE_REPORTED"]
    off = config_with(
        tmp_path,
        {"[rules.LATE_REPORTED]\nenabled = true": "[rules.LATE_REPORTED]\nenabled = false"},
    )
    late_events = [rep(ACCEPT, "2026-03-05T15:00:00")]
    assert not [a for a in run(late_events, "2026-03-10T00:00:00", off)]


def test_input_without_reported_at_gives_the_alerts_it_gave() -> None:
    """reported_at adds LATE_REPORTED and changes nothing else."""
    events = [
        ev("G-0", "G", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=1),
        ev("G-1", "G", "approval", "complete", "2026-03-09T09:00:00"),
    ]
    plain = run(events, "2026-03-20T00:00:00")
    stamped = run(
        [rep(events[0], "2026-03-02T09:05:00"), rep(events[1], "2026-03-12T09:00:00")],
        "2026-03-20T00:00:00",
    )
    assert [a for a in stamped if a["rule"] != "LATE_REPORTED"] == plain
    assert [a["raised_at"] for a in stamped if a["rule"] == "LATE_REPORTED"] == [
        "2026-03-12T09:00:00+08:00"
    ]


def test_the_live_engine_keeps_a_waiting_alert_in_the_stored_case_state() -> None:
    """The live service stores case states between batches: a LATE_REPORTED alert judged in
    one worker is raised by another that loaded the state, at the reported_at, as replay."""
    validator = EventValidator()
    completion = rep(
        ev("B-3", "B", "approval", "withdraw", "2026-03-03T16:00:00"), "2026-03-06T10:00:00"
    )
    first = CaseEngine(CONFIG)
    raised = []
    for event in (
        ev("B-0", "B", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=1),
        completion,
    ):
        parsed = validator.from_document(event)
        raised += first.advance(parsed.occurred_at)  # the notice of 03-03 00:00
        raised += first.process(parsed)[0]
    states = first.export_dirty()
    second = CaseEngine(CONFIG)
    for key, blob in states.items():
        second.load(key, blob)
    assert second.next_timer() == parse_instant("2026-03-06T10:00:00+08:00")
    assert second.advance(parse_instant("2026-03-06T09:59:59+08:00")) == []
    (alert,) = second.advance(parse_instant("2026-03-06T10:00:00+08:00"))
    assert alert.rule == "LATE_REPORTED"
    replayed = run([ev("B-0", "B", "approval", "accept", "2026-03-02T09:00:00",
                       time_limit_days=1), completion], "2026-03-06T10:00:00")  # fmt: skip
    assert [a.alert_id for a in (*raised, alert)] == [a["alert_id"] for a in replayed]
    assert second.next_timer() is None


def test_reported_at_is_validated_and_kept_as_written() -> None:
    validator = EventValidator()
    event = validator.from_document(rep(ACCEPT, "2026-03-04T02:00:00Z"))
    assert event.reported_at == parse_instant("2026-03-04T10:00:00+08:00")
    assert event.to_dict()["reported_at"] == "2026-03-04T02:00:00Z"
    assert "reported_at" not in validator.from_document(ACCEPT).to_dict()
    for bad in ("2026-03-04T10:00:00", "2026-03-04", "2100-01-01T00:00:00+08:00", 20260304):
        with pytest.raises(InvalidEvent) as caught:
            validator.from_document({**ACCEPT, "reported_at": bad})
        assert caught.value.field == "reported_at"


def test_replay_rejects_show_reported_at_of_quarantined_events() -> None:
    from streams.replay import event_json

    event = EventValidator().from_document(rep(ACCEPT, "2026-03-04T02:00:00Z"))
    assert orjson.loads(event_json(event))["reported_at"] == "2026-03-04T02:00:00Z"
