"""Public-resource trading (rules.md §3.4): SHORT_TENDER_PERIOD, TOO_FEW_BIDS,
LATE_BID_AWARDED, CONTRACT_EXCEEDS_AWARD, CONTRACT_SUPPLIER_MISMATCH, SPLIT_PURCHASE.

SPLIT_PURCHASE looks across cases: ``award_fact`` emits each small direct award
under ``split|<dept>|<winner>`` and ``split_purchase`` judges that key's window.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from streams.engine.facts import Fact, amount_key
from streams.engine.model import RED, YELLOW, Alert, Event
from streams.engine.rules.context import CrossRule, Pack, RuleContext, raise_once
from streams.engine.state import EMPTY, CaseState, to_decimal
from streams.engine.timeutil import HOUR_US, parse_instant


def short_tender_period(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """SHORT_TENDER_PERIOD — "yellow | `announce` with method `open` or `invited` and
    `bid_deadline` − `occurred_at` < 20 × 24 h | (case)" (rules.md §3.4).

    Also remembers the announcement's method and bid deadline for the rules after it.
    """
    known = state.known()
    method = event.attrs["method"]
    known["method"] = method
    deadline_text = event.attrs.get("bid_deadline")
    deadline = parse_instant(deadline_text) if deadline_text else None
    known["bid_deadline"] = deadline
    known["announce_event"] = event.event_id
    if deadline is None or method not in ctx.param("SHORT_TENDER_PERIOD", "methods"):
        return
    now = event.occurred_at
    min_hours = ctx.param("SHORT_TENDER_PERIOD", "min_hours")
    if deadline - now < min_hours * HOUR_US and ctx.once(state, "SHORT_TENDER_PERIOD"):
        details = {
            "method": method,
            "bid_deadline": ctx.local.format(deadline),
            "period_hours": str(Decimal(deadline - now) / HOUR_US),
            "min_hours": min_hours,
        }
        alerts.append(ctx.alert("SHORT_TENDER_PERIOD", YELLOW, event, [event.event_id], details))


def record_bid(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """Remember each bidder's first and latest bid (TOO_FEW_BIDS, LATE_BID_AWARDED)."""
    bids = state.known().setdefault("bids", {})
    now = event.occurred_at
    bidder = event.attrs["bidder"]
    first, latest, bid_event = bids.get(bidder, (now, now, event.event_id))
    bids[bidder] = (min(first, now), max(latest, now), bid_event)


