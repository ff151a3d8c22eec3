"""Feed events, get alerts: the whole offline pipeline in one call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from streams.engine import SupervisionConfig, alert_to_dict, load_config
from streams.engine.timeutil import parse_instant
from streams.replay import Reject, replay

_DEFAULT = load_config()


def ev(
    event_id: str, case_id: str, process: str, action: str, at: str, dept: str = "D01", **attrs: Any
) -> dict:
    """An event of the contract; times without offset get +08:00."""
    if "+" not in at and not at.endswith("Z"):
        at = at + "+08:00"
    event: dict[str, Any] = {
        "event_id": event_id,
        "case_id": case_id,
        "process": process,
        "action": action,
        "occurred_at": at,
        "dept": dept,
    }
    if attrs:
        event["attrs"] = attrs
    return event


def run(
    events: list[dict] | list[bytes],
    as_of: str | None = None,
    config: SupervisionConfig | None = None,
    rejects: list[Reject] | None = None,
) -> list[dict]:
    """Alerts (events.md JSON form) of replaying the events."""
    cfg = config or _DEFAULT
    lines = [e if isinstance(e, bytes) else orjson.dumps(e) for e in events]
    alerts: list[dict] = []
    if as_of is not None and "+" not in as_of:
        as_of = as_of + "+08:00"
    replay(
        lines,
        cfg,
        lambda a: alerts.append(alert_to_dict(a, cfg.local)),
        (rejects.append if rejects is not None else lambda r: None),
        as_of=parse_instant(as_of) if as_of else None,
    )
    return alerts


def brief(alerts: list[dict]) -> list[tuple[str, str, str, str]]:
    """(rule, level, case_id, raised_at local without offset), sorted."""
    return sorted((a["rule"], a["level"], a["case_id"], a["raised_at"][:19]) for a in alerts)


def config_with(tmp_path: Path, replace: dict[str, str]) -> SupervisionConfig:
    """The default configuration with text replacements, written to tmp_path."""
    from streams.engine.config import DEFAULT_CONFIG

    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "supervision.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)
