"""Public procurement (政府采购 / 公共资源交易): announce, bids, open, evaluate, award, contract.

Violations: STEP (contract 31-45 days after award), SKIP (open or evaluate
missing), SHORTBID, FEWBIDS, LATEBID, OVERCONTRACT, SUPPLIER, and SPLIT: 3-5
direct or single-source purchases of one buyer from one supplier, each below
2,000,000 yuan and together above it (the crossing one raises SPLIT_PURCHASE).
"""

from __future__ import annotations

from typing import Any

from streams.workload.builder import Case, CaseBuilder
from streams.workload.config import SPLIT_THRESHOLD
from streams.workload.reference import TENDER_BUYERS

BIDDING = ("open", "invited", "competitive_negotiation")
BUDGET_YUAN = {
    "open": (1_000_000, 50_000_000),
    "invited": (500_000, 10_000_000),
    "competitive_negotiation": (200_000, 3_000_000),
    "single_source": (100_000, 1_500_000),
    "direct": (10_000, 400_000),
}
Bid = tuple[int, str, int]  # (instant, bidder, cents)


def build_tender(b: CaseBuilder, t0: int, tag: str) -> list[Case]:
    if tag == "SPLIT":
        return _split_purchase(b, t0)
    rng = b.rng
    if tag in ("SHORTBID", "FEWBIDS"):
        method = rng.choices(("open", "invited"), (75, 25))[0]
    elif tag in ("LATEBID", "SKIP"):
        method = rng.choices(("open", "invited", "competitive_negotiation"), (60, 15, 25))[0]
    else:
        method = rng.choices(
            ("open", "invited", "competitive_negotiation", "single_source", "direct"),
            (33, 10, 15, 10, 32),
        )[0]
    return [_tender_case(b, t0, tag, method)]


def _split_purchase(b: CaseBuilder, t0: int) -> list[Case]:
    rng, cal = b.rng, b.cal
    dept = rng.choice(TENDER_BUYERS)
    k = rng.randint(3, 5)
    ceiling = 1_900_000 // (k - 1)
    parts = [rng.randint(250_000, ceiling) * 100 for _ in range(k - 1)]
    parts.append(SPLIT_THRESHOLD - sum(parts) + rng.randint(0, 150_000) * 100)
    winner = b.supplier()
    while b.guards.awarded(dept, winner):
        winner = b.supplier()
    cases = []
    t = t0
    for n, part in enumerate(parts):
        if n:
            day = b.day(t) + rng.randint(10, 45)
            t = b.wtime(cal.wd(cal.index_on_or_after(day)))
        method = "direct" if rng.random() < 0.7 else "single_source"
        cases.append(_tender_case(b, t, "SPLIT", method, dept, winner, part))
    return cases


def _direct_winner(b: CaseBuilder, dept: str, cents: int, when: int) -> str:
    """A supplier whose direct awards from ``dept`` stay well below the split threshold."""
    while True:
        winner = b.supplier()
        if b.guards.below_split_threshold(dept, winner, cents, when):
            return winner


def _deadline(b: CaseBuilder, tag: str, method: str, d0: int) -> int:
    """The bid deadline (09:30 of a working day), 20+ days out unless SHORTBID."""
    rng, cal = b.rng, b.cal
    if tag == "SHORTBID":  # the last working day on or before day 10..18: < 20 x 24 h
        deadline_day = cal.wd(cal.count_upto(d0 + rng.randint(10, 18)) - 1)
    else:
        period = rng.randint(5, 12) if method == "competitive_negotiation" else rng.randint(21, 35)
        deadline_day = cal.wd(cal.index_on_or_after(d0 + period))
    return b.t(deadline_day, 34_200)


