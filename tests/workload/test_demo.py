"""`make run`'s workload, as scripts/run-demo.sh generates it, with the demo configuration."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import orjson

from streams.engine.config import RULES, load_config
from streams.replay import replay
from streams.workload import GenerateConfig, generate_events, report_late

ROOT = Path(__file__).resolve().parents[2]
DEMO = (ROOT / "scripts" / "run-demo.sh").read_text(encoding="utf-8")


def test_the_demo_raises_every_rule_with_the_demo_configuration() -> None:
    cases = int(re.search(r"DEMO_CASES:-(\d+)", DEMO).group(1))  # type: ignore[union-attr]
    seed = int(re.search(r"generate --cases \"\$CASES\" --seed (\d+)", DEMO).group(1))  # type: ignore[union-attr]
    assert "supervision.demo.toml" in DEMO
    config = load_config(ROOT / "deploy" / "config" / "supervision.demo.toml")
    share = float(re.search(r"--late-reported-share ([0-9.]+)", DEMO).group(1))  # type: ignore[union-attr]
    events = report_late(generate_events(GenerateConfig(cases=cases, seed=seed)), share, seed=seed)
    lines = [orjson.dumps(e) for e in events]
    raised: Counter[str] = Counter()
    replay(lines, config, lambda a: raised.update([a.rule]), lambda r: None)
    assert set(RULES) - set(raised) == set(), raised  # LATE_REPORTED too: recorded late
    assert raised["LATE_REPORTED"] >= 5


def test_the_demo_worker_follows_the_generators_progress_markers() -> None:
    """rules.md §1.4: the demo's topics have the generator as their configured source."""
    source = re.search(r'^SOURCE="([^"]+)"', DEMO, re.M).group(1)  # type: ignore[union-attr]
    assert '--source "$SOURCE"' in DEMO
    for suffix in ("APPROVAL", "FUND", "TRADE", "INSPECTION"):
        assert f'TOPIC_{suffix}_SOURCES="$SOURCE"' in DEMO
    assert source == "supervise-generate"
    assert "WATERMARK_IDLE" not in DEMO  # the markers set the horizon, not the stream's clock


def test_the_demo_serves_the_pages_in_local_mode_on_loopback_and_stops_them() -> None:
    """`make run` ends with `supervise web --local` (the user picker, 本地演示模式) on a
    loopback address, prints the inbox address and the users, and stops it on every exit."""
    assert 'streams.cli web --local --host 127.0.0.1 --port "$WEB_PORT"' in DEMO
    assert "http://127.0.0.1:$WEB_PORT/inbox" in DEMO
    assert "load_config(get_settings().supervision_config).users" in DEMO
    cleanup = DEMO[DEMO.index("cleanup() {") : DEMO.index("trap cleanup")]
    assert 'stop_pid "$WEB_PID"' in cleanup
    assert DEMO.rstrip().endswith('WEB_PID=""')
