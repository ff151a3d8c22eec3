"""The rules, one named function each, grouped by domain (rules.md §3).

| module           | rules                                                             |
| ---------------- | ----------------------------------------------------------------- |
| ``core``         | OVERDUE, STEP_OVERDUE, SKIPPED_STEP, LATE_EXTENSION (§3.1)        |
| ``approval``     | REFUSAL_WITHOUT_REASON, REPEATED_SUPPLEMENT (§3.2),               |
|                  | DEEMED_APPROVAL, DENIED_AFTER_DEEMED, LIMIT_NOT_COMPRESSED (§3.6) |
| ``tasks``        | REPORT_MISSING, RISK_NOT_REPORTED (§3.6)                          |
| ``funds``        | OVER_DISBURSEMENT, PAYEE_MISMATCH, DUPLICATE_DISBURSEMENT (§3.3)  |
| ``trading``      | SHORT_TENDER_PERIOD, TOO_FEW_BIDS, LATE_BID_AWARDED,              |
|                  | CONTRACT_EXCEEDS_AWARD, CONTRACT_SUPPLIER_MISMATCH,               |
|                  | SPLIT_PURCHASE (§3.4)                                             |
| ``inspections``  | QUIET_DAY_INSPECTION, FREQUENT_INSPECTION (§3.5),                 |
|                  | UNAUTHORIZED_INSPECTION (§3.1)                                    |

Timed rules (OVERDUE, STEP_OVERDUE, DEEMED_APPROVAL, REPORT_MISSING,
RISK_NOT_REPORTED) are raised by the case clock (``clock.py``) on the deadline index;
their modules say what each alert holds.

Each domain module ends with its ``Pack`` (which functions run for which action, in
order) and, for cross-case rules, its ``CrossRule`` entries; both halves of a
cross-case rule (the fact and the judgement) are in the same module. Adding a rule
is a function, a line in its module's table, and its entry in ``config.RULES`` and
the configuration file. ``CaseEngine`` and ``CrossEngine`` look the tables up once
per (process, action) and per key kind, not per event.
"""

from __future__ import annotations

from streams.engine.rules import approval, funds, inspections, trading
from streams.engine.rules.context import CaseRule, CrossRule, Pack

PACKS: dict[str, Pack] = {
    pack.process: pack
    for pack in (
        approval.PACK,
        funds.PACK,
        trading.PACK,
        inspections.INSPECTION,
        inspections.INSPECTION_PLAN,
    )
}
CROSS_RULES: dict[str, CrossRule] = {
    rule.kind: rule for rule in (*funds.CROSS, *trading.CROSS, *inspections.CROSS)
}


def rules_for(process: str, action: str) -> tuple[tuple[CaseRule, ...], tuple[CaseRule, ...]]:
    """The rules an event of (process, action) runs while its case is open, and the fact
    rules it runs also once the case ended."""
    pack = PACKS.get(process)
    if pack is None:
        return (), ()
    on_event = pack.on_event.get(action, ()) + pack.on_event.get("*", ())
    facts = pack.facts.get(action, ()) + pack.facts.get("*", ())
    return on_event, facts


def remembers(process: str) -> bool:
    """Whether the cases of ``process`` keep a ``facts`` dict from their first open event."""
    pack = PACKS.get(process)
    return pack is not None and pack.remembers
