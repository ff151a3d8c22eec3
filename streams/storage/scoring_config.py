"""The active configuration's ``[scoring]`` in ClickHouse (``scoring_config``, 0008_scores.sql).

``record_scoring(backend, config, now_us)`` stores one row for the configuration's version:
its weights, grade bounds, zone and the first instant of every local month from 1970-01 to
2100-12 (``month_starts``: ClickHouse takes a time zone only as a constant, so the views
find an instant's local month with them). The worker, ``supervise web`` and ``supervise db
migrate`` call it at start; the row recorded last is the active configuration the views
``dept_month_scores_v`` and the Grafana department dashboard score with. Storing a version
again only moves its ``recorded_at_us`` (a ReplacingMergeTree keyed by the version).
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Any

from streams.storage.backends import Backend
from streams.storage.errors import StorageError

log = logging.getLogger(__name__)

TABLE = "scoring_config"
COLUMNS = (
    "config_version",
    "zone",
    "base",
    "notice",
    "yellow",
    "red",
    "duban",
    "sup_receipt_reply",
    "sup_rectify",
    "grade_excellent",
    "grade_good",
    "grade_pass",
    "first_month",
    "month_starts",
    "recorded_at_us",
)
FIRST_YEAR, LAST_YEAR = 1970, 2100


def month_starts(local: Any) -> tuple[int, list[int]]:
    """(first month index, the first instant of each local month FIRST_YEAR-01..LAST_YEAR-12
    and of the month after)."""
    starts = [
        local.start_of(date(year, month, 1).toordinal())
        for year in range(FIRST_YEAR, LAST_YEAR + 1)
        for month in range(1, 13)
    ]
    starts.append(local.start_of(date(LAST_YEAR + 1, 1, 1).toordinal()))
    return FIRST_YEAR * 12, starts


def scoring_row(config: Any, now_us: int) -> tuple[Any, ...]:
    """The ``scoring_config`` row of a configuration (pure)."""
    s = config.scoring
    first, starts = month_starts(config.local)
    return (
        config.version,
        config.local.zone_name,
        s.base,
        s.notice,
        s.yellow,
        s.red,
        s.duban,
        s.sup_receipt_reply,
        s.sup_rectify,
        s.excellent,
        s.good,
        s.passing,
        first,
        starts,
        now_us,
    )


def record_scoring(backend: Backend, config: Any, now_us: int | None = None) -> None:
    """Store the configuration's scoring as the active one (see the module docstring)."""
    at = int(time.time() * 1_000_000) if now_us is None else now_us
    backend.insert(TABLE, COLUMNS, [scoring_row(config, at)])


def try_record_scoring(backend: Backend, config: Any) -> bool:
    """``record_scoring`` for a start-up: a storage failure is logged, never fatal (the
    dashboard's scores then use the configuration recorded before)."""
    try:
        record_scoring(backend, config)
    except StorageError as exc:
        log.warning("scoring configuration %s not recorded: %s", config.version, exc)
        return False
    return True


def record_with_settings(settings: Any, config: Any) -> bool:
    """``try_record_scoring`` on the configured backend, opened and closed here."""
    from streams.storage.backends import open_backend

    try:
        backend = open_backend(settings)
    except StorageError as exc:
        log.warning("scoring configuration %s not recorded: %s", config.version, exc)
        return False
    try:
        return try_record_scoring(backend, config)
    finally:
        backend.close()
