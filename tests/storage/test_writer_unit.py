"""The writer's retry, back-pressure, isolation and batching, on a fake backend."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from streams.storage.backends import Backend, QueryResult
from streams.storage.errors import (
    MalformedRows,
    StorageMisconfigured,
    StorageRefused,
    StorageUnavailable,
)
from streams.storage.writer import Writer
from tests.storage.data import alert, events


class FakeBackend(Backend):
    engine = "fake"
    database = "fake"

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self.down_for = 0  # fail this many inserts as unavailable
        self.refuse: set[str] = set()  # event ids the "server" refuses
        self.calls = 0
        self.missing_table = False
        self.deferred = False  # errors surface in answer(), as on the server
        self.in_flight = 0
        self.sent: list[str] = []  # first row id of each batch, in send order

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        return QueryResult([], [], [])

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        dedup_token: str | None = None,
    ) -> None:
        self.calls += 1
        if self.down_for:
            self.down_for -= 1
            raise StorageUnavailable("connection refused")
        if self.missing_table:
            raise StorageMisconfigured("engine error 60 (schema or account): no table events")
        if any(r[0] in self.refuse for r in rows):
            raise StorageRefused("server refused (code 53): type mismatch")
        self.rows.setdefault(table, []).extend(rows)

    def send_insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        dedup_token: str | None = None,
    ) -> Callable[[], None]:
        assert self.in_flight == 0, "a batch was sent before the previous one was answered"
        self.sent.append(rows[0][0])
        if not self.deferred:
            return super().send_insert(table, columns, rows, dedup_token)
        self.in_flight += 1

        def answer() -> None:
            self.in_flight -= 1
            self.insert(table, columns, rows, dedup_token)

        return answer

    def create_database(self) -> None: ...
    def reconnect(self) -> None: ...
    def close(self) -> None: ...


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _writer(backend: FakeBackend, clock: Clock, **kwargs: Any) -> Writer:
    return Writer(
        backend,
        clock=clock,
        sleep=clock.sleep,
        wall_clock=lambda: 1_800_000_000.0,
        retry_initial_s=0.1,
        retry_max_s=0.4,
        **kwargs,
    )


def test_retries_with_backoff_until_stored() -> None:
    backend, clock = FakeBackend(), Clock()
    backend.down_for = 4
    writer = _writer(backend, clock)
    assert writer.write(events=events(3)) == 3
    assert clock.sleeps == [0.1, 0.2, 0.4, 0.4]
    assert writer.stats.retries == 4
    assert writer.stats.rows_written == 3 and writer.stats.batches_written == 1
    assert len(backend.rows["events"]) == 3


def test_gives_back_pressure_after_max_wait_and_loses_nothing() -> None:
    backend, clock = FakeBackend(), Clock()
    backend.down_for = 100
    writer = _writer(backend, clock, max_wait_s=1.0)
    with pytest.raises(StorageUnavailable) as caught:
        writer.write(events=events(2))
    assert caught.value.retry_after > 0
    backend.down_for = 0
    assert writer.write(events=events(2)) == 2  # the caller tries again: stored


def test_refused_rows_are_isolated_and_the_rest_written() -> None:
    backend, clock = FakeBackend(), Clock()
    backend.refuse = {"e000005"}
    writer = _writer(backend, clock)
    with pytest.raises(MalformedRows) as caught:
        writer.write(events=events(16))
    assert [str(r) for r in caught.value.rejected] == [
        "events event_id=e000005: server refused (code 53): type mismatch"
    ]
    assert sorted(r[0] for r in backend.rows["events"]) == [
        f"e{i:06d}" for i in range(16) if i != 5
    ]
    assert writer.stats.rows_rejected == 1


def test_writes_in_batches_of_batch_rows() -> None:
    backend, clock = FakeBackend(), Clock()
    writer = _writer(backend, clock, batch_rows=5)
    assert writer.write(events=events(6)) == 6
    assert writer.stats.batches_written == 2
    assert writer.stats.rows_by_table["events"] == 6


def test_a_write_given_up_stores_everything_when_called_again() -> None:
    backend, clock = FakeBackend(), Clock()
    backend.down_for = 100
    writer = _writer(backend, clock, batch_rows=100, max_wait_s=0.5)
    with pytest.raises(StorageUnavailable):
        writer.write(events=events(3))
    assert "events" not in backend.rows
    backend.down_for = 0
    assert writer.write(events=events(3)) == 3


def test_a_batch_refused_whole_is_not_blamed_on_its_rows() -> None:
    backend, clock = FakeBackend(), Clock()
    backend.refuse = {f"e{i:06d}" for i in range(8)}
    writer = _writer(backend, clock)
    with pytest.raises(StorageRefused, match="every one of 8 events rows refused"):
        writer.write(events=events(8))
    assert writer.stats.rows_rejected == 0


def test_a_missing_table_propagates_without_bisecting() -> None:
    backend, clock = FakeBackend(), Clock()
    backend.missing_table = True
    writer = _writer(backend, clock)
    with pytest.raises(StorageMisconfigured):
        writer.write(events=events(8))
    assert backend.calls == 1


@pytest.mark.parametrize("deferred", [False, True])
def test_pipelined_batches_go_one_at_a_time_in_order(deferred: bool) -> None:
    backend, clock = FakeBackend(), Clock()
    backend.deferred = deferred
    writer = _writer(backend, clock, batch_rows=4)
    assert writer.write(events=events(10), alerts=[]) == 10
    assert backend.sent == ["e000000", "e000004", "e000008"]
    assert [r[0] for r in backend.rows["events"]] == [f"e{i:06d}" for i in range(10)]
    assert writer.stats.batches_written == 3


def test_a_failure_seen_in_the_answer_is_retried_with_backoff() -> None:
    backend, clock = FakeBackend(), Clock()
    backend.deferred = True
    backend.down_for = 4
    writer = _writer(backend, clock, batch_rows=2)
    assert writer.write(events=events(5)) == 5
    assert clock.sleeps == [0.1, 0.2, 0.4, 0.4]
    assert writer.stats.retries == 4
    assert sorted(r[0] for r in backend.rows["events"]) == [f"e{i:06d}" for i in range(5)]


def test_a_refusal_seen_in_the_answer_is_isolated_across_batches() -> None:
    backend, clock = FakeBackend(), Clock()
    backend.deferred = True
    backend.refuse = {"e000005", "e000013"}
    writer = _writer(backend, clock, batch_rows=4)
    with pytest.raises(MalformedRows) as caught:
        writer.write(events=events(16))
    assert [r.key for r in caught.value.rejected] == ["event_id=e000005", "event_id=e000013"]
    assert sorted(r[0] for r in backend.rows["events"]) == [
        f"e{i:06d}" for i in range(16) if i not in (5, 13)
    ]


def test_observer_hears_each_table_batch_and_each_failed_attempt() -> None:
    from prometheus_client import CollectorRegistry

    from streams.observability.metrics import Metrics

    backend, clock = FakeBackend(), Clock()
    backend.down_for = 2
    metrics = Metrics(CollectorRegistry(), process_metrics=False)
    writer = _writer(backend, clock, observer=metrics)
    writer.write(events=events(3), alerts=[alert(1)])

    def value(name: str, **labels: str) -> float:
        return metrics.registry.get_sample_value(f"supervision_{name}", labels) or 0.0

    assert value("storage_write_failures_total", table="events", error="StorageUnavailable") == 2
    assert value("storage_retries_total", table="events") == 2
    assert value("storage_batches_total", table="events") == 1
    assert value("storage_rows_total", table="events") == 3
    assert value("storage_rows_total", table="alerts") == 1
    assert value("storage_write_failures_total", table="alerts", error="StorageUnavailable") == 0
    # the events batch waited out the outage: its latency holds the retries
    assert value("storage_write_duration_seconds_sum", table="events") == pytest.approx(0.3)
