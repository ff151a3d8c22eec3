"""Approval conduct (rules.md §3.2): REFUSAL_WITHOUT_REASON, REPEATED_SUPPLEMENT; and
the approval rules of §3.6: DEEMED_APPROVAL, DENIED_AFTER_DEEMED, LIMIT_NOT_COMPRESSED.

The item catalogue (``config.catalogue``) is read at ``accept``: it may turn 超时默许 on
or off for the case's item (else the template's ``deemed_approval`` decides; the case
remembers ``deemed`` in its facts) and gives the longest promise the item allows. The
case clock raises DEEMED_APPROVAL together with OVERDUE yellow (``clock.py``).
"""

from __future__ import annotations

from typing import Any

from streams.engine.config import CatalogueItem
from streams.engine.facts import Fact
from streams.engine.model import NOTICE, RED, YELLOW, Alert, Event
from streams.engine.rules.context import Pack, RuleContext
from streams.engine.state import ONCE, CaseState
from streams.engine.timeutil import format_date

_DEEMED_BIT = ONCE["DEEMED_APPROVAL"]


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


def _item(ctx: RuleContext, event: Event) -> CatalogueItem | None:
    item_code = event.attrs.get("item_code")
    return ctx.catalogue.get(item_code) if isinstance(item_code, str) else None


def deemed_applies(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """At ``accept`` of a case with a clock: whether 超时默许 applies (its item's
    ``deemed_approval`` in the catalogue, else the template's); remembered as ``deemed``."""
    if state.last is None or "DEEMED_APPROVAL" not in ctx.enabled:
        return
    deemed = ctx.config.templates[state.process].deemed_approval
    item = _item(ctx, event) if ctx.catalogue else None
    if item is not None and item.deemed_approval is not None:
        deemed = item.deemed_approval
    if deemed:
        state.known()["deemed"] = True


def limit_not_compressed(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """LIMIT_NOT_COMPRESSED 承诺时限未压缩 — "yellow | an `approval.accept` whose
    `item_code` is in the item catalogue and whose `time_limit_days` exceeds the item's
    allowed promise: its `max_promised_days` if given, else its `legal_limit_days` L
    reduced per the compression table (default: L ≤ 2 → L; 3..7 → L − 1; 8..15 → L − 3;
    16..30 → L − 5; 31..90 → L − 10; > 90 → L − 30); raised at the accept. The default
    configuration ships an empty catalogue; operators load theirs as data | (case)"
    (rules.md §3.6). The allowed promise is worked out at load (``catalogue.py``)."""
    if not ctx.catalogue:
        return
    item = _item(ctx, event)
    promised = event.attrs.get("time_limit_days")
    if item is None or not isinstance(promised, int) or promised <= item.allowed_days:
        return
    if not ctx.once(state, "LIMIT_NOT_COMPRESSED"):
        return
    details: dict[str, Any] = {
        "item_code": item.code,
        "item_name": item.name,
        "time_limit_days": promised,
        "legal_limit_days": item.legal_limit_days,
        "allowed_days": item.allowed_days,
    }
    if item.max_promised_days is not None:
        details["max_promised_days"] = item.max_promised_days
    alerts.append(ctx.alert("LIMIT_NOT_COMPRESSED", YELLOW, event, [event.event_id], details))


def deemed_approval(ctx: RuleContext, state: CaseState, instant: int, alerts: list[Alert]) -> None:
    """DEEMED_APPROVAL 超时默许 — "notice | `OVERDUE` yellow is raised for an `approval`
    case that has no `decide` yet and where 超时默许 applies: off by default
    (jurisdictions differ); turned on for all approvals by `deemed_approval = true` in the
    approval template, and per item by the item catalogue, which may also exempt an item:
    the application is deemed approved at D; raised at D | (case)" (rules.md §3.6).

    The clock calls this with the yellow card, for a case whose facts say ``deemed``."""
    template = ctx.config.templates[state.process]
    decide = template.bit.get("decide", 0)
    if state.seen & decide or not ctx.once(state, "DEEMED_APPROVAL"):
        return
    assert state.last is not None
    details = {"deadline": ctx.local.format(instant), "last_day": format_date(state.last)}
    evidence = list(state.clock_evidence or [])
    alerts.append(
        ctx.timed_alert("DEEMED_APPROVAL", NOTICE, state, state.dept, instant, evidence, details)
    )
    state.known()["deemed_at"] = instant


def denied_after_deemed(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """DENIED_AFTER_DEEMED 默许后否决 — "red | a `decide` with `decision: deny`, or a
    `reject`, in a case whose `DEEMED_APPROVAL` was raised before it; raised at the action
    | (case)" (rules.md §3.6)."""
    if not state.raised & _DEEMED_BIT:
        return
    if event.action == "decide" and event.attrs.get("decision") != "deny":
        return
    if not ctx.once(state, "DENIED_AFTER_DEEMED"):
        return
    deemed_at = (state.facts or {}).get("deemed_at")
    details = {
        "action": event.action,
        "deemed_at": ctx.local.format(deemed_at) if isinstance(deemed_at, int) else "?",
    }
    evidence = [(state.clock_evidence or [""])[0], event.event_id]
    alerts.append(ctx.alert("DENIED_AFTER_DEEMED", RED, event, evidence, details))


PACK: Pack = Pack(
    "approval",
    on_event={
        "accept": (deemed_applies, limit_not_compressed),
        "decide": (denied_after_deemed,),
        "reject": (refusal_without_reason, denied_after_deemed),
        "supplement_request": (repeated_supplement,),
    },
    facts={},
)
