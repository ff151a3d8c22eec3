"""Approvals (行政审批) and leaders' assignments (领导交办件): one case clock each.

Approval violations: OVERDUE_N/Y/R, SKIP (review or decide missing), LATEEXT,
NOREASON (reject without a reason), RESUPP (two 补正 requests). Leader
assignments: OVERDUE_N/Y/R and LATEEXT.
"""

from __future__ import annotations

from typing import Any

from streams.workload.builder import Case, CaseBuilder, cumulative
from streams.workload.clocks import COMPLIANT, extensions
from streams.workload.reference import (
    APPROVAL_ITEMS,
    BUREAUS,
    DISTRICTS,
    REJECT_REASONS,
    SUPPLEMENT_ITEMS,
    SUSPEND_REASONS,
)

_ITEM_CUM = cumulative([float(item[4]) for item in APPROVAL_ITEMS])
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
    code, name, item_dept, limit, _ = APPROVAL_ITEMS[b.pick_cum(_ITEM_CUM)]
    dept = item_dept if item_dept is not None else rng.choice(DISTRICTS)
    if limit > 3 and rng.random() < 0.5:  # 承诺时限 often shorter than the statutory one
        limit = rng.randint(max(1, limit // 2), limit)
    case = b.new_case("approval", tag, t0, dept)
    actor = b.officer(dept)
    cur = cal.count_upto(b.day(t0)) - 1  # index of the acceptance day (a working day)
    last = cur + limit
    attrs = {"time_limit_days": limit, "item_code": code, "item_name": name}
    t = b.ev(case, "accept", t0, dept, attrs, actor)
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

    t, cur, last, done = extensions(b, case, t, dept, actor, cur, last, (3, 10), (3, 10), 0.05)
    cal.wd(max(last + 3, done))

    decide_idx = b.between(cur, done)
    if skip != "decide":
        decision = {"decision": "approve" if rng.random() < 0.92 else "deny"}
        t = b.ev(case, "decide", b.after(t, cal.wd(decide_idx)), dept, decision, actor)
    b.ev(case, "complete", b.after(t, cal.wd(max(done, decide_idx))), dept, None, actor)
    return case


def build_one_day_approval(b: CaseBuilder, t: int) -> Case:
    """A compliant one-day approval: fits anywhere in the start window (the fallback case)."""
    dept = b.rng.choice(DISTRICTS)
    case = b.new_case("approval", "OK", t, dept)
    actor = b.officer(dept)
    attrs = {"time_limit_days": 1, "item_code": "330100-001", "item_name": "个体工商户设立登记"}
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
    if roll < 0.10:
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
    t, cur, last, done = extensions(b, case, t, dept, actor, cur, last, (2, 5), (2, 5), 0.06)
    cal.wd(max(last + 3, done))
    b.ev(case, "complete", b.after(t, cal.wd(done)), dept, None, actor)
    return case
