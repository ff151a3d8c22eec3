"""The storage error policy: transient errors are retried, unknown ones too (and counted), only
a value the engine blames is the input's fault, and such a row becomes a dead letter."""

from __future__ import annotations

import logging
import socket
from typing import Any

import orjson
import pytest
from clickhouse_driver import errors as ch

from streams.storage.backends import ChdbBackend, ServerBackend, wait_until_ready
from streams.storage.errors import (
    MalformedRows,
    StorageMisconfigured,
    StorageRefused,
    StorageUnavailable,
    StorageUnclassified,
)
from streams.storage.policy import (
    INPUT_FAULT_CODES,
    MISCONFIGURED_CODES,
    TRANSIENT_CODES,
    classify,
)
from tests.storage.data import events
from tests.storage.test_writer_unit import Clock, FakeBackend, _writer

# Seen in production-like failures (issue #13): a restart cancels queries (394), memory (173),
# the server's pool (439), an aborted query (236), a 252 "too many parts".
TRANSIENT_SEEN = (394, 173, 439, 236, 252)


@pytest.mark.parametrize("code", TRANSIENT_SEEN)
def test_transient_server_codes_are_retried(code: int) -> None:
    error = classify(code, "Query was cancelled")
    assert type(error) is StorageUnavailable


@pytest.mark.parametrize("code", [None, 0, 1, 49, 100, 102, 115, 999_999])
def test_unknown_errors_are_transient_and_told_apart(code: int | None) -> None:
    error = classify(code, "something nobody listed")
    assert isinstance(error, StorageUnavailable) and isinstance(error, StorageUnclassified)


@pytest.mark.parametrize("code", [6, 27, 53, 69, 72, 321, 407])
def test_only_a_value_the_engine_blames_is_the_inputs_fault(code: int) -> None:
    assert type(classify(code, "Cannot parse input")) is StorageRefused


def test_the_code_lists_do_not_overlap() -> None:
    assert not TRANSIENT_CODES & MISCONFIGURED_CODES
    assert not TRANSIENT_CODES & INPUT_FAULT_CODES
    assert not MISCONFIGURED_CODES & INPUT_FAULT_CODES
    assert type(classify(60, "no table")) is StorageMisconfigured


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unreachable_server() -> ServerBackend:
    return ServerBackend(f"clickhouse://127.0.0.1:{_closed_port()}/db", connect_timeout_s=0.5)


@pytest.mark.parametrize(
    "raised, expected",
    [
        (ch.UnexpectedPacketFromServerError("Unexpected packet from server"), StorageUnclassified),
        (ch.UnknownPacketFromServerError("Unknown packet 17"), StorageUnclassified),
        (ch.PartiallyConsumedQueryError(), StorageUnclassified),
        (ch.ChecksumDoesntMatchError("bad checksum"), StorageUnavailable),
        (ch.TypeMismatchError("wrong type for column amount"), StorageRefused),
        (ch.ServerException("Query was cancelled", code=394), StorageUnavailable),
        (ch.ServerException("Cannot allocate memory", code=173), StorageUnavailable),
        (ch.ServerException("Cannot parse input", code=27), StorageRefused),
        (ValueError("invalid literal for int()"), StorageRefused),
    ],
)
def test_server_client_errors_follow_the_policy(raised: Exception, expected: type) -> None:
    backend = _unreachable_server()

    def fails() -> None:
        raise raised

    with pytest.raises(StorageUnavailable if expected is StorageUnavailable else expected) as got:
        backend._call(fails)
    assert type(got.value) is expected


def test_a_chdb_error_without_a_code_is_unclassified_not_a_bad_row(tmp_path: Any) -> None:
    class Broken:
        def query(self, sql: str, fmt: str = "CSV") -> Any:
            raise RuntimeError("chdb: session is shutting down")

    backend = ChdbBackend.__new__(ChdbBackend)  # no data directory: only the error path
    backend._lock = __import__("threading").RLock()
    backend._conn = Broken()
    with pytest.raises(StorageUnclassified):
        backend._run("INSERT INTO events VALUES")


