"""ClickHouse access control.

- On a real ClickHouse 18.16 server (Debian's clickhouse-server), started here
  with the users.xml that deploy/clickhouse/legacy/access.py renders:
  the writer writes, Grafana reads everything and cannot write, each auditor
  sees only the alerts and events of their departments, wrong passwords fail.
- deploy/clickhouse/access-control.sql (a current server's SQL RBAC) is parsed
  by current ClickHouse (chdb) and its row-policy condition is run against the
  schema; chdb has no user storage, so the policies themselves are not enforced
  here (docs/deploy.md says how to verify them on the server).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import DEPLOY, REPO
from tests.fixtures_clickhouse import migrated_chdb

CLICKHOUSE = DEPLOY / "clickhouse"
PASSWORDS = {
    "CLICKHOUSE_ADMIN_PASSWORD": "admin-Pw-1",
    "CLICKHOUSE_WRITER_PASSWORD": "writer-Pw-2",
    "CLICKHOUSE_GRAFANA_PASSWORD": "grafana-Pw-3",
    "CLICKHOUSE_AUDITOR_AUDITOR_ZHANG_PASSWORD": "zhang-Pw-4",
    "CLICKHOUSE_AUDITOR_AUDITOR_LI_PASSWORD": "li-Pw-5",
    "CLICKHOUSE_AUDITOR_AUDITOR_NOBODY_PASSWORD": "nobody-Pw-6",
}
AUDITORS: dict[str, list[str]] = {
    "auditor_zhang": ["D01", "D02"],
    "auditor_li": ["D'03"],
    "auditor_nobody": [],
}


def _access() -> Any:
    spec = importlib.util.spec_from_file_location(
        "legacy_access", CLICKHOUSE / "legacy" / "access.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _server_binary() -> str:
    for path in ("/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server"):
        if os.access(path, os.X_OK):
            return path
    pytest.fail("clickhouse-server is not installed: run scripts/install-tools.sh")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _password(user: str) -> str:
    if user == "default":
        return PASSWORDS["CLICKHOUSE_ADMIN_PASSWORD"]
    if user.startswith("auditor"):
        return PASSWORDS[f"CLICKHOUSE_AUDITOR_{user.upper()}_PASSWORD"]
    return PASSWORDS[f"CLICKHOUSE_{user.removeprefix('supervision_').upper()}_PASSWORD"]


@dataclass
class LegacyServer:
    port: int

    def client(self, user: str, database: str = "supervision", password: str | None = None) -> Any:
        from clickhouse_driver import Client

        return Client(
            host="127.0.0.1",
            port=self.port,
            user=user,
            password=_password(user) if password is None else password,
            database=database,
            connect_timeout=5,
            send_receive_timeout=30,
        )

    def rows(
        self, user: str, sql: str, database: str = "supervision", password: str | None = None
    ) -> list[tuple[Any, ...]]:
        client = self.client(user, database, password)
        try:
            return list(client.execute(sql))
        finally:
            client.disconnect()

    def insert_case(self, case: str, dept: str) -> None:
        writer = self.client("supervision_writer")
        try:
            writer.execute(
                "INSERT INTO events (event_id, case_id, process, action, occurred_at, occurred_at_us,"
                " occurred_at_text, dept, actor, party, amount, attrs) VALUES",
                [
                    (
                        f"e-{case}",
                        case,
                        "approval",
                        "accept",
                        1793581200,
                        1793581200000000,
                        "2026-11-02T09:00:00+08:00",
                        dept,
                        None,
                        "",
                        None,
                        "{}",
                    )
                ],
            )
            writer.execute(
                "INSERT INTO alerts (alert_id, rule, level, case_id, process, dept, raised_at, raised_at_us,"
                " evidence, message, details, config_version) VALUES",
                [
                    (
                        f"a-{case}",
                        "OVERDUE",
                        "yellow",
                        case,
                        "approval",
                        dept,
                        1793721600,
                        1793721600000000,
                        [f"e-{case}"],
                        "超期",
                        "{}",
                        "v1",
                    )
                ],
            )
        finally:
            writer.disconnect()

    def apply_audit(self, auditors: dict[str, list[str]]) -> None:
        admin = self.client("default")
        try:
            for statement in _access().audit_statements(auditors):
                admin.execute(statement)
        finally:
            admin.disconnect()


@pytest.fixture(scope="module")
def legacy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LegacyServer]:
    """ClickHouse 18.16 with the rendered users.xml, migrated; some rows written before and some after
    the auditors' databases exist (back-fill and materialized-view paths)."""
    directory = tmp_path_factory.mktemp("clickhouse-18-access")
    for sub in ("data", "tmp", "log", "user_files", "format_schemas"):
        (directory / sub).mkdir()
    users = directory / "users.xml"
    access = _access()
    access.write_private(
        users, access.render_users(AUDITORS, environ=PASSWORDS, networks=["127.0.0.1", "::1"])
    )
    port = _free_port()
    (directory / "config.xml").write_text(
        f"""<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{directory}/log/server.log</log>
        <errorlog>{directory}/log/server.err.log</errorlog><size>10M</size><count>1</count></logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{port}</tcp_port>
    <path>{directory}/data/</path>
    <tmp_path>{directory}/tmp/</tmp_path>
    <user_files_path>{directory}/user_files/</user_files_path>
    <format_schema_path>{directory}/format_schemas/</format_schema_path>
    <users_config>{users}</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <max_concurrent_queries>20</max_concurrent_queries>
</yandex>
""",
        encoding="utf-8",
    )
    log = (directory / "log" / "stdout.log").open("w")
    process = subprocess.Popen(
        [_server_binary(), f"--config-file={directory / 'config.xml'}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    errors = directory / "log" / "server.err.log"
                    detail = errors.read_text() if errors.exists() else ""
                    pytest.fail(f"clickhouse-server 18.16 did not start:\n{detail[-2000:]}")
                time.sleep(0.2)
        server = LegacyServer(port)
        from streams.storage.backends import ServerBackend
        from streams.storage.migrations import migrate

        admin = ServerBackend(
            f"clickhouse://default:{_password('default')}@127.0.0.1:{port}/supervision"
        )
        try:
            migrate(admin)
        finally:
            admin.close()
        server.insert_case("C1", "D01")
        server.insert_case("C3", "D'03")
        server.apply_audit(AUDITORS)
        server.insert_case("C2", "D02")
        server.insert_case("C4", "D04")
        writer = server.client("supervision_writer")
        try:
            writer.execute(
                "INSERT INTO deadletter (deadletter_id, raw, reason, source, topic, kafka_partition, kafka_offset,"
                " file, line) VALUES",
                [("d1", "{bad", "invalid_json", "t[0]@1", "supervision.approval", 0, 1, "", 0)],
            )
        finally:
            writer.disconnect()
        yield server
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


def _depts(server: LegacyServer, user: str, table: str) -> list[str]:
    database = f"audit_{user}" if user.startswith("auditor") else "supervision"
    return sorted(r[0] for r in server.rows(user, f"SELECT dept FROM {table}", database=database))


@pytest.mark.parametrize(
    "table", ["alerts", "alerts FINAL", "alerts_v", "events", "events FINAL", "events_v"]
)
def test_auditor_sees_only_assigned_departments(legacy_server: LegacyServer, table: str) -> None:
    assert _depts(legacy_server, "auditor_zhang", table) == ["D01", "D02"]
    assert _depts(legacy_server, "auditor_li", table) == ["D'03"]
    assert _depts(legacy_server, "auditor_nobody", table) == []


@pytest.mark.parametrize("table", ["alerts_v", "events_v", "events_by_dept", "alerts"])
def test_grafana_reads_every_department(legacy_server: LegacyServer, table: str) -> None:
    assert _depts(legacy_server, "supervision_grafana", table) == ["D'03", "D01", "D02", "D04"]
    assert legacy_server.rows("supervision_grafana", "SELECT count() FROM deadletter") == [(1,)]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count() FROM supervision.alerts",
        "SELECT count() FROM supervision.deadletter",
        "SELECT count() FROM audit_auditor_li.alerts",
        "SELECT count() FROM remote('127.0.0.1', supervision.alerts)",
        "SELECT count() FROM merge('supervision', '.*')",
        "SET readonly = 0",
    ],
)
def test_auditor_cannot_reach_around_the_copy(legacy_server: LegacyServer, sql: str) -> None:
    from clickhouse_driver.errors import ServerException

    with pytest.raises(ServerException, match=r"Code: (291|164)"):
        legacy_server.rows("auditor_zhang", sql, database="audit_auditor_zhang")


