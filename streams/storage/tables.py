"""The tables as data: their names, column order and how a row is named.

``COLUMNS[table]`` is the column order of the rows :mod:`streams.storage.rows`
builds (the DDL is in ``schemas/clickhouse/``); ``COLUMN_KEYS`` the attrs keys
broken out into columns; ``KEY_LABEL[table] + id`` names a row in messages.
"""

from __future__ import annotations

EVENTS = "events"
ALERTS = "alerts"
WITHDRAWALS = "alert_withdrawals"
"""Not a table: withdrawals given to the writer, stored as new versions of ``alerts`` rows."""
CASE_STATUS = "case_status"
DEADLETTER = "deadletter"
SHADOW_ALERTS = "shadow_alerts"  # alerts of shadow configurations (README)

COLUMNS: dict[str, tuple[str, ...]] = {
    EVENTS: (
        "event_id",
        "case_id",
        "process",
        "action",
        "occurred_at",
        "occurred_at_us",
        "occurred_at_text",
        "dept",
        "actor",
        "party",
        "amount",
        "attrs",
        "ingested_at",
        "reported_at",
        "reported_at_us",
        "reported_at_text",
        "arrived_at",
        "arrived_at_us",
    ),
    ALERTS: (
        "alert_id",
        "rule",
        "level",
        "case_id",
        "process",
        "dept",
        "raised_at",
        "raised_at_us",
        "evidence",
        "message",
        "details",
        "config_version",
        "detected_at",
        "withdrawn_at",
        "withdrawn_reason",
        "withdrawn_by",
    ),
    CASE_STATUS: (
        "process",
        "case_id",
        "dept",
        "started_at",
        "deadline",
        "terminal",
        "terminal_action",
        "closed_at",
        "card_level",
        "completed_on_time",
        "updated_at",
        "version",
    ),
    DEADLETTER: (
        "deadletter_id",
        "raw",
        "reason",
        "source",
        "topic",
        "kafka_partition",
        "kafka_offset",
        "file",
        "line",
        "received_at",
    ),
}

# The alert columns up to detected_at (a shadow's alerts are never withdrawn in storage), one
# row per configuration version.
COLUMNS[SHADOW_ALERTS] = COLUMNS[ALERTS][: COLUMNS[ALERTS].index("detected_at") + 1]

# The attrs keys broken out into the ``party`` and ``amount`` columns, per (process, action):
# only where the contract declares that key for that action (events.md), so its value has the
# contract's type. Anywhere else a key of the same name is an unknown key: kept in ``attrs`` as
# sent, never parsed (an approval ``review`` with ``"amount": "n/a"`` is a valid event).
# tests/storage/test_rows.py checks this table against schemas/event.schema.json.
COLUMN_KEYS: dict[str, dict[str, tuple[str | None, str | None]]] = {
    "penalty": {"register": ("enterprise_id", None), "execute": (None, "amount")},
    "fund_disbursement": {
        "apply": ("payee", "amount"),
        "approve": ("payee", "approved_amount"),
        "disburse": ("payee", "amount"),
    },
    "tender": {
        "announce": (None, "budget"),
        "bid": ("bidder", "amount"),
        "award": ("winner", "amount"),
        "contract": ("supplier", "amount"),
    },
    "inspection": {"start": ("enterprise_id", None)},
}

KEY_LABEL = {
    EVENTS: "event_id=",
    ALERTS: "alert_id=",
    WITHDRAWALS: "withdrawal of alert_id=",
    CASE_STATUS: "case=",
    DEADLETTER: "deadletter_id=",
    SHADOW_ALERTS: "shadow alert ",
}
