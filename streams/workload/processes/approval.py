"""Approvals (行政审批) and leaders' assignments (领导交办件): one case clock each.

Approval violations: OVERDUE_N/Y/R, SKIP (review or decide missing), LATEEXT,
NOREASON (reject without a reason), RESUPP (two 补正 requests), DEEMED and
DEEMEDDENY (undecided at the deadline of an item with 超时默许, then approved or
denied), UNCOMPRESSED (a promise above the item's allowed one). Every accept
names an item of the catalogue (``item_catalogue.toml``) and, but in
UNCOMPRESSED cases, promises at most what the item allows. Only DEEMED and
DEEMEDDENY cases are undecided at their deadline: the others decide in time or
end before it. Leader assignments: OVERDUE_N/Y/R, LATEEXT and LATENOTICE (a
joint one extended on its last day, inside its one-day notice period).
"""

from __future__ import annotations

from typing import Any

from streams.workload.builder import Case, CaseBuilder, cumulative
from streams.workload.catalogue import CatalogueItem, item_catalogue
from streams.workload.clocks import COMPLIANT, extend_on, extensions
from streams.workload.reference import (
    BUREAUS,
    DISTRICTS,
    ITEM_PLACES,
    ONE_DAY_ITEM,
    REJECT_REASONS,
    SUPPLEMENT_ITEMS,
    SUSPEND_REASONS,
)

LATE_TAGS = ("OVERDUE_Y", "OVERDUE_R", "LATEEXT")  # finished after the deadline, decided in time
DEEMED_TAGS = ("DEEMED", "DEEMEDDENY")


class _Items:
    """Catalogue items to draw from, weighted by how often each is applied for."""

    def __init__(self, items: list[CatalogueItem]) -> None:
        self.items = items
        self.cum = cumulative([float(ITEM_PLACES[item.code][1]) for item in items])

    def draw(self, b: CaseBuilder) -> CatalogueItem:
        return self.items[b.pick_cum(self.cum)]


_ALL = _Items(list(item_catalogue().values()))
_DEEMED = _Items([i for i in _ALL.items if i.deemed_approval])  # 超时默许 items
_COMPRESSIBLE = _Items([i for i in _ALL.items if i.allowed_promise < i.legal_limit_days])
_NO_REASON: tuple[dict[str, Any] | None, ...] = (
    None,
    {},
    {"reason": None},
    {"reason": ""},
    {"reason": "  "},
)


def _supplement(
    b: CaseBuilder, case: Case, dept: str, actor: str, t: int, cur: int, last: int
) -> tuple[int, int, int]:
    """One 补正 cycle starting before the last day; returns (t, cur, last)."""
    rng, cal = b.rng, b.cal
    start = b.between(cur, min(cur + 2, last - 1))
    t = b.ev(
        case,
        "supplement_request",
        b.after(t, cal.wd(start)),
        dept,
        {"items": rng.sample(SUPPLEMENT_ITEMS, rng.randint(1, 3))},
        actor,
    )
    pause = rng.randint(1, 8)
    t = b.ev(case, "supplement_received", b.after(t, cal.wd(start + pause)), dept, None, actor)
    return t, start + pause, last + pause


def _terminal(b: CaseBuilder, tag: str) -> str:
    roll = b.rng.random()
    if tag in COMPLIANT:
        if roll < 0.08:
            return "withdraw"
        if roll < 0.17:
            return "reject"
    elif tag == "NOREASON":
        return "reject"
    return "complete"


def _reject(
    b: CaseBuilder, case: Case, dept: str, actor: str, t: int, review_idx: int, last: int
) -> Case:
    rng, cal = b.rng, b.cal
    end_idx = b.between(review_idx, max(review_idx, last - 1))
    cal.wd(last + 3)
    if rng.random() < 0.6:
        t = b.ev(case, "review", b.after(t, cal.wd(review_idx)), dept, None, actor)
    if case.tag == "NOREASON":
        attrs = _NO_REASON[rng.randrange(5)]
    else:
        attrs = {"reason": rng.choice(REJECT_REASONS)}
    b.ev(case, "reject", b.after(t, cal.wd(end_idx)), dept, attrs, actor)
    return case


