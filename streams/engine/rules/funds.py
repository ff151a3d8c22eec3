"""Funds (rules.md §3.3): OVER_DISBURSEMENT, PAYEE_MISMATCH, DUPLICATE_DISBURSEMENT.

DUPLICATE_DISBURSEMENT looks across cases: ``disbursement_fact`` emits each
disbursement under ``dup|<program>|<payee>|<amount>`` and
``duplicate_disbursement`` judges it against that key's window.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from streams.engine.facts import Fact, amount_key
from streams.engine.model import RED, YELLOW, Alert, Event
from streams.engine.rules.context import CrossRule, Pack, RuleContext, raise_once
from streams.engine.state import EMPTY, MAX_EVIDENCE, CaseState, to_decimal


def record_program(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """Remember the `program` of the case's `apply` (DUPLICATE_DISBURSEMENT compares it)."""
    state.known()["program"] = event.attrs.get("program")


def record_approval(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """Remember the approved amount and payee (PAYEE_MISMATCH, OVER_DISBURSEMENT)."""
    known = state.known()
    known["approved_amount"] = str(to_decimal(event.attrs["approved_amount"]))
    known["approved_payee"] = event.attrs["payee"]
    known["approve_event"] = event.event_id


def record_disbursement(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """Add a disbursement to the case's total (and its event to the evidence)."""
    known = state.known()
    total = to_decimal(known.get("disbursed", "0")) + to_decimal(event.attrs["amount"])
    known["disbursed"] = str(total)
    events = known.setdefault("disburse_events", [])
    if len(events) < MAX_EVIDENCE:
        events.append(event.event_id)


def payee_mismatch(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """PAYEE_MISMATCH — "red | a `disburse` whose `payee` ≠ the approved `payee` | (case)"
    (rules.md §3.3)."""
    known = state.known()
    approved_payee = known.get("approved_payee")
    if (
        approved_payee is not None
        and event.attrs["payee"] != approved_payee
        and ctx.once(state, "PAYEE_MISMATCH")
    ):
        details = {
            "approved_payee": approved_payee,
            "payee": event.attrs["payee"],
            "amount": str(to_decimal(event.attrs["amount"])),
        }
        evidence = [known["approve_event"], event.event_id]
        alerts.append(ctx.alert("PAYEE_MISMATCH", RED, event, evidence, details))


def over_disbursement(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """OVER_DISBURSEMENT — "red | the case's disbursed total exceeds its `approved_amount`;
    raised at the disbursement that crosses | (case)" (rules.md §3.3)."""
    known = state.known()
    approved = known.get("approved_amount")
    total = Decimal(known["disbursed"])
    if approved is not None and total > Decimal(approved) and ctx.once(state, "OVER_DISBURSEMENT"):
        details = {
            "approved_amount": approved,
            "disbursed_total": str(total),
            "amount": str(to_decimal(event.attrs["amount"])),
        }
        evidence = [known["approve_event"], *known["disburse_events"]]
        alerts.append(ctx.alert("OVER_DISBURSEMENT", RED, event, evidence, details))


def disbursement_fact(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """DUPLICATE_DISBURSEMENT, case half: a disbursement of a case with a `program`."""
    program = (state.facts or EMPTY).get("program")
    if program is None or "DUPLICATE_DISBURSEMENT" not in ctx.enabled:
        return
    attrs = event.attrs
    amount = amount_key(to_decimal(attrs["amount"]))
    data = {"program": program, "payee": attrs["payee"], "amount": amount}
    key = f"dup|{program}|{attrs['payee']}|{amount}"
    facts.append(
        Fact(key, event.occurred_at, "disburse", data, event.event_id, event.case_id, event.dept)
    )


def duplicate_disbursement(
    ctx: RuleContext, key_state: dict[str, Any], entries: list[list[Any]], fact: Fact
) -> list[Alert]:
    """DUPLICATE_DISBURSEMENT — "yellow | a `disburse` with the same `payee` and `amount` as a
    disbursement of **another** case of the same `program` (the `program` of each case's
    `apply`) in the 30 × 24 h before it | (case)" (rules.md §3.3).

    ``entries``: ``[occurred_at, case_id, event_id]`` of the key's disbursements in the
    window (``window_hours``, 720).
    """
    others = [e for e in entries if e[1] != fact.case_id]
    entries.append([fact.occurred_at, fact.case_id, fact.event_id])
    if not others or not raise_once(key_state, fact):
        return []
    other = others[-1]
    details = {
        **fact.data,
        "other_case_id": other[1],
        "other_disbursed_at": ctx.local.format(other[0]),
        "window_hours": ctx.param("DUPLICATE_DISBURSEMENT", "window_hours"),
    }
    evidence = [fact.event_id, other[2]]
    return [
        ctx.fact_alert(
            "DUPLICATE_DISBURSEMENT", YELLOW, "fund_disbursement", fact, evidence, details
        )
    ]


PACK: Pack = Pack(
    "fund_disbursement",
    on_event={
        "approve": (record_approval,),
        "disburse": (record_disbursement, payee_mismatch, over_disbursement),
    },
    facts={"apply": (record_program,), "disburse": (disbursement_fact,)},
    remembers=True,
)
CROSS: tuple[CrossRule, ...] = (
    CrossRule("dup", "DUPLICATE_DISBURSEMENT", "window_hours", duplicate_disbursement),
)
