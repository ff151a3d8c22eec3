"""Proposals (人大代表建议、政协委员提案办理): assigned with a time limit, reported on monthly.

A proposal reports progress each month after the month it was assigned, by
the end of day 28 (rules.md §3.6), replies to its delegate and completes.
Violations: OVERDUE_N/Y/R and NOREPORT (one month's report missing).
"""

from __future__ import annotations

from streams.workload.builder import Case, CaseBuilder
from streams.workload.calendar import OutOfYear
from streams.workload.clocks import completion_index, monthly_report_days, progress_attrs
from streams.workload.reference import PROPOSAL_DEPTS, PROPOSAL_PREFIX

REPORT_DAY = 28  # 每月28日前报送


def build_proposal(b: CaseBuilder, t0: int, tag: str) -> Case:
    rng, cal = b.rng, b.cal
    kind = rng.choices(tuple(PROPOSAL_PREFIX), (55, 45))[0]
    dept = rng.choice(PROPOSAL_DEPTS)
    case = b.new_case("proposal", tag, t0, dept, series=PROPOSAL_PREFIX[kind])
    actor = b.officer(dept)
    limit = 60 if tag == "NOREPORT" else rng.choices((30, 45, 60), (1, 2, 7))[0]
    attrs: dict[str, object] = {"time_limit_days": limit}
    if rng.random() < 0.85:
        attrs["kind"] = kind
    start_day = b.day(t0)
    cur = cal.count_upto(start_day) - 1
    last = cur + limit
    if tag.startswith("OVERDUE"):
        done = completion_index(b, tag, cur, last)
    else:  # answered in the last weeks of the limit, mostly
        done = b.between(max(cur + 1, last - (10 if tag == "NOREPORT" else 25)), last - 1)
    cal.wd(max(last + 3, done))
    done_day = cal.wd(done)
    reports = monthly_report_days(b, start_day, done_day, REPORT_DAY, 15)
    if tag == "NOREPORT":
        if not reports:
            raise OutOfYear(done_day)  # too short to miss a month: built again
        del reports[rng.randrange(len(reports))]
    reply_day = max([cal.wd(b.between(max(cur, done - 8), done)), *reports[-1:]])

    t = b.ev(case, "assign", t0, dept, attrs, actor)
    for day in reports:
        t = b.ev(case, "progress", b.after(t, day), dept, progress_attrs(b), actor)
    t = b.ev(case, "reply", b.after(t, reply_day), dept, None, actor)
    b.ev(case, "complete", b.after(t, done_day), dept, None, actor)
    return case
