"""The configuration file's form (rules.md §2–3): pydantic models, validated at load.

``config.py`` turns a validated ``ConfigFile`` into the ``SupervisionConfig`` the
engine reads; the item catalogue's form is in ``catalogue.py``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from streams.engine.timeutil import parse_date

RULES = (
    "OVERDUE",
    "STEP_OVERDUE",
    "SKIPPED_STEP",
    "LATE_EXTENSION",
    "UNAUTHORIZED_INSPECTION",
    "REFUSAL_WITHOUT_REASON",
    "REPEATED_SUPPLEMENT",
    "OVER_DISBURSEMENT",
    "PAYEE_MISMATCH",
    "DUPLICATE_DISBURSEMENT",
    "SHORT_TENDER_PERIOD",
    "TOO_FEW_BIDS",
    "LATE_BID_AWARDED",
    "CONTRACT_EXCEEDS_AWARD",
    "CONTRACT_SUPPLIER_MISMATCH",
    "SPLIT_PURCHASE",
    "QUIET_DAY_INSPECTION",
    "FREQUENT_INSPECTION",
    "DEEMED_APPROVAL",
    "DENIED_AFTER_DEEMED",
    "REPORT_MISSING",
    "RISK_NOT_REPORTED",
    "LIMIT_NOT_COMPRESSED",
    "LATE_REPORTED",
)
CORE_RULES = RULES[:5]


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Strict):
    """A predicate on the event's attrs (``attr``) or the case's captured facts (``case``)."""

    attr: str | None = None
    case: str | None = None
    in_: list[str] | None = Field(default=None, alias="in")
    gte: str | None = None
    any: list[Condition] | None = None
    all: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        forms = [
            self.any is not None,
            self.all is not None,
            self.not_ is not None,
            self.attr is not None or self.case is not None,
        ]
        if sum(forms) != 1:
            raise ValueError(
                "a condition is exactly one of: any, all, not, or attr/case with in/gte"
            )
        if self.attr is not None and self.case is not None:
            raise ValueError("a condition names either attr or case, not both")
        if (self.attr is not None or self.case is not None) and (self.in_ is None) == (
            self.gte is None
        ):
            raise ValueError("attr/case conditions take exactly one of 'in' or 'gte'")
        if self.gte is not None:
            try:
                Decimal(self.gte)
            except InvalidOperation:
                raise ValueError(f"gte {self.gte!r} is not a decimal number") from None
        return self


class LimitRule(_Strict):
    """One way to find a case clock's limit: an attr, a true flag, a mapping, fixed days, or
    a date attr giving the last day itself (a clock by date, rules.md §2)."""

    attr: str | None = None
    if_true: str | None = None
    by: str | None = None
    days: int | dict[str, int] | None = None
    date: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> LimitRule:
        if self.date is not None:
            if self.attr is not None or self.days is not None or self.if_true or self.by:
                raise ValueError("'date' limits take no other keys")
        elif self.attr is not None:
            if self.days is not None or self.if_true or self.by:
                raise ValueError("'attr' limits take no other keys")
        elif self.if_true is not None:
            if not isinstance(self.days, int) or self.by:
                raise ValueError("'if_true' limits need integer 'days'")
        elif self.by is not None:
            if not isinstance(self.days, dict):
                raise ValueError("'by' limits need a table of 'days'")
        elif not isinstance(self.days, int):
            raise ValueError("a limit is one of: attr, if_true + days, by + days table, days")
        values = (
            self.days.values() if isinstance(self.days, dict) else [self.days] if self.days else []
        )
        for value in values:
            if not 1 <= value <= 365:
                raise ValueError(f"limit days {value} outside 1..365")
        return self


class NoticeRule(_Strict):
    """Working days of notice an extension needs (rules.md §2): fixed, or when a flag of the
    start event is true (``if_true``). The first that applies counts; none: 0."""

    if_true: str | None = None
    days: int = Field(ge=0, le=365)


class OrderRule(_Strict):
    action: str
    requires: list[str] = Field(min_length=1)
    when: Condition | None = None


class StepClock(_Strict):
    after: str
    action: str
    within: int = Field(ge=1, le=3650)
    unit: Literal["working_days", "calendar_days"]


class ProcessTemplate(_Strict):
    actions: list[str] = Field(min_length=1)
    start: str | None = None
    limit: list[LimitRule] = Field(default_factory=list)
    terminal: list[str] = Field(default_factory=list)
    order: list[OrderRule] = Field(default_factory=list)
    step_clocks: list[StepClock] = Field(default_factory=list)
    capture: dict[str, str] = Field(default_factory=dict)
    # an extend at or after end(wd_before(last, N)) is late (rules.md §2); 0: at or after D
    extension_notice_working_days: int | list[NoticeRule] = Field(default=0)
    # 超时默许 for every case of this template (approval; the item catalogue may override)
    deemed_approval: bool = False
    # monthly reports (rules.md §3.6): the action that reports, and the day of the month it
    # is due by (end of that day; none: the month's last day)
    report_action: str | None = None
    report_day: int | None = Field(default=None, ge=1, le=31)
    # the written early report of a case that cannot finish in time (RISK_NOT_REPORTED)
    risk_action: str | None = None

    @field_validator("extension_notice_working_days")
    @classmethod
    def _notice(cls, value: int | list[NoticeRule]) -> int | list[NoticeRule]:
        if isinstance(value, int) and not 0 <= value <= 365:
            raise ValueError(f"notice of {value} working days outside 0..365")
        return value

    @model_validator(mode="after")
    def _known_actions(self) -> ProcessTemplate:
        known = set(self.actions)
        named = list(self.terminal) + list(self.capture.values())
        named += [self.start] if self.start else []
        named += [a for a in (self.report_action, self.risk_action) if a]
        if self.report_day is not None and self.report_action is None:
            raise ValueError("'report_day' needs a 'report_action'")
        if (self.report_action or self.risk_action) and not self.start:
            raise ValueError("monthly and early reports need a start action (a case clock)")
        for rule in self.order:
            named += [rule.action, *rule.requires]
        for clock in self.step_clocks:
            named += [clock.after, clock.action]
        unknown = sorted({a for a in named if a not in known})
        if unknown:
            raise ValueError(f"actions {unknown} are not in this template's actions")
        if self.start and not self.limit:
            raise ValueError("a template with a start action needs a limit")
        return self


class TimeSection(_Strict):
    zone: str = "Asia/Shanghai"


class CalendarSection(_Strict):
    files: list[str] = Field(default_factory=list)


class OverdueSection(_Strict):
    red_after_working_days: int = Field(default=3, ge=1, le=365)


class InspectionSection(_Strict):
    exempt_categories: list[str] = Field(
        default_factory=lambda: ["safety", "environment", "unified"]
    )


class CompressionRow(_Strict):
    """A row of the compression table: legal limits L up to ``up_to`` (none: every larger
    L) may be promised as at most L − ``minus`` working days."""

    up_to: int | None = Field(default=None, ge=1)
    minus: int = Field(ge=0)


def _default_compression() -> list[CompressionRow]:
    return [
        CompressionRow(up_to=2, minus=0),
        CompressionRow(up_to=7, minus=1),
        CompressionRow(up_to=15, minus=3),
        CompressionRow(up_to=30, minus=5),
        CompressionRow(up_to=90, minus=10),
        CompressionRow(minus=30),
    ]


class CatalogueSection(_Strict):
    """The item catalogue (a data file, relative to the configuration; "": none) and the
    compression table of promised limits (rules.md §3.6 LIMIT_NOT_COMPRESSED)."""

    file: str = ""
    compression: list[CompressionRow] = Field(default_factory=_default_compression)

    @field_validator("compression")
    @classmethod
    def _table(cls, rows: list[CompressionRow]) -> list[CompressionRow]:
        if not rows or rows[-1].up_to is not None:
            raise ValueError("the last row has no 'up_to' (it covers every larger limit)")
        low = 1
        for row in rows:
            if row.minus >= low:
                raise ValueError(
                    f"row up to {row.up_to or 'any'}: minus {row.minus} leaves a limit of "
                    f"{low} at most {low - row.minus} days"
                )
            if row.up_to is not None:
                if row.up_to < low:
                    raise ValueError("'up_to' must increase from row to row")
                low = row.up_to + 1
        for row in rows[:-1]:
            if row.up_to is None:
                raise ValueError("only the last row may omit 'up_to'")
        return rows


Level = Literal["notice", "yellow", "red"]
_RED: Level = "red"


class WorkflowSection(_Strict):
    """The 督办 workflow (workflow.md): the users file, the inspection office, and the
    working-day clocks of the ``SUP_*`` rules. At its defaults it is left out of the
    configuration's version, so the versions of earlier configurations stay as they were."""

    users_file: str = ""  # relative to the configuration; "": nobody may act
    office_dept: str = Field(default="OFFICE", min_length=1, max_length=64)
    reply_working_days: int = Field(default=10, ge=1, le=365)
    max_rectify_working_days: int = Field(default=30, ge=1, le=365)
    max_extensions: int = Field(default=1, ge=0, le=10)
    triage_levels: list[Level] = Field(default_factory=lambda: [_RED])
    triage_yellow_working_days: int = Field(default=5, ge=1, le=365)
    triage_red_working_days: int = Field(default=10, ge=1, le=365)
    receipt_yellow_working_days: int = Field(default=1, ge=1, le=365)
    receipt_red_working_days: int = Field(default=2, ge=1, le=365)
    reply_red_after_working_days: int = Field(default=5, ge=1, le=365)
    conclusion_working_days: int = Field(default=20, ge=1, le=365)
    recurrence_calendar_days: int = Field(default=90, ge=1, le=3650)
    returned_twice_count: int = Field(default=2, ge=1, le=100)

    @model_validator(mode="after")
    def _red_after_yellow(self) -> WorkflowSection:
        for stage in ("triage", "receipt"):
            yellow = getattr(self, f"{stage}_yellow_working_days")
            red = getattr(self, f"{stage}_red_working_days")
            if red <= yellow:
                raise ValueError(
                    f"{stage}_red_working_days ({red}) must be more than "
                    f"{stage}_yellow_working_days ({yellow})"
                )
        return self


