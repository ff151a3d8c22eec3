"""The 督办 workflow after an alert (../shared/spec/workflow.md): pure, beside the rule engine.

No I/O, no clock reads, no Kafka, Faust or ClickHouse: the same engine serves replay,
the live worker and tests. Alerts and actions go in; action results, workflow
versions (JSON-able dicts with a format version) and ``SUP_*`` alerts come out.

| module         | holds                                                                |
| -------------- | -------------------------------------------------------------------- |
| ``engine``     | ``WorkflowEngine``: the inputs (alerts, withdrawals, events, actions, time) |
| ``model``      | states, action types, reason codes; ``Action``, ``Result``, ``Decision`` |
| ``state``      | ``Workflow``, its family id and its stored form                      |
| ``policy``     | who may do what from which state, with what reason and approver      |
| ``transitions``| what each accepted action does; the checks that need the calendar    |
| ``clocks``     | working-day deadlines, pending calendar years, clock -> SUP rule     |
| ``sup``        | the ``SUP_*`` alerts: ids, departments, Chinese messages             |
| ``recurrence`` | closures as rectified per (rule, dept), for ``SUP_RECURRENCE``       |
| ``system``     | the engine's own dismissals and result records                       |
| ``validate``   | ``ActionValidator``: the action contract (schemas/action.schema.json) |
"""

from streams.workflow.engine import Outcome, WorkflowEngine
from streams.workflow.model import Action, Actor, Decision, Result
from streams.workflow.state import Workflow, workflow_id_of
from streams.workflow.validate import ActionValidator, InvalidAction

__all__ = [
    "Action",
    "ActionValidator",
    "Actor",
    "Decision",
    "InvalidAction",
    "Outcome",
    "Result",
    "Workflow",
    "WorkflowEngine",
    "workflow_id_of",
]
