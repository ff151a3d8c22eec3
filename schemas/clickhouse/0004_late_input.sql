-- Late input (rules.md §1.4; events.md: reported_at, § Alerts withdrawals).
--
-- events (and events_by_dept) gain the envelope's reported_at (the instant, its exact
-- microseconds and the text as written upstream: exports give it back as sent) and
-- arrived_at, the Kafka record timestamp of the message the live service read it from
-- (NULL for events stored otherwise, e.g. offline).
--
-- alerts gain withdrawn_at (processing time), withdrawn_reason and withdrawn_by (the
-- event_ids that disproved the alert). A withdrawal is a NEW version of the alert's row
-- (streams/storage/withdrawals.py), never an update: alerts is a ReplacingMergeTree
-- without a version column, so the row stored last is the one FINAL reads, and the
-- writer stores withdrawals after the alerts they withdraw. Its detected_at is the
-- alert's first.
--
-- Reads leave withdrawn alerts out: alerts_v has only alerts not withdrawn,
-- alerts_withdrawn_v only withdrawn ones. Department statistics are computed from the
-- current rows (case_status FINAL: the latest version of each case; alerts FINAL, not
-- withdrawn), so a withdrawal, or a case whose status a correction changes, is counted
-- once, where it now belongs. The incremental dept_daily sets of 0002 cannot forget an
-- id once added: they and their materialized views are dropped.
--
-- Runs unchanged on ClickHouse 18.16 and chdb. 18.16 has no ADD COLUMN IF NOT EXISTS:
-- each ALTER is skipped when its first column exists (a re-run after an interruption).

-- unless-column: events.reported_at
ALTER TABLE events
    ADD COLUMN reported_at Nullable(DateTime('Asia/Shanghai')),
    ADD COLUMN reported_at_us Nullable(Int64),
    ADD COLUMN reported_at_text Nullable(String),
    ADD COLUMN arrived_at Nullable(DateTime('Asia/Shanghai')),
    ADD COLUMN arrived_at_us Nullable(Int64);

-- unless-column: events_by_dept.reported_at
ALTER TABLE events_by_dept
    ADD COLUMN reported_at Nullable(DateTime('Asia/Shanghai')),
    ADD COLUMN reported_at_us Nullable(Int64),
    ADD COLUMN reported_at_text Nullable(String),
    ADD COLUMN arrived_at Nullable(DateTime('Asia/Shanghai')),
    ADD COLUMN arrived_at_us Nullable(Int64);

DROP TABLE IF EXISTS events_by_dept_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_by_dept_mv TO events_by_dept AS
SELECT event_id, case_id, process, action, occurred_at, occurred_at_us, occurred_at_text,
       dept, actor, party, amount, attrs, ingested_at,
       reported_at, reported_at_us, reported_at_text, arrived_at, arrived_at_us
FROM events;

-- unless-column: alerts.withdrawn_at
ALTER TABLE alerts
    ADD COLUMN withdrawn_at Nullable(DateTime('Asia/Shanghai')),
    ADD COLUMN withdrawn_reason String,
    ADD COLUMN withdrawn_by Array(String);

DROP TABLE IF EXISTS events_v;

CREATE VIEW IF NOT EXISTS events_v AS
SELECT event_id, case_id, process, action, occurred_at, occurred_at_us, occurred_at_text,
       dept, actor, party, amount, attrs, ingested_at,
       reported_at, reported_at_us, reported_at_text, arrived_at, arrived_at_us
FROM events FINAL;

DROP TABLE IF EXISTS alerts_v;

CREATE VIEW IF NOT EXISTS alerts_v AS
SELECT alert_id, rule, level, case_id, process, dept, raised_at, raised_at_us, evidence,
       message, details, config_version, detected_at
FROM alerts FINAL
WHERE isNull(withdrawn_at);

CREATE VIEW IF NOT EXISTS alerts_withdrawn_v AS
SELECT alert_id, rule, level, case_id, process, dept, raised_at, raised_at_us, evidence,
       message, details, config_version, detected_at,
       withdrawn_at, withdrawn_reason, withdrawn_by
FROM alerts FINAL
WHERE isNotNull(withdrawn_at);

DROP TABLE IF EXISTS dept_daily_v;

DROP TABLE IF EXISTS dept_daily_accepted_mv;

DROP TABLE IF EXISTS dept_daily_closed_mv;

DROP TABLE IF EXISTS dept_daily_alerts_mv;

DROP TABLE IF EXISTS dept_daily;

-- Per (local day, dept, process), from the current rows: each case and each alert lands
-- on exactly one day, so a period is the sum of its days.
--   accepted           cases whose clock started that day (started_at)
--   completed          cases that reached a terminal action that day (closed_at)
--   completed_on_time  ... of which on time; completed_late: after the deadline
--   overdue            cases whose OVERDUE yellow card (not withdrawn) is of that day
--   notices / yellow_cards / red_cards   alerts of that level raised that day, not withdrawn
-- (18.16: the branches of a UNION ALL must have the same column types.)
CREATE VIEW IF NOT EXISTS dept_daily_v AS
SELECT
    day,
    dept,
    process,
    sum(n_accepted) AS accepted,
    sum(n_completed) AS completed,
    sum(n_on_time) AS completed_on_time,
    sum(n_late) AS completed_late,
    sum(n_overdue) AS overdue,
    sum(n_notices) AS notices,
    sum(n_yellow) AS yellow_cards,
    sum(n_red) AS red_cards
FROM
(
    SELECT
        toDate(assumeNotNull(started_at), 'Asia/Shanghai') AS day, dept, process,
        toUInt64(1) AS n_accepted, toUInt64(0) AS n_completed, toUInt64(0) AS n_on_time,
        toUInt64(0) AS n_late, toUInt64(0) AS n_overdue, toUInt64(0) AS n_notices,
        toUInt64(0) AS n_yellow, toUInt64(0) AS n_red
    FROM case_status FINAL
    WHERE isNotNull(started_at)
    UNION ALL
    SELECT
        toDate(assumeNotNull(closed_at), 'Asia/Shanghai') AS day, dept, process,
        toUInt64(0) AS n_accepted, toUInt64(1) AS n_completed,
        toUInt64(ifNull(completed_on_time, 2) = 1) AS n_on_time,
        toUInt64(ifNull(completed_on_time, 2) = 0) AS n_late,
        toUInt64(0) AS n_overdue, toUInt64(0) AS n_notices, toUInt64(0) AS n_yellow,
        toUInt64(0) AS n_red
    FROM case_status FINAL
    WHERE terminal = 1 AND isNotNull(closed_at)
    UNION ALL
    SELECT
        toDate(raised_at, 'Asia/Shanghai') AS day, dept, process,
        toUInt64(0) AS n_accepted, toUInt64(0) AS n_completed, toUInt64(0) AS n_on_time,
        toUInt64(0) AS n_late, toUInt64(rule = 'OVERDUE' AND level = 'yellow') AS n_overdue,
        toUInt64(level = 'notice') AS n_notices, toUInt64(level = 'yellow') AS n_yellow,
        toUInt64(level = 'red') AS n_red
    FROM alerts FINAL
    WHERE isNull(withdrawn_at)
)
GROUP BY day, dept, process;
