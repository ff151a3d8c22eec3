-- Department daily statistics (绩效测评) and read views.
--
-- dept_daily holds, per (local day, dept, process), the SETS of distinct case
-- keys ("process/case_id") and alert ids behind each figure, as
-- uniqExactIf states. A materialized view sees every insert, duplicates
-- included; adding an id that is already in a set changes nothing, so a batch
-- written twice never counts twice. Read the figures with uniqExactIfMerge,
-- or simply from dept_daily_v.
--
--   accepted           cases whose clock started that day (started_at)
--   completed          cases that reached a terminal action that day (closed_at)
--   on_time            ... of which completed on time   (dept_daily_v: completed_on_time)
--   late               ... of which completed after the deadline (completed_late)
--   overdue            cases that got the OVERDUE yellow card that day
--   notices / yellow_cards / red_cards   alerts of that level raised that day
--
-- Day = local date in Asia/Shanghai of the instant. Every view selects every
-- target column (ClickHouse 18.16 requires it); uniqExactIfState(x, 0) is an
-- empty set. No view may alias an aggregate with the name of a column of its
-- source table (18.16 then sees an aggregate inside an aggregate).

CREATE TABLE IF NOT EXISTS dept_daily
(
    day               Date,
    dept              String,
    process           String,
    accepted          AggregateFunction(uniqExactIf, String, UInt8),
    completed         AggregateFunction(uniqExactIf, String, UInt8),
    on_time           AggregateFunction(uniqExactIf, String, UInt8),
    late              AggregateFunction(uniqExactIf, String, UInt8),
    overdue           AggregateFunction(uniqExactIf, String, UInt8),
    notices           AggregateFunction(uniqExactIf, String, UInt8),
    yellow_cards      AggregateFunction(uniqExactIf, String, UInt8),
    red_cards         AggregateFunction(uniqExactIf, String, UInt8)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (day, dept, process);

CREATE MATERIALIZED VIEW IF NOT EXISTS dept_daily_accepted_mv TO dept_daily AS
SELECT
    toDate(assumeNotNull(started_at), 'Asia/Shanghai') AS day,
    dept,
    process,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(1)) AS accepted,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS completed,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS on_time,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS late,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS overdue,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS notices,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS yellow_cards,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS red_cards
FROM case_status
WHERE isNotNull(started_at)
GROUP BY day, dept, process;

CREATE MATERIALIZED VIEW IF NOT EXISTS dept_daily_closed_mv TO dept_daily AS
SELECT
    toDate(assumeNotNull(closed_at), 'Asia/Shanghai') AS day,
    dept,
    process,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS accepted,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(1)) AS completed,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(ifNull(completed_on_time, 2) = 1)) AS on_time,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(ifNull(completed_on_time, 2) = 0)) AS late,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS overdue,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS notices,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS yellow_cards,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS red_cards
FROM case_status
WHERE terminal = 1 AND isNotNull(closed_at)
GROUP BY day, dept, process;

CREATE MATERIALIZED VIEW IF NOT EXISTS dept_daily_alerts_mv TO dept_daily AS
SELECT
    toDate(raised_at, 'Asia/Shanghai') AS day,
    dept,
    process,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS accepted,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS completed,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS on_time,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(0)) AS late,
    uniqExactIfState(concat(process, '/', case_id), toUInt8(rule = 'OVERDUE' AND level = 'yellow')) AS overdue,
    uniqExactIfState(alert_id, toUInt8(level = 'notice')) AS notices,
    uniqExactIfState(alert_id, toUInt8(level = 'yellow')) AS yellow_cards,
    uniqExactIfState(alert_id, toUInt8(level = 'red')) AS red_cards
FROM alerts
GROUP BY day, dept, process;

-- Read views: duplicate-free by construction (FINAL / merged states).
CREATE VIEW IF NOT EXISTS events_v AS
SELECT event_id, case_id, process, action, occurred_at, occurred_at_us, occurred_at_text,
       dept, actor, party, amount, attrs, ingested_at
FROM events FINAL;

CREATE VIEW IF NOT EXISTS alerts_v AS
SELECT alert_id, rule, level, case_id, process, dept, raised_at, raised_at_us, evidence,
       message, details, config_version, detected_at
FROM alerts FINAL;

CREATE VIEW IF NOT EXISTS case_status_v AS
SELECT process, case_id, dept, started_at, deadline, terminal, terminal_action, closed_at,
       card_level, completed_on_time, updated_at, version
FROM case_status FINAL;

CREATE VIEW IF NOT EXISTS dept_daily_v AS
SELECT
    day,
    dept,
    process,
    uniqExactIfMerge(accepted) AS accepted,
    uniqExactIfMerge(completed) AS completed,
    uniqExactIfMerge(on_time) AS completed_on_time,
    uniqExactIfMerge(late) AS completed_late,
    uniqExactIfMerge(overdue) AS overdue,
    uniqExactIfMerge(notices) AS notices,
    uniqExactIfMerge(yellow_cards) AS yellow_cards,
    uniqExactIfMerge(red_cards) AS red_cards
FROM dept_daily
GROUP BY day, dept, process;