@pytest.mark.parametrize("user", ["supervision_grafana", "auditor_zhang"])
def test_readers_cannot_write(legacy_server: LegacyServer, user: str) -> None:
    from clickhouse_driver.errors import ServerException

    database = "audit_auditor_zhang" if user.startswith("auditor") else "supervision"
    client = legacy_server.client(user, database)
    try:
        with pytest.raises(ServerException, match="(?i)readonly"):
            client.execute("INSERT INTO alerts (alert_id, dept) VALUES", [("x", "D01")])
        with pytest.raises(ServerException, match="(?i)readonly"):
            client.execute("DROP TABLE alerts")
    finally:
        client.disconnect()


def test_wrong_password_is_refused(legacy_server: LegacyServer) -> None:
    from clickhouse_driver.errors import ServerException

    with pytest.raises(ServerException, match="(?i)password"):
        legacy_server.rows("supervision_writer", "SELECT 1", password="not-the-password")


def test_reassigning_departments_rebuilds_the_auditor_copy(legacy_server: LegacyServer) -> None:
    try:
        legacy_server.apply_audit({**AUDITORS, "auditor_zhang": ["D04"]})
        assert _depts(legacy_server, "auditor_zhang", "alerts_v") == ["D04"]
        legacy_server.insert_case("C5", "D01")  # no longer assigned: not copied
        assert _depts(legacy_server, "auditor_zhang", "events_v") == ["D04"]
    finally:
        legacy_server.apply_audit(AUDITORS)
    # back to D01 and D02, including C5 (D01) written while unassigned: the copy is rebuilt from the source
    assert _depts(legacy_server, "auditor_zhang", "alerts_v") == ["D01", "D01", "D02"]


