"""Seeded workload generator: realistic supervision events for tests, demos and benchmarks.

``generate_events(config)`` yields event dicts of the contract in
``events.md`` (all eight processes of rules.md §2), deterministically from
``config.seed``: the same configuration always yields the same events in the
same order. Nothing here touches Kafka, files or the wall clock; the
``supervise generate`` command (``streams.cli.generate``) is the thin edge
that writes the lines out.

Shape of the workload
---------------------
- Cases start on the days between ``config.start`` and ``config.until``
  (at most 2026-11-30): working days carry every process, rest days only
  12345 hotline complaints. Every instant a rule could compute for a case
  (event times, deadlines, red-card instants, step clocks) lies on or before
  2026-12-30, because working-day data for 2027 does not exist.
- Most cases are compliant. With probability ``config.open_share`` a case is
  left open (a compliant case cut before its terminal action); otherwise, with
  probability ``config.violation_rate``, it carries one deliberate violation
  chosen uniformly among the kinds of its process (see ``VIOLATION_KINDS``).
  The kind is visible in the ``case_id``: ``{PREFIX}-{TAG}-{seed}-{serial}``,
  e.g. ``TD-SPLIT-7-0000123``; compliant cases carry ``OK``, open ones ``OPEN``.
  Cross-case violations come as groups (DUPPAY pairs, SPLIT series, FREQ
  triples) whose later members start later; guards keep compliant cases from
  tripping cross-case rules (duplicates, split purchases, frequent or
  quiet-day inspections) by accident.
- Event ids are ``E{seed}-{case serial}-{n}``; malformed lines ``BAD{seed}-{n}``.
- Output order is ``sorted`` (by ``occurred_at``), ``feed`` (by a simulated
  arrival time: each event arrives up to ``max_delay`` seconds late, a case's
  own events keep their order) or ``shuffled`` (``sorted`` passed through a
  random buffer of ``shuffle_window`` events; cases' events may swap).
- Memory stays bounded: cases are built in start-time order and an event
  leaves the internal heap as soon as no later-built case can precede it.

``encode_lines`` turns events into JSON Lines bytes and can mix in malformed
lines (``bad_rate``) for dead-letter tests.
"""

from __future__ import annotations

import heapq
import random
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

import orjson

from streams.contract import topic_for

# --------------------------------------------------------------------------
# Contract facts


PREFIX_BY_PROCESS: dict[str, str] = {
    "approval": "AP",
    "leader_assignment": "LA",
    "complaint": "CP",
    "penalty": "PN",
    "fund_disbursement": "FD",
    "tender": "TD",
    "inspection_plan": "IP",
    "inspection": "IN",
}

VIOLATION_KINDS: dict[str, tuple[str, ...]] = {
    "approval": (
        "OVERDUE_N",
        "OVERDUE_Y",
        "OVERDUE_R",
        "SKIP",
        "LATEEXT",
        "NOREASON",
        "RESUPP",
    ),
    "leader_assignment": ("OVERDUE_N", "OVERDUE_Y", "OVERDUE_R", "LATEEXT"),
    "complaint": ("OVERDUE_N", "OVERDUE_Y", "OVERDUE_R", "STEP", "SKIP", "LATEEXT"),
    "penalty": ("SKIP",),
    "fund_disbursement": ("STEP", "SKIP", "OVERPAY", "PAYEE", "DUPPAY"),
    "tender": (
        "STEP",
        "SKIP",
        "SHORTBID",
        "FEWBIDS",
        "LATEBID",
        "OVERCONTRACT",
        "SUPPLIER",
        "SPLIT",
    ),
    "inspection": (
        "OVERDUE_Y",
        "OVERDUE_R",
        "UNAUTH_NOPLAN",
        "UNAUTH_NOTAPPROVED",
        "UNAUTH_REVOKED",
        "UNAUTH_DEPT",
        "UNAUTH_ENT",
        "UNAUTH_WINDOW",
        "QUIET",
        "FREQ",
    ),
}
"""Case-id tags of the deliberate violations, per process.

======================  =====================================================
tag                     what the case does (rule it should raise)
======================  =====================================================
OVERDUE_N               terminal action on the last day (OVERDUE notice)
OVERDUE_Y               terminal 1-3 working days late (notice, yellow)
OVERDUE_R               terminal 4-8 working days late (notice, yellow, red)
STEP                    complaint assigned 2-4 working days after accept;
                        fund disbursed 11-15 working days after approve;
                        tender contract 31-45 days after award (STEP_OVERDUE)
SKIP                    a required step missing (SKIPPED_STEP); in penalty
                        cases mostly a fine >= 2000 or a heavy measure
                        without legal_review and/or leader_approve
LATEEXT                 extend after the deadline (LATE_EXTENSION, and the
                        OVERDUE notice and yellow it implies)
NOREASON                approval reject without reason (REFUSAL_WITHOUT_REASON)
RESUPP                  two supplement requests (REPEATED_SUPPLEMENT)
OVERPAY                 disbursed total above approved (OVER_DISBURSEMENT)
PAYEE                   disbursement to another payee (PAYEE_MISMATCH)
DUPPAY                  two cases, same program, payee and amount, within
                        30 days; the later one raises DUPLICATE_DISBURSEMENT
SHORTBID                open/invited tender with 10-19 days to bid
                        (SHORT_TENDER_PERIOD)
FEWBIDS                 open/invited tender opened with 1-2 timely bidders
                        (TOO_FEW_BIDS)
LATEBID                 award to a late (or absent) bidder (LATE_BID_AWARDED)
OVERCONTRACT            contract 12-50 % above award (CONTRACT_EXCEEDS_AWARD)
SUPPLIER                contract with another supplier
                        (CONTRACT_SUPPLIER_MISMATCH)
SPLIT                   3-5 direct/single-source tenders of one dept to one
                        winner, each < 2,000,000, total >= 2,000,000; the
                        crossing (last) one raises SPLIT_PURCHASE
UNAUTH_*                UNAUTHORIZED_INSPECTION with details.reason
                        NOPLAN=no_plan_reference, NOTAPPROVED=plan_not_approved,
                        REVOKED=plan_revoked, DEPT=dept_mismatch,
                        ENT=enterprise_not_in_plan, WINDOW=outside_window
QUIET                   authorized inspection on days 1-5 of a month
                        (QUIET_DAY_INSPECTION)
FREQ                    three authorized inspections of one enterprise within
                        30 days; the third raises FREQUENT_INSPECTION
======================  =====================================================
"""

ORDERS = ("sorted", "feed", "shuffled")

FIRST_DAY = date(2026, 1, 1)
LAST_DAY = date(2026, 12, 30)
"""Every instant a rule may compute stays within [FIRST_DAY, LAST_DAY + 1 day)."""
LAST_START = date(2026, 11, 30)

OFFSET = "+08:00"
DAY = 86_400
SPLIT_THRESHOLD = 2_000_000_00  # cents
EXEMPT_CATEGORIES = ("safety", "environment", "unified")

# --------------------------------------------------------------------------
# Reference data (departments, items, programs)

DISTRICTS = tuple(f"D{i:02d}" for i in range(1, 21))
"""District / county service centres and bureaus D01..D20."""

BUREAUS = (
    "SCJ",  # 市场监管局
    "ZJJ",  # 住建局
    "CZJ",  # 财政局
    "JTJ",  # 交通运输局
    "YJJ",  # 应急管理局
    "HBJ",  # 生态环境局
    "WJW",  # 卫健委
    "JYJ",  # 教育局
    "RSJ",  # 人社局
    "NYJ",  # 农业农村局
    "KJJ",  # 科技局
    "MZJ",  # 民政局
    "SLJ",  # 水利局
    "CGJ",  # 城管局
    "WLJ",  # 文广旅体局
    "ZRJ",  # 自然资源和规划局
    "JXJ",  # 经信局
    "GAJ",  # 公安局
    "ZHZF",  # 综合行政执法局
    "SWJ",  # 商务局
)
PLAN_APPROVER = "SFJ"  # 司法局 (行政执法监督): approves 涉企检查 plans
HOTLINE = "RXZX"  # 12345 政务服务便民热线中心

