"""The supervision configuration: process templates and rule thresholds.

One TOML file (``defaults/supervision.toml`` is the built-in one) holds every
default of rules.md §2–3. It is validated at load with errors that name the
key (its form: ``configfile.py``); its version is a content hash of the parsed
configuration together with the calendar data and the item catalogue
(``catalogue.py``), recorded on every alert.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from streams.engine.calendar import CalendarError, WorkCalendar, YearData, load_calendar_file
from streams.engine.catalogue import EMPTY_CATALOGUE, CatalogueItem, compressed, load_catalogue
from streams.engine.configfile import (
    CORE_RULES,
    RULES,
    CompressionRow,
    Condition,
    ConfigError,
    ConfigFile,
    LimitRule,
    NoticeRule,
    ProcessTemplate,
    RuleSettings,
    ScoringSection,
    StateSection,
    StepClock,
    WorkflowSection,
)
from streams.engine.timeutil import LocalTime, parse_date
from streams.engine.users import User, UsersError, load_users

__all__ = [
    "CORE_RULES",
    "DEFAULT_CONFIG",
    "RULES",
    "SCHEMAS_DIR",
    "CatalogueItem",
    "ConfigError",
    "SupervisionConfig",
    "Template",
    "compressed",
    "load_config",
]

DEFAULTS_DIR = Path(__file__).resolve().parent / "defaults"
# The event and alert JSON Schemas (the repository's schemas/ folder). Located here because
# this module is never compiled: a compiled module's __file__ need not be its source path.
SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
DEFAULT_CONFIG = DEFAULTS_DIR / "supervision.toml"
DEFAULT_CALENDAR = DEFAULTS_DIR / "calendar.toml"

# Rule parameters the engine needs, with the rule book's defaults.
_RULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "UNAUTHORIZED_INSPECTION": {"plan_retention_hours": 17520},
    "REPEATED_SUPPLEMENT": {"nth_request": 2},
    "DUPLICATE_DISBURSEMENT": {"window_hours": 720},
    "SHORT_TENDER_PERIOD": {"methods": ["open", "invited"], "min_hours": 480},
    "TOO_FEW_BIDS": {"methods": ["open", "invited"], "min_bidders": 3},
    "CONTRACT_EXCEEDS_AWARD": {"max_ratio": "1.10"},
    "SPLIT_PURCHASE": {
        "methods": ["direct", "single_source"],
        "threshold": "2000000",
        "window_hours": 8760,
    },
    "QUIET_DAY_INSPECTION": {"month_days": [(1, 5)], "dates": []},
    "FREQUENT_INSPECTION": {"window_hours": 720, "min_count": 3},
    "RISK_NOT_REPORTED": {"days_before": 10},
    "LATE_REPORTED": {"max_delay_hours": 24},
}

Predicate = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]


def _to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        return None


def compile_condition(cond: Condition) -> Predicate:
    """A condition as a function of (event attrs, case facts)."""
    if cond.any is not None:
        parts = [compile_condition(c) for c in cond.any]
        return lambda attrs, facts: any(p(attrs, facts) for p in parts)
    if cond.all is not None:
        parts = [compile_condition(c) for c in cond.all]
        return lambda attrs, facts: all(p(attrs, facts) for p in parts)
    if cond.not_ is not None:
        inner = compile_condition(cond.not_)
        return lambda attrs, facts: not inner(attrs, facts)
    name: str = cond.attr if cond.attr is not None else (cond.case or "")
    from_case = cond.case is not None
    if cond.in_ is not None:
        allowed = frozenset(cond.in_)

        def member(attrs: Mapping[str, Any], facts: Mapping[str, Any]) -> bool:
            value = (facts if from_case else attrs).get(name)
            return isinstance(value, str) and value in allowed

        return member
    bound = Decimal(cond.gte or "0")

    def at_least(attrs: Mapping[str, Any], facts: Mapping[str, Any]) -> bool:
        value = _to_decimal((facts if from_case else attrs).get(name))
        return value is not None and value >= bound

    return at_least


@dataclass(frozen=True, slots=True)
class Requirement:
    requires: tuple[str, ...]
    when: Predicate | None


@dataclass(frozen=True, slots=True)
class Template:
    """A process template ready for evaluation (actions as bit positions)."""

    name: str
    actions: tuple[str, ...]
    bit: Mapping[str, int]
    start: str | None
    limit: tuple[LimitRule, ...]
    terminal: frozenset[str]
    order: Mapping[str, tuple[Requirement, ...]]
    step_clocks: tuple[StepClock, ...]
    step_after: Mapping[str, tuple[int, ...]]  # action -> indices of clocks it starts
    capture: Mapping[str, tuple[str, ...]]  # action -> fact names it captures
    timer_actions: frozenset[str]  # actions that can move this template's timers
    notice: tuple[NoticeRule, ...]  # extension notice (rules.md §2), first that applies
    deemed_approval: bool
    report_action: str | None
    report_day: int  # 0: the month's last day
    risk_action: str | None

    by_date: str | None  # a clock by date: the start event's attr giving its last day

    def limit_date(self, attrs: Mapping[str, Any]) -> int | None:
        """A clock by date: its last day (date ordinal); None when the attr is not a date."""
        value = attrs.get(self.by_date) if self.by_date is not None else None
        if not isinstance(value, str):
            return None
        try:
            return parse_date(value)
        except ValueError:
            return None

    def notice_days(self, attrs: Mapping[str, Any]) -> int:
        """Working days of notice an extension of a case started with ``attrs`` needs."""
        for rule in self.notice:
            if rule.if_true is None or attrs.get(rule.if_true) is True:
                return rule.days
        return 0

    def limit_days(self, attrs: Mapping[str, Any]) -> int | None:
        for rule in self.limit:
            if rule.date is not None:
                continue
            if rule.attr is not None:
                value = attrs.get(rule.attr)
                if isinstance(value, int) and not isinstance(value, bool):
                    return value
            elif rule.if_true is not None:
                if attrs.get(rule.if_true) is True:
                    return rule.days  # type: ignore[return-value]
            elif rule.by is not None:
                key = attrs.get(rule.by)
                if isinstance(key, str) and isinstance(rule.days, dict) and key in rule.days:
                    return rule.days[key]
            else:
                return rule.days  # type: ignore[return-value]
        return None


@dataclass(frozen=True)
class SupervisionConfig:
    """The loaded configuration: what the engine reads."""

    version: str
    source: str
    local: LocalTime
    calendar: WorkCalendar
    templates: Mapping[str, Template]
    red_after_working_days: int
    exempt_categories: frozenset[str]
    enabled: frozenset[str]
    params: Mapping[str, Mapping[str, Any]]
    quiet_month_days: tuple[tuple[int, int], ...]
    quiet_dates: frozenset[int]
    catalogue: Mapping[str, CatalogueItem] = field(default_factory=lambda: EMPTY_CATALOGUE)
    compression: tuple[CompressionRow, ...] = ()
    workflow: WorkflowSection = field(default_factory=WorkflowSection)
    users: Mapping[str, User] = field(default_factory=dict)
    terminal_retention_days: int = 90  # [state]: terminal cases leave the state after this
    hot_case_events: int = 10_000  # [state]: a case with more events is flagged
    scoring: ScoringSection = field(default_factory=ScoringSection)

    def rule_on(self, rule: str) -> bool:
        return rule in self.enabled

    def param(self, rule: str, name: str) -> Any:
        return self.params[rule][name]

    def with_rules(self, enabled: frozenset[str]) -> SupervisionConfig:
        """A copy with only the given rules enabled (benchmarks: with and without rule packs)."""
        from dataclasses import replace

        digest = hashlib.sha256((self.version + ",".join(sorted(enabled))).encode()).hexdigest()[
            :12
        ]
        return replace(self, enabled=enabled, version=f"cfg-{digest}")


def _format_validation(exc: ValidationError, source: str) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{source}: {where}: {first['msg']}{more}"


def _build_template(name: str, spec: ProcessTemplate) -> Template:
    order: dict[str, list[Requirement]] = {}
    for rule in spec.order:
        when = compile_condition(rule.when) if rule.when is not None else None
        order.setdefault(rule.action, []).append(Requirement(tuple(rule.requires), when))
    step_after: dict[str, list[int]] = {}
    for index, clock in enumerate(spec.step_clocks):
        step_after.setdefault(clock.after, []).append(index)
    capture: dict[str, list[str]] = {}
    for fact, action in spec.capture.items():
        capture.setdefault(action, []).append(fact)
    return Template(
        name=name,
        actions=tuple(spec.actions),
        bit={action: 1 << i for i, action in enumerate(spec.actions)},
        start=spec.start,
        limit=tuple(spec.limit),
        terminal=frozenset(spec.terminal),
        order={k: tuple(v) for k, v in order.items()},
        step_clocks=tuple(spec.step_clocks),
        step_after={k: tuple(v) for k, v in step_after.items()},
        capture={k: tuple(v) for k, v in capture.items()},
        timer_actions=frozenset(
            {a for a in (spec.start,) if a}
            | set(spec.terminal)
            | {c.after for c in spec.step_clocks}
            | {c.action for c in spec.step_clocks}
            | (
                {"suspend", "resume", "supplement_request", "supplement_received", "extend"}
                & set(spec.actions)
            )
        ),
        notice=(
            (NoticeRule(days=spec.extension_notice_working_days),)
            if isinstance(spec.extension_notice_working_days, int)
            else tuple(spec.extension_notice_working_days)
        ),
        deemed_approval=spec.deemed_approval,
        report_action=spec.report_action,
        report_day=spec.report_day or 0,
        risk_action=spec.risk_action,
        by_date=next((rule.date for rule in spec.limit if rule.date is not None), None),
    )


def load_config(path: str | Path | None = None) -> SupervisionConfig:
    """Load and validate a configuration file (None: the built-in defaults)."""
    config_path = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        raw_bytes = config_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {config_path}: {exc.strerror}") from None
    try:
        raw = tomllib.loads(raw_bytes.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
    try:
        parsed = ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc, str(config_path))) from None

    try:
        local = LocalTime(parsed.time.zone)
    except Exception:
        raise ConfigError(
            f"{config_path}: time.zone: unknown time zone {parsed.time.zone!r}"
        ) from None

    calendar_files = [DEFAULT_CALENDAR] + [config_path.parent / f for f in parsed.calendar.files]
    extra: list[dict[int, YearData]] = []
    try:
        for file in calendar_files:
            extra.append(load_calendar_file(file))
        calendar = WorkCalendar.build(extra)
    except CalendarError as exc:
        raise ConfigError(str(exc)) from None

    enabled = frozenset(r for r in RULES if parsed.rules.get(r, RuleSettings()).enabled)
    params: dict[str, dict[str, Any]] = {}
    for rule in RULES:
        given = parsed.rules.get(rule, RuleSettings()).model_dump(exclude_none=True)
        merged = dict(_RULE_DEFAULTS.get(rule, {}))
        merged.update({k: v for k, v in given.items() if k != "enabled"})
        unknown = set(merged) - set(_RULE_DEFAULTS.get(rule, {}))
        if unknown:
            raise ConfigError(
                f"{config_path}: rules.{rule}: keys {sorted(unknown)} do not apply to this rule"
            )
        params[rule] = merged
    for rule in ("CONTRACT_EXCEEDS_AWARD",):
        params[rule]["max_ratio"] = Decimal(params[rule]["max_ratio"])
    params["SPLIT_PURCHASE"]["threshold"] = Decimal(params["SPLIT_PURCHASE"]["threshold"])

    catalogue: Mapping[str, CatalogueItem] = EMPTY_CATALOGUE
    catalogue_content: dict[str, object] = {}
    if parsed.catalogue.file:
        catalogue, catalogue_content = load_catalogue(
            config_path.parent / parsed.catalogue.file, parsed.catalogue.compression
        )

    users: dict[str, User] = {}
    if parsed.workflow.users_file:
        try:
            users = load_users(config_path.parent / parsed.workflow.users_file)
        except UsersError as exc:
            raise ConfigError(f"{config_path}: workflow.users_file: {exc}") from None

    # [workflow] at its defaults is left out: the versions of earlier configurations (and of
    # every alert they raised) stay the same. The users file is identity, not supervision
    # rules: it is not part of the version (each action result records who acted, as what).
    rules_only = parsed.workflow.model_copy(update={"users_file": ""})
    left_out: Any = (
        {"workflow": True} if rules_only == WorkflowSection() else {"workflow": {"users_file"}}
    )
    if parsed.state == StateSection():
        left_out["state"] = True
    # [scoring] likewise, at its defaults.
    if parsed.scoring == ScoringSection():
        left_out["scoring"] = True
    canonical = {
        # [state] at its defaults is left out too: operational, and versions stay as they were
        "config": parsed.model_dump(mode="json", by_alias=True, exclude=left_out),
        "catalogue": catalogue_content,
        "calendar": {
            str(year): {
                "holidays": sorted(map(str, d.holidays)),
                "workdays": sorted(map(str, d.workdays)),
            }
            for table in extra
            for year, d in sorted(table.items())
        },
    }
    digest = hashlib.sha256(
        json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    return SupervisionConfig(
        version=f"cfg-{digest[:12]}",
        source=str(config_path),
        local=local,
        calendar=calendar,
        templates={name: _build_template(name, spec) for name, spec in parsed.processes.items()},
        red_after_working_days=parsed.overdue.red_after_working_days,
        exempt_categories=frozenset(parsed.inspection.exempt_categories),
        enabled=enabled,
        params=params,
        quiet_month_days=tuple(
            (int(r[0]), int(r[1])) for r in params["QUIET_DAY_INSPECTION"]["month_days"]
        ),
        quiet_dates=frozenset(parse_date(d) for d in params["QUIET_DAY_INSPECTION"]["dates"]),
        catalogue=catalogue,
        compression=tuple(parsed.catalogue.compression),
        workflow=parsed.workflow,
        users=users,
        terminal_retention_days=parsed.state.terminal_retention_days,
        hot_case_events=parsed.state.hot_case_events,
        scoring=parsed.scoring,
    )
