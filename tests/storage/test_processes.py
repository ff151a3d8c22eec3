"""Every process of the contract is stored and counted, on both engines.

Storage knows no list of processes: ``process`` is a String column and the
department statistics group by it. These tests hold that for the processes
of issue #19 (重点工作 ``key_task``, 建议提案 ``proposal``, 会议议定事项
``meeting_item``): their events are stored as sent, and their cases count in
the on-time rate like any other case with a clock.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from streams.engine.model import Event
from streams.engine.validate import SCHEMAS_DIR, load_schema
from streams.storage import queries
from streams.storage.backends import Backend
from streams.storage.writer import Writer
from tests.storage.data import NEW_ALERTS, NEW_EVENTS, NEW_STATUSES, VALIDATOR

NEW = ("key_task", "proposal", "meeting_item")
SPRING = (date(2026, 3, 1), date(2026, 4, 30))


@pytest.fixture
def loaded(migrated_backend: Backend) -> Backend:
    Writer(migrated_backend).write(events=NEW_EVENTS, alerts=NEW_ALERTS, case_status=NEW_STATUSES)
    return migrated_backend


def _figures(row: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("dept", "accepted", "completed", "completed_on_time", "completed_late", "on_time_rate")
    return tuple(row[k] for k in (*keys, "yellow_cards", "red_cards", "rank"))


def test_new_processes_count_in_department_statistics(loaded: Backend) -> None:
    # dept, accepted, completed, on time, late, rate, yellow, red, rank
    assert [_figures(r) for r in queries.performance(loaded, *SPRING)] == [
        ("DK", 3, 2, 2, 0, 1.0, 1, 0, 1),
        ("DP", 2, 2, 1, 1, 0.5, 1, 1, 2),
    ]
    by_process = {p: queries.performance(loaded, *SPRING, process=p) for p in NEW}
    assert [_figures(r) for r in by_process["key_task"]] == [("DK", 1, 1, 1, 0, 1.0, 0, 0, 1)]
    assert [_figures(r) for r in by_process["meeting_item"]] == [("DK", 2, 1, 1, 0, 1.0, 1, 0, 1)]
    assert [_figures(r) for r in by_process["proposal"]] == [("DP", 2, 2, 1, 1, 0.5, 1, 1, 1)]
    [proposal] = by_process["proposal"]
    assert proposal["overdue"] == 1  # PR-1's OVERDUE yellow card
    # The late completion falls in April: March alone has PR-2 on time only.
    march = queries.performance(loaded, date(2026, 3, 1), date(2026, 3, 31), dept="DP")
    assert [_figures(r) for r in march] == [("DP", 2, 1, 1, 0, 1.0, 0, 0, 1)]
    processes = loaded.query("SELECT DISTINCT process FROM dept_daily_v ORDER BY process").rows
    assert [p for (p,) in processes] == ["key_task", "meeting_item", "proposal"]


def test_new_processes_are_read_back_as_written(loaded: Backend) -> None:
    found = queries.timeline(loaded, "KT-1", "key_task")
    assert [e["event_id"] for e in found.events] == [
        "KT-1-assign",
        "KT-1-progress",
        "KT-1-complete",
    ]
    assert found.events[0]["attrs"] == {
        "due_date": "2026-03-31",
        "title": "老旧小区改造",
        "source": "government",
    }
    assert (found.events[0]["party"], found.events[0]["amount"]) == ("", None)
    proposals = queries.events(loaded, process="proposal", dept="DP")
    assert [e["event_id"] for e in proposals] == [
        "PR-1-assign",
        "PR-2-assign",
        "PR-2-complete",
        "PR-1-reply",
        "PR-1-complete",
    ]
    assert [a["alert_id"] for a in queries.alerts(loaded, process="proposal")] == [
        "a-pr1-y",
        "a-pr1-r",
    ]
    assert [a["alert_id"] for a in queries.alerts(loaded, process="meeting_item")] == ["a-mi2-y"]


def test_every_valid_example_of_every_process_is_stored_as_sent(migrated_backend: Backend) -> None:
    """Storage never refuses or reinterprets a contract-valid event, whatever its process."""
    written: list[Event] = []
    for path in sorted((SCHEMAS_DIR / "examples" / "valid").glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        document["event_id"] = path.stem  # examples of one action share their event_id
        written.append(VALIDATOR.from_document(document))
    processes = load_schema("event.schema.json")["properties"]["process"]["enum"]
    assert {e.process for e in written} == set(processes)
    assert Writer(migrated_backend).write(events=written) == len(written)
    stored = {e["event_id"]: e for e in queries.events(migrated_backend)}
    assert sorted(stored) == sorted(e.event_id for e in written)
    for e in written:
        row = stored[e.event_id]
        assert (row["process"], row["action"], row["case_id"]) == (e.process, e.action, e.case_id)
        assert row["attrs"] == e.attrs and row["occurred_at_us"] == e.occurred_at
    # An amount key the action does not declare is kept in attrs, never parsed into a column.
    assert stored["approval-unknown-amount-kept-as-text"]["amount"] is None
    assert stored["approval-unknown-amount-kept-as-text"]["party"] == ""
