"""One alert id, one row: the first raised wins across the partitions of ``alerts`` (audit F2).

A cross-case rule may reach one case through two comparison keys (a fund case
with two instalments each matching another case's): replay raises its alert
once, at the first; the live service judges each key on its own facts
partition, possibly on two workers, and raises the same ``alert_id`` twice, at
two instants. ``alerts`` is partitioned by the month of ``raised_at``, so
ReplacingMergeTree cannot fold the two; readers would see both.

For the alerts of cross-case rules (``CROSS_RULE_NAMES``), the writer
therefore keeps the earliest ``raised_at`` of each id:

- ``keep_first_raised`` (before the insert): of a batch's repeats of an id only
  the earliest is kept, and one stored earlier already is not stored again;
- ``repair_first_raised`` (after the insert): a stored row of an id later than
  another of the same id is deleted (``ALTER TABLE … DELETE``, a mutation,
  applied by the engine within seconds). This catches the rarer orders: the later
  alert stored first (its worker was ahead), or two workers storing at once.

The statistics (``dept_daily_v``) read the current rows: until the mutation is
applied they may count the id on the later day too (README: Storage).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from streams.engine.model import Alert
from streams.engine.rules import CROSS_RULES
from streams.storage.backends import QueryResult
from streams.storage.first_seen import _quoted
from streams.storage.tables import ALERTS, SHADOW_ALERTS

CROSS_RULE_NAMES = frozenset(rule.rule for rule in CROSS_RULES.values())
_CHUNK = 1000  # alerts per lookup: its id and case lists stay far below max_query_size


def _chunks(alerts: Sequence[Alert]) -> Iterable[Sequence[Alert]]:
    for start in range(0, len(alerts), _CHUNK):
        yield alerts[start : start + _CHUNK]


def _where(alerts: Sequence[Alert], table: str) -> str:
    def listed(values: Iterable[str]) -> str:
        return ", ".join(map(_quoted, dict.fromkeys(values)))

    versions = (
        f"config_version IN ({listed(a.config_version for a in alerts)}) AND "
        if table == SHADOW_ALERTS
        else ""
    )
    return (
        f"{versions}process IN ({listed(a.process for a in alerts)})"
        f" AND case_id IN ({listed(a.case_id for a in alerts)})"
        f" AND alert_id IN ({listed(a.alert_id for a in alerts)})"
    )


def _key(table: str) -> Callable[[Alert], tuple[str, str]]:
    """What names one alert's row: its id, and in ``shadow_alerts`` its configuration's too."""
    if table == SHADOW_ALERTS:
        return lambda a: (a.config_version, a.alert_id)
    return lambda a: ("", a.alert_id)


def _columns(table: str) -> str:
    return "config_version, alert_id" if table == SHADOW_ALERTS else "'', alert_id"


def keep_first_raised(
    alerts: list[Alert], query: Callable[[str, int], QueryResult], table: str = ALERTS
) -> tuple[list[Alert], list[Alert]]:
    """(``alerts`` to store, the cross-rule ones among them to repair after the insert).

    ``query(sql, nrows)`` runs one lookup (the writer retries it). ``table``: ``alerts``, or
    ``shadow_alerts`` (one row per configuration version and id).
    """
    cross = [a for a in alerts if a.rule in CROSS_RULE_NAMES]
    if not cross:
        return alerts, []
    key = _key(table)
    first: dict[tuple[str, str], int] = {}
    for a in cross:
        k = key(a)
        if k not in first or a.raised_at < first[k]:
            first[k] = a.raised_at
    for chunk in _chunks(cross):
        found = query(
            f"SELECT {_columns(table)}, min(raised_at_us) FROM {table}"
            f" WHERE {_where(chunk, table)} GROUP BY {_columns(table)}",
            len(chunk),
        )
        for version, alert_id, raised_us in found.rows:
            k = (str(version), str(alert_id))
            if k in first and int(raised_us) < first[k]:
                first[k] = int(raised_us)  # stored before: that one is the first
    kept: list[Alert] = []
    taken: set[tuple[str, str]] = set()
    for a in alerts:
        if a.rule in CROSS_RULE_NAMES:
            k = key(a)
            if a.raised_at != first[k] or k in taken:
                continue
            taken.add(k)
        kept.append(a)
    return kept, [a for a in kept if a.rule in CROSS_RULE_NAMES]


def repair_first_raised(
    stored: Sequence[Alert],
    query: Callable[[str, int], QueryResult],
    execute: Callable[[str], None],
    table: str = ALERTS,
) -> int:
    """Delete the stored rows of ``stored``'s ids later than the first; how many ids had some."""
    repaired = 0
    for chunk in _chunks(stored):
        found = query(
            f"SELECT {_columns(table)}, min(raised_at_us) FROM {table}"
            f" WHERE {_where(chunk, table)} GROUP BY {_columns(table)}"
            " HAVING uniqExact(raised_at_us) > 1",
            len(chunk),
        )
        later = [
            (f"(config_version = {_quoted(str(v))} AND " if table == SHADOW_ALERTS else "(")
            + f"alert_id = {_quoted(str(i))} AND raised_at_us > {int(t)})"
            for v, i, t in found.rows
        ]
        if later:
            execute(f"ALTER TABLE {table} DELETE WHERE {' OR '.join(later)}")
        repaired += len(later)
    return repaired