# (item_code, item_name, dept or None for a district centre, statutory limit, weight)
APPROVAL_ITEMS: tuple[tuple[str, str, str | None, int, int], ...] = (
    ("330100-001", "个体工商户设立登记", None, 1, 14),
    ("330100-002", "企业名称变更登记", None, 1, 8),
    ("330100-003", "食品经营许可证核发", None, 10, 12),
    ("330100-004", "公共场所卫生许可证核发", None, 10, 6),
    ("330100-005", "就业创业证申领", None, 3, 6),
    ("330100-006", "城乡居民养老保险参保登记", None, 1, 5),
    ("330100-007", "建筑工程施工许可证核发", "ZJJ", 7, 4),
    ("330100-008", "城镇污水排入排水管网许可", "ZJJ", 7, 2),
    ("330100-009", "建设工程消防设计审查", "ZJJ", 15, 2),
    ("330100-010", "道路货物运输经营许可", "JTJ", 10, 3),
    ("330100-011", "出租汽车驾驶员从业资格证核发", "JTJ", 5, 2),
    ("330100-012", "排污许可证核发", "HBJ", 20, 2),
    ("330100-013", "建设项目环境影响评价文件审批", "HBJ", 15, 2),
    ("330100-014", "药品零售企业许可", "SCJ", 15, 3),
    ("330100-015", "特种设备使用登记", "SCJ", 5, 3),
    ("330100-016", "医疗机构执业登记", "WJW", 20, 2),
    ("330100-017", "建设工程规划许可证核发", "ZRJ", 15, 2),
    ("330100-018", "民办学校办学许可", "JYJ", 20, 1),
    ("330100-019", "户外广告设施设置审批", "CGJ", 5, 3),
    ("330100-020", "城市道路占用挖掘许可", "CGJ", 5, 3),
    ("330100-021", "危险化学品经营许可证核发", "YJJ", 15, 2),
    ("330100-022", "人力资源服务许可", "RSJ", 10, 2),
    ("330100-023", "劳务派遣经营许可", "RSJ", 10, 1),
    ("330100-024", "旅行社业务经营许可", "WLJ", 10, 1),
    ("330100-025", "娱乐场所经营许可", "WLJ", 10, 1),
    ("330100-026", "出版物零售业务经营许可", "WLJ", 10, 1),
    ("330100-027", "取水许可", "SLJ", 20, 1),
    ("330100-028", "农药经营许可", "NYJ", 10, 1),
    ("330100-029", "养老机构备案", "MZJ", 5, 1),
    ("330100-030", "大型群众性活动安全许可", "GAJ", 7, 1),
)

SUPPLEMENT_ITEMS = (
    "营业执照副本",
    "法定代表人身份证明",
    "场地使用证明",
    "消防验收意见书",
    "环评批复文件",
    "从业人员健康证明",
    "经营场所平面布局图",
    "主要设备设施清单",
    "授权委托书",
    "安全管理制度",
    "施工图审查合格书",
    "资金到位证明",
)
SUSPEND_REASONS = (
    "hearing",
    "inspection",
    "testing",
    "appraisal",
    "expert_review",
    "tendering",
    "auction",
    "quarantine",
)
REJECT_REASONS = (
    "申请事项不属于本机关职权范围",
    "申请材料不符合法定形式且逾期未补正",
    "申请人不符合法定条件",
    "拟建项目不符合规划条件",
    "申请人隐瞒有关情况或者提供虚假材料",
)
INSPECTION_RESULTS = ("未发现问题", "合格", "责令限期整改", "移送立案查处", "已整改复查合格")

# (program, owning dept, min yuan, max yuan, share of round amounts)
FUND_PROGRAMS: tuple[tuple[str, str, int, int], ...] = (
    ("惠农补贴", "NYJ", 5_000, 300_000),
    ("农机购置补贴", "NYJ", 3_000, 150_000),
    ("稳岗补贴", "RSJ", 10_000, 500_000),
    ("高校毕业生就业补贴", "RSJ", 1_000, 30_000),
    ("创业担保贷款贴息", "RSJ", 2_000, 60_000),
    ("科技创新券", "KJJ", 20_000, 500_000),
    ("中小企业发展专项资金", "JXJ", 100_000, 3_000_000),
    ("老旧小区改造补助", "ZJJ", 200_000, 5_000_000),
    ("养老服务补贴", "MZJ", 5_000, 200_000),
    ("污染防治专项资金", "HBJ", 100_000, 2_000_000),
)

TENDER_BUYERS = (*DISTRICTS, "JTJ", "ZJJ", "JYJ", "WJW", "SLJ", "CGJ", "GAJ", "HBJ", "WLJ")
INSPECTING_DEPTS = ("SCJ", "ZJJ", "JTJ", "WJW", "ZHZF", "WLJ", "NYJ", "SWJ", "CGJ")
EXEMPT_INSPECTORS = (("YJJ", "safety"), ("HBJ", "environment"), ("SCJ", "unified"))
PENALTY_DEPTS = ("SCJ", "ZHZF", "HBJ", "YJJ", "ZJJ", "WJW", "JTJ", "WLJ", "NYJ")
COMPLAINT_ASSIGNEES = (*DISTRICTS, "ZJJ", "CGJ", "SCJ", "HBJ", "JTJ", "RSJ", "WJW", "JYJ")

# Share of slots per process on a working day.
PROCESS_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("approval", 0.38),
    ("complaint", 0.20),
    ("inspection", 0.14),
    ("fund_disbursement", 0.08),
    ("tender", 0.07),
    ("penalty", 0.07),
    ("leader_assignment", 0.06),
)
REST_DAY_WEIGHT = 0.12  # hotline complaints on weekends and holidays, relative to a working day


# --------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True, slots=True)
class GenerateConfig:
    """What to generate. Every field has a sensible default."""

    cases: int = 1_000
    seed: int = 1
    start: date = date(2026, 1, 5)
    until: date = LAST_START
    violation_rate: float = 0.15
    open_share: float = 0.0
    duplicate_rate: float = 0.0
    order: str = "feed"
    max_delay: int = 900
    shuffle_window: int = 1_000

    def __post_init__(self) -> None:
        if self.cases < 0:
            raise ValueError("cases must be >= 0")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")
        if not FIRST_DAY <= self.start <= LAST_START:
            raise ValueError(
                f"start must lie between {FIRST_DAY} and {LAST_START}, got {self.start}"
            )
        if not self.start <= self.until <= LAST_START:
            raise ValueError(f"until must lie between start and {LAST_START}, got {self.until}")
        for name in ("violation_rate", "open_share", "duplicate_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {self.order!r}")
        if self.max_delay < 0 or self.shuffle_window < 1:
            raise ValueError("max_delay must be >= 0 and shuffle_window >= 1")


# --------------------------------------------------------------------------
# Calendar and instants


class OutOfYear(Exception):
    """A case would need a day after LAST_DAY (no working-day data beyond 2026)."""


class WorkingCalendar:
    """Working days between FIRST_DAY and LAST_DAY, from the State Council schedule."""

    def __init__(self, first: date = FIRST_DAY, last: date = LAST_DAY) -> None:
        from streams.engine.calendar import WorkCalendar

        self.first = first.toordinal()
        self.last = last.toordinal()
        self.workdays: list[int] = WorkCalendar.build().workdays_between(self.first, self.last)
        self._upto: list[int] = []  # working days with ordinal <= first + i
        index = 0
        for ordinal in range(self.first, self.last + 1):
            while index < len(self.workdays) and self.workdays[index] <= ordinal:
                index += 1
            self._upto.append(index)
        self._is_work = frozenset(self.workdays)

    def is_workday(self, ordinal: int) -> bool:
        return ordinal in self._is_work

    def check(self, ordinal: int) -> int:
        if ordinal > self.last:
            raise OutOfYear(ordinal)
        return ordinal

    def count_upto(self, ordinal: int) -> int:
        """Working days on or before ``ordinal``: the index of the first one after it."""
        if ordinal > self.last:
            raise OutOfYear(ordinal)
        return self._upto[ordinal - self.first] if ordinal >= self.first else 0

    def wd(self, index: int) -> int:
        """The ordinal of working day number ``index`` (0-based)."""
        if index >= len(self.workdays):
            raise OutOfYear(index)
        return self.workdays[index]

    def index_on_or_after(self, ordinal: int) -> int:
        return self.count_upto(ordinal - 1)

    def wd_after(self, ordinal: int, n: int) -> int:
        """The n-th working day strictly after ``ordinal`` (rules.md §1)."""
        return self.wd(self.count_upto(ordinal) + n - 1)