def build_approval(b: CaseBuilder, t0: int, tag: str) -> Case:
    """One 办件 accepted at ``t0``: supplements, review, pauses, extension, decision, completion."""
    rng, cal = b.rng, b.cal
    pool = _DEEMED if tag in DEEMED_TAGS else _COMPRESSIBLE if tag == "UNCOMPRESSED" else _ALL
    item = pool.draw(b)
    item_dept = ITEM_PLACES[item.code][0]
    dept = item_dept if item_dept is not None else rng.choice(DISTRICTS)
    allowed = item.allowed_promise
    if tag == "UNCOMPRESSED":  # mostly the statutory limit itself, not compressed at all
        legal = item.legal_limit_days
        limit = legal if rng.random() < 0.6 else rng.randint(allowed + 1, legal)
    else:
        limit = allowed
        if limit > 3 and rng.random() < 0.5:  # 承诺时限 often shorter than the allowed one
            limit = rng.randint(max(1, limit // 2), limit)
    case = b.new_case("approval", tag, t0, dept)
    actor = b.officer(dept)
    cur = cal.count_upto(b.day(t0)) - 1  # index of the acceptance day (a working day)
    last = cur + limit
    attrs = {"time_limit_days": limit, "item_code": item.code, "item_name": item.name}
    t = b.ev(case, "accept", t0, dept, attrs, actor)
    if tag in DEEMED_TAGS:
        return _decided_after_deadline(b, case, dept, actor, t, cur, last)
    terminal = _terminal(b, tag)

    # 补正 (supplement) pauses; each starts before the last day (last - 1 >= cur always)
    if tag == "RESUPP":
        t, cur, last = _supplement(b, case, dept, actor, t, cur, last)
        t, cur, last = _supplement(b, case, dept, actor, t, cur, last)
    elif rng.random() < 0.12:
        t, cur, last = _supplement(b, case, dept, actor, t, cur, last)

    if terminal == "withdraw":
        idx = b.between(cur, min(cur + 3, last - 1))
        cal.wd(last + 3)
        b.ev(case, "withdraw", b.after(t, cal.wd(idx)), dept, None, actor)
        return case

    # review (unless skipped), then maybe a special procedure pause
    skip = rng.choice(("review", "decide")) if tag == "SKIP" else ""
    review_idx = b.between(cur, min(cur + 2, max(cur, last - 1)))
    if terminal == "reject":
        return _reject(b, case, dept, actor, t, review_idx, last)
    if skip != "review":
        t = b.ev(case, "review", b.after(t, cal.wd(review_idx)), dept, None, actor)
    cur = review_idx
    if tag in COMPLIANT and last - 1 > cur and rng.random() < 0.04:
        start = b.between(cur, last - 1)
        at = b.after(t, cal.wd(start))
        t = b.ev(case, "suspend", at, dept, {"reason": rng.choice(SUSPEND_REASONS)}, actor)
        pause = rng.randint(3, 15)
        t = b.ev(case, "resume", b.after(t, cal.wd(start + pause)), dept, None, actor)
        cur, last = start + pause, last + pause

    decided = skip == "decide"
    if tag in LATE_TAGS:  # decided before the deadline, delivered (送达) after it
        decide_idx = b.between(cur, last)
        t = _decide(b, case, dept, actor, t, decide_idx)
        cur, decided = decide_idx, True
    t, cur, last, done = extensions(b, case, t, dept, actor, cur, last, (3, 10), (3, 10), 0.05)
    cal.wd(max(last + 3, done))

    decide_idx = b.between(cur, done)
    if not decided:
        t = _decide(b, case, dept, actor, t, decide_idx)
    b.ev(case, "complete", b.after(t, cal.wd(max(done, decide_idx))), dept, None, actor)
    return case


def _decide(b: CaseBuilder, case: Case, dept: str, actor: str, t: int, index: int) -> int:
    decision = {"decision": "approve" if b.rng.random() < 0.92 else "deny"}
    return b.ev(case, "decide", b.after(t, b.cal.wd(index)), dept, decision, actor)


def _decided_after_deadline(
    b: CaseBuilder, case: Case, dept: str, actor: str, t: int, cur: int, last: int
) -> Case:
    """DEEMED / DEEMEDDENY: reviewed in time, undecided at the deadline D (超时默许 at D where
    it applies), decided 1-2 working days after it and finished by the third (no red card).
    DEEMEDDENY cases are then denied: ``decide`` with ``deny``, or ``reject`` (terminal)."""
    rng, cal = b.rng, b.cal
    cal.wd(last + 3)
    t = b.ev(case, "review", b.after(t, cal.wd(b.between(cur, last - 1))), dept, None, actor)
    late_idx = last + rng.randint(1, 2)
    if case.tag == "DEEMEDDENY" and rng.random() < 0.4:
        attrs = {"reason": rng.choice(REJECT_REASONS)}
        b.ev(case, "reject", b.after(t, cal.wd(late_idx)), dept, attrs, actor)
        return case
    decision = {"decision": "deny" if case.tag == "DEEMEDDENY" else "approve"}
    t = b.ev(case, "decide", b.after(t, cal.wd(late_idx)), dept, decision, actor)
    b.ev(case, "complete", b.after(t, cal.wd(b.between(late_idx, last + 3))), dept, None, actor)
    return case


def build_one_day_approval(b: CaseBuilder, t: int) -> Case:
    """A compliant one-day approval: fits anywhere in the start window (the fallback case)."""
    dept = b.rng.choice(DISTRICTS)
    case = b.new_case("approval", "OK", t, dept)
    actor = b.officer(dept)
    item = item_catalogue()[ONE_DAY_ITEM]
    attrs = {"time_limit_days": 1, "item_code": item.code, "item_name": item.name}
    b.ev(case, "accept", t, dept, attrs, actor)
    b.cal.wd_after(b.day(t), 4)  # its clock's red card must fall within the year
    t = b.ev(case, "review", b.after(t, b.day(t)), dept, None, actor)
    t = b.ev(case, "decide", b.after(t, b.day(t)), dept, {"decision": "approve"}, actor)
    b.ev(case, "complete", b.after(t, b.day(t)), dept, None, actor)
    return case


def build_leader_assignment(b: CaseBuilder, t0: int, tag: str) -> Case:
    """One 交办件: priority decides the time limit unless the leader set one."""
    rng, cal = b.rng, b.cal
    dept = rng.choice((*BUREAUS, *DISTRICTS))
    case = b.new_case("leader_assignment", tag, t0, dept)
    actor = b.officer(dept)
    priority = rng.choices(("urgent", "important", "general"), (15, 35, 50))[0]
    attrs: dict[str, Any] = {"priority": priority}
    limit = {"urgent": 1, "important": 3, "general": 5}[priority]
    roll = rng.random()
    if roll < 0.10 or tag == "LATENOTICE":  # 联办事项: 10 days, extensions asked a day ahead
        attrs["joint"] = True
        limit = 10
    elif roll < 0.18:
        limit = rng.choice((2, 7, 15, 20))
        attrs["time_limit_days"] = limit
    elif roll < 0.30:
        attrs["joint"] = False
    cur = cal.count_upto(b.day(t0)) - 1
    last = cur + limit
    t = b.ev(case, "accept", t0, dept, attrs, actor)
    if tag == "LATENOTICE":  # asked on the last day itself: late (rules.md §2), still granted
        t, cur, last, done = extend_on(b, case, t, dept, actor, last, last, (2, 5))
    elif attrs.get("joint") and tag in COMPLIANT and rng.random() < 0.25:
        # asked on the working day before the last one: just in time
        t, cur, last, done = extend_on(b, case, t, dept, actor, last - 1, last, (2, 5))
    else:
        t, cur, last, done = extensions(b, case, t, dept, actor, cur, last, (2, 5), (2, 5), 0.06)
    cal.wd(max(last + 3, done))
    b.ev(case, "complete", b.after(t, cal.wd(done)), dept, None, actor)
    return case