class FailsOnce(FakeBackend):
    """The first insert meets ``error`` (as the backend raises it), then the engine is fine."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error: Exception | None = error

    def insert(self, table: str, columns: Any, rows: Any, dedup_token: str | None = None) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        super().insert(table, columns, rows, dedup_token)


@pytest.mark.parametrize(
    "error",
    [
        classify(394, "Query was cancelled"),
        classify(173, "Cannot allocate memory"),
        classify(439, "Cannot schedule a task"),
        classify(236, "Aborted"),
        classify(None, "chdb error without a code"),
        classify(102, "client: UnexpectedPacketFromServerError: Unexpected packet"),
    ],
    ids=["394", "173", "439", "236", "chdb-no-code", "unexpected-packet"],
)
def test_a_one_row_batch_meeting_a_transient_error_is_stored_not_dropped(
    error: Exception,
) -> None:
    backend, clock = FailsOnce(error), Clock()
    writer = _writer(backend, clock)
    assert writer.write(events=events(1)) == 1  # no MalformedRows: nothing refused
    assert [r[0] for r in backend.rows["events"]] == ["e000000"]
    assert writer.stats.rows_rejected == 0 and writer.stats.retries == 1
    assert writer.stats.unclassified == (1 if isinstance(error, StorageUnclassified) else 0)


def test_unclassified_errors_are_counted_by_the_observer() -> None:
    from prometheus_client import CollectorRegistry

    from streams.observability.metrics import Metrics

    backend, clock = FailsOnce(classify(None, "chdb error without a code")), Clock()
    metrics = Metrics(CollectorRegistry(), process_metrics=False)
    _writer(backend, clock, observer=metrics).write(events=events(1))
    labels = {"table": "events", "error": "StorageUnclassified"}
    assert metrics.registry.get_sample_value("supervision_storage_write_failures_total", labels)


def test_a_row_refused_for_good_becomes_a_dead_letter_with_its_reason() -> None:
    backend, clock = FakeBackend(), Clock()
    backend.refuse = {"e000003"}
    writer = _writer(backend, clock)
    batch = events(6)
    with pytest.raises(MalformedRows) as caught:
        writer.write(events=batch)
    assert [r.key for r in caught.value.rejected] == ["event_id=e000003"]
    assert len(backend.rows["events"]) == 5
    (letter,) = backend.rows["deadletter"]
    assert letter[2] == "storage refused the events row: server refused (code 53): type mismatch"
    assert letter[3] == "storage.events:0"
    document = orjson.loads(letter[1])
    assert document["event_id"] == "e000003" and document["attrs"] == batch[3].attrs
    assert writer.stats.rows_deadlettered == 1


def test_wait_until_ready_backs_off_and_reports_each_wait(caplog: Any) -> None:
    class ComesUp(FakeBackend):
        def __init__(self) -> None:
            super().__init__()
            self.down = 3

        def query(self, sql: str, params: Any = None) -> Any:
            if self.down:
                self.down -= 1
                raise StorageUnavailable("127.0.0.1:9000 unreachable: connection refused")
            return super().query(sql, params)

    backend, clock = ComesUp(), Clock()
    waits: list[tuple[str, float]] = []
    with caplog.at_level(logging.INFO, logger="streams.storage.backends"):
        wait_until_ready(
            backend,
            initial_s=0.5,
            max_s=1.0,
            on_wait=lambda exc, delay: waits.append((type(exc).__name__, delay)),
            sleep=clock.sleep,
            clock=clock,
        )
    assert clock.sleeps == [0.5, 1.0, 1.0]
    assert waits == [("StorageUnavailable", 0.5), ("StorageUnavailable", 1.0)] + [
        ("StorageUnavailable", 1.0)
    ]
    messages = [r.getMessage() for r in caplog.records]
    assert "not ready" in messages[0] and "retrying in 0.5s" in messages[0]
    assert messages[-1] == "storage: fake  database fake ready after 2.5s"


def test_a_worker_started_while_the_server_is_down_waits_instead_of_failing() -> None:
    from streams.settings import Settings
    from streams.storage.backends import open_backend

    class StopWaiting(Exception):
        pass

    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            raise StopWaiting

    settings = Settings(
        clickhouse_url=f"clickhouse://127.0.0.1:{_closed_port()}/db",
        clickhouse_connect_timeout_s=0.5,
        clickhouse_retry_initial_s=0.1,
    )
    with pytest.raises(StopWaiting):
        open_backend(settings, sleep=sleep)
    assert sleeps == [0.1, 0.2, 0.4]


def test_waiting_gives_up_after_max_wait() -> None:
    from streams.settings import Settings
    from streams.storage.backends import open_backend

    clock = Clock()
    settings = Settings(
        clickhouse_url=f"clickhouse://127.0.0.1:{_closed_port()}/db",
        clickhouse_connect_timeout_s=0.5,
        clickhouse_retry_initial_s=1.0,
        clickhouse_max_wait_s=5.0,
    )
    with pytest.raises(StorageUnavailable, match="unreachable"):
        open_backend(settings, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == [1.0, 2.0]
