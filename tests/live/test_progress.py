"""The horizon of a partition's upstreams (rules.md §1.4 (b)) and progress markers (events.md).

Unit tests of ``streams.live.progress`` and of the live service over the fake port: a
caught-up partition advances to the minimum latest watermark of its topic's configured
sources, or to the wall clock minus ``UPSTREAM_DELAY`` without sources, and not at all
while its broker is silent.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
import pytest

from streams.contract import PROGRESS_KEY, PROGRESS_MARKER, progress_marker
from streams.engine.timeutil import parse_instant
from streams.live.processor import Message
from streams.live.progress import (
    ADVANCED,
    BACKWARDS,
    UNCHANGED,
    UNCONFIGURED,
    InvalidMarker,
    Marker,
    ProgressMarks,
    UpstreamHorizon,
    parse_marker,
    progress_key,
)
from streams.live.service import LiveService
from streams.settings import Settings
from tests.live.core import TOPICS
from tests.live.fakes import TP, Port, Store, build_service
from tests.live.test_service_component import persist_all

S = 1_000_000
ACCEPT = "2026-03-02T09:00:00+08:00"  # time_limit_days = 1: last day 2026-03-03
NOTICE = parse_instant("2026-03-03T00:00:00+08:00")
YELLOW = parse_instant("2026-03-04T00:00:00+08:00")
RED = parse_instant("2026-03-07T00:00:00+08:00")
NOW = parse_instant("2026-03-20T12:00:00+08:00")  # long past every instant


def at(us: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(us / S, UTC).isoformat()


# ----------------------------------------------------------------- markers


def test_a_marker_is_exactly_source_and_watermark() -> None:
    assert parse_marker(progress_marker("finance", "2026-03-03T00:00:00+08:00")) == Marker(
        "finance", NOTICE
    )
    assert parse_marker(b'{"watermark":"2026-03-02T16:00:00Z","source":"x"}').watermark == NOTICE


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (b"", "no value"),
        (b"{nope", "not valid JSON"),
        (b'["finance", "2026-03-03T00:00:00+08:00"]', "JSON object"),
        (b'{"source": "finance"}', "watermark: required"),
        (b'{"watermark": "2026-03-03T00:00:00+08:00"}', "source: required"),
        (b'{"source": "f", "watermark": "2026-03-03T00:00:00+08:00", "x": 1}', "x: not a field"),
        (b'{"source": "", "watermark": "2026-03-03T00:00:00+08:00"}', "source:"),
        (b'{"source": 7, "watermark": "2026-03-03T00:00:00+08:00"}', "source:"),
        (b'{"source": "f", "watermark": "2026-03-03T00:00:00"}', "watermark:"),  # no offset
        (b'{"source": "f", "watermark": "2026-03-03"}', "watermark:"),
        (b'{"source": "f", "watermark": 1772467200}', "watermark:"),
        (b'{"source": "f", "watermark": "2026-02-30T00:00:00+08:00"}', "watermark:"),
        (b'{"source": "f", "watermark": "2126-03-03T00:00:00+08:00"}', "2000..2099"),
    ],
)
def test_a_malformed_marker_is_refused_with_its_reason(value: bytes, says: str) -> None:
    with pytest.raises(InvalidMarker) as refused:
        parse_marker(value)
    assert str(refused.value).startswith("progress_marker: ") and says in str(refused.value)


def test_marks_keep_each_sources_latest_and_ignore_what_goes_backwards() -> None:
    marks = ProgressMarks()
    both = frozenset({"a", "b"})
    assert marks.horizon(both) is None
    assert marks.observe(Marker("a", 500), both) == ADVANCED
    assert marks.horizon(both) is None  # b has not spoken: no horizon yet
    assert marks.observe(Marker("b", 300), both) == ADVANCED
    assert marks.horizon(both) == 300  # the minimum over the sources
    assert marks.observe(Marker("b", 200), both) == BACKWARDS  # ignored
    assert marks.observe(Marker("b", 300), both) == UNCHANGED
    assert marks.observe(Marker("c", 900), both) == UNCONFIGURED  # not one of the topic's
    assert marks.latest == {"a": 500, "b": 300} and marks.horizon(both) == 300
    assert marks.observe(Marker("b", 800), both) == ADVANCED
    assert marks.horizon(both) == 500
    restored = ProgressMarks()
    restored.load(marks.pack())
    assert restored.latest == marks.latest and not restored.dirty


def test_the_upstream_horizon() -> None:
    delay = 600 * S
    upstreams = UpstreamHorizon({"t.marked": frozenset({"a", "b"})}, delay)
    marks = ProgressMarks({"a": 700 * S, "b": 400 * S})
    now = 10_000 * S
    # A topic with sources: the minimum latest watermark, wherever the wall clock is.
    assert upstreams.horizon("t.marked", marks, now, answered_at=now) == 400 * S
    # A topic without: the wall clock minus the delay.
    assert upstreams.horizon("t.other", ProgressMarks(), now, answered_at=now) == now - delay
    # A broker that has not answered within the delay (or never): no advance at all.
    for topic in ("t.marked", "t.other"):
        assert upstreams.horizon(topic, marks, now, answered_at=now - delay - 1) is None
        assert upstreams.horizon(topic, marks, now, answered_at=None) is None
    assert upstreams.horizon("t.other", marks, now, answered_at=now - delay) == now - delay
    # WATERMARK_IDLE=stream: no further than the stream's own clock.
    assert upstreams.horizon("t.other", marks, now, now, 900 * S, by_stream=True) == 900 * S
    assert upstreams.horizon("t.other", marks, now, now, None, by_stream=True) is None


def test_sources_and_delay_come_from_the_settings() -> None:
    settings = Settings(
        topic_approval_sources=" approval-platform, 12345-hotline ,",
        upstream_delay="PT2M",  # type: ignore[arg-type]
    )
    upstreams = UpstreamHorizon.from_settings(settings)
    assert upstreams.sources == {
        settings.topic_approval: frozenset({"approval-platform", "12345-hotline"})
    }
    assert upstreams.delay_us == 120 * S
    assert Settings().upstream_delay == timedelta(minutes=10)
    for text, seconds in (("90", 90), ("0.5", 0.5), ("PT10M", 600), ("00:02:00", 120)):
        delay = Settings(upstream_delay=text).upstream_delay  # type: ignore[arg-type]
        assert delay == timedelta(seconds=seconds), text
    for bad in ("0", "-5", "soon"):
        with pytest.raises(ValueError, match="upstream_delay"):
            Settings(upstream_delay=bad)  # type: ignore[arg-type]


# ----------------------------------------------------------------- the service


APPROVAL = TP(TOPICS.approval, 0)


def accept(case: str) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"e-{case}",
            "case_id": case,
            "process": "approval",
            "action": "accept",
            "occurred_at": ACCEPT,
            "dept": "D01",
            "attrs": {"time_limit_days": 1},
        }
    )


def marker(source: str, watermark: int) -> tuple[bytes, bytes]:
    return PROGRESS_KEY, progress_marker(source, at(watermark))


class Partition:
    """The approval partition 0 of one worker over the fake port, driven by hand."""

    def __init__(self, **settings: object) -> None:
        self.port, self.store = Port(partitions=TOPICS.partitions), Store()
        self.port.assigned = {APPROVAL}
        self.port.answered_at = NOW / S
        self.service: LiveService = build_service(self.port, self.store, **settings)
        self.service.evaluator.clock = lambda: self.now / S
        self.now = NOW
        self.offset = 0

    async def read(self, *records: tuple[bytes, bytes]) -> None:
        """The partition's next records, read, evaluated and persisted; caught up after."""
        msgs = []
        for key, value in records:
            msgs.append(Message(APPROVAL.topic, 0, self.offset, key, value, APPROVAL))
            self.offset += 1
        self.port.log_end = self.offset
        self.service.intake.events.messages = msgs
        await self.service.flush()
        await persist_all(self.service)

    async def tick(self) -> list[tuple[str, str]]:
        """One tick; (rule, level) of every alert stored so far."""
        await self.service.tick()
        await persist_all(self.service)
        return sorted((a.rule, a.level) for a in self.store.alerts)

    def markers(self, outcome: str) -> float:
        metric = self.service.evaluator.metrics.progress_markers
        return float(metric.labels(APPROVAL.topic, outcome)._value.get())  # noqa: SLF001