def too_few_bids(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """TOO_FEW_BIDS — "yellow | `open` of an `open`/`invited` tender with fewer than 3
    distinct bidders whose bids came at or before `bid_deadline` | (case)" (rules.md §3.4)."""
    known = state.known()
    deadline = known.get("bid_deadline")
    if known.get("method") not in ctx.param("TOO_FEW_BIDS", "methods") or deadline is None:
        return
    bids = known.get("bids", {})
    valid = sorted(b for b, (first, _, _) in bids.items() if first <= deadline)
    minimum = ctx.param("TOO_FEW_BIDS", "min_bidders")
    if len(valid) < minimum and ctx.once(state, "TOO_FEW_BIDS"):
        details = {
            "bidders": valid,
            "count": len(valid),
            "min_bidders": minimum,
            "bid_deadline": ctx.local.format(deadline),
        }
        evidence = [event.event_id] + [bids[b][2] for b in valid]
        alerts.append(ctx.alert("TOO_FEW_BIDS", YELLOW, event, evidence, details))


def late_bid_awarded(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """LATE_BID_AWARDED — "red | `award` in a tender whose `announce` has a `bid_deadline`, to
    a winner whose latest bid came after it, or who never bid | (case)" (rules.md §3.4).

    Also remembers the award (winner, amount) for the contract rules.
    """
    known = state.known()
    winner = event.attrs["winner"]
    known["winner"] = winner
    known["award_amount"] = str(to_decimal(event.attrs["amount"]))
    known["award_event"] = event.event_id
    deadline = known.get("bid_deadline")
    if deadline is None:
        return
    bid = known.get("bids", {}).get(winner)
    if (bid is None or bid[1] > deadline) and ctx.once(state, "LATE_BID_AWARDED"):
        details = {
            "winner": winner,
            "bid_deadline": ctx.local.format(deadline),
            "latest_bid_at": ctx.local.format(bid[1]) if bid else None,
            "reason": "no_bid" if bid is None else "late_bid",
        }
        evidence = [event.event_id] + ([bid[2]] if bid else [])
        alerts.append(ctx.alert("LATE_BID_AWARDED", RED, event, evidence, details))


def contract_exceeds_award(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """CONTRACT_EXCEEDS_AWARD — "yellow | `contract.amount` > 1.10 × award amount | (case)"
    (rules.md §3.4). The factor is ``max_ratio``."""
    known = state.known()
    award_amount = known.get("award_amount")
    amount = to_decimal(event.attrs["amount"])
    if award_amount is None:
        return
    ratio = ctx.param("CONTRACT_EXCEEDS_AWARD", "max_ratio")
    limit = Decimal(award_amount) * ratio
    if amount > limit and ctx.once(state, "CONTRACT_EXCEEDS_AWARD"):
        details = {
            "contract_amount": str(amount),
            "award_amount": award_amount,
            "max_ratio": str(ratio),
            "limit_amount": str(limit),
        }
        evidence = [known["award_event"], event.event_id]
        alerts.append(ctx.alert("CONTRACT_EXCEEDS_AWARD", YELLOW, event, evidence, details))


def contract_supplier_mismatch(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """CONTRACT_SUPPLIER_MISMATCH — "red | `contract.supplier` ≠ award `winner` | (case)"
    (rules.md §3.4)."""
    known = state.known()
    winner = known.get("winner")
    if (
        winner is not None
        and event.attrs["supplier"] != winner
        and ctx.once(state, "CONTRACT_SUPPLIER_MISMATCH")
    ):
        details = {"supplier": event.attrs["supplier"], "winner": winner}
        evidence = [known["award_event"], event.event_id]
        alerts.append(ctx.alert("CONTRACT_SUPPLIER_MISMATCH", RED, event, evidence, details))


def award_fact(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """SPLIT_PURCHASE, case half: an award of a `direct`/`single_source` tender below the
    threshold."""
    method = (state.facts or EMPTY).get("method")
    if "SPLIT_PURCHASE" not in ctx.enabled or method not in ctx.param("SPLIT_PURCHASE", "methods"):
        return
    amount = to_decimal(event.attrs["amount"])
    if amount >= ctx.param("SPLIT_PURCHASE", "threshold"):
        return
    winner = event.attrs["winner"]
    data = {"dept": event.dept, "winner": winner, "amount": amount_key(amount)}
    key = f"split|{event.dept}|{winner}"
    facts.append(
        Fact(key, event.occurred_at, "award", data, event.event_id, event.case_id, event.dept)
    )


def split_purchase(
    ctx: RuleContext, key_state: dict[str, Any], entries: list[list[Any]], fact: Fact
) -> list[Alert]:
    """SPLIT_PURCHASE 化整为零 — "red | an `award` of a `direct` or `single_source` tender,
    below 2,000,000 itself, after which the same `dept` and `winner` have ≥ 2,000,000 of
    such awards in the 365 × 24 h up to and including it | (case)" (rules.md §3.4).

    ``entries``: ``[occurred_at, case_id, event_id, amount]`` of the key's awards in the
    window (``window_hours``, 8760); the threshold is ``threshold``.
    """
    entries.append([fact.occurred_at, fact.case_id, fact.event_id, fact.data["amount"]])
    total = sum((Decimal(e[3]) for e in entries), Decimal(0))
    threshold: Decimal = ctx.param("SPLIT_PURCHASE", "threshold")
    if total < threshold or not raise_once(key_state, fact):
        return []
    details = {
        "dept": fact.data["dept"],
        "winner": fact.data["winner"],
        "amount": fact.data["amount"],
        "total": str(total),
        "threshold": str(threshold),
        "window_hours": ctx.param("SPLIT_PURCHASE", "window_hours"),
        "awards": [
            {"case_id": e[1], "amount": e[3], "awarded_at": ctx.local.format(e[0])} for e in entries
        ],
    }
    evidence = [e[2] for e in entries]
    return [ctx.fact_alert("SPLIT_PURCHASE", RED, "tender", fact, evidence, details)]


PACK: Pack = Pack(
    "tender",
    on_event={
        "announce": (short_tender_period,),
        "bid": (record_bid,),
        "open": (too_few_bids,),
        "award": (late_bid_awarded,),
        "contract": (contract_exceeds_award, contract_supplier_mismatch),
    },
    facts={"award": (award_fact,)},
    remembers=True,
)
CROSS: tuple[CrossRule, ...] = (
    CrossRule("split", "SPLIT_PURCHASE", "window_hours", split_purchase),
)
