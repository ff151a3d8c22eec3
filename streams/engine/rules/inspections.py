"""Enterprise inspections (rules.md §3.5, and UNAUTHORIZED_INSPECTION of §3.1):
QUIET_DAY_INSPECTION, UNAUTHORIZED_INSPECTION, FREQUENT_INSPECTION.

Exempt categories (``exempt_categories``: safety, environment, unified) are
judged by none of them. Two rules look across cases:

- UNAUTHORIZED_INSPECTION: every event of an ``inspection_plan`` case is a
  ``plan|<plan_id>`` fact (``plan_fact``), an inspection start that names a plan
  is a ``check`` fact of that key (``unauthorized_inspection``), and
  ``judge_plan_check`` judges the check on the plan's events before it;
- FREQUENT_INSPECTION: each start is an ``ent|<enterprise_id>`` fact
  (``start_fact``) judged by ``frequent_inspection`` over that key's window.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from streams.engine.facts import Fact
from streams.engine.model import RED, YELLOW, Alert, Event
from streams.engine.rules.context import CrossRule, Pack, RuleContext, raise_once
from streams.engine.state import ONCE, CaseState
from streams.engine.timeutil import format_date


def is_quiet_day(ctx: RuleContext, day: int) -> bool:
    """A configured quiet date, or a day of the month in a quiet range (default 1–5)."""
    if day in ctx.config.quiet_dates:
        return True
    dom = date.fromordinal(day).day
    return any(first <= dom <= last for first, last in ctx.config.quiet_month_days)


def quiet_day_inspection(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """QUIET_DAY_INSPECTION 企业安宁日 — "yellow | a non-exempt `inspection.start` on a quiet
    day (default: days 1–5 of every month; configurable dates and day ranges) | (case)"
    (rules.md §3.5)."""
    attrs = event.attrs
    if attrs.get("category") in ctx.exempt or "QUIET_DAY_INSPECTION" not in ctx.enabled:
        return
    day = ctx.local.date_of(event.occurred_at)
    if is_quiet_day(ctx, day) and ctx.once(state, "QUIET_DAY_INSPECTION"):
        details = {
            "date": format_date(day),
            "enterprise_id": attrs["enterprise_id"],
            "category": attrs["category"],
        }
        alerts.append(ctx.alert("QUIET_DAY_INSPECTION", YELLOW, event, [event.event_id], details))


def unauthorized_inspection(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """UNAUTHORIZED_INSPECTION, case half (rules.md §3.1; the rule's line is quoted at
    ``judge_plan_check``): a non-exempt start without a `plan_id` raises
    ``no_plan_reference`` here; one with a `plan_id` emits a ``check`` fact of
    ``plan|<plan_id>`` for the judgement."""
    attrs = event.attrs
    if (
        attrs.get("category") in ctx.exempt
        or "UNAUTHORIZED_INSPECTION" not in ctx.enabled
        or state.raised & ONCE["UNAUTHORIZED_INSPECTION"]
    ):
        return
    plan_id = attrs.get("plan_id")
    if plan_id is None:
        state.raised |= ONCE["UNAUTHORIZED_INSPECTION"]
        details = {
            "reason": "no_plan_reference",
            "enterprise_id": attrs["enterprise_id"],
            "category": attrs["category"],
        }
        alerts.append(ctx.alert("UNAUTHORIZED_INSPECTION", RED, event, [event.event_id], details))
        return
    data = {
        "enterprise_id": attrs["enterprise_id"],
        "category": attrs["category"],
        "plan_id": plan_id,
        "date": format_date(ctx.local.date_of(event.occurred_at)),
    }
    facts.append(
        Fact(
            "plan|" + plan_id,
            event.occurred_at,
            "check",
            data,
            event.event_id,
            event.case_id,
            event.dept,
        )
    )


def plan_fact(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """UNAUTHORIZED_INSPECTION, plan half: each event of an inspection plan, with the
    attributes an approval supplies."""
    attrs = event.attrs
    kept: dict[str, Any] = {
        k: attrs[k]
        for k in ("inspecting_dept", "enterprise_ids", "valid_from", "valid_to")
        if k in attrs
    }
    facts.append(
        Fact(
            "plan|" + event.case_id,
            event.occurred_at,
            "plan",
            {"action": event.action, **kept},
            event.event_id,
            event.case_id,
            event.dept,
        )
    )


def judge_plan_check(
    ctx: RuleContext, key_state: dict[str, Any], entries: list[list[Any]], fact: Fact
) -> list[Alert]:
    """UNAUTHORIZED_INSPECTION — "red | `inspection.start` with category not in {`safety`,
    `environment`, `unified`} and no valid authorization, judged on the plan's events with
    `occurred_at` strictly before the start (its latest `approve` supplies the attributes).
    `details.reason` is the first that holds of: `no_plan_reference` (no `plan_id`),
    `plan_not_approved` (no such plan, or no `approve` yet), `plan_revoked`,
    `dept_mismatch` (`inspecting_dept` ≠ the event's `dept`), `enterprise_not_in_plan`,
    `outside_window` (start date outside [`valid_from`, `valid_to`]). Raised at the
    start. | (case)" (rules.md §3.1).

    ``entries``: ``[occurred_at, action, event_id, attributes]`` of the plan's events,
    kept for ``plan_retention_hours``. A ``plan`` fact is recorded; a ``check`` is judged.
    """
    if fact.kind == "plan":
        entries.append([fact.occurred_at, fact.data["action"], fact.event_id, fact.data])
        return []
    before = [e for e in entries if e[0] < fact.occurred_at]
    approvals = [e for e in before if e[1] == "approve"]
    reason = None
    plan: dict[str, Any] = {}
    if not approvals:
        reason = "plan_not_approved"
    else:
        latest = approvals[0]
        for entry in approvals:  # the latest approve; among equal instants the one read last
            if entry[0] >= latest[0]:
                latest = entry
        plan = latest[3]
        if any(e[1] == "revoke" for e in before):
            reason = "plan_revoked"
        elif plan.get("inspecting_dept") != fact.dept:
            reason = "dept_mismatch"
        elif fact.data["enterprise_id"] not in plan.get("enterprise_ids", []):
            reason = "enterprise_not_in_plan"
        elif not plan.get("valid_from", "") <= fact.data["date"] <= plan.get("valid_to", ""):
            reason = "outside_window"
    if reason is None or not raise_once(key_state, fact):
        return []
    details = {
        "reason": reason,
        "plan_id": fact.data["plan_id"],
        "enterprise_id": fact.data["enterprise_id"],
        "category": fact.data["category"],
    }
    if plan:
        details.update(
            inspecting_dept=plan.get("inspecting_dept"),
            valid_from=plan.get("valid_from"),
            valid_to=plan.get("valid_to"),
        )
    evidence = [fact.event_id] + [e[2] for e in approvals[-1:]]
    return [ctx.fact_alert("UNAUTHORIZED_INSPECTION", RED, "inspection", fact, evidence, details)]


def start_fact(
    ctx: RuleContext, state: CaseState, event: Event, alerts: list[Alert], facts: list[Fact]
) -> None:
    """FREQUENT_INSPECTION, case half: a non-exempt inspection start at an enterprise."""
    attrs = event.attrs
    if attrs.get("category") in ctx.exempt or "FREQUENT_INSPECTION" not in ctx.enabled:
        return
    enterprise = attrs["enterprise_id"]
    data = {"enterprise_id": enterprise, "category": attrs.get("category")}
    facts.append(
        Fact(
            "ent|" + enterprise,
            event.occurred_at,
            "start",
            data,
            event.event_id,
            event.case_id,
            event.dept,
        )
    )


def frequent_inspection(
    ctx: RuleContext, key_state: dict[str, Any], entries: list[list[Any]], fact: Fact
) -> list[Alert]:
    """FREQUENT_INSPECTION 高频入企 — "yellow | a non-exempt `inspection.start` that is the
    third or later non-exempt start at that enterprise (any department) in the 30 × 24 h
    up to and including it | (case)" (rules.md §3.5).

    ``entries``: ``[occurred_at, case_id, event_id, dept]`` of the enterprise's starts in
    the window (``window_hours``, 720); third is ``min_count``.
    """
    entries.append([fact.occurred_at, fact.case_id, fact.event_id, fact.dept])
    minimum = ctx.param("FREQUENT_INSPECTION", "min_count")
    if len(entries) < minimum or not raise_once(key_state, fact):
        return []
    details = {
        "enterprise_id": fact.data["enterprise_id"],
        "count": len(entries),
        "window_hours": ctx.param("FREQUENT_INSPECTION", "window_hours"),
        "inspections": [
            {"case_id": e[1], "dept": e[3], "started_at": ctx.local.format(e[0])} for e in entries
        ],
    }
    evidence = [e[2] for e in entries]
    return [ctx.fact_alert("FREQUENT_INSPECTION", YELLOW, "inspection", fact, evidence, details)]


INSPECTION: Pack = Pack(
    "inspection",
    on_event={"start": (quiet_day_inspection, unauthorized_inspection)},
    facts={"start": (start_fact,)},
)
INSPECTION_PLAN: Pack = Pack("inspection_plan", on_event={}, facts={"*": (plan_fact,)})
CROSS: tuple[CrossRule, ...] = (
    CrossRule("ent", "FREQUENT_INSPECTION", "window_hours", frequent_inspection),
    # Not a sliding window: a plan's events are kept for its retention after the last one.
    CrossRule("plan", "UNAUTHORIZED_INSPECTION", "plan_retention_hours", judge_plan_check, False),
)
