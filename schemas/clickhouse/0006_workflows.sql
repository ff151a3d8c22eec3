-- The 督办 workflow (../shared/spec/workflow.md): every action with its result, and every
-- version of every workflow. Nothing is updated in place.
--
-- Runs unchanged on ClickHouse 18.16 (server) and on chdb (embedded). Both tables are
-- ReplacingMergeTrees keyed by deterministic ids and read with FINAL (or through the
-- views), so a batch written twice (retry, replay, restart) is one row to readers.
--
-- workflow_actions: one row per (workflow_id, action_id): the action as sent (document,
--   JSON) and its result (status accepted / rejected, reason, detail, the workflow's
--   version and state after it, its armed deadlines as JSON). The engine's own
--   dismissals (user_id 'system') are actions too. A resent action_id is not stored
--   again (its first result stands).
-- workflows: one row per (workflow_id, version), the workflow's stored form after it
--   (document, JSON with "format"); within a version the highest revision wins (a clock
--   that ran out changes a workflow without a new version). Flat columns for the inbox:
--   due_at (the earliest armed deadline), overdue (a SUP_* alert fired for the step the
--   workflow is at), fired (the SUP_* rule/level pairs raised for it).
-- workflows_current: the current version of each workflow.

CREATE TABLE IF NOT EXISTS workflow_actions
(
    action_id        String,
    workflow_id      String,
    case_id          String,
    type             String,
    user_id          String,
    role             String,
    actor_dept       String,
    acted_at         DateTime('Asia/Shanghai'),
    acted_at_us      Int64,
    expected_version Int64,
    document         String,
    status           String,
    reason           String,
    detail           String,
    version          UInt64,
    state            String,
    due              String,
    recorded_at      DateTime('Asia/Shanghai') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(acted_at)
ORDER BY (workflow_id, action_id);

CREATE TABLE IF NOT EXISTS workflows
(
    workflow_id   String,
    version       UInt64,
    revision      UInt64,
    rule          String,
    process       String,
    case_id       String,
    dept          String,
    level         String,
    state         String,
    created_at    DateTime('Asia/Shanghai'),
    created_at_us Int64,
    updated_at    DateTime('Asia/Shanghai'),
    updated_at_us Int64,
    claimed_by    String,
    drafter       String,
    approved_by   String,
    due_at        Nullable(DateTime('Asia/Shanghai')),
    due_at_us     Nullable(Int64),
    overdue       UInt8,
    fired         Array(String),
    document      String
)
ENGINE = ReplacingMergeTree(revision)
ORDER BY (workflow_id, version);

CREATE VIEW IF NOT EXISTS workflows_current AS
SELECT workflow_id, version, revision, rule, process, case_id, dept, level, state,
       created_at, created_at_us, updated_at, updated_at_us, claimed_by, drafter, approved_by,
       due_at, due_at_us, overdue, fired, document
FROM workflows FINAL
WHERE (workflow_id, version) IN (SELECT workflow_id, max(version) FROM workflows FINAL GROUP BY workflow_id);

CREATE VIEW IF NOT EXISTS workflow_actions_v AS
SELECT * FROM workflow_actions FINAL;
