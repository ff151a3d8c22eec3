"""What every rule is given: the configuration, the one-line alert, the once-per-case mark.

A case rule has the shape ``rule(ctx, state, event, alerts, facts)``: it reads the
event and the case's ``state``, may update the state, and appends the alerts it
raises and the facts it emits for cross-case rules. A cross-case judgement has
the shape ``judge(ctx, key_state, entries, fact) -> alerts``. No rule reads a
clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streams.engine.alerts import make_alert
from streams.engine.config import SupervisionConfig
from streams.engine.facts import Fact
from streams.engine.model import Alert, Event
from streams.engine.state import ONCE, CaseState


class RuleContext:
    """The configuration the rules read, and the helpers that make an alert one line."""

    def __init__(self, config: SupervisionConfig) -> None:
        self.config = config
        self.version = config.version
        self.local = config.local
        self.calendar = config.calendar
        self.enabled = config.enabled
        self.exempt = config.exempt_categories
        self.red_after_working_days = config.red_after_working_days
        self.catalogue = config.catalogue

    def param(self, rule: str, name: str) -> Any:
        """A threshold of ``rule`` from the configuration (rules.md §3 defaults)."""
        return self.config.param(rule, name)

    def once(self, state: CaseState, rule: str) -> bool:
        """True (and marks it) when ``rule`` is on and not yet raised for this case."""
        if rule not in self.enabled or state.raised & ONCE[rule]:
            return False
        state.raised |= ONCE[rule]
        return True

    def alert(
        self,
        rule: str,
        level: str,
        event: Event,
        evidence: list[str],
        details: dict[str, Any],
        discriminator: str = "",
    ) -> Alert:
        """An alert raised by ``event``: its case, its dept, at its instant."""
        return make_alert(
            rule,
            level,
            event.process,
            event.case_id,
            event.dept,
            event.occurred_at,
            evidence,
            details,
            self.version,
            discriminator,
        )

    def timed_alert(
        self,
        rule: str,
        level: str,
        state: CaseState,
        dept: str,
        instant: int,
        evidence: list[str],
        details: dict[str, Any],
        discriminator: str = "",
    ) -> Alert:
        """An alert of a case's clock, raised at ``instant``."""
        return make_alert(
            rule,
            level,
            state.process,
            state.key[len(state.process) + 1 :],
            dept,
            instant,
            evidence,
            details,
            self.version,
            discriminator,
        )

    def fact_alert(
        self,
        rule: str,
        level: str,
        process: str,
        fact: Fact,
        evidence: list[str],
        details: dict[str, Any],
    ) -> Alert:
        """An alert of a cross-case rule: the case, dept and instant of ``fact``."""
        return make_alert(
            rule,
            level,
            process,
            fact.case_id,
            fact.dept,
            fact.occurred_at,
            evidence,
            details,
            self.version,
        )


def raise_once(key_state: dict[str, Any], fact: Fact) -> bool:
    """True (and marks it) when ``fact``'s case may alert and has not alerted for this key."""
    if not fact.may_alert or fact.case_id in key_state["raised"]:
        return False
    key_state["raised"].append(fact.case_id)
    return True


# rule(ctx, state, event, alerts, facts): a case-side rule (or the bookkeeping rules need).
CaseRule = Callable[[RuleContext, CaseState, Event, list[Alert], list[Fact]], None]
# judge(ctx, key_state, entries in the window, fact) -> alerts: a cross-case judgement.
Judge = Callable[[RuleContext, dict[str, Any], list[list[Any]], Fact], list[Alert]]


@dataclass(frozen=True, slots=True)
class Pack:
    """The rules of one process, by action, in evaluation order.

    ``on_event`` runs while the case is open (in order: an action's alerts come out
    in this order). ``facts`` runs after them, and also after the case ended: an
    ended case's facts still count for other cases but raise nothing.
    ``remembers``: the case keeps a ``facts`` dict from its first open event on.
    An action ``"*"`` stands for every action of the process.
    """

    process: str
    on_event: dict[str, tuple[CaseRule, ...]]
    facts: dict[str, tuple[CaseRule, ...]]
    remembers: bool = False


@dataclass(frozen=True, slots=True)
class CrossRule:
    """A cross-case rule: the key kind of its facts, its window, its judgement."""

    kind: str  # the text before the first "|" of its facts' keys
    rule: str
    window_param: str  # the parameter of ``rule`` giving the window in hours
    judge: Judge
    # True: a sliding window, facts older than it leave the entries before each judgement.
    # False: the entries stay until the key expires (``window`` after its newest entry).
    sliding: bool = True
