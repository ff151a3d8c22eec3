"""``WorkflowEngine``: alerts and actions in; results, workflow versions and ``SUP_*``
alerts out. Pure: no I/O, no clock reads; time moves only by the instants it is given.

Inputs, each answered with an ``Outcome`` (decisions and alerts):

- ``on_alert(alert)``: an alert raised opens its family's workflow (``new``), or joins
  it and raises its level (never lowers it);
- ``on_withdrawn(alert_id, reason, at)``: once every card of an open workflow is
  withdrawn, ``system`` dismisses it with the withdrawal's reason;
- ``observe_event(event, at)``: a terminal event of a case earlier than the instant of
  an open notice or yellow workflow still ``new`` makes ``system`` dismiss it as
  ``finished_on_time`` (a late event: replay never sees one);
- ``act(action)``: a person's action: accepted (a new version) or rejected (why);
- ``advance(until)``: the clocks that ran out by ``until`` raise their ``SUP_*`` alerts;
- ``recurred(probe, closure)``: ``SUP_RECURRENCE`` for an alert whose probe was answered
  later (the live worker's ``recurrence`` link; replay's index answers at once).
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from streams.engine.config import SupervisionConfig
from streams.engine.model import NOTICE, YELLOW, Alert, Event
from streams.workflow.clocks import TIMER_RULES, Clocks, runs
from streams.workflow.model import (
    ACCEPTED,
    ALERT_WITHDRAWN,
    CLOSED,
    CONFIRMED_RECTIFIED,
    FINISHED_ON_TIME,
    NEW,
    REJECTED,
    TERMINAL,
    UNKNOWN_WORKFLOW,
    Action,
    Decision,
    result_from_dict,
)
from streams.workflow.policy import refusal
from streams.workflow.recurrence import Closure, Probe, RecurrenceIndex, RecurrenceLink
from streams.workflow.state import (
    Card,
    Workflow,
    discriminator_of,
    level_rank,
    workflow_id_of,
    workflow_to_dict,
)
from streams.workflow.store import WorkflowStore
from streams.workflow.sup import PROCESS, late_dept, sup_alert
from streams.workflow.system import make_result, system_action, timer_details
from streams.workflow.transitions import apply, timing_refusal

RECURRED = "SUP_RECURRENCE/yellow"  # the key ``_fire`` records


@dataclass(slots=True)
class Outcome:
    decisions: list[Decision] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


class WorkflowEngine:
    def __init__(self, config: SupervisionConfig) -> None:
        self.config = config
        self.local = config.local
        self.settings = config.workflow
        self.users = config.users
        self.clocks = Clocks(config.calendar, config.local, config.workflow)
        self.index = RecurrenceIndex(config.local, config.workflow.recurrence_calendar_days)
        self.recurrence: RecurrenceLink = self.index  # live: routed to the key's partition
        self.store = WorkflowStore(config.local, self.clocks)
        self._terminal = {name: t.terminal for name, t in config.templates.items()}

    # ------------------------------------------------------------------ inputs

    def on_alert(self, alert: Alert) -> Outcome:
        out = Outcome()
        store = self.store
        if alert.process == PROCESS or alert.alert_id in store.by_alert:
            return out  # SUP_* alerts are about workflows: they open none
        disc = discriminator_of(alert)
        wid = workflow_id_of(alert.rule, alert.process, alert.case_id, disc)
        card = Card(alert.alert_id, alert.level, alert.raised_at)
        wf = store.workflows.get(wid)
        if wf is None:
            wf = Workflow(
                workflow_id=wid,
                rule=alert.rule,
                process=alert.process,
                case_id=alert.case_id,
                discriminator=disc,
                dept=alert.dept,
                created_at=alert.raised_at,
                level=alert.level,
                cards=[card],
                updated_at=alert.raised_at,
            )
            self.clocks.arm_triage(wf, self.local.date_of(alert.raised_at))
            store.add(wf)
        else:
            wf.cards.append(card)
            if level_rank(alert.level) > level_rank(wf.level):
                wf.level = alert.level
                if "triage_yellow" not in wf.timers:
                    self.clocks.arm_triage(wf, self.local.date_of(alert.raised_at))
            wf.version += 1
            wf.updated_at = max(wf.updated_at, alert.raised_at)
        store.by_alert[alert.alert_id] = wid
        if RECURRED not in wf.fired:
            probe = Probe(
                alert.rule,
                alert.dept,
                alert.case_id,
                alert.raised_at,
                alert.alert_id,
                wid,
                wf.level,
                wf.state,
            )
            closure = self.recurrence.ask(probe)
            if closure is not None:
                self._recur(wf, probe, closure, out)
        store.touched(wf)
        return out

    def recurred(self, probe: Probe, closure: Closure) -> Outcome:
        """The answer to a probe asked before (``RecurrenceLink.ask`` answered it later):
        ``SUP_RECURRENCE`` as it would have fired then, unless it fired for the workflow."""
        out = Outcome()
        wf = self.store.workflows.get(probe.workflow_id)
        if wf is not None:
            self._recur(wf, probe, closure, out)
        return out

    def on_withdrawn(self, alert_id: str, reason: str, at: int) -> Outcome:
        out = Outcome()
        wf = self.store.workflows.get(self.store.by_alert.get(alert_id, ""))
        if wf is None:
            return out
        for card in wf.cards:
            if card.alert_id == alert_id and not card.withdrawn:
                card.withdrawn = True
                wf.version += 1
                self.store.touched(wf)
        if wf.state not in TERMINAL and all(c.withdrawn for c in wf.cards):
            self._dismiss(wf, ALERT_WITHDRAWN, reason, at, alert_id, out)
        return out

    def observe_event(self, event: Event, at: int | None = None) -> Outcome:
        out = Outcome()
        terminal = self._terminal.get(event.process)
        if terminal is None or event.action not in terminal:
            return out
        for wid in self.store.by_case.get((event.process, event.case_id), ()):
            wf = self.store.workflows[wid]
            if wf.state == NEW and wf.level in (NOTICE, YELLOW) and event.occurred_at < wf.instant:
                when = at if at is not None else max(event.occurred_at, wf.updated_at)
                text = (
                    f"案件已于{self.local.format(event.occurred_at)}办结（{event.event_id}），"
                    "早于预警时点"
                )
                self._dismiss(wf, FINISHED_ON_TIME, text, when, event.event_id, out)
        return out

    def act(self, action: Action) -> Outcome:
        out = Outcome()
        wf = self.store.workflows.get(action.workflow_id)
        first = (wf.results if wf is not None else self.store.orphans).get(action.action_id)
        if first is not None:
            out.decisions.append(Decision(action, result_from_dict(first), duplicate=True))
            return out
        if wf is None:
            result = make_result(
                action, None, REJECTED, UNKNOWN_WORKFLOW, f"no workflow {action.workflow_id}"
            )
            self.store.orphans[action.action_id] = result.to_dict(self.local)
            out.decisions.append(Decision(action, result))
            return out
        found = refusal(action, self.users, wf) or timing_refusal(action, wf, self.clocks)
        if found is not None:
            result = make_result(action, wf, REJECTED, found[0], found[1])
        else:
            before = wf.state
            apply(wf, action, self.clocks)
            result = make_result(action, wf, ACCEPTED, "", f"{before} -> {wf.state}")
            self._after(wf, action, before, out)
        wf.results[action.action_id] = result.to_dict(self.local)
        out.decisions.append(Decision(action, result))
        self.store.touched(wf)
        return out

    def advance(self, until: int, case_id: str | None = None) -> Outcome:
        """Raise the ``SUP_*`` alerts of every clock that ran out at or before ``until``
        (``case_id``: only those of that case's workflows, as an action of the case moves its
        own time ahead of the others')."""
        out = Outcome()
        red_after = self.settings.reply_red_after_working_days
        due = self.store.due(until) if case_id is None else self.store.due_of(case_id, until)
        for wf, name, timer in due:
            if runs(wf, name) and timer.at is not None:
                rule, level = TIMER_RULES[name]
                details = timer_details(wf, name, timer, self.local, red_after)
                self._fire(wf, rule, level, timer.at, [wf.cards[-1].alert_id], details, out)
        return out

    # ------------------------------------------------------------------ effects

    def _after(self, wf: Workflow, action: Action, before: str, out: Outcome) -> None:
        """What an accepted action sets off beyond its workflow's state."""
        if action.type == "close" and action.conclusion == CONFIRMED_RECTIFIED:
            closure = Closure(wf.workflow_id, wf.case_id, action.acted_at, action.action_id)
            self.recurrence.add(wf.rule, wf.dept, closure)
        elif action.type == "reopen" and before == CLOSED:
            self.recurrence.remove(wf.rule, wf.dept, wf.workflow_id, action.acted_at)
        elif action.type == "return" and wf.returns == self.settings.returned_twice_count:
            details = {"returns": wf.returns}
            self._fire(
                wf, "SUP_RETURNED_TWICE", YELLOW, action.acted_at, [action.action_id], details, out
            )

    def _recur(self, wf: Workflow, probe: Probe, closure: Closure, out: Outcome) -> None:
        """``SUP_RECURRENCE`` of ``probe``'s alert, with the workflow as the probe saw it."""
        details = {
            "source_alert_id": probe.alert_id,
            "closed_workflow_id": closure.workflow_id,
            "closed_case_id": closure.case_id,
            "closed_at": self.local.format(closure.closed_at),
            "window": self.settings.recurrence_calendar_days,
        }
        evidence = [probe.alert_id, closure.action_id]
        seen = replace(wf, level=probe.level, state=probe.state)
        self._fire(wf, "SUP_RECURRENCE", YELLOW, probe.at, evidence, details, out, seen)

    def _dismiss(
        self, wf: Workflow, reason_code: str, text: str, at: int, cause: str, out: Outcome
    ) -> None:
        office = self.settings.office_dept
        action = system_action(wf, reason_code, text, at, cause, self.local, office)
        before = wf.state
        apply(wf, action, self.clocks)
        result = make_result(action, wf, ACCEPTED, "", f"{before} -> {wf.state}")
        wf.results[action.action_id] = result.to_dict(self.local)
        out.decisions.append(Decision(action, result))
        self.store.touched(wf)

    def _fire(
        self,
        wf: Workflow,
        rule: str,
        level: str,
        at: int,
        evidence: list[str],
        details: dict[str, Any],
        out: Outcome,
        seen: Workflow | None = None,
    ) -> None:
        """Raise ``rule`` at ``level`` for ``wf`` unless it was raised for it before
        (``seen``: the workflow as it was when the rule's condition was met)."""
        key = f"{rule}/{level}"
        if key in wf.fired:
            return
        insort(wf.fired, key)  # kept sorted: the same list whatever order they fired in
        dept = late_dept(wf, rule, self.settings.office_dept)
        out.alerts.append(
            sup_alert(seen or wf, rule, level, at, dept, evidence, details, self.config.version)
        )
        self.store.touched(wf)

    # ------------------------------------------------------------------ state

    @property
    def workflows(self) -> dict[str, Workflow]:
        """Every workflow, by id, in creation order."""
        return self.store.workflows

    def next_timer(self) -> int | None:
        return self.store.next_timer()

    def take_changed(self) -> list[Workflow]:
        """The workflows changed since the last call (to store, to save in a changelog)."""
        return self.store.take_changed()

    def pending_calendar(self) -> dict[int, int]:
        """Workflows with a clock waiting for a calendar year without data, per year."""
        return self.store.pending_calendar()

    def to_dict(self, wf: Workflow) -> dict[str, Any]:
        """One workflow's stored form (``load_workflow`` reads it back)."""
        return workflow_to_dict(wf, self.local)

    def load_workflow(self, data: Mapping[str, Any]) -> Workflow:
        return self.store.load_workflow(data)

    def state_dict(self) -> dict[str, Any]:
        """The whole engine as a JSON-able dict (``load_state`` reads it back)."""
        return {**self.store.to_dict(), "recurrence": self.index.to_dict()}

    def load_state(self, data: Mapping[str, Any]) -> None:
        """Replace the state with a saved one; clocks pending a calendar year are decided
        now if this configuration's calendar has it."""
        self.store.load(data)
        self.index.load(data["recurrence"])
