"""The withdrawal record of ``supervision.alerts`` (events.md § Alerts, rules.md §1.4) and the
arrival time the intake reads from each Kafka record."""

from __future__ import annotations

from types import SimpleNamespace

import jsonschema_rs
import orjson
import pytest

from streams.engine import EventValidator, alert_to_dict, load_config
from streams.engine.model import Withdrawal
from streams.engine.timeutil import parse_instant
from streams.engine.validate import load_schema
from streams.live.intake import Buffer, arrival
from streams.live.publish import partition_for, withdrawal_json, withdrawal_record
from tests.engine.harness import ev

CONFIG = load_config()
ALERT_SCHEMA = jsonschema_rs.validator_for(load_schema("alert.schema.json"), validate_formats=True)


def overdue_card_and_its_disproof() -> tuple:
    from streams.engine import Engine

    validator = EventValidator()
    engine = Engine(CONFIG)
    accept = validator.from_document(
        ev("A-0", "A", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=1)
    )
    engine.feed(accept)
    (notice,) = engine.advance(parse_instant("2026-03-03T00:00:00+08:00"))
    late = validator.from_document(
        {
            **ev("A-1", "A", "approval", "withdraw", "2026-03-02T18:00:00"),
            "reported_at": "2026-03-05T09:00:00+08:00",
        }
    )
    late.arrived_at = parse_instant("2026-03-05T09:00:01.25+08:00")
    withdrawal = Withdrawal(
        notice.alert_id,
        "approval",
        "A",
        parse_instant("2026-03-05T09:00:02+08:00"),
        "withdrawn before it was due (late event)",
        [late],
    )
    return notice, withdrawal, late


def test_a_withdrawal_is_the_alert_again_with_its_withdrawal() -> None:
    alert, withdrawal, late = overdue_card_and_its_disproof()
    partition, key, value, headers = withdrawal_record(alert, withdrawal, CONFIG.local)
    assert key == alert.alert_id.encode() and partition is None and headers == ()
    assert partition_for(key, 12) == partition_for(alert.alert_id.encode(), 12)
    record = orjson.loads(value)
    ALERT_SCHEMA.validate(record)
    assert record == {
        **alert_to_dict(alert, CONFIG.local),
        "withdrawn_at": "2026-03-05T09:00:02+08:00",
        "withdrawn_reason": "withdrawn before it was due (late event)",
        "withdrawn_by": [
            {
                "event_id": "A-1",
                "occurred_at": "2026-03-02T18:00:00+08:00",
                "reported_at": "2026-03-05T09:00:00+08:00",
                "arrived_at": "2026-03-05T09:00:01.250000+08:00",
            }
        ],
    }


def test_the_arrival_is_null_when_unknown_and_the_schema_wants_all_three_fields() -> None:
    alert, withdrawal, late = overdue_card_and_its_disproof()
    late.arrived_at, late.reported_at = None, None
    record = withdrawal_json(alert, withdrawal, CONFIG.local)
    assert record["withdrawn_by"] == [
        {"event_id": "A-1", "occurred_at": "2026-03-02T18:00:00+08:00", "arrived_at": None}
    ]
    ALERT_SCHEMA.validate(record)
    del record["withdrawn_reason"]
    assert not ALERT_SCHEMA.is_valid(record)
    with pytest.raises(ValueError, match="withdrawal of"):
        withdrawal_json(alert, Withdrawal("other", "approval", "A", 1, "x", [late]), CONFIG.local)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [(1_772_500_000.123, 1_772_500_000_123_000), (None, None), (0.0, None), (True, None)],
)
def test_the_intake_keeps_the_record_timestamp_as_the_arrival(
    timestamp: object, expected: int | None
) -> None:
    message = SimpleNamespace(
        topic="t", partition=0, offset=0, key=None, value=b"{}", tp=None, timestamp=timestamp
    )
    assert arrival(message) == expected
    buffer = Buffer()
    buffer.append(message)
    assert buffer.messages[0].arrived_at == expected


def test_the_processor_stores_the_arrival_with_the_event() -> None:
    from streams.live.processor import Message, Output
    from tests.live.core import TOPICS, pipeline

    event = {
        **ev("a1", "A", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=1),
        "reported_at": "2026-03-04T09:00:00+08:00",
    }
    topic = TOPICS.for_process("approval")
    assert topic
    message = Message(topic, 0, 0, b"A", orjson.dumps(event), None, 1_772_600_000_000_000)
    out = Output()
    pipeline({}).run([message], out)
    (stored,) = out.events
    assert stored.event.arrived_at == 1_772_600_000_000_000
    assert stored.event.reported_at == parse_instant("2026-03-04T09:00:00+08:00")


def test_late_reported_is_raised_live_at_the_reported_at_as_replay_raises_it() -> None:
    """A timed alert: the partition raises it once its horizon passes the reported_at."""
    from streams.live.processor import Output
    from tests.live.core import messages, pipeline
    from tests.live.harness import alert_key, replay_alerts

    late = {
        **ev("b2", "B", "approval", "withdraw", "2026-03-02T18:00:00"),
        "reported_at": "2026-03-06T09:00:00+08:00",
    }
    events = [
        ev("b1", "B", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=10),
        late,
        ev("c1", "C", "approval", "accept", "2026-03-06T08:59:59", time_limit_days=10),
        ev("c2", "C", "approval", "review", "2026-03-06T09:00:00"),
    ]
    parts: dict = {}
    out = Output()
    read = messages(events)
    for part in pipeline(parts).run(read[:3], out):
        part.advance(part.clock.event_horizon() or 0, out)
    assert [a.rule for a in out.alerts] == []  # horizon 08:59:59: not yet
    for part in pipeline(parts).run(read[3:], out):
        part.advance(part.clock.event_horizon() or 0, out)
    assert [a.rule for a in out.alerts] == ["LATE_REPORTED"]
    as_of = parse_instant("2026-03-06T09:00:00+08:00")
    assert {alert_key(a) for a in out.alerts} == replay_alerts(events, as_of_us=as_of)
