#!/usr/bin/env bash
# Create/update the ClickHouse users, roles and row policies of access-control.sql.
#
# Reads (never prints) the passwords from the environment, or from files named
# by the *_FILE variant (Docker/Kubernetes secrets):
#   CLICKHOUSE_ADMIN_PASSWORD[_FILE]    the admin user running this script
#   CLICKHOUSE_WRITER_PASSWORD[_FILE]   password of supervision_writer (worker)
#   CLICKHOUSE_GRAFANA_PASSWORD[_FILE]  password of supervision_grafana (Grafana)
# and CLICKHOUSE_HOST (default 127.0.0.1), CLICKHOUSE_PORT (9000),
# CLICKHOUSE_ADMIN_USER (default). Needs clickhouse-client and sha256sum.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

secret() {  # secret NAME -> value of $NAME, or the content of the file $NAME_FILE
    local name="$1" file_var="${1}_FILE"
    if [[ -n "${!file_var:-}" ]]; then
        tr -d '\r\n' < "${!file_var}"
    elif [[ -n "${!name:-}" ]]; then
        printf '%s' "${!name}"
    else
        echo "apply-access-control: $name (or ${name}_FILE) is not set" >&2
        return 1
    fi
}

sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# Each secret is read into a variable of its own: a failure inside a nested
# substitution would be lost, and an empty password hashed into the SQL.
password() {  # password NAME -> the secret, refused when empty or still the example value
    local value
    value="$(secret "$1")" || exit 1
    if [[ -z "$value" || "$value" == change-me* ]]; then
        echo "apply-access-control: $1 is empty or still the example value; set a real password" >&2
        exit 1
    fi
    printf '%s' "$value"
}

admin_user="${CLICKHOUSE_ADMIN_USER:-default}"
if [[ ! "$admin_user" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then  # it is written into SQL
    echo "apply-access-control: CLICKHOUSE_ADMIN_USER must be a plain identifier" >&2
    exit 1
fi
admin_password="$(password CLICKHOUSE_ADMIN_PASSWORD)"
writer_password="$(password CLICKHOUSE_WRITER_PASSWORD)"
grafana_password="$(password CLICKHOUSE_GRAFANA_PASSWORD)"
writer_sha="$(sha256 "$writer_password")"
grafana_sha="$(sha256 "$grafana_password")"
unset writer_password grafana_password

# The admin password goes into a private client config file, not onto the command line.
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
chmod 700 "$workdir"
cat > "$workdir/client.xml" <<XML
<config>
    <host>${CLICKHOUSE_HOST:-127.0.0.1}</host>
    <port>${CLICKHOUSE_PORT:-9000}</port>
    <user>${admin_user}</user>
    <password>$(printf '%s' "$admin_password" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g')</password>
</config>
XML
chmod 600 "$workdir/client.xml"

sed -e "s/__WRITER_SHA256__/$writer_sha/g" -e "s/__GRAFANA_SHA256__/$grafana_sha/g" \
    -e "s/__ADMIN_USER__/$admin_user/g" \
    "$here/access-control.sql" \
    | clickhouse-client --config-file "$workdir/client.xml" --multiquery
echo "apply-access-control: users supervision_writer, supervision_grafana and role supervision_auditor are in place"
