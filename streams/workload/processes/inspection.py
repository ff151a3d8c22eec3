"""Enterprise inspections (涉企检查).

Here: single inspections, those of exempt categories (safety, environment,
unified: no plan needed) and the UNAUTH_NOPLAN and UNAUTH_NOTAPPROVED ones that
stand alone. Plan groups are in ``plan.py``. OVERDUE_Y/R: the finish comes late.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from streams.workload.builder import Case, CaseBuilder
from streams.workload.clocks import COMPLIANT, completion_index
from streams.workload.config import EXEMPT_CATEGORIES
from streams.workload.reference import EXEMPT_INSPECTORS, INSPECTING_DEPTS, INSPECTION_RESULTS

STANDALONE = ("UNAUTH_NOPLAN", "UNAUTH_NOTAPPROVED")


def build_single_inspection(b: CaseBuilder, t0: int, tag: str) -> Case | None:
    """An inspection needing no plan group (exempt, or citing no approved plan), else None."""
    rng = b.rng
    if tag in COMPLIANT and rng.random() < 0.3:
        dept, category = rng.choice(EXEMPT_INSPECTORS)
        return inspection_case(b, t0, tag, dept, b.enterprise(), category, None)
    if tag in STANDALONE:
        return _standalone_unauthorized(b, t0, tag)
    return None


def inspection_case(
    b: CaseBuilder,
    t0: int,
    tag: str,
    dept: str,
    enterprise: str,
    category: str,
    plan_id: str | None,
) -> Case:
    """One inspection started at ``t0``, finished within 5 working days unless OVERDUE."""
    rng, cal = b.rng, b.cal
    case = b.new_case("inspection", tag, t0, dept)
    actor = b.officer(dept)
    attrs: dict[str, Any] = {"enterprise_id": enterprise, "category": category}
    if plan_id is not None:
        attrs["plan_id"] = plan_id
    t = b.ev(case, "start", t0, dept, attrs, actor)
    cur = cal.count_upto(b.day(t0)) - 1
    last = cur + 5
    done = completion_index(b, tag if tag.startswith("OVERDUE") else "OK", cur, last)
    cal.wd(max(last + 3, done))
    finish_attrs = {"result": rng.choice(INSPECTION_RESULTS)} if rng.random() < 0.85 else None
    b.ev(case, "finish", b.after(t, cal.wd(done)), dept, finish_attrs, actor)
    if category not in EXEMPT_CATEGORIES:
        b.guards.record_inspection(enterprise, t0)
    return case


def normal_day(b: CaseBuilder, ordinal: int) -> int:
    """The first working day on or after ``ordinal`` that is not a quiet day (day 1-5)."""
    cal = b.cal
    idx = cal.index_on_or_after(ordinal)
    while date.fromordinal(cal.wd(idx)).day <= 5:
        idx += 1
    return cal.wd(idx)


def _standalone_unauthorized(b: CaseBuilder, t0: int, tag: str) -> Case:
    """An inspection citing no plan, or a plan that was never approved."""
    rng = b.rng
    dept = rng.choice(INSPECTING_DEPTS)
    day = normal_day(b, b.day(t0))
    when = b.wtime(day) if day != b.day(t0) else t0
    enterprise = b.enterprise()
    while not b.guards.quiet_free(enterprise, when):
        enterprise = b.enterprise()
    plan_id = None
    if tag == "UNAUTH_NOTAPPROVED":  # a plan number of the right form that no approval carries
        plan_id = b.ids.case_id("inspection_plan", b.next_serial(), b.day(t0), dept)
    category = rng.choice(("routine", "special"))
    return inspection_case(b, when, tag, dept, enterprise, category, plan_id)
