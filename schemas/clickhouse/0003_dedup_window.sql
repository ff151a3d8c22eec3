-- Insert deduplication where the engine has it (chdb / ClickHouse >= 21):
-- a retried batch carrying the same insert_deduplication_token is dropped by
-- the server instead of stored twice. An optimisation only: correctness comes
-- from ReplacingMergeTree + FINAL and the id sets of dept_daily, so engines
-- without the setting (18.16) skip these statements.

-- requires: non_replicated_deduplication_window
ALTER TABLE events MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: non_replicated_deduplication_window
ALTER TABLE alerts MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: non_replicated_deduplication_window
ALTER TABLE case_status MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: non_replicated_deduplication_window
ALTER TABLE deadletter MODIFY SETTING non_replicated_deduplication_window = 1000;
