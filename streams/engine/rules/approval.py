"""Approval conduct (rules.md §3.2): REFUSAL_WITHOUT_REASON, REPEATED_SUPPLEMENT."""

from __future__ import annotations

from streams.engine.facts import Fact
from streams.engine.model import YELLOW, Alert, Event
from streams.engine.rules.context import Pack, RuleContext
from streams.engine.state import CaseState


def refusal_without_reason(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """REFUSAL_WITHOUT_REASON 否定未报备 — "yellow | `approval.reject` whose `reason` is
    missing or blank | (case)" (rules.md §3.2)."""
    reason = event.attrs.get("reason")
    if (reason is None or not str(reason).strip()) and ctx.once(state, "REFUSAL_WITHOUT_REASON"):
        alerts.append(
            ctx.alert("REFUSAL_WITHOUT_REASON", YELLOW, event, [event.event_id], {"reason": reason})
        )


def repeated_supplement(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """REPEATED_SUPPLEMENT 未一次性告知 — "yellow | the second `supplement_request` of a
    case | (case)" (rules.md §3.2). The second is ``nth_request`` (2); evidence: the
    first request and this one."""
    known = state.known()
    requests = known.get("supplement_requests", 0) + 1
    known["supplement_requests"] = requests
    if requests == 1:
        known["first_supplement"] = event.event_id
    nth = ctx.param("REPEATED_SUPPLEMENT", "nth_request")
    if requests >= nth and ctx.once(state, "REPEATED_SUPPLEMENT"):
        details = {"count": requests, "items": event.attrs.get("items")}
        evidence = [known["first_supplement"], event.event_id]
        alerts.append(ctx.alert("REPEATED_SUPPLEMENT", YELLOW, event, evidence, details))


PACK: Pack = Pack(
    "approval",
    on_event={
        "reject": (refusal_without_reason,),
        "supplement_request": (repeated_supplement,),
    },
    facts={},
)
