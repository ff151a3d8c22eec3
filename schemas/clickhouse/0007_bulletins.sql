-- Bulletins (通报, ../shared/spec/workflow.md § Scoring and bulletins): a month's
-- department scores and ranks frozen, with the configuration version, the author and,
-- once approved, the approver (another user). Nothing is updated in place: a draft is
-- one row (kind 'draft', the frozen scores as JSON), its approval another (kind
-- 'approval'); drafting the month again makes the next revision, the earlier ones stay.
--
-- Runs unchanged on ClickHouse 18.16 (server) and on chdb (embedded). A ReplacingMergeTree
-- keyed by (month, revision, kind, bulletin_id): a row written twice is one row to readers
-- (read with FINAL).

CREATE TABLE IF NOT EXISTS bulletins
(
    bulletin_id    String,
    month          String,
    revision       UInt32,
    kind           String,
    config_version String,
    user_id        String,
    at_us          Int64,
    scores         String,
    recorded_at    DateTime('Asia/Shanghai') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
ORDER BY (month, revision, kind, bulletin_id);
