"""12345 hotline complaints (投诉举报): accepted by the hotline centre, assigned, replied.

Violations: OVERDUE_N/Y/R, STEP (assigned 2-4 working days late), SKIP (no
reply), LATEEXT. Complaints also arrive on rest days.
"""

from __future__ import annotations

from streams.workload.builder import Case, CaseBuilder
from streams.workload.clocks import extensions
from streams.workload.reference import COMPLAINT_ASSIGNEES, HOTLINE


def build_complaint(b: CaseBuilder, t0: int, tag: str) -> Case:
    rng, cal = b.rng, b.cal
    category = rng.choices(("simple", "heavy", "multi_dept"), (62, 28, 10))[0]
    limit = {"simple": 7, "heavy": 10, "multi_dept": 30}[category]
    case = b.new_case("complaint", tag, t0, HOTLINE)
    d0 = b.day(t0)
    base = cal.count_upto(d0)  # index of the first working day after acceptance
    cur = base - 1 if cal.is_workday(d0) else base
    last = base + limit - 1
    operator = b.officer(HOTLINE)
    assignee = rng.choice(COMPLAINT_ASSIGNEES)
    handler = b.officer(assignee)
    t = b.ev(case, "accept", t0, HOTLINE, {"category": category}, operator)
    # assign within one working day, unless STEP
    if tag == "STEP":
        assign_day = cal.wd(base + rng.randint(1, 3))
    elif rng.random() < 0.8:
        assign_day = d0
    else:
        assign_day = cal.wd(base)
    assigned = {"assignee_dept": assignee}
    t = b.ev(case, "assign", b.after(t, assign_day), HOTLINE, assigned, operator)
    cur = max(cur, cal.count_upto(assign_day) - 1)
    t, cur, last, done = extensions(
        b, case, t, HOTLINE, operator, cur, last, (3, 10), (3, 15), 0.05
    )
    cal.wd(max(last + 3, done, base))
    reply_idx = b.between(cur, done)
    if tag != "SKIP":
        t = b.ev(case, "reply", b.after(t, cal.wd(reply_idx)), assignee, None, handler)
    done_at = b.after(t, cal.wd(max(done, reply_idx)))
    b.ev(case, "complete", done_at, HOTLINE, None, operator)
    return case