def test_markers_hold_a_caught_up_partition_at_the_minimum_watermark_of_its_sources() -> None:
    async def run() -> None:
        p = Partition(topic_approval_sources="platform,hotline", upstream_delay=60)
        await p.read(marker("platform", NOTICE - S), (b"A-1", accept("A-1")))
        # Caught up, the wall clock long past every instant: the hotline has not spoken.
        assert await p.tick() == []
        await p.read(marker("hotline", YELLOW))
        assert await p.tick() == []  # the platform is still before the notice instant
        await p.read(marker("platform", RED + S))
        assert await p.tick() == [
            ("OVERDUE", "notice"),
            ("OVERDUE", "yellow"),
        ]  # up to the hotline's
        await p.read(marker("hotline", YELLOW - S))  # backwards: ignored and counted
        await p.read(marker("hotline", RED))
        assert await p.tick() == [("OVERDUE", "notice"), ("OVERDUE", "red"), ("OVERDUE", "yellow")]
        assert p.markers(BACKWARDS) == 1 and p.markers(ADVANCED) == 4
        # Markers are never events: only the accept was stored.
        assert [e.event_id for e in p.store.events] == ["e-A-1"]
        # The watermarks are stored with the partition's state, before its next offset.
        changelog = p.port.aiokafka.sent["case-changelog"]
        key = progress_key(0, APPROVAL.topic)
        assert orjson.loads([v for k, v in changelog if k == key][-1]) == {
            "hotline": RED,
            "platform": RED + S,
        }

    asyncio.run(run())


