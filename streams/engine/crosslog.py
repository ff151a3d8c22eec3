"""Late facts at a comparison key (rules.md §1.4): the key's fact log and its re-judging.

Cross-case judgements look only backwards (a fact is judged on the facts of its
key before it), so a fact that arrives after a later fact of its key was judged
changes the judgements of the facts after it, and only those. Each key keeps a
**log** of its facts in evaluation order (``occurred_at``, then arrival) with
the alert each one raised; the log reaches back two windows from the newest
fact (a plan key keeps all of it: the key expires as a whole).

A fact is then one of:

- **in order** (not before the newest): judged as before and appended;
- **the same** as one logged (its event read again after a restart): ignored;
- **late**, **revised** (its case, evaluated again, emits it with other content) or
  **retracted** (no longer emitted): the log changes at its place, and the
  facts from there on are judged again on the facts before them, as replay
  would judge them with the change in place. What the new judgements no longer
  raise is withdrawn; what they raise anew (or raise with other content) is
  raised, at its true instant. The key's entries and once-per-case memory
  become the new run's.

Cost: the facts of that key inside two windows, never other keys.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from streams.engine.facts import Fact
from streams.engine.model import (
    WITHDRAWN_LATE_INPUT,
    Alert,
    LateInput,
    Withdrawal,
    withdrawal_of,
)
from streams.engine.rules.context import CrossRule, RuleContext

# A logged fact: [occurred_at, kind, data, event_id, case_id, dept, may_alert, alert_id raised].
_AT, _KIND, _DATA, _EVENT, _CASE, _DEPT, _MAY, _RAISED = range(8)


class _Everyone:
    """A once-per-case memory in which every case has raised already: judging the facts
    before a change only rebuilds the window's entries."""

    def __contains__(self, case_id: object) -> bool:
        return True

    def append(self, case_id: object) -> None:
        return None


_EVERYONE = _Everyone()


def judge_fact(
    ctx: RuleContext, rule: CrossRule, window: int, state: dict[str, Any], fact: Fact
) -> list[Alert]:
    """Judge ``fact`` on ``state`` (entries before it, trimmed to a sliding window)."""
    entries: list[list[Any]] = state["entries"]
    if rule.sliding:
        horizon = fact.occurred_at - window
        if entries and entries[0][0] < horizon:
            # "raised" is kept until the whole key expires: a case raises a rule once, ever,
            # even when its earlier facts have left the window.
            entries[:] = [e for e in entries if e[0] >= horizon]
    return rule.judge(ctx, state, entries, fact)


def _logged(fact: Fact, raised: str) -> list[Any]:
    return [
        fact.occurred_at,
        fact.kind,
        fact.data,
        fact.event_id,
        fact.case_id,
        fact.dept,
        fact.may_alert,
        raised,
    ]


def _fact_of(key: str, item: list[Any]) -> Fact:
    return Fact(
        key, item[_AT], item[_KIND], item[_DATA], item[_EVENT], item[_CASE], item[_DEPT], item[_MAY]
    )


def _same(item: list[Any], fact: Fact) -> bool:
    same: bool = (
        item[_MAY] == fact.may_alert
        and item[_DEPT] == fact.dept
        and item[_CASE] == fact.case_id
        and item[_DATA] == fact.data
    )
    return same


def _find(log: list[list[Any]], fact: Fact) -> int:
    """The place of ``fact``'s event in the log (its kind, its instant), or -1."""
    at = fact.occurred_at
    lo = bisect_left(log, at, key=_instant)
    for i in range(lo, len(log)):
        item = log[i]
        if item[_AT] != at:
            break
        if item[_EVENT] == fact.event_id and item[_KIND] == fact.kind:
            return i
    return -1


def _instant(item: list[Any]) -> int:
    at: int = item[_AT]
    return at


