"""Special-fund disbursements (专项资金拨付): apply, review, approve, disburse, publicize.

Violations: STEP (disbursed 11-15 working days after approval), SKIP (no
review), OVERPAY, PAYEE (a tranche to another payee) and DUPPAY: two cases of
one program, payee and amount paid within 30 days (the later one raises).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from streams.workload.builder import Case, CaseBuilder
from streams.workload.calendar import OutOfYear
from streams.workload.reference import FUND_PROGRAMS


def build_fund(b: CaseBuilder, t0: int, tag: str) -> list[Case]:
    """One 拨付单, or for DUPPAY two paying the same amount to the same payee."""
    rng, cal = b.rng, b.cal
    program, owner, lo, hi = rng.choice(FUND_PROGRAMS)
    payee = b.payee()
    yuan = int(lo * (hi / lo) ** rng.random())
    cents = yuan * 100 if rng.random() < 0.5 else yuan * 100 + rng.randrange(100)
    request = _Request(program, owner, payee, cents)
    if tag != "DUPPAY":
        return [_fund_case(b, t0, tag, request)]
    request.cents = b.guards.unique_payment(program, payee, cents, t0, _nudge(b))
    first = _fund_case(b, t0, tag, request, single=True)
    paid_at = next(t for t, ev in first.events if ev["action"] == "disburse")
    day = cal.index_on_or_after(b.day(t0) + rng.randint(1, 7))
    second_start = b.after(t0, cal.wd(day))
    second = _fund_case(b, second_start, tag, request, single=True, pay_after=paid_at)
    return [first, second]


@dataclass(slots=True)
class _Request:
    """What a 拨付单 asks for: program, owning department, payee, amount in cents."""

    program: str
    owner: str
    payee: str
    cents: int


def _nudge(b: CaseBuilder) -> Callable[[], int]:
    return lambda: b.rng.randint(1, 99)


def _tranches(b: CaseBuilder, tag: str, approved: int, single: bool) -> list[int]:
    rng = b.rng
    if tag == "OVERPAY":
        first_part = int(approved * rng.uniform(0.5, 0.9))
        return [first_part, approved - first_part + rng.randint(1_000, 50_000) * 100]
    if single or rng.random() < 0.7:
        return [approved]
    first_part = int(approved * rng.uniform(0.3, 0.7))
    return [first_part, approved - first_part]


def _first_payment_index(b: CaseBuilder, tag: str, approve_idx: int, pay_after: int) -> int:
    """Working-day index of the first tranche; ``pay_after``: 1-27 days after that instant."""
    rng, cal = b.rng, b.cal
    if tag == "STEP":
        return approve_idx + rng.randint(11, 15)
    if pay_after:
        paid_day = b.day(pay_after)
        cur = max(approve_idx + 1, cal.count_upto(paid_day)) + rng.randint(0, 2)
        if cur > approve_idx + 10 or cal.wd(cur) > paid_day + 27:
            raise OutOfYear("duplicate payment outside its window")
        return cur
    return approve_idx + rng.randint(1, 8)


def _fund_case(
    b: CaseBuilder,
    t0: int,
    tag: str,
    request: _Request,
    single: bool = False,
    pay_after: int = 0,
) -> Case:
    rng, cal = b.rng, b.cal
    program, owner, payee, cents = request.program, request.owner, request.payee, request.cents
    case = b.new_case("fund_disbursement", tag, t0, owner)
    actor = b.officer(owner)
    cz_actor = b.officer("CZJ")
    cur = cal.count_upto(b.day(t0)) - 1
    applied = {"amount": b.amount(cents), "payee": payee, "program": program}
    t = b.ev(case, "apply", t0, owner, applied, actor)
    cur += rng.randint(1, 5)
    if tag != "SKIP":
        t = b.ev(case, "review", b.after(t, cal.wd(cur)), owner, None, actor)
    cur += rng.randint(1, 5)
    approved = cents if single or rng.random() < 0.7 else int(cents * rng.uniform(0.6, 0.99))
    approve_idx = cur
    at = b.after(t, cal.wd(cur))
    decision = {"approved_amount": b.amount(approved), "payee": payee}
    t = b.ev(case, "approve", at, "CZJ", decision, cz_actor)
    cal.wd(approve_idx + 10)
    tranches = _tranches(b, tag, approved, single)
    cur = _first_payment_index(b, tag, approve_idx, pay_after)
    paid: list[tuple[str, int, int]] = []
    for n, part in enumerate(tranches):
        if n:
            cur += rng.randint(1, 10)
        pay_to = payee
        if tag == "PAYEE" and n == len(tranches) - 1:
            while pay_to == payee:
                pay_to = b.payee()
        when = b.after(t, cal.wd(cur))
        if tag != "DUPPAY":
            part = b.guards.unique_payment(program, pay_to, part, when, _nudge(b))
        t = b.ev(
            case, "disburse", when, "CZJ", {"amount": b.amount(part), "payee": pay_to}, cz_actor
        )
        paid.append((pay_to, part, when))
    cur += rng.randint(1, 5)
    b.ev(case, "publicize", b.after(t, cal.wd(cur)), owner, None, actor)
    for pay_to, part, when in paid:
        b.guards.record_payment(program, pay_to, part, when)
    return case
