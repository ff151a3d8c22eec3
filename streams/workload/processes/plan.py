"""Inspection plan groups (检查计划): an approved plan and the inspections under it.

A group carries at most one deliberate violation: UNAUTH_REVOKED (after the
plan's revocation), UNAUTH_DEPT (another department inspects), UNAUTH_ENT (an
enterprise outside the plan), UNAUTH_WINDOW (after the plan's window), QUIET
(on days 1-5 of a month), FREQ (three inspections of one enterprise within 30
days; the third raises FREQUENT_INSPECTION).
"""

from __future__ import annotations

from datetime import date

from streams.workload.builder import Case, CaseBuilder
from streams.workload.calendar import OutOfYear
from streams.workload.clocks import COMPLIANT
from streams.workload.processes.inspection import inspection_case, normal_day
from streams.workload.reference import INSPECTING_DEPTS, PLAN_APPROVER

ROOM = 8  # cases a plan group may need


class PlanGroup:
    """Builds one plan group starting at ``t0`` with planted ``tag``."""

    def __init__(self, b: CaseBuilder, t0: int, tag: str) -> None:
        self.b, self.rng, self.cal = b, b.rng, b.cal
        self.t0, self.tag = t0, tag
        self.latest = t0
        self.revoke_at: int | None = None

    def build(self) -> list[Case]:
        b, rng, cal, t0, tag = self.b, self.rng, self.cal, self.t0, self.tag
        self.dept = dept = rng.choice(INSPECTING_DEPTS)
        self.d0 = d0 = b.day(t0)
        self.valid_from = valid_from = d0 if rng.random() < 0.6 else cal.wd_after(d0, 1)
        self.valid_to = valid_to = cal.check(valid_from + self._length())
        self.enterprises = list(dict.fromkeys(b.enterprise() for _ in range(rng.randint(2, 10))))
        self.plan = plan = b.new_case("inspection_plan", "OK", t0, dept)
        attrs = {
            "inspecting_dept": dept,
            "enterprise_ids": self.enterprises,
            "valid_from": b.date(valid_from),
            "valid_to": b.date(valid_to),
        }
        b.ev(plan, "approve", t0, PLAN_APPROVER, attrs, b.officer(PLAN_APPROVER))
        self.cases = [plan]
        self.window_days = [
            o
            for o in range(max(valid_from, d0), valid_to + 1)
            if cal.is_workday(o) and date.fromordinal(o).day > 5
        ]
        if tag == "UNAUTH_REVOKED":
            self._plan_revocation()
        self._compliant_inspections()
        category = rng.choice(("routine", "special"))
        if tag == "FREQ":
            self._frequent_inspections(category)
        elif tag not in COMPLIANT:
            self._violating_inspection(category)
        self._revoke()
        return self.cases

    def _length(self) -> int:
        rng, tag = self.rng, self.tag
        length = rng.randint(14, 45)
        if tag == "FREQ":
            length = rng.randint(35, 50)
        elif tag == "QUIET":
            # make sure the window reaches the next month's quiet days
            nxt = date.fromordinal(self.valid_from)
            first_next = date(nxt.year + (nxt.month == 12), nxt.month % 12 + 1, 1).toordinal()
            length = max(length, first_next + 6 - self.valid_from)
        return length

    def _start_time(self, ordinal: int) -> int:
        return self.b.after(self.t0, ordinal)

    def _pick_start(self, enterprise: str) -> int | None:
        for _ in range(6):
            if not self.window_days:
                return None
            when = self._start_time(self.rng.choice(self.window_days))
            if self.b.guards.quiet_free(enterprise, when):
                return when
        return None

    def _add(self, when: int, tag: str, dept: str, enterprise: str, category: str) -> None:
        case = inspection_case(self.b, when, tag, dept, enterprise, category, self.plan.case_id)
        self.cases.append(case)
        self.latest = max(self.latest, when)

    def _plan_revocation(self) -> None:
        """UNAUTH_REVOKED: the plan is revoked in the first half of its window."""
        mid = self.window_days[: max(1, len(self.window_days) // 2)]
        if not mid:
            raise OutOfYear("window")
        revoke_day = self.rng.choice(mid)
        self.revoke_at = self.b.after(self.t0, revoke_day)
        self.window_days = [o for o in self.window_days if o > revoke_day]
        if not self.window_days:
            raise OutOfYear("window")

    def _compliant_inspections(self) -> None:
        b, rng, tag = self.b, self.rng, self.tag
        normal = rng.randint(1, min(len(self.enterprises), 4))
        if tag not in COMPLIANT and rng.random() < 0.5:
            normal = 0
        for enterprise in rng.sample(self.enterprises, normal):
            when = self._pick_start(enterprise)
            if when is None or (self.revoke_at is not None and when > self.revoke_at):
                continue
            sub_tag = "OPEN" if tag == "OPEN" or b.chance(b.open_share) else "OK"
            category = rng.choice(("routine", "routine", "special"))
            self._add(when, sub_tag, self.dept, enterprise, category)

    def _frequent_inspections(self, category: str) -> None:
        """FREQ: three inspections of one (not yet inspected) enterprise within 28 days."""
        b, rng = self.b, self.rng
        enterprise = rng.choice(self.enterprises)
        while b.guards.inspected(enterprise):
            enterprise = b.enterprise()
            self.enterprises.append(enterprise)
            self.plan.events[0][1]["attrs"]["enterprise_ids"] = self.enterprises
        days = [o for o in self.window_days if o >= self.window_days[0]]
        first = days[0] if len(days) < 6 else rng.choice(days[: len(days) // 3])
        chosen = [o for o in days if first <= o <= first + 28]
        if len(chosen) < 3:
            raise OutOfYear("window")
        for ordinal in sorted(rng.sample(chosen, 3)):
            self._add(self._start_time(ordinal), "FREQ", self.dept, enterprise, category)

    def _violating_inspection(self, category: str) -> None:
        b, rng, cal, tag = self.b, self.rng, self.cal, self.tag
        enterprise = rng.choice(self.enterprises)
        inspector = self.dept
        if tag == "UNAUTH_DEPT":
            inspector = rng.choice([d for d in INSPECTING_DEPTS if d != self.dept])
        elif tag == "UNAUTH_ENT":
            enterprise = b.enterprise()
        if tag == "QUIET":
            quiet = [
                o
                for o in range(max(self.valid_from, self.d0 + 1), self.valid_to + 1)
                if cal.is_workday(o) and date.fromordinal(o).day <= 5
            ]
            if not quiet:
                raise OutOfYear("window")
            when: int | None = self._start_time(rng.choice(quiet))
        elif tag == "UNAUTH_WINDOW":
            when = self._start_time(normal_day(b, self.valid_to + rng.randint(1, 20)))
        else:
            when = self._pick_start(enterprise) if self.window_days else None
        if when is None:
            raise OutOfYear("window")
        if not b.guards.quiet_free(enterprise, when):
            raise OutOfYear("busy enterprise")
        self._add(when, tag, inspector, enterprise, category)

    def _revoke(self) -> None:
        """The planted revocation, or now and then one after the plan has served."""
        b, rng, cal = self.b, self.rng, self.cal
        if self.revoke_at is not None:
            at = self.revoke_at
        elif rng.random() < 0.08:
            day = max(self.valid_to, b.day(self.latest)) + rng.randint(1, 10)
            at = b.after(self.latest, cal.wd(cal.index_on_or_after(day)))
        else:
            return
        b.ev(self.plan, "revoke", at, PLAN_APPROVER, None, b.officer(PLAN_APPROVER))
