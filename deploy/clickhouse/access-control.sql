-- Access control for a current ClickHouse server (SQL-driven RBAC). Needs 22.11 or
-- later: earlier servers evaluate a row policy's subquery to no rows (ClickHouse
-- #32463, fixed in 22.11), so auditors would see nothing. The compose stack runs
-- 25.8 LTS; make test parses every statement on chdb (today's engine).
-- Applied by apply-access-control.sh, which replaces __WRITER_SHA256__ and
-- __GRAFANA_SHA256__ with SHA-256 hex digests of the passwords it reads from the
-- environment or from files (no password is ever written here, printed, or passed
-- on a command line), and __ADMIN_USER__ with the administrator's user name.
--
--   supervision_writer   the worker: reads and inserts, nothing else
--   supervision_grafana  Grafana: read-only, every department (performance is published)
--   supervision_auditor  role of auditors: alerts and events of their assigned
--                        departments only (row policies), assignments in
--                        supervision.auditor_departments
--
-- Idempotent: safe to run after every deployment; role settings and row
-- policies are replaced, so a changed policy takes effect on the next run.

-- The worker inserts the tables it writes (and the targets their materialized
-- views fill, which servers without SQL SECURITY DEFINER check against the
-- inserting user); nothing else: not auditor_departments (who may see what),
-- not schema_migrations. At connect it reads system.merge_tree_settings to
-- detect insert de-duplication, which is not among the system tables anyone may
-- read.
CREATE ROLE IF NOT EXISTS supervision_write;
GRANT SELECT ON supervision.* TO supervision_write;
GRANT INSERT ON supervision.events TO supervision_write;
GRANT INSERT ON supervision.alerts TO supervision_write;
GRANT INSERT ON supervision.case_status TO supervision_write;
GRANT INSERT ON supervision.deadletter TO supervision_write;
GRANT INSERT ON supervision.shadow_alerts TO supervision_write;
GRANT INSERT ON supervision.bulletins TO supervision_write;
GRANT INSERT ON supervision.scoring_config TO supervision_write;
GRANT INSERT ON supervision.events_by_dept TO supervision_write;
GRANT SELECT ON system.merge_tree_settings TO supervision_write;
REVOKE SELECT ON supervision.auditor_departments FROM supervision_write;

CREATE ROLE IF NOT EXISTS supervision_read;
GRANT SELECT ON supervision.* TO supervision_read;
REVOKE SELECT ON supervision.auditor_departments FROM supervision_read;

CREATE USER IF NOT EXISTS supervision_writer
    IDENTIFIED WITH sha256_hash BY '__WRITER_SHA256__'
    DEFAULT DATABASE supervision;
ALTER USER supervision_writer IDENTIFIED WITH sha256_hash BY '__WRITER_SHA256__';
GRANT supervision_write TO supervision_writer;
ALTER USER supervision_writer DEFAULT ROLE supervision_write;

CREATE USER IF NOT EXISTS supervision_grafana
    IDENTIFIED WITH sha256_hash BY '__GRAFANA_SHA256__'
    DEFAULT DATABASE supervision
    SETTINGS readonly = 2;
ALTER USER supervision_grafana IDENTIFIED WITH sha256_hash BY '__GRAFANA_SHA256__';
GRANT supervision_read TO supervision_grafana;
ALTER USER supervision_grafana DEFAULT ROLE supervision_read;

-- Which auditor may see which department: one row per (auditor user, dept).
CREATE TABLE IF NOT EXISTS supervision.auditor_departments
(
    auditor    String,
    dept       String,
    assigned_at DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree()
ORDER BY (auditor, dept);

CREATE ROLE IF NOT EXISTS supervision_auditor;
ALTER ROLE supervision_auditor SETTINGS readonly = 1;
GRANT SELECT ON supervision.alerts TO supervision_auditor;
GRANT SELECT ON supervision.alerts_v TO supervision_auditor;
GRANT SELECT ON supervision.alerts_withdrawn_v TO supervision_auditor;
GRANT SELECT ON supervision.events TO supervision_auditor;
GRANT SELECT ON supervision.events_v TO supervision_auditor;
GRANT SELECT ON supervision.events_by_dept TO supervision_auditor;
GRANT SELECT ON supervision.auditor_departments TO supervision_auditor;

-- Row policies, deny by default: config.d/access-control.xml sets
-- users_without_row_policies_can_read_rows = false, so on these tables a user reads
-- only the rows a policy gives it. Auditors: their departments' rows. The worker,
-- Grafana and the administrator: every row (all_rows). Any other user, or a user
-- given SELECT by hand without the auditor role, reads nothing from them.
CREATE ROW POLICY OR REPLACE all_rows ON supervision.alerts
    FOR SELECT USING 1 TO supervision_write, supervision_read, __ADMIN_USER__;
CREATE ROW POLICY OR REPLACE all_rows ON supervision.events
    FOR SELECT USING 1 TO supervision_write, supervision_read, __ADMIN_USER__;
CREATE ROW POLICY OR REPLACE all_rows ON supervision.events_by_dept
    FOR SELECT USING 1 TO supervision_write, supervision_read, __ADMIN_USER__;
CREATE ROW POLICY OR REPLACE all_rows ON supervision.auditor_departments
    FOR SELECT USING 1 TO __ADMIN_USER__;
CREATE ROW POLICY OR REPLACE auditor_departments ON supervision.alerts
    FOR SELECT USING dept IN (SELECT dept FROM supervision.auditor_departments WHERE auditor = currentUser())
    TO supervision_auditor;
CREATE ROW POLICY OR REPLACE auditor_departments ON supervision.events
    FOR SELECT USING dept IN (SELECT dept FROM supervision.auditor_departments WHERE auditor = currentUser())
    TO supervision_auditor;
CREATE ROW POLICY OR REPLACE auditor_departments ON supervision.events_by_dept
    FOR SELECT USING dept IN (SELECT dept FROM supervision.auditor_departments WHERE auditor = currentUser())
    TO supervision_auditor;
CREATE ROW POLICY OR REPLACE own_assignments ON supervision.auditor_departments
    FOR SELECT USING auditor = currentUser()
    TO supervision_auditor;
