-- Core tables: events, alerts, dead letters, per-case status.
--
-- Runs unchanged on ClickHouse 18.16 (server) and on chdb (embedded).
-- Every table is a ReplacingMergeTree keyed by a deterministic id, so a batch
-- written twice (retry, replay, restart) is one row to readers who read with
-- FINAL (or through the *_v views of 0002).
-- Instants: DateTime('Asia/Shanghai') (second precision, the local zone of
-- rules.md) next to the exact Int64 epoch microseconds (*_us).

CREATE TABLE IF NOT EXISTS events
(
    event_id         String,
    case_id          String,
    process          String,
    action           String,
    occurred_at      DateTime('Asia/Shanghai'),
    occurred_at_us   Int64,
    occurred_at_text String,
    dept             String,
    actor            Nullable(String),
    party            String,
    amount           Nullable(Decimal(18, 2)),
    attrs            String,
    ingested_at      DateTime('Asia/Shanghai') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (process, case_id, occurred_at_us, event_id);

-- The same events ordered for department-by-time scans, kept by a view.
CREATE TABLE IF NOT EXISTS events_by_dept
(
    event_id         String,
    case_id          String,
    process          String,
    action           String,
    occurred_at      DateTime('Asia/Shanghai'),
    occurred_at_us   Int64,
    occurred_at_text String,
    dept             String,
    actor            Nullable(String),
    party            String,
    amount           Nullable(Decimal(18, 2)),
    attrs            String,
    ingested_at      DateTime('Asia/Shanghai')
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (dept, occurred_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS events_by_dept_mv TO events_by_dept AS
SELECT event_id, case_id, process, action, occurred_at, occurred_at_us, occurred_at_text,
       dept, actor, party, amount, attrs, ingested_at
FROM events;

CREATE TABLE IF NOT EXISTS alerts
(
    alert_id       String,
    rule           String,
    level          String,
    case_id        String,
    process        String,
    dept           String,
    raised_at      DateTime('Asia/Shanghai'),
    raised_at_us   Int64,
    evidence       Array(String),
    message        String,
    details        String,
    config_version String,
    detected_at    DateTime('Asia/Shanghai') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(raised_at)
ORDER BY (process, case_id, alert_id);

CREATE TABLE IF NOT EXISTS deadletter
(
    deadletter_id   String,
    raw             String,
    reason          String,
    source          String,
    topic           String,
    kafka_partition Int32,
    kafka_offset    Int64,
    file            String,
    line            Int64,
    received_at     DateTime('Asia/Shanghai') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
ORDER BY deadletter_id;

CREATE TABLE IF NOT EXISTS case_status
(
    process           String,
    case_id           String,
    dept              String,
    started_at        Nullable(DateTime('Asia/Shanghai')),
    deadline          Nullable(DateTime('Asia/Shanghai')),
    terminal          UInt8,
    terminal_action   String,
    closed_at         Nullable(DateTime('Asia/Shanghai')),
    card_level        String,
    completed_on_time Nullable(UInt8),
    updated_at        DateTime('Asia/Shanghai'),
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (process, case_id);