_HMS: list[str] = []


def _hms_table() -> list[str]:
    if not _HMS:
        _HMS.extend(f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{OFFSET}" for s in range(DAY))
    return _HMS


# --------------------------------------------------------------------------
# Cases under construction


class _Case:
    __slots__ = ("case_id", "process", "events", "_serial", "_eid")

    def __init__(self, case_id: str, process: str, serial: int, eid_prefix: str) -> None:
        self.case_id = case_id
        self.process = process
        self.events: list[tuple[int, dict[str, Any]]] = []
        self._eid = eid_prefix
        self._serial = serial


@dataclass(slots=True)
class GenerateStats:
    cases: int = 0
    events: int = 0
    duplicates: int = 0
    open_cases: int = 0
    by_process: dict[str, int] = field(default_factory=dict)
    by_tag: dict[str, int] = field(default_factory=dict)


class WorkloadGenerator:
    """Builds cases in start order and yields their events in the configured order."""

    def __init__(self, config: GenerateConfig) -> None:
        self.cfg = config
        self.rng = random.Random(config.seed)
        self._random = self.rng.random
        self._delay_random = random.Random(config.seed ^ 0xFEED).random
        self.cal = WorkingCalendar()
        self.stats = GenerateStats()
        self._serial = 0
        self._seq = 0
        self._heap: list[tuple[int, int, dict[str, Any]]] = []
        self._hms = _hms_table()
        self._dates = [
            date.fromordinal(o).isoformat() for o in range(self.cal.first, self.cal.last + 1)
        ]
        self._officers: dict[str, list[str]] = {}
        # Guards keeping compliant cases from tripping cross-case rules by accident.
        self._ent_starts: dict[str, list[int]] = {}  # enterprise -> non-exempt start times
        self._paid: dict[tuple[str, str, int], list[int]] = {}  # (program, payee, cents) -> times
        self._direct: dict[tuple[str, str], list[tuple[int, int]]] = {}  # (dept, winner) -> awards
        self._slot_count = 0
        # Cumulative weights
        self._proc_names = [p for p, _ in PROCESS_WEIGHTS]
        self._proc_cum = _cumulative([w for _, w in PROCESS_WEIGHTS])
        self._item_cum = _cumulative([item[4] for item in APPROVAL_ITEMS])

    # ---------------------------------------------------------------- helpers

    def _t(self, ordinal: int, seconds: int) -> int:
        return (ordinal - self.cal.first) * DAY + seconds

    def _day(self, t: int) -> int:
        return self.cal.first + t // DAY

    def _fmt(self, t: int) -> str:
        day_index, seconds = divmod(t, DAY)
        return self._dates[day_index] + self._hms[seconds]

    def _date(self, ordinal: int) -> str:
        return self._dates[self.cal.check(ordinal) - self.cal.first]

    def _wsec(self) -> int:
        """A second of office hours: 09:00-12:00 or 13:30-17:30."""
        s = int(self._random() * 25_200)
        return 32_400 + s if s < 10_800 else 48_600 + (s - 10_800)

    def _wtime(self, ordinal: int) -> int:
        return self._t(self.cal.check(ordinal), self._wsec())

    def _after(self, prev: int, ordinal: int) -> int:
        """An instant on day ``ordinal`` strictly after ``prev`` (office hours when possible)."""
        self.cal.check(ordinal)
        base = self._t(ordinal, 0)
        if base > prev:
            return base + self._wsec()
        day_end = base + DAY - 1
        t = prev + 300 + int(self._random() * 5_100)
        if t <= min(day_end, base + 64_800):  # not later than 18:00
            return t
        return min(prev + 30 + int(self._random() * 570), day_end) if prev < day_end else prev + 1

    def _pick_cum(self, cum: list[float]) -> int:
        return bisect_right(cum, self.rng.random() * cum[-1])

    def _chance(self, p: float) -> bool:
        return self.rng.random() < p

    def _officer(self, dept: str) -> str:
        pool = self._officers.get(dept)
        if pool is None:
            pool = [f"U{self.rng.getrandbits(32):08x}" for _ in range(self.rng.randint(6, 30))]
            self._officers[dept] = pool
        return self.rng.choice(pool)

    def _enterprise(self) -> str:
        return f"91330100MA2{self.rng.randrange(36**6):06X}"[:18]

    def _org(self, kind: str, pool: int) -> str:
        return f"{kind}{self.rng.randrange(pool):05d}"

    def _amount(self, cents: int) -> Any:
        """An amount as the upstream systems send it: decimal string or JSON number."""
        yuan, fen = divmod(cents, 100)
        r = self.rng.random()
        if fen == 0:
            if r < 0.4:
                return yuan
            return str(yuan) if r < 0.7 else f"{yuan}.00"
        if r < 0.05:
            return cents / 100  # a JSON number with two decimals
        return f"{yuan}.{fen:02d}"

    def _new_case(self, process: str, tag: str) -> _Case:
        self._serial += 1
        serial = self._serial
        case_id = f"{PREFIX_BY_PROCESS[process]}-{tag}-{self.cfg.seed}-{serial:07d}"
        return _Case(case_id, process, serial, f"E{self.cfg.seed}-{serial:07d}-")

    def _ev(
        self,
        case: _Case,
        action: str,
        t: int,
        dept: str,
        attrs: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> int:
        ev: dict[str, Any] = {
            "event_id": f"{case._eid}{len(case.events) + 1:02d}",
            "case_id": case.case_id,
            "process": case.process,
            "action": action,
            "occurred_at": self._fmt(t),
            "dept": dept,
        }
        if actor is not None and self._random() < 0.93:
            ev["actor"] = actor
        if attrs is not None:
            ev["attrs"] = attrs
        case.events.append((t, ev))
        return t

    # ---------------------------------------------------------------- main loop

    def events(self) -> Iterator[dict[str, Any]]:
        """All events, in the configured order (duplicates included)."""
        stream = self._ordered()
        if self.cfg.order == "shuffled":
            stream = _local_shuffle(
                stream, self.cfg.shuffle_window, random.Random(self.cfg.seed ^ 0x5EED)
            )
        if self.cfg.duplicate_rate > 0:
            stream = self._with_duplicates(stream)
        for ev in stream:
            self.stats.events += 1
            yield ev

    def _ordered(self) -> Iterator[dict[str, Any]]:
        cfg = self.cfg
        cal = self.cal
        first_day, last_day = cfg.start.toordinal(), cfg.until.toordinal()
        days = list(range(first_day, last_day + 1))
        weights = [1.0 if cal.is_workday(o) else REST_DAY_WEIGHT for o in days]
        total_weight = sum(weights)
        made = 0
        cum_weight = 0.0
        heap = self._heap
        for n, (ordinal, weight) in enumerate(zip(days, weights, strict=True)):
            cum_weight += weight
            target = (
                cfg.cases if n == len(days) - 1 else round(cfg.cases * cum_weight / total_weight)
            )
            slots = target - made
            if slots <= 0:
                continue
            working = weight == 1.0
            plan: list[tuple[int, str]] = []
            for _ in range(slots):
                process = (
                    self._proc_names[self._pick_cum(self._proc_cum)] if working else "complaint"
                )
                if process == "complaint":
                    t = self._t(ordinal, self.rng.randrange(28_800, 75_600))  # 08:00-21:00
                else:
                    t = self._wtime(ordinal)
                plan.append((t, process))
            plan.sort()
            for t, process in plan:
                if made >= cfg.cases:
                    break
                while heap and heap[0][0] < t:
                    yield heapq.heappop(heap)[2]
                made += self._slot(t, process, cfg.cases - made)
        while heap:
            yield heapq.heappop(heap)[2]

    def _slot(self, t: int, process: str, room: int) -> int:
        """Build one case (or a group of related cases) starting at ``t``; returns the count."""
        self._slot_count += 1
        if self._slot_count % 4_096 == 0:
            self._prune(t)
        for attempt in range(8):
            if attempt >= 4:
                process = self.rng.choice(("approval", "complaint", "inspection", "penalty"))
            tag = "OK"
            if self._chance(self.cfg.open_share):
                tag = "OPEN"
            elif self._chance(self.cfg.violation_rate):
                tag = self.rng.choice(VIOLATION_KINDS[process])
            try:
                cases = self._build(process, tag, t, room)
            except OutOfYear:
                continue
            if cases is not None:
                break
        else:
            cases = [self._fallback(t)]
        for case in cases:
            self._commit(case)
        return len(cases)

    def _build(self, process: str, tag: str, t: int, room: int) -> list[_Case] | None:
        if process == "approval":
            return [self._approval(t, tag)]
        if process == "leader_assignment":
            return [self._leader(t, tag)]
        if process == "complaint":
            return [self._complaint(t, tag)]
        if process == "penalty":
            return [self._penalty(t, tag)]
        if process == "fund_disbursement":
            if tag == "DUPPAY" and room < 2:
                return None
            return self._fund(t, tag)
        if process == "tender":
            if tag == "SPLIT" and room < 5:
                return None
            return self._tender(t, tag)
        if process == "inspection":
            return self._inspection(t, tag, room)
        raise AssertionError(process)

    def _fallback(self, t: int) -> _Case:
        """A one-day approval: fits anywhere in the start window."""
        case = self._new_case("approval", "OK")
        dept = self.rng.choice(DISTRICTS)
        actor = self._officer(dept)
        self._ev(
            case,
            "accept",
            t,
            dept,
            {"time_limit_days": 1, "item_code": "330100-001", "item_name": "个体工商户设立登记"},
            actor,
        )
        self.cal.wd_after(self._day(t), 4)
        t = self._ev(case, "review", self._after(t, self._day(t)), dept, None, actor)
        t = self._ev(
            case, "decide", self._after(t, self._day(t)), dept, {"decision": "approve"}, actor
        )
        self._ev(case, "complete", self._after(t, self._day(t)), dept, None, actor)
        return case

    def _commit(self, case: _Case) -> None:
        tag = case.case_id.split("-", 2)[1]
        if tag == "OPEN" and len(case.events) > 1:
            cut = self.rng.randint(1, len(case.events) - 1)
            del case.events[cut:]
        stats = self.stats
        stats.cases += 1
        stats.by_process[case.process] = stats.by_process.get(case.process, 0) + 1
        stats.by_tag[tag] = stats.by_tag.get(tag, 0) + 1
        if tag == "OPEN":
            stats.open_cases += 1
        heap = self._heap
        if self.cfg.order == "feed":
            max_delay = self.cfg.max_delay
            rnd = self._delay_random  # own stream: the order never changes the content
            arrival = 0
            for t, ev in case.events:
                arrival = max(arrival, t + int(rnd() ** 3 * max_delay))
                self._seq += 1
                heapq.heappush(heap, (arrival, self._seq, ev))
        else:
            for t, ev in case.events:
                self._seq += 1
                heapq.heappush(heap, (t, self._seq, ev))

    def _prune(self, now: int) -> None:
        horizon = now - 31 * DAY
        for enterprise in [k for k, times in self._ent_starts.items() if max(times) < horizon]:
            del self._ent_starts[enterprise]
        for payment in [k for k, times in self._paid.items() if max(times) < horizon]:
            del self._paid[payment]
        year_horizon = now - 366 * DAY
        for pair in [k for k, awards in self._direct.items() if max(awards)[0] < year_horizon]:
            del self._direct[pair]

    def _with_duplicates(self, stream: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Re-send some events (same event_id, same bytes) a little later in the stream."""
        rng = random.Random(self.cfg.seed ^ 0xD0B1E)
        rate = self.cfg.duplicate_rate
        pending: list[tuple[int, int, dict[str, Any]]] = []
        for position, ev in enumerate(stream, 1):
            yield ev
            while pending and pending[0][0] <= position:
                self.stats.duplicates += 1
                yield heapq.heappop(pending)[2]
            if rng.random() < rate:
                heapq.heappush(pending, (position + rng.randint(1, 200), position, ev))
        while pending:
            self.stats.duplicates += 1
            yield heapq.heappop(pending)[2]

    # ---------------------------------------------------------------- clocks

    def _extensions(
        self,
        case: _Case,
        t: int,
        dept: str,
        actor: str | None,
        tag: str,
        cur: int,
        last: int,
        late_days: tuple[int, int],
        timely_days: tuple[int, int],
        timely_share: float,
    ) -> tuple[int, int, int, int]:
        """A case clock's extension, if any: (time, current index, last day index, done index).

        LATEEXT cases extend 1-2 working days after the deadline (LATE_EXTENSION; the deadline
        stays); a few compliant cases extend before it, moving the last day.
        """
        rng, cal = self.rng, self.cal
        if tag == "LATEEXT":
            ext_idx = last + rng.randint(1, 2)
            t = self._ev(
                case,
                "extend",
                self._after(t, cal.wd(ext_idx)),
                dept,
                {"extension_days": rng.randint(*late_days), "approver": self._leader_id(dept)},
                actor,
            )
            return t, ext_idx, last, self._between(ext_idx, last + 3)
        if tag in ("OK", "OPEN") and last - 1 > cur and rng.random() < timely_share:
            ext_idx = self._between(cur, last - 1)
            ext = rng.randint(*timely_days)
            t = self._ev(
                case,
                "extend",
                self._after(t, cal.wd(ext_idx)),
                dept,
                {"extension_days": ext, "approver": self._leader_id(dept)},
                actor,
            )
            return t, ext_idx, last + ext, self._between(last, last + ext - 1)
        return t, cur, last, self._completion_index(tag, cur, last)

    def _completion_index(self, tag: str, cur: int, last: int) -> int:
        """Working-day index of the terminal action, by the intended OVERDUE outcome."""
        if tag == "OVERDUE_N":
            return last
        if tag == "OVERDUE_Y":
            return last + self.rng.randint(1, 3)
        if tag == "OVERDUE_R":
            return last + self.rng.randint(4, 8)
        if last - 1 <= cur:
            return cur
        # compliant: mostly well before the last day
        span = last - 1 - cur
        return cur + min(span, int(span * self.rng.random() ** 1.6 + 0.5))

    def _between(self, lo: int, hi: int) -> int:
        return lo if hi <= lo else self.rng.randint(lo, hi)

    # ---------------------------------------------------------------- approval

    def _approval(self, t0: int, tag: str) -> _Case:
        rng = self.rng
        cal = self.cal
        code, name, dept, limit, _ = APPROVAL_ITEMS[self._pick_cum(self._item_cum)]
        if dept is None:
            dept = rng.choice(DISTRICTS)
        if limit > 3 and rng.random() < 0.5:  # 承诺时限 often shorter than the statutory one
            limit = rng.randint(max(1, limit // 2), limit)
        case = self._new_case("approval", tag)
        actor = self._officer(dept)
        d0 = self._day(t0)
        cur = cal.count_upto(d0) - 1  # index of the acceptance day (a working day)
        last = cur + limit
        self._ev(
            case,
            "accept",
            t0,
            dept,
            {"time_limit_days": limit, "item_code": code, "item_name": name},
            actor,
        )
        t = t0

        def supplement(t: int, cur: int, last: int) -> tuple[int, int, int]:
            """One 补正 cycle starting before the last day; returns (t, cur, last)."""
            start = self._between(cur, min(cur + 2, last - 1))
            t = self._ev(
                case,
                "supplement_request",
                self._after(t, cal.wd(start)),
                dept,
                {"items": rng.sample(SUPPLEMENT_ITEMS, rng.randint(1, 3))},
                actor,
            )
            pause = rng.randint(1, 8)
            t = self._ev(
                case,
                "supplement_received",
                self._after(t, cal.wd(start + pause)),
                dept,
                None,
                actor,
            )
            return t, start + pause, last + pause

        terminal = "complete"
        roll = rng.random()
        if tag == "OK" or tag == "OPEN":
            if roll < 0.08:
                terminal = "withdraw"
            elif roll < 0.17:
                terminal = "reject"
        elif tag == "NOREASON":
            terminal = "reject"

        # 补正 (supplement) pauses; each starts before the last day (last - 1 >= cur always)
        if tag == "RESUPP":
            t, cur, last = supplement(t, cur, last)
            t, cur, last = supplement(t, cur, last)
        elif rng.random() < 0.12:
            t, cur, last = supplement(t, cur, last)

        if terminal == "withdraw":
            idx = self._between(cur, min(cur + 3, last - 1))
            cal.wd(last + 3)
            self._ev(case, "withdraw", self._after(t, cal.wd(idx)), dept, None, actor)
            return case

        # review (unless skipped), then maybe a special procedure pause
        skip = rng.choice(("review", "decide")) if tag == "SKIP" else ""
        review_idx = self._between(cur, min(cur + 2, max(cur, last - 1)))
        if terminal == "reject":
            end_idx = self._between(review_idx, max(review_idx, last - 1))
            cal.wd(last + 3)
            if rng.random() < 0.6:
                t = self._ev(case, "review", self._after(t, cal.wd(review_idx)), dept, None, actor)
            if tag == "NOREASON":
                variant = rng.randrange(5)
                attrs: dict[str, Any] | None = (
                    None,
                    {},
                    {"reason": None},
                    {"reason": ""},
                    {"reason": "  "},
                )[variant]
            else:
                attrs = {"reason": rng.choice(REJECT_REASONS)}
            self._ev(case, "reject", self._after(t, cal.wd(end_idx)), dept, attrs, actor)
            return case
        if skip != "review":
            t = self._ev(case, "review", self._after(t, cal.wd(review_idx)), dept, None, actor)
        cur = review_idx
        if tag in ("OK", "OPEN") and last - 1 > cur and rng.random() < 0.04:
            start = self._between(cur, last - 1)
            t = self._ev(
                case,
                "suspend",
                self._after(t, cal.wd(start)),
                dept,
                {"reason": rng.choice(SUSPEND_REASONS)},
                actor,
            )
            pause = rng.randint(3, 15)
            t = self._ev(case, "resume", self._after(t, cal.wd(start + pause)), dept, None, actor)
            cur, last = start + pause, last + pause

        # extensions
        t, cur, last, done = self._extensions(
            case, t, dept, actor, tag, cur, last, (3, 10), (3, 10), 0.05
        )
        cal.wd(max(last + 3, done))

        decide_idx = self._between(cur, done)
        if skip != "decide":
            decision = "approve" if rng.random() < 0.92 else "deny"
            t = self._ev(
                case,
                "decide",
                self._after(t, cal.wd(decide_idx)),
                dept,
                {"decision": decision},
                actor,
            )
        self._ev(case, "complete", self._after(t, cal.wd(max(done, decide_idx))), dept, None, actor)
        return case

    def _leader_id(self, dept: str) -> str:
        return f"L-{dept}-{self.rng.randint(1, 6)}"

    # ---------------------------------------------------------------- leader assignment

    def _leader(self, t0: int, tag: str) -> _Case:
        rng = self.rng
        cal = self.cal
        dept = rng.choice((*BUREAUS, *DISTRICTS))
        case = self._new_case("leader_assignment", tag)
        actor = self._officer(dept)
        priority = rng.choices(("urgent", "important", "general"), (15, 35, 50))[0]
        attrs: dict[str, Any] = {"priority": priority}
        limit = {"urgent": 1, "important": 3, "general": 5}[priority]
        roll = rng.random()
        if roll < 0.10:
            attrs["joint"] = True
            limit = 10
        elif roll < 0.18:
            limit = rng.choice((2, 7, 15, 20))
            attrs["time_limit_days"] = limit
        elif roll < 0.30:
            attrs["joint"] = False
        cur = cal.count_upto(self._day(t0)) - 1
        last = cur + limit
        t = self._ev(case, "accept", t0, dept, attrs, actor)
        t, cur, last, done = self._extensions(
            case, t, dept, actor, tag, cur, last, (2, 5), (2, 5), 0.06
        )
        cal.wd(max(last + 3, done))
        self._ev(case, "complete", self._after(t, cal.wd(done)), dept, None, actor)
        return case

    # ---------------------------------------------------------------- complaint

    def _complaint(self, t0: int, tag: str) -> _Case:
        rng = self.rng
        cal = self.cal
        category = rng.choices(("simple", "heavy", "multi_dept"), (62, 28, 10))[0]
        limit = {"simple": 7, "heavy": 10, "multi_dept": 30}[category]
        case = self._new_case("complaint", tag)
        d0 = self._day(t0)
        base = cal.count_upto(d0)  # index of the first working day after acceptance
        cur = base - 1 if cal.is_workday(d0) else base
        last = base + limit - 1
        operator = self._officer(HOTLINE)
        assignee = rng.choice(COMPLAINT_ASSIGNEES)
        handler = self._officer(assignee)
        t = self._ev(case, "accept", t0, HOTLINE, {"category": category}, operator)
        # assign within one working day, unless STEP
        if tag == "STEP":
            assign_day = cal.wd(base + rng.randint(1, 3))
        elif rng.random() < 0.8:
            assign_day = d0
        else:
            assign_day = cal.wd(base)
        t = self._ev(
            case,
            "assign",
            self._after(t, assign_day),
            HOTLINE,
            {"assignee_dept": assignee},
            operator,
        )
        cur = max(cur, cal.count_upto(assign_day) - 1)
        t, cur, last, done = self._extensions(
            case, t, HOTLINE, operator, tag, cur, last, (3, 10), (3, 15), 0.05
        )
        cal.wd(max(last + 3, done, base))
        reply_idx = self._between(cur, done)
        if tag != "SKIP":
            t = self._ev(case, "reply", self._after(t, cal.wd(reply_idx)), assignee, None, handler)
        self._ev(
            case, "complete", self._after(t, cal.wd(max(done, reply_idx))), HOTLINE, None, operator
        )
        return case

    # ---------------------------------------------------------------- penalty

    def _penalty(self, t0: int, tag: str) -> _Case:
        rng = self.rng
        cal = self.cal
        dept = rng.choice(PENALTY_DEPTS)
        actor = self._officer(dept)
        case = self._new_case("penalty", tag)
        cur = cal.count_upto(self._day(t0)) - 1
        measure = rng.choices(
            ("warning", "fine", "confiscate", "suspend_business", "revoke_license"),
            (28, 52, 6, 9, 5),
        )[0]
        attrs: dict[str, Any] = {"measure": measure}
        missing: tuple[str, ...] = ()
        cents = 0
        if tag == "SKIP":
            variant = rng.random()
            if variant < 0.6:
                measure = "fine"
                cents = 2_000_00 if rng.random() < 0.1 else rng.randint(2_000, 200_000) * 100
                missing = rng.choice(
                    (("legal_review", "leader_approve"), ("leader_approve",), ("legal_review",))
                )
            elif variant < 0.85:
                measure = rng.choice(("suspend_business", "revoke_license", "confiscate"))
                missing = rng.choice((("legal_review", "leader_approve"), ("leader_approve",)))
            else:
                missing = ("investigate",)
            attrs["measure"] = measure
        if measure == "fine":
            if tag != "SKIP" or "investigate" in missing:
                cents = (
                    rng.randint(200, 1_999) * 100
                    if rng.random() < 0.3
                    else rng.randint(2_000, 300_000) * 100
                )
            attrs["amount"] = self._amount(cents)
        heavy = measure in ("confiscate", "suspend_business", "revoke_license") or (
            measure == "fine" and cents >= 2_000_00
        )
        t = self._ev(case, "register", t0, dept, {"enterprise_id": self._enterprise()}, actor)
        cur += rng.randint(1, 8)
        if "investigate" not in missing:
            t = self._ev(case, "investigate", self._after(t, cal.wd(cur)), dept, None, actor)
        if heavy or rng.random() < 0.2:
            cur += rng.randint(2, 10)
            if "legal_review" not in missing:
                t = self._ev(
                    case,
                    "legal_review",
                    self._after(t, cal.wd(cur)),
                    "SFJ" if rng.random() < 0.3 else dept,
                    None,
                    actor,
                )
            cur += rng.randint(0, 3)
            if "leader_approve" not in missing:
                t = self._ev(
                    case,
                    "leader_approve",
                    self._after(t, cal.wd(cur)),
                    dept,
                    None,
                    self._leader_id(dept),
                )
        cur += rng.randint(1, 8)
        t = self._ev(case, "execute", self._after(t, cal.wd(cur)), dept, attrs, actor)
        cur += rng.randint(1, 20)
        self._ev(case, "complete", self._after(t, cal.wd(cur)), dept, None, actor)
        return case

    # ---------------------------------------------------------------- funds

    def _fund(self, t0: int, tag: str) -> list[_Case]:
        rng = self.rng
        program, owner, lo, hi = rng.choice(FUND_PROGRAMS)
        payee = self._org("ORG-", 4_000)
        yuan = int(lo * (hi / lo) ** rng.random())
        cents = yuan * 100 if rng.random() < 0.5 else yuan * 100 + rng.randrange(100)
        if tag != "DUPPAY":
            return [self._fund_case(t0, tag, program, owner, payee, cents)]
        cents = self._unique_payment(program, payee, cents, t0)
        first = self._fund_case(t0, tag, program, owner, payee, cents, single=True)
        paid_at = next(t for t, ev in first.events if ev["action"] == "disburse")
        day = self.cal.index_on_or_after(self._day(t0) + rng.randint(1, 7))
        second_start = self._after(t0, self.cal.wd(day))
        second = self._fund_case(
            second_start, tag, program, owner, payee, cents, single=True, pay_after=paid_at
        )
        return [first, second]

    def _fund_case(
        self,
        t0: int,
        tag: str,
        program: str,
        owner: str,
        payee: str,
        cents: int,
        single: bool = False,
        pay_after: int = 0,
    ) -> _Case:
        """One 拨付单; ``pay_after``: disburse 1-27 days after that instant (DUPPAY's second)."""
        rng = self.rng
        cal = self.cal
        case = self._new_case("fund_disbursement", tag)
        actor = self._officer(owner)
        cz_actor = self._officer("CZJ")
        cur = cal.count_upto(self._day(t0)) - 1
        t = self._ev(
            case,
            "apply",
            t0,
            owner,
            {"amount": self._amount(cents), "payee": payee, "program": program},
            actor,
        )
        cur += rng.randint(1, 5)
        if tag != "SKIP":
            t = self._ev(case, "review", self._after(t, cal.wd(cur)), owner, None, actor)
        cur += rng.randint(1, 5)
        approved = cents if single or rng.random() < 0.7 else int(cents * rng.uniform(0.6, 0.99))
        approve_idx = cur
        t = self._ev(
            case,
            "approve",
            self._after(t, cal.wd(cur)),
            "CZJ",
            {"approved_amount": self._amount(approved), "payee": payee},
            cz_actor,
        )
        cal.wd(approve_idx + 10)
        # tranches
        if tag == "OVERPAY":
            first_part = int(approved * rng.uniform(0.5, 0.9))
            tranches = [first_part, approved - first_part + rng.randint(1_000, 50_000) * 100]
        elif single or rng.random() < 0.7:
            tranches = [approved]
        else:
            first_part = int(approved * rng.uniform(0.3, 0.7))
            tranches = [first_part, approved - first_part]
        if tag == "STEP":
            cur = approve_idx + rng.randint(11, 15)
        elif pay_after:
            paid_day = self._day(pay_after)
            cur = max(approve_idx + 1, cal.count_upto(paid_day)) + rng.randint(0, 2)
            if cur > approve_idx + 10 or cal.wd(cur) > paid_day + 27:
                raise OutOfYear("duplicate payment outside its window")
        else:
            cur = approve_idx + rng.randint(1, 8)
        paid: list[tuple[str, int, int]] = []
        for n, part in enumerate(tranches):
            if n:
                cur += rng.randint(1, 10)
            pay_to = payee
            if tag == "PAYEE" and n == len(tranches) - 1:
                while pay_to == payee:
                    pay_to = self._org("ORG-", 4_000)
            when = self._after(t, cal.wd(cur))
            if tag != "DUPPAY":
                part = self._unique_payment(program, pay_to, part, when)
            t = self._ev(
                case,
                "disburse",
                when,
                "CZJ",
                {"amount": self._amount(part), "payee": pay_to},
                cz_actor,
            )
            paid.append((pay_to, part, when))
        cur += rng.randint(1, 5)
        self._ev(case, "publicize", self._after(t, cal.wd(cur)), owner, None, actor)
        for pay_to, part, when in paid:
            self._paid.setdefault((program, pay_to, part), []).append(when)
        return case

    def _unique_payment(self, program: str, payee: str, cents: int, when: int) -> int:
        """Nudge a compliant payment so it does not duplicate another case's by accident."""
        window = 31 * DAY
        while any(
            abs(when - other) <= window for other in self._paid.get((program, payee, cents), ())
        ):
            cents += self.rng.randint(1, 99)
        return cents

    # ---------------------------------------------------------------- tenders

    def _tender(self, t0: int, tag: str) -> list[_Case]:
        if tag == "SPLIT":
            return self._split_purchase(t0)
        rng = self.rng
        if tag in ("SHORTBID", "FEWBIDS"):
            method = rng.choices(("open", "invited"), (75, 25))[0]
        elif tag in ("LATEBID", "SKIP"):
            method = rng.choices(("open", "invited", "competitive_negotiation"), (60, 15, 25))[0]
        else:
            method = rng.choices(
                ("open", "invited", "competitive_negotiation", "single_source", "direct"),
                (33, 10, 15, 10, 32),
            )[0]
        return [self._tender_case(t0, tag, method)]

    def _tender_case(
        self,
        t0: int,
        tag: str,
        method: str,
        dept: str | None = None,
        winner: str | None = None,
        award_cents: int | None = None,
    ) -> _Case:
        rng = self.rng
        cal = self.cal
        dept = dept or rng.choice(TENDER_BUYERS)
        actor = self._officer(dept)
        case = self._new_case("tender", tag)
        budget_yuan = {
            "open": (1_000_000, 50_000_000),
            "invited": (500_000, 10_000_000),
            "competitive_negotiation": (200_000, 3_000_000),
            "single_source": (100_000, 1_500_000),
            "direct": (10_000, 400_000),
        }[method]
        lo, hi = budget_yuan
        budget = int(lo * (hi / lo) ** rng.random()) // 1_000 * 1_000 * 100
        if award_cents is not None:
            budget = max(budget, (award_cents // 100_000 + 1) * 100_000)
        attrs: dict[str, Any] = {"method": method, "budget": self._amount(budget)}
        d0 = self._day(t0)
        bidding = method in ("open", "invited", "competitive_negotiation")
        if bidding:
            if tag == "SHORTBID":  # the last working day on or before day 10..18: < 20 x 24 h
                deadline_day = cal.wd(cal.count_upto(d0 + rng.randint(10, 18)) - 1)
            else:
                period = (
                    rng.randint(5, 12)
                    if method == "competitive_negotiation"
                    else rng.randint(21, 35)
                )
                deadline_day = cal.wd(cal.index_on_or_after(d0 + period))
            deadline = self._t(deadline_day, 34_200)  # 09:30
            attrs["bid_deadline"] = self._fmt(deadline)
        t = self._ev(case, "announce", t0, dept, attrs, actor)
        winner_cents = award_cents
        if bidding:
            n_bids = (
                rng.randint(1, 2)
                if tag == "FEWBIDS"
                else rng.randint(3, 8 if method == "open" else 5)
            )
            bidders: list[str] = []
            while len(bidders) < n_bids:
                bidder = self._org("SUP-", 20_000)
                if bidder not in bidders:
                    bidders.append(bidder)
            bids: list[tuple[int, str, int]] = []
            span = deadline - t - 1_800
            for bidder in bidders:
                when = t + 600 + int(span * rng.random() ** 0.5)
                bids.append((when, bidder, int(budget * rng.uniform(0.78, 0.99)) // 100 * 100))
            late: tuple[int, str, int] | None = None
            latecomer = self._org("SUP-", 20_000)
            while latecomer in bidders:
                latecomer = self._org("SUP-", 20_000)
            if tag == "LATEBID":
                cheapest = min(b[2] for b in bids)
                late = (
                    deadline + rng.randint(60, 1_500),
                    latecomer,
                    int(cheapest * rng.uniform(0.9, 0.99)) // 100 * 100,
                )
            elif rng.random() < 0.05:
                # a late bid that is (rightly) not awarded
                late = (
                    deadline + rng.randint(60, 1_500),
                    latecomer,
                    int(budget * rng.uniform(0.9, 0.99)) // 100 * 100,
                )
            all_bids = sorted(bids + ([late] if late else []))
            never_bid = tag == "LATEBID" and rng.random() < 0.3
            for when, bidder, amount in all_bids:
                if never_bid and late is not None and bidder == late[1]:
                    continue
                self._ev(
                    case,
                    "bid",
                    when,
                    dept,
                    {"bidder": bidder, "amount": self._amount(amount)},
                    None,
                )
            t = max(w for w, _, _ in all_bids)
            t = self._ev(
                case, "open", max(t + 60, deadline + rng.randint(0, 1_800)), dept, None, actor
            )
            idx = cal.count_upto(self._day(t)) - 1 + rng.randint(0, 2)
            skip = rng.choice(("open", "evaluate")) if tag == "SKIP" else ""
            if skip == "open":  # drop the open event already placed
                case.events.pop()
            if skip != "evaluate":
                t = self._ev(case, "evaluate", self._after(t, cal.wd(idx)), dept, None, actor)
            idx += rng.randint(1, 5)
            if late is not None and tag == "LATEBID":
                _, winner, winner_cents = late
            else:
                ranked = sorted(bids, key=lambda b: b[2])
                pick = ranked[0] if rng.random() < 0.8 or len(ranked) == 1 else ranked[1]
                _, winner, winner_cents = pick
            award_day = cal.wd(idx)
        else:
            idx = cal.count_upto(d0) - 1 + rng.randint(1, 10)
            award_day = cal.wd(idx)
            if winner is None:
                winner_cents = int(budget * rng.uniform(0.85, 1.0)) // 100 * 100
                winner = self._direct_winner(dept, winner_cents, self._t(award_day, 0))
            assert winner_cents is not None
        assert winner is not None and winner_cents is not None
        t = self._ev(
            case,
            "award",
            self._after(t, award_day),
            dept,
            {"winner": winner, "amount": self._amount(winner_cents)},
            actor,
        )
        award_date = self._day(t)
        cal.check(award_date + 31)
        if tag == "STEP":
            contract_day = award_date + rng.randint(31, 45)
        else:
            contract_day = award_date + rng.randint(3, 25)
        contract_day = cal.wd(cal.index_on_or_after(contract_day))
        if tag != "STEP" and contract_day > award_date + 30:
            contract_day = cal.wd(cal.count_upto(award_date + 30) - 1)
        supplier = winner
        if tag == "SUPPLIER":
            while supplier == winner:
                supplier = self._org("SUP-", 20_000)
        if tag == "OVERCONTRACT":
            contract_cents = int(winner_cents * rng.uniform(1.12, 1.5))
        elif rng.random() < 0.85:
            contract_cents = winner_cents
        else:
            contract_cents = int(winner_cents * rng.uniform(0.95, 1.08))
        self._ev(
            case,
            "contract",
            self._after(t, contract_day),
            dept,
            {"supplier": supplier, "amount": self._amount(contract_cents)},
            actor,
        )
        if not bidding:
            self._direct.setdefault((dept, winner), []).append((t, winner_cents))
        return case

    def _direct_winner(self, dept: str, cents: int, when: int) -> str:
        """A supplier whose direct awards from ``dept`` stay well below the split threshold."""
        year = 366 * DAY
        while True:
            winner = self._org("SUP-", 20_000)
            awards = self._direct.get((dept, winner), ())
            if sum(c for w, c in awards if abs(w - when) <= year) + cents < SPLIT_THRESHOLD:
                return winner

    def _split_purchase(self, t0: int) -> list[_Case]:
        rng = self.rng
        cal = self.cal
        dept = rng.choice(TENDER_BUYERS)
        k = rng.randint(3, 5)
        ceiling = 1_900_000 // (k - 1)
        parts = [rng.randint(250_000, ceiling) * 100 for _ in range(k - 1)]
        parts.append(SPLIT_THRESHOLD - sum(parts) + rng.randint(0, 150_000) * 100)
        winner = self._org("SUP-", 20_000)
        while self._direct.get((dept, winner)):
            winner = self._org("SUP-", 20_000)
        cases = []
        t = t0
        for n, part in enumerate(parts):
            if n:
                day = self._day(t) + rng.randint(10, 45)
                t = self._wtime(cal.wd(cal.index_on_or_after(day)))
            method = "direct" if rng.random() < 0.7 else "single_source"
            cases.append(self._tender_case(t, "SPLIT", method, dept, winner, part))
        return cases

    # ---------------------------------------------------------------- inspections

    def _inspection(self, t0: int, tag: str, room: int) -> list[_Case] | None:
        rng = self.rng
        if tag in ("OK", "OPEN") and rng.random() < 0.3:
            return [self._exempt_inspection(t0, tag)]
        if tag in ("UNAUTH_NOPLAN", "UNAUTH_NOTAPPROVED"):
            return [self._standalone_unauthorized(t0, tag)]
        if room < 8:
            return None
        return self._plan_group(t0, tag)

    def _inspection_case(
        self, t0: int, tag: str, dept: str, enterprise: str, category: str, plan_id: str | None
    ) -> _Case:
        rng = self.rng
        cal = self.cal
        case = self._new_case("inspection", tag)
        actor = self._officer(dept)
        attrs: dict[str, Any] = {"enterprise_id": enterprise, "category": category}
        if plan_id is not None:
            attrs["plan_id"] = plan_id
        t = self._ev(case, "start", t0, dept, attrs, actor)
        cur = cal.count_upto(self._day(t0)) - 1
        last = cur + 5
        done = self._completion_index(tag if tag.startswith("OVERDUE") else "OK", cur, last)
        cal.wd(max(last + 3, done))
        finish_attrs = {"result": rng.choice(INSPECTION_RESULTS)} if rng.random() < 0.85 else None
        self._ev(case, "finish", self._after(t, cal.wd(done)), dept, finish_attrs, actor)
        if category not in EXEMPT_CATEGORIES:
            self._ent_starts.setdefault(enterprise, []).append(t0)
        return case

    def _exempt_inspection(self, t0: int, tag: str) -> _Case:
        dept, category = self.rng.choice(EXEMPT_INSPECTORS)
        return self._inspection_case(t0, tag, dept, self._enterprise(), category, None)

    def _quiet_free(self, enterprise: str, when: int) -> bool:
        """True when adding a start at ``when`` keeps every 30-day window below 3 starts."""
        window = 30 * DAY
        return (
            sum(1 for other in self._ent_starts.get(enterprise, ()) if abs(other - when) <= window)
            < 2
        )

    def _normal_day(self, ordinal: int) -> int:
        """The first working day on or after ``ordinal`` that is not a quiet day (day 1-5)."""
        cal = self.cal
        idx = cal.index_on_or_after(ordinal)
        while date.fromordinal(cal.wd(idx)).day <= 5:
            idx += 1
        return cal.wd(idx)

    def _standalone_unauthorized(self, t0: int, tag: str) -> _Case:
        rng = self.rng
        dept = rng.choice(INSPECTING_DEPTS)
        day = self._normal_day(self._day(t0))
        when = self._wtime(day) if day != self._day(t0) else t0
        enterprise = self._enterprise()
        while not self._quiet_free(enterprise, when):
            enterprise = self._enterprise()
        plan_id = None
        if tag == "UNAUTH_NOTAPPROVED":
            self._serial += 1
            plan_id = f"IP-NONE-{self.cfg.seed}-{self._serial:07d}"
        category = rng.choice(("routine", "special"))
        return self._inspection_case(when, tag, dept, enterprise, category, plan_id)

    def _plan_group(self, t0: int, tag: str) -> list[_Case]:
        """An approved plan, the inspections under it, and at most one deliberate violation."""
        rng = self.rng
        cal = self.cal
        dept = rng.choice(INSPECTING_DEPTS)
        d0 = self._day(t0)
        valid_from = d0 if rng.random() < 0.6 else cal.wd_after(d0, 1)
        length = rng.randint(14, 45)
        if tag == "FREQ":
            length = rng.randint(35, 50)
        elif tag == "QUIET":
            # make sure the window reaches the next month's quiet days
            nxt = date.fromordinal(valid_from)
            first_next = date(nxt.year + (nxt.month == 12), nxt.month % 12 + 1, 1).toordinal()
            length = max(length, first_next + 6 - valid_from)
        valid_to = cal.check(valid_from + length)
        enterprises = list(dict.fromkeys(self._enterprise() for _ in range(rng.randint(2, 10))))
        plan = self._new_case("inspection_plan", "OK")
        self._ev(
            plan,
            "approve",
            t0,
            PLAN_APPROVER,
            {
                "inspecting_dept": dept,
                "enterprise_ids": enterprises,
                "valid_from": self._date(valid_from),
                "valid_to": self._date(valid_to),
            },
            self._officer(PLAN_APPROVER),
        )
        cases = [plan]

        window_days = [
            o
            for o in range(max(valid_from, d0), valid_to + 1)
            if cal.is_workday(o) and date.fromordinal(o).day > 5
        ]

        def start_time(ordinal: int) -> int:
            return self._after(t0, ordinal)

        def pick_start(enterprise: str) -> int | None:
            for _ in range(6):
                if not window_days:
                    return None
                when = start_time(rng.choice(window_days))
                if self._quiet_free(enterprise, when):
                    return when
            return None

        latest = t0
        revoke_at: int | None = None
        if tag == "UNAUTH_REVOKED":
            mid = window_days[: max(1, len(window_days) // 2)]
            if not mid:
                raise OutOfYear("window")
            revoke_day = rng.choice(mid)
            revoke_at = self._after(t0, revoke_day)
            window_days = [o for o in window_days if o > revoke_day]
            if not window_days:
                raise OutOfYear("window")
        normal = rng.randint(1, min(len(enterprises), 4))
        if tag not in ("OK", "OPEN") and rng.random() < 0.5:
            normal = 0
        for enterprise in rng.sample(enterprises, normal):
            when = pick_start(enterprise)
            if when is None or (revoke_at is not None and when > revoke_at):
                continue
            sub_tag = "OPEN" if tag == "OPEN" or self._chance(self.cfg.open_share) else "OK"
            cases.append(
                self._inspection_case(
                    when,
                    sub_tag,
                    dept,
                    enterprise,
                    rng.choice(("routine", "routine", "special")),
                    plan.case_id,
                )
            )
            latest = max(latest, when)
        category = rng.choice(("routine", "special"))
        if tag in ("OK", "OPEN"):
            pass
        elif tag == "FREQ":
            enterprise = rng.choice(enterprises)
            while self._ent_starts.get(enterprise):
                enterprise = self._enterprise()
                enterprises.append(enterprise)
                plan.events[0][1]["attrs"]["enterprise_ids"] = enterprises
            days = [o for o in window_days if o >= window_days[0]]
            first = days[0] if len(days) < 6 else rng.choice(days[: len(days) // 3])
            chosen = [o for o in days if first <= o <= first + 28]
            if len(chosen) < 3:
                raise OutOfYear("window")
            for ordinal in sorted(rng.sample(chosen, 3)):
                when = start_time(ordinal)
                cases.append(
                    self._inspection_case(when, "FREQ", dept, enterprise, category, plan.case_id)
                )
                latest = max(latest, when)
        else:
            enterprise = rng.choice(enterprises)
            inspector = dept
            if tag == "UNAUTH_DEPT":
                inspector = rng.choice([d for d in INSPECTING_DEPTS if d != dept])
            elif tag == "UNAUTH_ENT":
                enterprise = self._enterprise()
            if tag == "QUIET":
                quiet = [
                    o
                    for o in range(max(valid_from, d0 + 1), valid_to + 1)
                    if cal.is_workday(o) and date.fromordinal(o).day <= 5
                ]
                if not quiet:
                    raise OutOfYear("window")
                when = start_time(rng.choice(quiet))
            elif tag == "UNAUTH_WINDOW":
                when = start_time(self._normal_day(valid_to + rng.randint(1, 20)))
            else:
                when = pick_start(enterprise) if window_days else None
                if when is None:
                    raise OutOfYear("window")
            if not self._quiet_free(enterprise, when):
                raise OutOfYear("busy enterprise")
            cases.append(
                self._inspection_case(when, tag, inspector, enterprise, category, plan.case_id)
            )
            latest = max(latest, when)
        if revoke_at is not None:
            self._ev(plan, "revoke", revoke_at, PLAN_APPROVER, None, self._officer(PLAN_APPROVER))
        elif rng.random() < 0.08:
            day = max(valid_to, self._day(latest)) + rng.randint(1, 10)
            self._ev(
                plan,
                "revoke",
                self._after(latest, cal.wd(cal.index_on_or_after(day))),
                PLAN_APPROVER,
                None,
                self._officer(PLAN_APPROVER),
            )
        return cases


def _cumulative(weights: Iterable[float]) -> list[float]:
    out: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _local_shuffle(stream: Iterator[Any], window: int, rng: random.Random) -> Iterator[Any]:
    """Emit items in a random order that never moves an item more than ~``window`` places."""
    buffer: list[Any] = []
    for item in stream:
        buffer.append(item)
        if len(buffer) >= window:
            i = rng.randrange(len(buffer))
            buffer[i], buffer[-1] = buffer[-1], buffer[i]
            yield buffer.pop()
    rng.shuffle(buffer)
    yield from buffer


def generate_events(config: GenerateConfig) -> Iterator[dict[str, Any]]:
    """The events of ``config``'s workload, in its order (see the module docstring)."""
    return WorkloadGenerator(config).events()


# --------------------------------------------------------------------------
# Lines (JSON Lines bytes), with optional malformed ones


class Line(NamedTuple):
    """One output line: its process (for the topic), Kafka key and bytes (no newline)."""

    process: str
    key: bytes | None
    value: bytes
    valid: bool


BAD_KINDS = (
    "invalid_json",
    "missing_field",
    "no_offset",
    "unknown_action",
    "extra_field",
    "unknown_process",
    "wrong_type",
)


def encode_lines(
    events: Iterable[dict[str, Any]], *, bad_rate: float = 0.0, seed: int = 1
) -> Iterator[Line]:
    """Serialize events (orjson); after each, with probability ``bad_rate``, add a malformed line.

    Malformed lines are derived from the event just written but carry their own
    ``event_id`` (``BAD{seed}-n``), so rejecting them never hides a valid event.
    """
    rng = random.Random(seed ^ 0xBAD)
    dumps = orjson.dumps
    bad_serial = 0
    for ev in events:
        key = ev["case_id"].encode()
        yield Line(ev["process"], key, dumps(ev), True)
        if bad_rate and rng.random() < bad_rate:
            bad_serial += 1
            yield Line(
                ev["process"], key, _malformed(ev, rng, f"BAD{seed}-{bad_serial:07d}"), False
            )


def _malformed(ev: dict[str, Any], rng: random.Random, event_id: str) -> bytes:
    bad = dict(ev)
    bad["event_id"] = event_id
    kind = rng.choice(BAD_KINDS)
    if kind == "invalid_json":
        text = orjson.dumps(bad)
        return text[: rng.randint(10, len(text) - 2)]
    if kind == "missing_field":
        del bad[rng.choice(("event_id", "case_id", "process", "action", "occurred_at", "dept"))]
    elif kind == "no_offset":
        bad["occurred_at"] = bad["occurred_at"].removesuffix(OFFSET)
    elif kind == "unknown_action":
        bad["action"] = rng.choice(("launch", "archive", "approve_all", "close"))
    elif kind == "extra_field":
        bad[rng.choice(("extra", "source_system", "ts"))] = 1
    elif kind == "unknown_process":
        bad["process"] = rng.choice(("petition", "audit", "licence"))
    else:  # wrong_type
        bad["dept"] = rng.choice((17, None, ""))
    return orjson.dumps(bad)



__all__ = [
    "BAD_KINDS",
    "GenerateConfig",
    "GenerateStats",
    "Line",
    "OutOfYear",
    "VIOLATION_KINDS",
    "WorkingCalendar",
    "WorkloadGenerator",
    "encode_lines",
    "generate_events",
    "topic_for",
]
