"""One cross-case alert id reached through two keys is stored once, at the first (audit F2).

The recipe: fund case A disburses (P, 100000) on 26 March and (P, 50000) on 3 April;
case B of the same programme and payee the same amounts on 20 March and 1 April. Replay
raises DUPLICATE_DISBURSEMENT for A once (26 March); the live service judges each key on
its own facts partition and raises the same alert id again on 3 April, in another month's
partition of ``alerts``. What users read must equal replay, whatever order the two are
stored in.
"""

from __future__ import annotations

import time

import pytest

from streams.engine import CaseEngine, CrossEngine, Engine, EventValidator, load_config
from streams.engine.model import Alert
from streams.storage.backends import Backend
from streams.storage.writer import Writer
from tests.engine.harness import ev

CONFIG = load_config()


def fund(case: str, *disbursements: tuple[str, str]) -> list[dict]:
    common = {"payee": "P1"}
    events = [
        ev(f"{case}-a", case, "fund_disbursement", "apply", "2026-03-01T09:00:00", "CZJ",
           amount="200000", program="惠农", **common),
        ev(f"{case}-r", case, "fund_disbursement", "review", "2026-03-01T10:00:00", "CZJ"),
        ev(f"{case}-p", case, "fund_disbursement", "approve", "2026-03-01T11:00:00", "CZJ",
           approved_amount="200000", **common),
    ]  # fmt: skip
    for i, (amount, at) in enumerate(disbursements):
        events.append(
            ev(f"{case}-d{i}", case, "fund_disbursement", "disburse", at, "CZJ",
               amount=amount, **common)
        )  # fmt: skip
    return events


EVENTS = sorted(
    fund("A", ("100000", "2026-03-26T09:00:00"), ("50000", "2026-04-03T09:00:00"))
    + fund("B", ("100000", "2026-03-20T09:00:00"), ("50000", "2026-04-01T09:00:00")),
    key=lambda e: e["occurred_at"],
)


def replayed() -> list[Alert]:
    engine = Engine(CONFIG, track_changes=False, event_ids=False)
    validator = EventValidator()
    out: list[Alert] = []
    for e in EVENTS:
        out += engine.feed(validator.from_document(e))
    return [a for a in out if a.rule == "DUPLICATE_DISBURSEMENT"]


def live() -> list[Alert]:
    """As the live service evaluates: the case half per event, each fact key judged by its
    own cross engine (its facts partition), facts in time order."""
    cases = CaseEngine(CONFIG)
    validator = EventValidator()
    by_key: dict[str, CrossEngine] = {}
    out: list[Alert] = []
    for e in EVENTS:
        _, facts = cases.process(validator.from_document(e))
        for fact in facts:
            out += by_key.setdefault(fact.key, CrossEngine(CONFIG)).process(fact)
    return [a for a in out if a.rule == "DUPLICATE_DISBURSEMENT"]


def stored(backend: Backend) -> list[tuple[str, int]]:
    rows = backend.query(
        "SELECT alert_id, raised_at_us FROM alerts_v WHERE rule = 'DUPLICATE_DISBURSEMENT'"
        " ORDER BY raised_at_us"
    ).rows
    return [(str(r[0]), int(r[1])) for r in rows]


def settled(backend: Backend, expected: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """What readers see once the engine has applied its mutations (a few seconds at most)."""
    deadline = time.monotonic() + 30
    seen = stored(backend)
    while seen != expected and time.monotonic() < deadline:
        time.sleep(0.3)
        seen = stored(backend)
    return seen


def test_the_recipe_raises_one_alert_id_twice_live_and_once_in_replay() -> None:
    once, twice = replayed(), live()
    assert len(once) == 1 and once[0].case_id == "A"
    assert [a.alert_id for a in twice] == [once[0].alert_id] * 2
    assert twice[0].raised_at == once[0].raised_at < twice[1].raised_at


@pytest.mark.parametrize("order", ["in_order", "later_first", "one_batch"])
def test_storage_shows_the_first_raised_only(migrated_backend: Backend, order: str) -> None:
    (first,) = replayed()
    early, late = live()
    expected = [(first.alert_id, first.raised_at)]
    writer = Writer(migrated_backend)
    if order == "in_order":
        writer.write(alerts=[early])
        writer.write(alerts=[late])
    elif order == "later_first":  # the worker of the April key was ahead
        writer.write(alerts=[late])
        writer.write(alerts=[early])
    else:
        writer.write(alerts=[late, early])
    assert settled(migrated_backend, expected) == expected
    writer.write(alerts=[late])  # a replay after a restart stores it again: still once
    assert settled(migrated_backend, expected) == expected
    raw = migrated_backend.query("SELECT count() FROM alerts WHERE alert_id = %(i)s",
                                 {"i": first.alert_id}).rows  # fmt: skip
    assert raw[0][0] >= 1


def test_lookups_are_chunked_and_a_batch_keeps_the_first_of_each_id() -> None:
    import dataclasses

    from streams.storage.backends import QueryResult
    from streams.storage.first_raised import keep_first_raised

    early, late = live()
    many = [dataclasses.replace(early, alert_id=f"id{i:05d}") for i in range(2500)]
    sqls: list[str] = []

    def query(sql: str, nrows: int) -> QueryResult:
        sqls.append(sql)
        return QueryResult([], [], [])

    kept, repair = keep_first_raised([late, *many, early], query)
    assert len(sqls) == 3 and all(len(s) < 200_000 for s in sqls)
    assert kept == [*many, early] and repair == kept


def shadow_stored(backend: Backend) -> list[tuple[str, str, int]]:
    rows = backend.query(
        "SELECT config_version, alert_id, raised_at_us FROM shadow_alerts FINAL"
        " WHERE rule = 'DUPLICATE_DISBURSEMENT' ORDER BY config_version, raised_at_us"
    ).rows
    return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]


@pytest.mark.parametrize("order", ["in_order", "later_first", "one_batch"])
def test_shadow_alerts_keep_the_first_raised_per_configuration(
    migrated_backend: Backend, order: str
) -> None:
    """A shadow configuration's cross-case alerts go through the same two keys: one row per
    (configuration version, id), at the first instant, and each version on its own."""
    import dataclasses

    (first,) = replayed()
    early, late = live()
    other = "cfg-shadow00002"
    expected = sorted(
        [
            (early.config_version, first.alert_id, first.raised_at),
            (other, first.alert_id, late.raised_at),
        ]
    )
    writer = Writer(migrated_backend)
    batches = {
        "in_order": [[early], [late]],
        "later_first": [[late], [early]],
        "one_batch": [[late, early]],
    }[order]
    for batch in batches:
        writer.write(shadow_alerts=batch)
    writer.write(shadow_alerts=[dataclasses.replace(late, config_version=other)])
    deadline = time.monotonic() + 30
    while shadow_stored(migrated_backend) != expected and time.monotonic() < deadline:
        time.sleep(0.3)
    assert shadow_stored(migrated_backend) == expected