class ScoringSection(_Strict):
    """Department scores (workflow.md § Scoring): points off ``base`` per card and per 督办 in
    a month, and the grade bounds. At its defaults it is left out of the configuration's
    version, so the versions of earlier configurations stay as they were."""

    base: float = Field(default=100.0, ge=0)
    notice: float = Field(default=0.0, ge=0)
    yellow: float = Field(default=1.0, ge=0)
    red: float = Field(default=1.5, ge=0)
    duban: float = Field(default=0.5, ge=0)  # per 督办 (a dispatched workflow)
    sup_receipt_reply: float = Field(default=0.5, ge=0)  # per SUP_RECEIPT/REPLY_OVERDUE
    sup_rectify: float = Field(default=1.0, ge=0)  # per SUP_RECTIFY_OVERDUE
    excellent: float = 90.0  # 优秀 at or above
    good: float = 80.0  # 良好 at or above
    passing: float = Field(default=60.0, alias="pass")  # 合格 at or above; else 不合格

    @model_validator(mode="after")
    def _bounds(self) -> ScoringSection:
        if not self.excellent > self.good > self.passing:
            raise ValueError("grade bounds must satisfy excellent > good > pass")
        return self


class RuleSettings(_Strict):
    enabled: bool = True
    plan_retention_hours: int | None = Field(default=None, ge=1)
    nth_request: int | None = Field(default=None, ge=2)
    window_hours: int | None = Field(default=None, ge=1)
    methods: list[str] | None = None
    min_hours: int | None = Field(default=None, ge=1)
    min_bidders: int | None = Field(default=None, ge=1)
    max_ratio: str | None = None
    threshold: str | None = None
    month_days: list[tuple[int, int]] | None = None
    dates: list[str] | None = None
    min_count: int | None = Field(default=None, ge=1)
    days_before: int | None = Field(default=None, ge=0, le=365)
    max_delay_hours: int | None = Field(default=None, ge=0, le=87600)

    @field_validator("max_ratio", "threshold")
    @classmethod
    def _decimal(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                if Decimal(value) < 0:
                    raise ValueError
            except (InvalidOperation, ValueError):
                raise ValueError(f"{value!r} is not a non-negative decimal") from None
        return value

    @field_validator("month_days")
    @classmethod
    def _day_ranges(cls, value: list[tuple[int, int]] | None) -> list[tuple[int, int]] | None:
        for first, last in value or []:
            if not 1 <= first <= last <= 31:
                raise ValueError(
                    f"day range [{first}, {last}] must satisfy 1 <= first <= last <= 31"
                )
        return value

    @field_validator("dates")
    @classmethod
    def _dates(cls, value: list[str] | None) -> list[str] | None:
        for text in value or []:
            try:
                parse_date(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a date YYYY-MM-DD") from None
        return value


class StateSection(_Strict):
    """How much the engine keeps per case (README: Case state limits). Operational: a
    section equal to these defaults is left out of the configuration version."""

    # a terminal case leaves the state this long after its terminal event (event time)
    terminal_retention_days: int = Field(default=90, ge=1, le=36500)
    # a case with more events than this is flagged (metric, log): an upstream bug, usually
    hot_case_events: int = Field(default=10_000, ge=1)


class ConfigFile(_Strict):
    time: TimeSection = Field(default_factory=TimeSection)
    state: StateSection = Field(default_factory=StateSection)
    calendar: CalendarSection = Field(default_factory=CalendarSection)
    overdue: OverdueSection = Field(default_factory=OverdueSection)
    inspection: InspectionSection = Field(default_factory=InspectionSection)
    catalogue: CatalogueSection = Field(default_factory=CatalogueSection)
    workflow: WorkflowSection = Field(default_factory=WorkflowSection)
    scoring: ScoringSection = Field(default_factory=ScoringSection)
    processes: dict[str, ProcessTemplate]
    rules: dict[str, RuleSettings] = Field(default_factory=dict)

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, value: dict[str, RuleSettings]) -> dict[str, RuleSettings]:
        unknown = sorted(set(value) - set(RULES))
        if unknown:
            raise ValueError(f"unknown rules {unknown}; known: {', '.join(RULES)}")
        return value