def test_a_malformed_marker_is_dead_lettered_and_counted_and_moves_nothing() -> None:
    async def run() -> None:
        p = Partition(topic_approval_sources="platform", upstream_delay=60)
        await p.read(
            (b"A-1", accept("A-1")),
            (PROGRESS_KEY, b'{"source": "platform", "watermark": "2026-03-21"}'),
            (PROGRESS_KEY, orjson.dumps({"source": "platform", "watermark": at(RED), "x": 1})),
            marker("elsewhere", RED),  # not a source of this topic: ignored, counted
        )
        assert await p.tick() == []
        letters = p.store.letters
        assert [d.kind for d in letters] == [PROGRESS_MARKER, PROGRESS_MARKER]
        assert "watermark" in letters[0].reason and "x: not a field" in letters[1].reason
        assert letters[0].key == PROGRESS_KEY and (letters[0].topic, letters[0].offset) == (
            APPROVAL.topic,
            1,
        )
        assert p.markers("malformed") == 2 and p.markers(UNCONFIGURED) == 1
        assert [e.event_id for e in p.store.events] == ["e-A-1"]
        await p.read(marker("platform", YELLOW - 1))
        assert await p.tick() == [("OVERDUE", "notice")]
        await p.read(marker("platform", YELLOW))  # every event before the instant was read
        assert await p.tick() == [("OVERDUE", "notice"), ("OVERDUE", "yellow")]

    asyncio.run(run())


def test_a_topic_without_sources_advances_to_the_wall_clock_minus_the_delay() -> None:
    async def run() -> None:
        p = Partition(upstream_delay=3600)
        p.now = NOTICE + 1800 * S
        p.port.answered_at = p.now / S
        await p.read((b"A-1", accept("A-1")))
        assert await p.tick() == []  # the notice instant is half the delay ago
        assert p.service.ticker.health.timer_lag_seconds == 0  # a wait the delay allows
        p.now = NOTICE + 3600 * S
        p.port.answered_at = p.now / S
        assert await p.tick() == [("OVERDUE", "notice")]

    asyncio.run(run())


def test_a_partition_whose_broker_is_silent_does_not_advance() -> None:
    async def run() -> None:
        p = Partition(upstream_delay=60)
        p.now = YELLOW - 120 * S
        p.port.answered_at = p.now / S
        await p.read((b"A-1", accept("A-1")))
        assert await p.tick() == [("OVERDUE", "notice")]
        # The broker stops answering two minutes before the yellow instant; the wall clock goes
        # on for days: the partition still looks caught up (its last fetch said so), but it does
        # not advance.
        for later in (YELLOW + 120 * S, RED + 86_400 * S):
            p.now = later
            assert await p.tick() == [("OVERDUE", "notice")]
            # The timer backlog shows how long the yellow card waits beyond the delay.
            lag = p.service.ticker.health.timer_lag_seconds
            assert lag == (later - 60 * S - YELLOW) / S
        p.port.answered_at = p.now / S  # it answers again
        assert await p.tick() == [("OVERDUE", "notice"), ("OVERDUE", "red"), ("OVERDUE", "yellow")]

    asyncio.run(run())


def test_a_marker_sent_to_every_partition_is_parsed_once_and_noted_on_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An upstream sends the same marker to each partition: parsed once, noted per partition;
    a malformed one is dead-lettered every time it is read."""
    import streams.live.pipeline as pipeline_module
    from streams.live.processor import Output
    from tests.live.core import pipeline

    parsed: list[bytes] = []
    real = pipeline_module.parse_marker

    def counting(value: bytes) -> Marker:
        parsed.append(value)
        return real(value)

    monkeypatch.setattr(pipeline_module, "parse_marker", counting)
    parts: dict = {}
    pipe = pipeline(parts)
    for part in (pipe.case_partition(TOPICS.approval, p) for p in range(3)):
        part.sources = frozenset({"up"})
    value = progress_marker("up", "2026-03-02T09:00:00+08:00")
    bad = b'{"source": "up"}'
    msgs = [Message(TOPICS.approval, p, 0, PROGRESS_KEY, value) for p in range(3)]
    msgs += [Message(TOPICS.approval, p, 1, PROGRESS_KEY, bad) for p in range(2)]
    out = Output()
    pipe.run(msgs, out)
    assert parsed == [value, bad, bad]
    watermark = parse_instant("2026-03-02T09:00:00+08:00")
    assert [parts[(TOPICS.approval, p)].clock.marks.latest for p in range(3)] == [{"up": watermark}] * 3
    assert [letter.kind for letter in out.dead_letters] == [PROGRESS_MARKER] * 2
