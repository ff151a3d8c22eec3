-- Department scores per month (绩效测评, ../shared/spec/workflow.md § Scoring) in ClickHouse,
-- counted exactly as streams/scoring.py monthly_scores over streams/web/reads.py
-- scored_inputs: for the dashboards (Grafana cannot run Python).
--
-- scoring_config: the [scoring] table of each configuration version the product ran with,
--   one row per config_version (written by the worker at start, by `supervise web` at
--   start and by `supervise db migrate`: streams/storage/scoring_config.py). The active
--   configuration is the one recorded last (highest recorded_at_us). Weights and grade
--   bounds as Float64 (scores are rounded to 4 decimals, so 100 - 0.1 x 3 is 99.7).
--   month_starts: the first instant (epoch microseconds) of every local month of the
--   configuration's zone from 1970-01 to 2100-12 (first_month = year x 12 + month - 1 of
--   the first); ClickHouse takes a time zone only as a constant, so the local month of an
--   instant is its UTC month moved by one where the local month starts say so.
-- score_items_v: what a score counts, one row per item: the current alerts (FINAL) not
--   withdrawn and not a card of a workflow dismissed as false_positive or duplicate
--   (kind 'alert', at its raised_at_us, its dept); the 督办 (workflows approved, not
--   dismissed as false_positive or duplicate; kind 'duban', at approved_at, the workflow's
--   dept); and every stored workflow (kind 'workflow', at created_at_us: a department
--   with a workflow created before a month's end is ranked in that month).
-- dept_month_tallies_v: per (local month, dept) the counts of items.
-- dept_months_v: per department, the months it is ranked in.
-- dept_month_scores_v: per local month from the first month of any item to the later of
--   the last one and the current month, every department ranked then (a workflow created
--   before the month's end, or something counted in the month), with its counts, score,
--   grade and rank (equal scores share a rank: 1, 2, 2, 4) under the active configuration.
--
-- Runs unchanged on ClickHouse 18.16 and chdb: no window functions (the rank counts the
-- month's higher scores), no CROSS JOIN (a constant key joins the configuration's one row),
-- the approval instant parsed from the workflow document's RFC 3339 text by hand.

CREATE TABLE IF NOT EXISTS scoring_config
(
    config_version    String,
    zone              String,
    base              Float64,
    notice            Float64,
    yellow            Float64,
    red               Float64,
    duban             Float64,
    sup_receipt_reply Float64,
    sup_rectify       Float64,
    grade_excellent   Float64,
    grade_good        Float64,
    grade_pass        Float64,
    first_month       Int32,
    month_starts      Array(Int64),
    recorded_at_us    Int64,
    recorded_at       DateTime('Asia/Shanghai') DEFAULT now()
)
ENGINE = ReplacingMergeTree(recorded_at_us)
ORDER BY config_version;

CREATE VIEW IF NOT EXISTS scoring_active_v AS
SELECT config_version, zone, base, notice, yellow, red, duban, sup_receipt_reply, sup_rectify,
       grade_excellent, grade_good, grade_pass, first_month, month_starts, recorded_at_us
FROM scoring_config FINAL
ORDER BY recorded_at_us DESC, config_version DESC
LIMIT 1;

CREATE VIEW IF NOT EXISTS score_items_v AS
SELECT 'alert' AS kind, dept, raised_at_us AS at_us, level, rule
FROM alerts FINAL
WHERE isNull(withdrawn_at)
  AND alert_id NOT IN (
      SELECT arrayJoin(extractAll(document, '"alert_id":"([^"]*)"')) AS void_alert_id
      FROM workflows_current
      WHERE state = 'dismissed'
        AND visitParamExtractString(document, 'dismissal') IN ('false_positive', 'duplicate'))
UNION ALL
SELECT 'duban' AS kind, dept,
       (toInt64(toUInt32(toDateTime(concat(substring(approved, 1, 10), ' ', substring(approved, 12, 8)), 'UTC')))
        - if(substring(approved, length(approved) - 5, 1) = '-', -1, 1)
          * (toInt64(substring(approved, length(approved) - 4, 2)) * 3600
             + toInt64(substring(approved, length(approved) - 1, 2)) * 60)) * 1000000
       + if(substring(approved, 20, 1) = '.', toInt64(substring(approved, 21, 6)), 0) AS at_us,
       '' AS level, '' AS rule
FROM (
    SELECT dept, visitParamExtractString(document, 'approved_at') AS approved
    FROM workflows_current
    WHERE NOT (state = 'dismissed'
               AND visitParamExtractString(document, 'dismissal') IN ('false_positive', 'duplicate'))
)
WHERE approved != ''
UNION ALL
SELECT 'workflow' AS kind, dept, created_at_us AS at_us, '' AS level, '' AS rule
FROM workflows_current;

CREATE VIEW IF NOT EXISTS dept_month_tallies_v AS
SELECT local_month,
       dept,
       countIf(kind = 'alert' AND level = 'notice') AS notices,
       countIf(kind = 'alert' AND level = 'yellow') AS yellows,
       countIf(kind = 'alert' AND level = 'red') AS reds,
       countIf(kind = 'duban') AS duban_count,
       countIf(kind = 'alert' AND rule IN ('SUP_RECEIPT_OVERDUE', 'SUP_REPLY_OVERDUE')) AS sup_receipt_reply_count,
       countIf(kind = 'alert' AND rule = 'SUP_RECTIFY_OVERDUE') AS sup_rectify_count,
       countIf(kind != 'workflow') AS counted_items,
       countIf(kind = 'workflow') AS workflows_created
FROM (
    SELECT kind, dept, level, rule,
           toInt64(utc_month
                   + (at_us >= month_starts[utc_month - first_month + 2])
                   - (at_us < month_starts[utc_month - first_month + 1])) AS local_month
    FROM (
        SELECT kind, dept, level, rule, at_us, first_month, month_starts,
               toInt32(toYear(toDateTime(intDiv(at_us, 1000000), 'UTC'))) * 12
               + toInt32(toMonth(toDateTime(intDiv(at_us, 1000000), 'UTC'))) - 1 AS utc_month
        FROM (SELECT kind, dept, level, rule, at_us, toUInt8(1) AS one FROM score_items_v) AS items
        ALL INNER JOIN (SELECT toUInt8(1) AS one, first_month, month_starts FROM scoring_active_v)
            AS active USING one
    )
)
GROUP BY local_month, dept;

-- Per department: the months it is ranked in, from its first month to the last month.
CREATE VIEW IF NOT EXISTS dept_months_v AS
SELECT dept, local_month
FROM (
    SELECT dept, first_workflow_month, counted_months,
           toInt64(arrayJoin(range(toUInt64(greatest(last_month - dept_first + 1, 0))))) + dept_first
               AS local_month
    FROM (
        SELECT dept,
               toInt64(min(local_month)) AS dept_first,
               if(countIf(workflows_created > 0) = 0, toInt64(999999),
                  toInt64(minIf(local_month, workflows_created > 0))) AS first_workflow_month,
               groupArrayIf(local_month, counted_items > 0) AS counted_months,
               toUInt8(1) AS one
        FROM dept_month_tallies_v
        GROUP BY dept
    ) AS firsts
    ALL INNER JOIN (
        SELECT toUInt8(1) AS one, toInt64(greatest(data_last, now_month)) AS last_month
        FROM (SELECT toUInt8(1) AS k, max(local_month) AS data_last FROM dept_month_tallies_v) AS data
        ALL INNER JOIN (
            SELECT toUInt8(1) AS k,
                   toInt64(now_utc_month
                           + (now_us >= month_starts[now_utc_month - first_month + 2])
                           - (now_us < month_starts[now_utc_month - first_month + 1])) AS now_month
            FROM (
                SELECT first_month, month_starts, toInt64(toUInt32(now())) * 1000000 AS now_us,
                       toInt32(toYear(now(), 'UTC')) * 12 + toInt32(toMonth(now(), 'UTC')) - 1
                           AS now_utc_month
                FROM scoring_active_v
            )
        ) AS current USING k
    ) AS last USING one
)
WHERE local_month >= first_workflow_month OR has(counted_months, local_month);

CREATE VIEW IF NOT EXISTS dept_month_scores_v AS
SELECT toDate(concat(toString(intDiv(local_month, 12)), '-',
                     if(local_month % 12 < 9, '0', ''), toString(local_month % 12 + 1), '-01'))
           AS month_start,
       concat(toString(intDiv(local_month, 12)), '-',
              if(local_month % 12 < 9, '0', ''), toString(local_month % 12 + 1)) AS month,
       tupleElement(ranked, 1) AS dept,
       tupleElement(ranked, 2) AS score,
       multiIf(tupleElement(ranked, 2) >= excellent_bound, '优秀',
               tupleElement(ranked, 2) >= good_bound, '良好',
               tupleElement(ranked, 2) >= pass_bound, '合格', '不合格') AS grade,
       toUInt64(1 + arrayCount(s -> s > tupleElement(ranked, 2), month_scores)) AS rank,
       tupleElement(ranked, 3) AS notices,
       tupleElement(ranked, 4) AS yellows,
       tupleElement(ranked, 5) AS reds,
       tupleElement(ranked, 6) AS duban_count,
       tupleElement(ranked, 7) AS sup_receipt_reply_count,
       tupleElement(ranked, 8) AS sup_rectify_count,
       version AS config_version
FROM (
    SELECT local_month,
           groupArray((dept, score_value, n_notice, n_yellow, n_red, n_duban, n_receipt_reply,
                       n_rectify)) AS month_rows,
           groupArray(score_value) AS month_scores,
           any(excellent_bound) AS excellent_bound, any(good_bound) AS good_bound,
           any(pass_bound) AS pass_bound, any(config_version) AS version
    FROM (
        SELECT local_month, dept, n_notice, n_yellow, n_red, n_duban, n_receipt_reply, n_rectify,
               round(w_base - (w_notice * n_notice + w_yellow * n_yellow + w_red * n_red
                               + w_duban * n_duban + w_receipt_reply * n_receipt_reply
                               + w_rectify * n_rectify), 4) AS score_value,
               excellent_bound, good_bound, pass_bound, config_version
        FROM (
            SELECT local_month, dept,
                   toUInt64(t_notices) AS n_notice, toUInt64(t_yellows) AS n_yellow,
                   toUInt64(t_reds) AS n_red, toUInt64(t_duban) AS n_duban,
                   toUInt64(t_receipt_reply) AS n_receipt_reply, toUInt64(t_rectify) AS n_rectify,
                   toUInt8(1) AS one
            FROM dept_months_v AS ranked_months
            ALL LEFT JOIN (
                SELECT local_month, dept, notices AS t_notices, yellows AS t_yellows,
                       reds AS t_reds, duban_count AS t_duban,
                       sup_receipt_reply_count AS t_receipt_reply,
                       sup_rectify_count AS t_rectify
                FROM dept_month_tallies_v
            ) AS tallies USING (local_month, dept)
        ) AS counted
        ALL INNER JOIN (
            SELECT toUInt8(1) AS one, base AS w_base, notice AS w_notice, yellow AS w_yellow,
                   red AS w_red, duban AS w_duban, sup_receipt_reply AS w_receipt_reply,
                   sup_rectify AS w_rectify, grade_excellent AS excellent_bound,
                   grade_good AS good_bound, grade_pass AS pass_bound, config_version
            FROM scoring_active_v
        ) AS active USING one
    )
    GROUP BY local_month
)
ARRAY JOIN month_rows AS ranked;
