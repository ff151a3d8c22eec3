"""The 督办 part of `make run` (scripts/run-demo.sh): red cards worked with `supervise act`.

Run while the demo's worker is up, after the workload. It reads the red cards from the
alerts topic and, as the example users (deploy/config/users.example.toml), takes two of
them (departments SCJ / RXZX) through claim (I-01), draft (I-01), approval by a second
person (A-01) and the department's reply, in time (this morning); and a third one through approval only,
three weeks ago with a reply deadline of 3 working days, which lapses: the worker raises
SUP_RECEIPT_OVERDUE and SUP_REPLY_OVERDUE (催办, then 通报) for it, shown as they fire.

The workload's dates reach past today, so its clock is the wall clock: the actions are dated
before now (the worker applies them as it reads them) and the lapsed deadline is one
already past. ``--case`` and ``--version`` are given: the worker holds the embedded chdb
while it runs (with a ClickHouse server, ``supervise act`` reads them itself).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from typing import Any

import orjson

HOUR = 3_600_000_000
DAY = 24 * HOUR
REPLIERS = {"SCJ": "DEP-SCJ", "RXZX": "DEP-RXZX"}


def read_alerts(settings: Any) -> list[dict[str, Any]]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    tps = [TopicPartition(settings.topic_alerts, p) for p in range(settings.topic_partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    found: list[dict[str, Any]] = []
    empty = 0
    while empty < 3:
        polled = consumer.poll(timeout_ms=500)
        empty = 0 if polled else empty + 1
        found += [orjson.loads(r.value) for rs in polled.values() for r in rs]
    consumer.close()
    return found


def workflow_of(alert: dict[str, Any]) -> str:
    from streams.engine.model import Alert
    from streams.engine.timeutil import parse_instant
    from streams.workflow import workflow_id_of
    from streams.workflow.state import discriminator_of

    obj = Alert(
        alert["alert_id"], alert["rule"], alert["level"], alert["case_id"], alert["process"],
        alert["dept"], parse_instant(alert["raised_at"]), alert["evidence"], alert["message"],
        alert["details"], alert["config_version"],
    )  # fmt: skip
    return workflow_id_of(obj.rule, obj.process, obj.case_id, discriminator_of(obj))


def act(kind: str, wid: str, user: str, case: str, version: int, at: str, *extra: str) -> bool:
    args = ["act", kind, wid, "--as", user, "--case", case, "--version", str(version)]
    args += ["--at", at, *extra]
    print(f"$ supervise {shlex.join(args)}", flush=True)
    done = subprocess.run([sys.executable, "-m", "streams.cli", *args], check=False, text=True,
                          capture_output=True)  # fmt: skip
    print(done.stdout + done.stderr, end="", flush=True)
    return done.returncode == 0


def main() -> int:
    from streams.engine import load_config
    from streams.engine.timeutil import parse_instant
    from streams.settings import get_settings

    settings = get_settings()
    local = load_config(settings.supervision_config).local
    alerts = read_alerts(settings)
    families: dict[str, list[dict[str, Any]]] = {}
    for a in alerts:
        if a["process"] != "supervision":
            families.setdefault(workflow_of(a), []).append(a)
    now = int(time.time() * 1_000_000)
    reds = sorted(
        (
            (parse_instant(a["raised_at"]), wid, a)
            for wid, cards in families.items()
            for a in cards
            if a["level"] == "red" and a["dept"] in REPLIERS
        ),
        key=lambda item: item[0],
    )
    recent = [r for r in reds if r[0] < now - 3 * DAY][-2:]
    older = [r for r in reds if r[0] < now - 25 * DAY and r not in recent][-1:]
    if len(recent) < 2 or not older:
        print("not enough red cards of SCJ / RXZX to show the workflow", flush=True)
        return 1
    plan = [(item, now - 6 * HOUR, 10, True) for item in recent]
    plan.append((older[0], now - 22 * DAY, 3, False))
    for (_, wid, card), base, due_days, replies in plan:
        case, version = card["case_id"], len(families[wid])
        dept = card["dept"]
        print(f"\n--- {card['rule']} red card of {dept}, case {case}: workflow {wid}", flush=True)

        def at(offset_us: int, base: int = base) -> str:
            return local.format(base + offset_us)

        steps = [
            ("claim", "I-01", at(0), ()),
            ("draft", "I-01", at(HOUR), ("--text", "该件已超期，请说明原因并限期整改",
             "--measure", "说明超期原因", "--measure", "明确办结时间", "--due-days", str(due_days))),
            ("approve", "A-01", at(2 * HOUR), ()),
        ]  # fmt: skip
        if replies:
            text = ("--text", "已查明原因，已于当日办结，并完善了限时提醒")
            steps.append(("reply", REPLIERS[dept], local.format(now - 2 * HOUR), text))
        for kind, user, when, extra in steps:
            if not act(kind, wid, user, case, version, when, *extra):
                return 1
            version += 1
    print(
        "\nThe third notice's reply deadline has passed without a reply: the worker raised "
        "SUP_RECEIPT_OVERDUE and SUP_REPLY_OVERDUE for it (above, with the alerts).",
        flush=True,
    )
    time.sleep(3)  # the SUP_* alerts are stored and printed
    return 0


if __name__ == "__main__":
    sys.exit(main())
