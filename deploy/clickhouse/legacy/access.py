"""Access control for a ClickHouse 18.16 server (Debian bookworm's clickhouse-server).

18.16 has no SQL users, roles, grants or row policies, and its users.xml has no
per-user row filters (those came in later releases). What it has: users.xml
users with SHA-256 passwords, read-only profiles, and ``allow_databases``.
So the access control of ../access-control.sql is built like this:

- ``supervision_writer`` (worker): read/write, databases ``supervision`` and
  every ``audit_<auditor>`` (its inserts feed the auditors' copies);
- ``supervision_grafana``: profile ``readonly = 2``, database ``supervision``;
- each auditor: profile ``readonly = 1`` (no writes, no SET, no table
  functions), database ``audit_<auditor>`` only. That database holds copies
  of ``alerts`` and ``events`` restricted to the auditor's departments, kept
  current by materialized views on ``supervision.alerts``/``events`` and
  back-filled when (re)assigned, plus ``alerts_v``/``events_v`` read views.
  (A view into ``supervision`` would not do: 18.16 checks database access
  inside views too.)

Usage (as the ClickHouse admin, passwords from the environment or *_FILE):

    python3 deploy/clickhouse/legacy/access.py users auditors.toml /etc/clickhouse-server/users.xml
    python3 deploy/clickhouse/legacy/access.py sql auditors.toml | clickhouse-client --multiquery

``users`` replaces users.xml at once (mode 0640, group ``clickhouse`` so the
server can read it; passwords only as SHA-256 digests, nothing secret printed); ``sql`` prints the audit databases' DDL (no secrets),
to run after every migration and whenever assignments change.

What needs a current server (../access-control.sql): per-statement grants (the
18.16 writer can also ALTER/DROP in its databases), roles, row policies on the
shared tables, and deny-by-default for tables added later.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import os
import sys
import tempfile
import tomllib
from pathlib import Path
from xml.sax.saxutils import escape

DATABASE = "supervision"
# Tables copied, restricted to departments, into each auditor's database.
AUDITED_TABLES = ("alerts", "events")
_ALERT_COLUMNS = (
    "alert_id, rule, level, case_id, process, dept, raised_at, raised_at_us, evidence,"
    " message, details, config_version, detected_at"
)
# As schemas/clickhouse defines them (0004): withdrawn alerts only in alerts_withdrawn_v.
READ_VIEWS = {
    "alerts_v": f"SELECT {_ALERT_COLUMNS} FROM {{db}}.alerts FINAL WHERE isNull(withdrawn_at)",
    "alerts_withdrawn_v": f"SELECT {_ALERT_COLUMNS}, withdrawn_at, withdrawn_reason, withdrawn_by"
    " FROM {db}.alerts FINAL WHERE isNotNull(withdrawn_at)",
    "events_v": "SELECT event_id, case_id, process, action, occurred_at, occurred_at_us, occurred_at_text,"
    " dept, actor, party, amount, attrs, ingested_at, reported_at, reported_at_us, reported_at_text,"
    " arrived_at, arrived_at_us FROM {db}.events FINAL",
}


class ConfigError(Exception):
    pass


def secret(name: str, environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    path = env.get(f"{name}_FILE")
    value = Path(path).read_text(encoding="utf-8").strip("\r\n") if path else env.get(name, "")
    if not value:
        raise ConfigError(f"{name} (or {name}_FILE) is not set")
    return value


def sha256_hex(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def dept_filter(departments: list[str]) -> str:
    if not departments:
        return "0"
    return "dept IN ({})".format(", ".join(sql_string(d) for d in departments))


def valid_name(name: str) -> str:
    if (
        not name
        or not name.isascii()
        or not name[0].isalpha()
        or not name.replace("_", "").isalnum()
    ):
        raise ConfigError(f"invalid auditor name {name!r}: ASCII letters, digits and _ only")
    return name


def audit_database(auditor: str) -> str:
    return f"audit_{valid_name(auditor)}"


def password_variable(auditor: str) -> str:
    return f"CLICKHOUSE_AUDITOR_{valid_name(auditor).upper()}_PASSWORD"


# --- users.xml ----------------------------------------------------------------------------


def _user(
    name: str, password_sha: str, profile: str, networks: list[str], databases: list[str]
) -> str:
    nets = "".join(f"<ip>{escape(n)}</ip>" for n in networks)
    allowed = "".join(f"<database>{escape(d)}</database>" for d in databases)
    allow = f"            <allow_databases>{allowed}</allow_databases>\n" if databases else ""
    return (
        f"        <{name}>\n"
        f"            <password_sha256_hex>{password_sha}</password_sha256_hex>\n"
        f"            <networks>{nets}</networks>\n"
        f"            <profile>{profile}</profile>\n"
        f"            <quota>default</quota>\n"
        f"{allow}"
        f"        </{name}>\n"
    )


def render_users(
    auditors: dict[str, list[str]],
    environ: dict[str, str] | None = None,
    networks: list[str] | None = None,
) -> str:
    nets = networks or ["::/0"]
    audit_dbs = [audit_database(name) for name in sorted(auditors)]
    users = [
        _user(
            "default",
            sha256_hex(secret("CLICKHOUSE_ADMIN_PASSWORD", environ)),
            "default",
            ["::1", "127.0.0.1"],
            [],
        ),
        _user(
            "supervision_writer",
            sha256_hex(secret("CLICKHOUSE_WRITER_PASSWORD", environ)),
            "default",
            nets,
            [DATABASE, *audit_dbs],
        ),
        _user(
            "supervision_grafana",
            sha256_hex(secret("CLICKHOUSE_GRAFANA_PASSWORD", environ)),
            "readonly",
            nets,
            [DATABASE],
        ),
    ]
    for name in sorted(auditors):
        users.append(
            _user(
                name,
                sha256_hex(secret(password_variable(name), environ)),
                "auditor",
                nets,
                [audit_database(name)],
            )
        )
    return (
        '<?xml version="1.0"?>\n'
        "<!-- Generated by deploy/clickhouse/legacy/access.py: do not edit by hand. -->\n"
        "<yandex>\n"
        "    <profiles>\n"
        "        <default><max_memory_usage>10000000000</max_memory_usage></default>\n"
        "        <readonly><readonly>2</readonly></readonly>\n"
        "        <auditor><readonly>1</readonly></auditor>\n"
        "    </profiles>\n"
        "    <users>\n" + "".join(users) + "    </users>\n"
        "    <quotas>\n"
        "        <default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>"
        "<result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>"
        "</interval></default>\n"
        "    </quotas>\n"
        "</yandex>\n"
    )


# --- audit databases ------------------------------------------------------------------------


def audit_statements(auditors: dict[str, list[str]]) -> list[str]:
    """DDL (idempotent, re-runnable) giving each auditor a copy restricted to their departments."""
    statements: list[str] = []
    for name in sorted(auditors):
        db = audit_database(name)
        condition = dept_filter(list(auditors[name]))
        statements.append(f"CREATE DATABASE IF NOT EXISTS {db}")
        for table in AUDITED_TABLES:
            statements += [
                f"DROP TABLE IF EXISTS {db}.{table}_mv",
                f"DROP TABLE IF EXISTS {db}.{table}",
                f"CREATE TABLE {db}.{table} AS {DATABASE}.{table}",
                f"CREATE MATERIALIZED VIEW {db}.{table}_mv TO {db}.{table} AS "
                f"SELECT * FROM {DATABASE}.{table} WHERE {condition}",
                f"INSERT INTO {db}.{table} SELECT * FROM {DATABASE}.{table} WHERE {condition}",
            ]
        for view, select in READ_VIEWS.items():
            statements += [
                f"DROP TABLE IF EXISTS {db}.{view}",
                f"CREATE VIEW {db}.{view} AS {select.format(db=db)}",
            ]
    return statements


def load_auditors(path: Path) -> dict[str, list[str]]:
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    auditors = {
        name: list(entry.get("departments", []))
        for name, entry in document.get("auditors", {}).items()
    }
    for name in auditors:
        valid_name(name)
    return auditors


def write_private(path: Path, text: str, server_group: str = "clickhouse") -> None:
    """Replace ``path`` at once: readable by its owner and the server's group, not others.

    The server (Debian runs it as user ``clickhouse``) re-reads users.xml when it
    changes, so the file is written beside it and renamed over it: the server never
    reads half a file. Run as root, the file keeps its owner and gets the group
    ``server_group`` (else the group it had), mode 0640: it holds password digests.
    """
    try:
        current = os.stat(path)
        owner, group = current.st_uid, current.st_gid
    except FileNotFoundError:
        owner, group = os.geteuid(), os.getegid()
    with contextlib.suppress(KeyError):
        group = grp.getgrnam(server_group).gr_gid
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o640)
        if os.geteuid() == 0:
            os.chown(temporary, owner, group)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 4 and argv[1] == "users":
            auditors = load_auditors(Path(argv[2]))
            write_private(Path(argv[3]), render_users(auditors))
            print(f"access: wrote {argv[3]} ({len(auditors)} auditors)", file=sys.stderr)
            return 0
        if len(argv) == 3 and argv[1] == "sql":
            print(";\n".join(audit_statements(load_auditors(Path(argv[2])))) + ";")
            return 0
    except (ConfigError, OSError, tomllib.TOMLDecodeError) as error:
        print(f"access: {error}", file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
