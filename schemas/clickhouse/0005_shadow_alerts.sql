-- Shadow alerts: what each candidate configuration named in SHADOW_CONFIGS raises beside
-- the active one, on the same events and horizon (README: Shadow configurations).
--
-- Runs unchanged on ClickHouse 18.16 (server) and on chdb (embedded). The columns are
-- those of `alerts`; a row is one alert of one configuration version (the same alert_id
-- is raised by several versions), and a ReplacingMergeTree keyed by both reads as one
-- row however often a batch is written (read with FINAL, or through shadow_alerts_v).
-- Nothing else reads or counts these rows: no workflows, no scores, no dept_daily.

CREATE TABLE IF NOT EXISTS shadow_alerts
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
ORDER BY (config_version, process, case_id, alert_id);

CREATE VIEW IF NOT EXISTS shadow_alerts_v AS
SELECT alert_id, rule, level, case_id, process, dept, raised_at, raised_at_us, evidence,
       message, details, config_version, detected_at
FROM shadow_alerts FINAL;

-- requires: non_replicated_deduplication_window
ALTER TABLE shadow_alerts MODIFY SETTING non_replicated_deduplication_window = 1000;
