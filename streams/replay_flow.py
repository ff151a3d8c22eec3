"""Replay of the 督办 workflow: actions evaluated with the events, in time order.

``supervise replay EVENTS --actions ACTIONS.jsonl`` hands one ``FlowReplay`` to
``streams.replay.replay``. Action lines are validated (an invalid one is a reject,
like an invalid event) and ordered by ``acted_at`` (stable: equal instants keep
read order). Time order, at one instant T: the case rules' timed alerts at or
before T, then the workflow clocks that ran out at or before T (``SUP_*``), then
the events at T, then the actions at T. So an action at exactly a deadline is
late (as an event at exactly an alert's instant comes after the alert), and an
action sees every alert raised up to its instant. Every alert raised opens or
joins its family's workflow; the workflow engine's ``SUP_*`` alerts go to the
alerts output with the others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.engine import Alert, SupervisionConfig
from streams.engine.model import Event
from streams.workflow import ActionValidator, Decision, Outcome, WorkflowEngine
from streams.workflow.model import Action

ACTIONS_INPUT = "actions"


@dataclass
class FlowSummary:
    lines: int = 0
    blank: int = 0
    accepted: int = 0
    """Valid action lines (whatever their result)."""
    rejected: int = 0
    """Invalid action lines and resends with other content (in the rejects)."""
    duplicates: int = 0
    """Resent action_ids: the first result stands, nothing changed, no second result line."""
    beyond_as_of: int = 0
    results: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(status, reason) of each result written, the engine's own dismissals included."""
    workflows: int = 0
    pending_years: dict[int, int] = field(default_factory=dict)
    """Workflows with a clock waiting for a calendar year without data, per year."""


RejectAction = Callable[[int, str, bytes], None]


class FlowReplay:
    """The workflow's half of a replay: what ``streams.replay`` calls, at which instants."""

    def __init__(
        self,
        config: SupervisionConfig,
        lines: Iterable[bytes],
        on_result: Callable[[Decision], None],
        on_reject: RejectAction,
        on_workflow: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.engine = WorkflowEngine(config)
        self.summary = FlowSummary()
        self._on_result = on_result
        self._on_reject = on_reject
        self._on_workflow = on_workflow
        self._emit: Callable[[list[Alert]], None] = lambda alerts: None
        self._advance_cases: Callable[[int], None] = lambda instant: None

        def reject(number: int, reason: str, raw: bytes) -> None:
            self.summary.rejected += 1
            on_reject(number, reason, raw)

        actions, self.summary.lines, self.summary.blank = ActionValidator().read_lines(
            lines, reject
        )
        self.summary.accepted = len(actions)
        actions.sort(key=lambda a: a.acted_at)
        actions.reverse()  # taken by popping off the end
        self._actions: list[Action] = actions

    def latest(self) -> int | None:
        """The latest ``acted_at`` read."""
        return self._actions[0].acted_at if self._actions else None

    def cut(self, as_of: int) -> None:
        """Leave out the actions after ``as_of`` (read and counted)."""
        kept = [a for a in self._actions if a.acted_at <= as_of]
        self.summary.beyond_as_of = len(self._actions) - len(kept)
        self._actions = kept

    def bind(
        self, emit: Callable[[list[Alert]], None], advance_cases: Callable[[int], None]
    ) -> None:
        """``emit``: the replay's alert output; ``advance_cases(T)``: the case rules' timed
        alerts up to T, through ``emit``."""
        self._emit = emit
        self._advance_cases = advance_cases

    # ------------------------------------------------------------------ steps

    def alerts(self, alerts: list[Alert]) -> None:
        """Alerts raised (and output): each opens or joins its family's workflow."""
        for alert in alerts:
            self._handle(self.engine.on_alert(alert))

    def advance(self, instant: int) -> None:
        """The workflow clocks that ran out at or before ``instant``."""
        self._handle(self.engine.advance(instant))

    def observe(self, event: Event) -> None:
        self._handle(self.engine.observe_event(event))

    def until(self, instant: int, *, inclusive: bool = False) -> None:
        """Evaluate the actions before ``instant`` (at or before, ``inclusive``)."""
        actions = self._actions
        while actions and (
            actions[-1].acted_at < instant or (inclusive and actions[-1].acted_at == instant)
        ):
            action = actions.pop()
            self._advance_cases(action.acted_at)
            self.advance(action.acted_at)
            self._handle(self.engine.act(action))

    def finish(self) -> None:
        """Write every workflow's state (creation order); sum up."""
        summary = self.summary
        summary.workflows = len(self.engine.workflows)
        summary.pending_years = self.engine.pending_calendar()
        if self._on_workflow is not None:
            for wf in self.engine.workflows.values():
                self._on_workflow(self.engine.to_dict(wf))

    def _handle(self, out: Outcome) -> None:
        for decision in out.decisions:
            if decision.duplicate:
                self.summary.duplicates += 1
                first, action = decision.result, decision.action
                if (first.type, first.user_id, first.acted_at) != (
                    action.type,
                    action.actor.user_id,
                    action.acted_at,
                ):
                    self.summary.rejected += 1
                    self._on_reject(
                        0,
                        "conflicting_duplicate: action_id read before with other content; "
                        "the first result stands",
                        _action_bytes(action),
                    )
                continue
            self.summary.results[(decision.result.status, decision.result.reason)] += 1
            self._on_result(decision)
        if out.alerts:
            self._emit(out.alerts)


def _action_bytes(action: Action) -> bytes:
    import orjson

    return orjson.dumps(action.document)