class FactLog:
    """The fact logs of one ``CrossEngine``'s keys: what arrives, and the corrections."""

    def __init__(self, ctx: RuleContext) -> None:
        self.ctx = ctx
        self.withdrawals: list[Withdrawal] = []  # until the caller takes them
        self.corrected = 0  # late, revised or retracted facts judged again
        self.duplicates = 0  # facts logged already with the same content
        self.beyond = 0  # late facts before what the log keeps: not judged

    def apply(
        self, rule: CrossRule, window: int, state: dict[str, Any], fact: Fact, now: int
    ) -> list[Alert]:
        """``fact`` at its key (``state``): judged in order, ignored as the same, or a
        correction from its place on (withdrawals go to ``withdrawals``)."""
        log: list[list[Any]] = state.setdefault("log", [])
        at = fact.occurred_at
        place = _find(log, fact) if log and at <= log[-1][_AT] else -1
        if place >= 0:
            if not fact.retracted and _same(log[place], fact):
                self.duplicates += 1
                return []
            new_log = list(log)
            if fact.retracted:
                del new_log[place]
            else:
                new_log[place] = _logged(fact, "")
            return self._rejudge(rule, window, state, fact, new_log, place, now)
        if fact.retracted:
            return []  # never judged here: nothing to undo
        if rule.sliding and log and at < log[-1][_AT] - 2 * window:
            # Before what the log keeps: read again after a restart, or later than two
            # windows. Not judged (as before corrections existed); counted.
            self.beyond += 1
            return []
        if log and at < log[-1][_AT]:
            place = bisect_right(log, at, key=_instant)
            new_log = list(log)
            new_log.insert(place, _logged(fact, ""))
            return self._rejudge(rule, window, state, fact, new_log, place, now)
        alerts = judge_fact(self.ctx, rule, window, state, fact)
        log.append(_logged(fact, alerts[0].alert_id if alerts else ""))
        if rule.sliding and log[0][_AT] < at - 2 * window:
            log[:] = [item for item in log if item[_AT] >= at - 2 * window]
        return alerts

    def _rejudge(
        self,
        rule: CrossRule,
        window: int,
        state: dict[str, Any],
        fact: Fact,
        new_log: list[list[Any]],
        place: int,
        now: int,
    ) -> list[Alert]:
        """Judge the facts of ``new_log`` from ``place`` on again; the difference to the
        judgements of the log held (``state["log"]``) is withdrawn or raised."""
        self.corrected += 1
        ctx = self.ctx
        key = fact.key
        old_log: list[list[Any]] = state["log"]
        suffix_cases = {item[_CASE] for item in old_log[place:] if item[_RAISED]}
        prefix_raised = [c for c in state["raised"] if c not in suffix_cases]
        # The window's entries just before ``place``, rebuilt from the facts before it.
        scratch: dict[str, Any] = {"entries": [], "raised": _EVERYONE}
        first = 0
        if rule.sliding and place < len(new_log):
            first = bisect_left(new_log, new_log[place][_AT] - window, 0, place, key=_instant)
        for item in new_log[first:place]:
            judge_fact(ctx, rule, window, scratch, _fact_of(key, item))
        base: list[list[Any]] = scratch["entries"]

        before: dict[str, Alert] = {}
        old: dict[str, Any] = {"entries": list(base), "raised": list(prefix_raised)}
        for item in old_log[place:]:
            for alert in judge_fact(ctx, rule, window, old, _fact_of(key, item)):
                before.setdefault(alert.alert_id, alert)

        after: list[Alert] = []
        new: dict[str, Any] = {"entries": list(base), "raised": list(prefix_raised)}
        for i in range(place, len(new_log)):
            item = list(new_log[i])  # the held log's items stay as they were
            alerts = judge_fact(ctx, rule, window, new, _fact_of(key, item))
            item[_RAISED] = alerts[0].alert_id if alerts else ""
            new_log[i] = item
            after.extend(alerts)
        state["entries"] = new["entries"]
        state["raised"] = new["raised"]
        state["log"] = new_log

        event_id, occurred_at, arrived_at, reported_at = fact.late_input()
        by = [LateInput(event_id, occurred_at, reported_at or None, arrived_at)]
        raised_now = {alert.alert_id for alert in after}
        for alert_id, alert in before.items():
            if alert_id not in raised_now:
                self.withdrawals.append(withdrawal_of(alert, now, WITHDRAWN_LATE_INPUT, by))
        return [a for a in after if before.get(a.alert_id) != a]

    def take_withdrawals(self) -> list[Withdrawal]:
        out = self.withdrawals
        self.withdrawals = []
        return out