def test_rendered_users_file_holds_no_password(tmp_path: Path) -> None:
    access = _access()
    path = tmp_path / "users.xml"
    access.write_private(path, access.render_users(AUDITORS, environ=PASSWORDS))
    text = path.read_text(encoding="utf-8")
    assert not any(password in text for password in PASSWORDS.values())
    assert access.sha256_hex(PASSWORDS["CLICKHOUSE_WRITER_PASSWORD"]) in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # owner and the server's group


def test_users_file_is_replaced_whole_keeping_its_owner(tmp_path: Path) -> None:
    """The running server re-reads users.xml: it must never see half a file."""
    access = _access()
    path = tmp_path / "users.xml"
    path.write_text("<yandex/>", encoding="utf-8")
    before = path.stat()
    access.write_private(path, access.render_users(AUDITORS, environ=PASSWORDS))
    after = path.stat()
    assert after.st_ino != before.st_ino  # renamed over, not truncated in place
    assert (after.st_uid, stat.S_IMODE(after.st_mode)) == (before.st_uid, 0o640)
    assert [p.name for p in tmp_path.iterdir()] == ["users.xml"]  # no temporary left


def test_renderer_reads_secret_files_and_refuses_missing_ones(tmp_path: Path) -> None:
    access = _access()
    secret_file = tmp_path / "writer"
    secret_file.write_text("from-file\n", encoding="utf-8")
    env = dict(PASSWORDS, CLICKHOUSE_WRITER_PASSWORD_FILE=str(secret_file))
    assert access.sha256_hex("from-file") in access.render_users({}, environ=env)
    missing = {k: v for k, v in PASSWORDS.items() if k != "CLICKHOUSE_GRAFANA_PASSWORD"}
    with pytest.raises(access.ConfigError, match="CLICKHOUSE_GRAFANA_PASSWORD"):
        access.render_users({}, environ=missing)
    with pytest.raises(access.ConfigError, match="invalid auditor name"):
        access.audit_statements({"bad name'": ["D01"]})


