#!/usr/bin/env bash
# ClickHouse server (Debian's clickhouse-server package) for tests, benchmarks and
# local use, run as an ordinary process on a loopback port with its own config and
# data under var/ -- never as the system service on the default ports.
#
#   scripts/clickhouse-server.sh install        install the Debian package if missing
#   scripts/clickhouse-server.sh start [DIR] [PORT]
#                                              write config into DIR (default var/clickhouse),
#                                              start on 127.0.0.1:PORT (default: a free port),
#                                              wait until it answers, print its URL
#   scripts/clickhouse-server.sh stop [DIR]     stop the server started in DIR
#   scripts/clickhouse-server.sh kill [DIR]     SIGKILL it (crash tests)
#   scripts/clickhouse-server.sh status [DIR]   print the URL and exit 0 if running
#   scripts/clickhouse-server.sh url [DIR]      print clickhouse://127.0.0.1:PORT/default
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CMD="${1:-help}"
DIR="${2:-${CLICKHOUSE_DIR:-$REPO/var/clickhouse}}"
PORT="${3:-${CLICKHOUSE_PORT:-}}"
SERVER_BIN="${CLICKHOUSE_SERVER_BIN:-/usr/sbin/clickhouse-server}"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

pid_of() {
    [[ -f "$DIR/server.pid" ]] || return 1
    local pid
    pid="$(cat "$DIR/server.pid")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

url_of() {
    echo "clickhouse://127.0.0.1:$(cat "$DIR/port")/default"
}

ping_server() {
    # The native port answers a TCP connect as soon as the server can serve queries.
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
s.close()
PY
}

write_config() {
    mkdir -p "$DIR/data" "$DIR/tmp" "$DIR/log" "$DIR/user_files" "$DIR/format_schemas"
    cat >"$DIR/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$DIR/log/server.log</log>
        <errorlog>$DIR/log/server.err.log</errorlog>
        <size>10M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$PORT</tcp_port>
    <path>$DIR/data/</path>
    <tmp_path>$DIR/tmp/</tmp_path>
    <user_files_path>$DIR/user_files/</user_files_path>
    <format_schema_path>$DIR/format_schemas/</format_schema_path>
    <users_config>$DIR/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <max_concurrent_queries>50</max_concurrent_queries>
    <builtin_dictionaries_reload_interval>0</builtin_dictionaries_reload_interval>
</yandex>
XML
    cat >"$DIR/users.xml" <<'XML'
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <max_threads>2</max_threads>
            <background_pool_size>2</background_pool_size>
            <background_schedule_pool_size>2</background_schedule_pool_size>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default></default></quotas>
</yandex>
XML
}

case "$CMD" in
install)
    if [[ -x "$SERVER_BIN" ]]; then
        echo "clickhouse-server already installed: $(dpkg-query -W -f='${Version}' clickhouse-server 2>/dev/null || echo unknown)"
    else
        # policy-rc.d keeps the package from starting the system service on port 9000.
        DEBIAN_FRONTEND=noninteractive apt-get install -y clickhouse-server || {
            apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y clickhouse-server
        }
        # Never leave the packaged system service running on the default ports:
        # tests and benchmarks start their own server (see `start`).
        systemctl disable --now clickhouse-server >/dev/null 2>&1 ||
            service clickhouse-server stop >/dev/null 2>&1 || true
    fi
    ;;
start)
    if pid="$(pid_of)"; then
        url_of
        exit 0
    fi
    [[ -x "$SERVER_BIN" ]] || { echo "clickhouse-server missing: run $0 install" >&2; exit 1; }
    [[ -n "$PORT" ]] || PORT="$(free_port)"
    write_config
    echo "$PORT" >"$DIR/port"
    nohup "$SERVER_BIN" --config-file="$DIR/config.xml" --pid-file="$DIR/server.pid" \
        >"$DIR/log/stdout.log" 2>&1 </dev/null &
    child=$!
    for _ in $(seq 1 300); do
        if ping_server "$PORT"; then
            echo "$child" >"$DIR/server.pid"
            url_of
            exit 0
        fi
        if ! kill -0 "$child" 2>/dev/null; then
            echo "clickhouse-server exited; see $DIR/log/" >&2
            tail -n 20 "$DIR/log/server.err.log" "$DIR/log/stdout.log" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
    echo "clickhouse-server did not answer on port $PORT within 30 s" >&2
    exit 1
    ;;
stop | kill)
    if pid="$(pid_of)"; then
        if [[ "$CMD" == kill ]]; then kill -KILL "$pid"; else kill -TERM "$pid"; fi
        for _ in $(seq 1 300); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
    fi
    rm -f "$DIR/server.pid"
    ;;
status)
    if pid_of >/dev/null; then url_of; else echo "not running" >&2; exit 1; fi
    ;;
url)
    url_of
    ;;
*)
    sed -n '2,17p' "$0"
    ;;
esac
