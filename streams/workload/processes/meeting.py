"""Meeting items (会议议定事项): decisions of a government meeting, each with a time limit.

An extension must be asked 3 working days ahead (rules.md §2,
``extension_notice_working_days``). Violations: OVERDUE_N/Y/R, LATEEXT (extended
after the deadline) and LATENOTICE (extended 1-2 working days before the last
day: late, still granted; nothing else follows). Some compliant items extend in
time, a few of them on the last day that is still in time.
"""

from __future__ import annotations

from datetime import date

from streams.workload.builder import Case, CaseBuilder
from streams.workload.clocks import COMPLIANT, extend_on, extensions
from streams.workload.reference import MEETING_DEPTS, MEETINGS

NOTICE = 3  # working days


def build_meeting_item(b: CaseBuilder, t0: int, tag: str) -> Case:
    rng, cal = b.rng, b.cal
    prefix, meeting_name, period = rng.choices(MEETINGS, (3, 3, 4))[0]
    day = b.day(t0)
    year = date.fromordinal(day).year
    number = b.ids.meeting_number(period, prefix, day)
    dept = rng.choice(MEETING_DEPTS)
    case = b.new_case("meeting_item", tag, t0, dept, series=f"{prefix}-{year}-{number:03d}")
    actor = b.officer(dept)
    limit = rng.choices((5, 10, 15, 20, 30, 60), (10, 25, 20, 20, 15, 10))[0]
    attrs: dict[str, object] = {"time_limit_days": limit}
    if rng.random() < 0.9:
        attrs["meeting"] = meeting_name.format(n=number, year=year)
    cur = cal.count_upto(day) - 1
    last = cur + limit
    t = b.ev(case, "assign", t0, dept, attrs, actor)
    if tag == "LATENOTICE":
        at = last - rng.randint(1, NOTICE - 1)
        t, cur, last, done = extend_on(b, case, t, dept, actor, at, last, (3, 10))
    elif tag in COMPLIANT and last - NOTICE >= cur and rng.random() < 0.1:
        at = last - NOTICE if rng.random() < 0.3 else b.between(cur, last - NOTICE)
        t, cur, last, done = extend_on(b, case, t, dept, actor, at, last, (3, 10))
    else:
        t, cur, last, done = extensions(b, case, t, dept, actor, cur, last, (3, 10), (3, 10), 0.0)
    cal.wd(max(last + 3, done))
    b.ev(case, "complete", b.after(t, cal.wd(done)), dept, None, actor)
    return case