def test_cli_prints_no_secret(tmp_path: Path) -> None:
    auditors = tmp_path / "auditors.toml"
    auditors.write_text('[auditors.auditor_zhang]\ndepartments = ["D01"]\n', encoding="utf-8")
    out = tmp_path / "users.xml"
    script = str(CLICKHOUSE / "legacy" / "access.py")
    env = dict(os.environ, **PASSWORDS)
    users = subprocess.run(
        ["python3", script, "users", str(auditors), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    sql = subprocess.run(
        ["python3", script, "sql", str(auditors)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert users.returncode == 0 and sql.returncode == 0, users.stderr + sql.stderr
    assert out.exists()
    assert "CREATE MATERIALIZED VIEW audit_auditor_zhang.alerts_mv" in sql.stdout
    printed = users.stdout + users.stderr + sql.stdout + sql.stderr
    assert not any(p in printed for p in PASSWORDS.values())


def test_example_auditors_file_loads() -> None:
    auditors = _access().load_auditors(CLICKHOUSE / "legacy" / "auditors.example.toml")
    assert auditors == {"auditor_zhang": ["D01", "D02"], "auditor_li": ["D03"]}


# --- the SQL for a current server -----------------------------------------------------------------


def _access_statements() -> list[str]:
    text = (CLICKHOUSE / "access-control.sql").read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


@pytest.fixture(scope="module")
def chdb_schema(chdb_path: Path) -> Iterator[Any]:
    with migrated_chdb(chdb_path, "access") as backend:
        yield backend


def test_access_control_sql_parses_on_current_clickhouse(chdb_schema: Any) -> None:
    statements = _access_statements()
    assert len(statements) >= 15
    for statement in statements:
        _format(chdb_schema, statement)


def _format(backend: Any, statement: str) -> str:
    """The statement as today's ClickHouse parses and prints it (placeholders filled)."""
    sql = (
        statement.replace("__WRITER_SHA256__", "0" * 64)
        .replace("__GRAFANA_SHA256__", "1" * 64)
        .replace("__ADMIN_USER__", "admin")
    )
    quoted = "'" + sql.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(backend.query(f"SELECT formatQuery({quoted})").rows[0][0])


RESTRICTED = ("alerts", "events", "events_by_dept")
AUDITOR_CONDITION = (
    "dept IN ( SELECT dept FROM supervision.auditor_departments WHERE auditor = currentUser() )"
)


def test_row_policies_deny_by_default_and_scope_auditors(chdb_schema: Any) -> None:
    """As parsed by today's ClickHouse: who reads which rows of the department tables."""
    policies: dict[tuple[str, str], tuple[str, set[str]]] = {}
    for statement in _access_statements():
        if not statement.startswith("CREATE ROW POLICY"):
            continue
        text = " ".join(_format(chdb_schema, statement).split())
        found = re.fullmatch(
            r"CREATE ROW POLICY OR REPLACE (\w+) ON supervision\.(\w+) FOR SELECT USING (.+) TO (.+)",
            text,
        )
        assert found, text
        name, table, using, to = found.groups()
        policies[(table, name)] = (using, {role.strip() for role in to.split(",")})
    for table in RESTRICTED:
        assert policies[(table, "auditor_departments")] == (
            AUDITOR_CONDITION,
            {"supervision_auditor"},
        )
        assert policies[(table, "all_rows")] == (
            "1",
            {"supervision_write", "supervision_read", "admin"},
        ), table
        # nothing else: no policy widens what an auditor (or anyone else) reads
        assert {n for t, n in policies if t == table} == {"auditor_departments", "all_rows"}
    assert policies[("auditor_departments", "own_assignments")] == (
        "auditor = currentUser()",
        {"supervision_auditor"},
    )
    assert policies[("auditor_departments", "all_rows")] == ("1", {"admin"})
    config = (CLICKHOUSE / "config.d" / "access-control.xml").read_text(encoding="utf-8")
    assert (
        "<users_without_row_policies_can_read_rows>false</users_without_row_policies_can_read_rows>"
        in config
    ), "a user named by no policy must read no rows of the department tables"


def test_auditor_role_reads_only_the_department_tables() -> None:
    grants = {
        (m.group(1), m.group(2))
        for m in re.finditer(
            r"GRANT (\w+) ON ([\w.*]+) TO supervision_auditor;",
            (CLICKHOUSE / "access-control.sql").read_text(encoding="utf-8"),
        )
    }
    assert grants == {
        ("SELECT", f"supervision.{t}")
        for t in (
            "alerts",
            "alerts_v",
            "alerts_withdrawn_v",
            "events",
            "events_v",
            "events_by_dept",
            "auditor_departments",
        )
    }
    text = (CLICKHOUSE / "access-control.sql").read_text(encoding="utf-8")
    assert "ALTER ROLE supervision_auditor SETTINGS readonly = 1;" in text


def test_access_control_sql_covers_users_role_and_policies() -> None:
    text = (CLICKHOUSE / "access-control.sql").read_text(encoding="utf-8")
    assert "CREATE USER IF NOT EXISTS supervision_writer" in text
    assert "CREATE USER IF NOT EXISTS supervision_grafana" in text and "readonly = 2" in text
    assert "CREATE ROLE IF NOT EXISTS supervision_auditor" in text
    for table in ("alerts", "events", "events_by_dept"):
        assert re.search(rf"CREATE ROW POLICY OR REPLACE \w+ ON supervision\.{table}\s", text), (
            table
        )
    # the worker's credentials cannot assign departments to auditors, nor rewrite migrations
    assert "INSERT ON supervision.*" not in text
    assert "INSERT ON supervision.auditor_departments" not in text
    assert "INSERT ON supervision.schema_migrations" not in text
    # scoring_config: the worker records its configuration's [scoring] at start
    for table in ("events", "alerts", "case_status", "deadletter", "scoring_config"):
        assert f"GRANT INSERT ON supervision.{table} TO supervision_write;" in text
    # what the worker reads at connect (feature detection) is granted
    assert "GRANT SELECT ON system.merge_tree_settings TO supervision_write;" in text
    assert not re.search(r"BY '(?!__)[^']+'", text), "no password or hash literal in the SQL file"


def test_row_policy_condition_selects_assigned_departments(chdb_schema: Any) -> None:
    statements = _access_statements()
    table_ddl = next(
        s for s in statements if "CREATE TABLE IF NOT EXISTS supervision.auditor_departments" in s
    )
    database = chdb_schema.database
    chdb_schema.execute(table_ddl.replace("supervision.", f"`{database}`."))
    # chdb runs as user "default": assign it D01, another auditor D02
    chdb_schema.execute(
        f"INSERT INTO `{database}`.auditor_departments (auditor, dept) VALUES ('default', 'D01'), ('other', 'D02')"
    )
    chdb_schema.execute(
        "INSERT INTO alerts (alert_id, rule, level, case_id, process, dept, raised_at, raised_at_us, evidence,"
        " message, details, config_version) VALUES ('a1','OVERDUE','red','C1','approval','D01',0,0,[],'','{}','v1'),"
        " ('a2','OVERDUE','red','C2','approval','D02',0,0,[],'','{}','v1')"
    )
    policy = next(
        s
        for s in statements
        if s.startswith("CREATE ROW POLICY OR REPLACE auditor_departments ON supervision.alerts\n")
    )
    using = re.search(r"USING (.*)\s+TO ", policy, re.S)
    assert using, policy
    condition = using.group(1).replace("supervision.", f"`{database}`.")
    rows = chdb_schema.query(
        f"SELECT alert_id FROM alerts_v WHERE {condition} ORDER BY alert_id"
    ).rows
    assert rows == [("a1",)]


def test_apply_script_never_puts_a_password_on_the_command_line() -> None:
    script = (CLICKHOUSE / "apply-access-control.sh").read_text(encoding="utf-8")
    assert "--password" not in script
    assert "set -x" not in script
    assert "chmod 600" in script
    result = subprocess.run(
        ["bash", "-n", str(CLICKHOUSE / "apply-access-control.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert str(REPO)  # repo-relative paths only; the script finds access-control.sql beside itself


def _apply(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run apply-access-control.sh with a stub clickhouse-client that keeps the SQL it reads."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    sent = tmp_path / "sent.sql"
    stub = bin_dir / "clickhouse-client"
    stub.write_text(f"#!/usr/bin/env bash\ncat > {sent}\n", encoding="utf-8")
    stub.chmod(0o755)
    result = subprocess.run(
        ["bash", str(CLICKHOUSE / "apply-access-control.sh")],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", **env},
    )
    return result, sent.read_text(encoding="utf-8") if sent.exists() else ""


def test_apply_script_sends_only_digests_of_the_passwords(tmp_path: Path) -> None:
    writer = tmp_path / "writer.pw"
    writer.write_text("w-S3cret/+x\n", encoding="utf-8")
    result, sql = _apply(
        tmp_path,
        {
            "CLICKHOUSE_ADMIN_PASSWORD": "admin-pw",
            "CLICKHOUSE_WRITER_PASSWORD_FILE": str(writer),
            "CLICKHOUSE_GRAFANA_PASSWORD": "g-S3cret",
        },
    )
    assert result.returncode == 0, result.stderr
    assert hashlib.sha256(b"w-S3cret/+x").hexdigest() in sql
    assert hashlib.sha256(b"g-S3cret").hexdigest() in sql
    assert "TO supervision_write, supervision_read, default;" in sql  # the admin's own rows
    assert "__" not in sql, "every placeholder is filled"
    for secret_text in ("w-S3cret", "g-S3cret", "admin-pw"):
        assert secret_text not in sql + result.stdout + result.stderr


def test_apply_script_names_the_admin_user_in_the_policies(tmp_path: Path) -> None:
    env = {
        "CLICKHOUSE_ADMIN_PASSWORD": "admin-pw",
        "CLICKHOUSE_WRITER_PASSWORD": "w-S3cret",
        "CLICKHOUSE_GRAFANA_PASSWORD": "g-S3cret",
    }
    result, sql = _apply(tmp_path, {**env, "CLICKHOUSE_ADMIN_USER": "admin"})
    assert result.returncode == 0, result.stderr
    assert sql.count("TO supervision_write, supervision_read, admin;") == len(RESTRICTED)
    (tmp_path / "bad").mkdir()
    result, sql = _apply(tmp_path / "bad", {**env, "CLICKHOUSE_ADMIN_USER": "admin; DROP USER x"})
    assert result.returncode != 0 and "identifier" in result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {
            "CLICKHOUSE_WRITER_PASSWORD_FILE": "/nonexistent/writer.pw",
            "CLICKHOUSE_GRAFANA_PASSWORD": "g",
        },
        {"CLICKHOUSE_WRITER_PASSWORD": "w"},
        {"CLICKHOUSE_WRITER_PASSWORD": "change-me-writer", "CLICKHOUSE_GRAFANA_PASSWORD": "g"},
        {
            "CLICKHOUSE_ADMIN_PASSWORD": "change-me-admin",
            "CLICKHOUSE_WRITER_PASSWORD": "w",
            "CLICKHOUSE_GRAFANA_PASSWORD": "g",
        },
    ],
    ids=["missing-file", "unset", "example-value", "example-admin"],
)
def test_apply_script_refuses_a_missing_or_example_password(
    tmp_path: Path, env: dict[str, str]
) -> None:
    result, sql = _apply(tmp_path, {"CLICKHOUSE_ADMIN_PASSWORD": "admin-pw", **env})
    assert result.returncode != 0
    assert sql == ""  # nothing reached the server
    assert hashlib.sha256(b"").hexdigest() not in result.stdout