def _bids(
    b: CaseBuilder, tag: str, method: str, t: int, deadline: int, budget: int
) -> tuple[list[Bid], Bid | None]:
    """The timely bids, and a late one (the LATEBID winner, or now and then a loser)."""
    rng = b.rng
    n_bids = rng.randint(1, 2) if tag == "FEWBIDS" else rng.randint(3, 8 if method == "open" else 5)
    bidders: list[str] = []
    while len(bidders) < n_bids:
        bidder = b.supplier()
        if bidder not in bidders:
            bidders.append(bidder)
    bids: list[Bid] = []
    span = deadline - t - 1_800
    for bidder in bidders:
        when = t + 600 + int(span * rng.random() ** 0.5)
        bids.append((when, bidder, int(budget * rng.uniform(0.78, 0.99)) // 100 * 100))
    latecomer = b.supplier()
    while latecomer in bidders:
        latecomer = b.supplier()
    if tag == "LATEBID":
        cheapest = min(bid[2] for bid in bids)
        late_at = deadline + rng.randint(60, 1_500)
        return bids, (late_at, latecomer, int(cheapest * rng.uniform(0.9, 0.99)) // 100 * 100)
    if rng.random() < 0.05:  # a late bid that is (rightly) not awarded
        late_at = deadline + rng.randint(60, 1_500)
        return bids, (late_at, latecomer, int(budget * rng.uniform(0.9, 0.99)) // 100 * 100)
    return bids, None


def _bidding(
    b: CaseBuilder,
    case: Case,
    dept: str,
    actor: str,
    t: int,
    deadline: int,
    budget: int,
    method: str,
) -> tuple[int, int, str, int]:
    """Bids, opening, evaluation and the choice of winner: (t, award day, winner, cents)."""
    rng, cal, tag = b.rng, b.cal, case.tag
    bids, late = _bids(b, tag, method, t, deadline, budget)
    all_bids = sorted(bids + ([late] if late else []))
    never_bid = tag == "LATEBID" and rng.random() < 0.3
    for when, bidder, amount in all_bids:
        if never_bid and late is not None and bidder == late[1]:
            continue
        b.ev(case, "bid", when, dept, {"bidder": bidder, "amount": b.amount(amount)}, None)
    t = max(w for w, _, _ in all_bids)
    t = b.ev(case, "open", max(t + 60, deadline + rng.randint(0, 1_800)), dept, None, actor)
    idx = cal.count_upto(b.day(t)) - 1 + rng.randint(0, 2)
    skip = rng.choice(("open", "evaluate")) if tag == "SKIP" else ""
    if skip == "open":  # drop the open event already placed
        case.events.pop()
    if skip != "evaluate":
        t = b.ev(case, "evaluate", b.after(t, cal.wd(idx)), dept, None, actor)
    idx += rng.randint(1, 5)
    if late is not None and tag == "LATEBID":
        _, winner, winner_cents = late
    else:
        ranked = sorted(bids, key=lambda bid: bid[2])
        pick = ranked[0] if rng.random() < 0.8 or len(ranked) == 1 else ranked[1]
        _, winner, winner_cents = pick
    return t, cal.wd(idx), winner, winner_cents


def _contract(
    b: CaseBuilder, case: Case, dept: str, actor: str, t: int, winner: str, winner_cents: int
) -> None:
    rng, cal, tag = b.rng, b.cal, case.tag
    award_date = b.day(t)
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
            supplier = b.supplier()
    if tag == "OVERCONTRACT":
        contract_cents = int(winner_cents * rng.uniform(1.12, 1.5))
    elif rng.random() < 0.85:
        contract_cents = winner_cents
    else:
        contract_cents = int(winner_cents * rng.uniform(0.95, 1.08))
    at = b.after(t, contract_day)
    terms = {"supplier": supplier, "amount": b.amount(contract_cents)}
    b.ev(case, "contract", at, dept, terms, actor)


def _tender_case(
    b: CaseBuilder,
    t0: int,
    tag: str,
    method: str,
    dept: str | None = None,
    winner: str | None = None,
    award_cents: int | None = None,
) -> Case:
    rng, cal = b.rng, b.cal
    dept = dept or rng.choice(TENDER_BUYERS)
    actor = b.officer(dept)
    case = b.new_case("tender", tag, t0, dept)
    lo, hi = BUDGET_YUAN[method]
    budget = int(lo * (hi / lo) ** rng.random()) // 1_000 * 1_000 * 100
    if award_cents is not None:
        budget = max(budget, (award_cents // 100_000 + 1) * 100_000)
    attrs: dict[str, Any] = {"method": method, "budget": b.amount(budget)}
    d0 = b.day(t0)
    bidding = method in BIDDING
    deadline = 0
    if bidding:
        deadline = _deadline(b, tag, method, d0)
        attrs["bid_deadline"] = b.fmt(deadline)
    t = b.ev(case, "announce", t0, dept, attrs, actor)
    winner_cents = award_cents
    if bidding:
        t, award_day, winner, winner_cents = _bidding(
            b, case, dept, actor, t, deadline, budget, method
        )
    else:
        award_day = cal.wd(cal.count_upto(d0) - 1 + rng.randint(1, 10))
        if winner is None:
            winner_cents = int(budget * rng.uniform(0.85, 1.0)) // 100 * 100
            winner = _direct_winner(b, dept, winner_cents, b.t(award_day, 0))
    assert winner is not None and winner_cents is not None
    at = b.after(t, award_day)
    t = b.ev(case, "award", at, dept, {"winner": winner, "amount": b.amount(winner_cents)}, actor)
    _contract(b, case, dept, actor, t, winner, winner_cents)
    if not bidding:
        b.guards.record_direct_award(dept, winner, t, winner_cents)
    return case
