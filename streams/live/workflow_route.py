"""Co-location of the 督办 workflow: everything a workflow needs, on one partition.

A workflow belongs to one case. Its state lives on partition
``partition_for(case_id)`` of the internal topic ``TOPIC_WORKFLOW`` (the worker's
own partitioner: murmur2 of the ``case_id`` bytes, as ``publish.partition_for``),
whatever partitioner the upstream or client used. Everything that moves a
workflow is written there, keyed by its ``case_id``:

- ``A`` an alert the case rules or the cross-case rules raised (``persister``);
- ``E`` a case's terminal event (the engine dismisses a notice whose case finished
  before its instant: ``WorkflowEngine.observe_event``);
- ``X`` an alert withdrawn by late input (its open workflow is dismissed by ``system`` once
  every card is withdrawn: ``WorkflowEngine.on_withdrawn``), ordered at the alert's instant
  (just after it), or applied when read when the withdrawal does not carry the alert;
- ``C`` an action as sent (``workflow_actions``: read from ``supervision.actions``
  keyed by any client's partitioner, validated, and written here);
- ``W`` the horizons of the domain and actions partitions (``horizon.encode_horizons``):
  an input is applied once every source is past its instant, in time order, and the
  workflow clocks run to that horizon (``workflow_partition``); and of the workflow
  partitions themselves, for ``SUP_RECURRENCE``;
- ``R`` the answer to a ``SUP_RECURRENCE`` probe: a closure the case's alert recurs after
  (``workflow_recur``, which also keys ``P``, ``L`` and ``O`` records by rule and
  department on this topic).

Keyed by ``case_id`` rather than ``workflow_id``: every workflow of a case shares the
partition, so a case's terminal event finds them all with one record. An action whose
``case_id`` is not its workflow's is read where that case's workflows are: it meets no
workflow there (``unknown_workflow``).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from streams.engine.model import Alert, Event, Withdrawal
from streams.live.processor import Output
from streams.live.publish import BatchPublisher, Record
from streams.live.workflow_recur import RECURRED, decode_recurred
from streams.workflow.recurrence import Closure, Probe

ALERT: Final = b"A"
EVENT: Final = b"E"
ACTION: Final = b"C"
WITHDRAWN: Final = b"X"
HORIZONS: Final = b"W"
_RANK: Final = {ALERT: 0, EVENT: 1, ACTION: 2, WITHDRAWN: 3, RECURRED: 4}
"""At one instant: alerts, then case ends, then actions (replay's order: an action at an
alert's instant sees the alert; the workflow clocks run out before events and actions);
a recurrence answer after its alert."""


@dataclass(frozen=True, slots=True)
class Input:
    """One decoded input of a workflow partition."""

    kind: bytes
    instant: int
    alert: Alert | None = None
    event: Event | None = None
    raw: bytes = b""  # the action as sent
    case_id: str = ""
    withdrawn: tuple[str, str, int] | None = None  # (alert_id, reason, withdrawn at)
    recurred: tuple[Probe, Closure] | None = None  # a probe's answer


def encode_alert(alert: Alert) -> bytes:
    return ALERT + orjson.dumps(
        {
            "alert_id": alert.alert_id,
            "rule": alert.rule,
            "level": alert.level,
            "case_id": alert.case_id,
            "process": alert.process,
            "dept": alert.dept,
            "raised_at": alert.raised_at,
            "evidence": list(alert.evidence),
            "message": alert.message,
            "details": alert.details,
            "config_version": alert.config_version,
        }
    )


def encode_event(event: Event) -> bytes:
    return EVENT + orjson.dumps(
        {
            "event_id": event.event_id,
            "case_id": event.case_id,
            "process": event.process,
            "action": event.action,
            "occurred_at": event.occurred_at,
            "dept": event.dept,
        }
    )


def encode_withdrawal(w: Withdrawal) -> bytes:
    instant = w.alert.raised_at if w.alert is not None else 0
    return WITHDRAWN + orjson.dumps(
        {
            "alert_id": w.alert_id,
            "case_id": w.case_id,
            "reason": w.reason,
            "at": w.withdrawn_at,
            "instant": instant,
        }
    )


def encode_action(raw: bytes) -> bytes:
    return ACTION + raw


def decode(value: bytes, acted_at: Any = None, case_id: str = "") -> Input:
    """An input (``acted_at``, ``case_id``: the parsed action's, for ``C``); raises
    ValueError."""
    kind, body = value[:1], value[1:]
    if kind == ALERT:
        d = orjson.loads(body)
        alert = Alert(
            d["alert_id"],
            d["rule"],
            d["level"],
            d["case_id"],
            d["process"],
            d["dept"],
            int(d["raised_at"]),
            list(d["evidence"]),
            d["message"],
            dict(d["details"]),
            d["config_version"],
        )
        return Input(kind, alert.raised_at, alert=alert, case_id=alert.case_id)
    if kind == EVENT:
        d = orjson.loads(body)
        event = Event(
            d["event_id"], d["case_id"], d["process"], d["action"], int(d["occurred_at"]), d["dept"]
        )
        return Input(kind, event.occurred_at, event=event, case_id=event.case_id)
    if kind == WITHDRAWN:
        d = orjson.loads(body)
        withdrawn = (str(d["alert_id"]), str(d["reason"]), int(d["at"]))
        return Input(kind, int(d["instant"]), withdrawn=withdrawn, case_id=str(d["case_id"]))
    if kind == RECURRED:
        probe, closure = decode_recurred(body)
        return Input(kind, probe.at, recurred=(probe, closure), case_id=probe.case_id)
    if kind == ACTION:
        if not isinstance(acted_at, int):
            raise ValueError("an action input needs its acted_at")
        return Input(kind, acted_at, raw=body, case_id=case_id)
    raise ValueError(f"unknown workflow-topic message kind {kind!r}")


def order_key(inp: Input, value: bytes, offset: int) -> tuple[int, bytes]:
    """Total order: instant, kind, then alerts and case ends by content digest (whatever
    partition they came from), actions in the order read (a resent ``action_id``: the first
    read is the first, as in replay)."""
    rank = bytes((_RANK[inp.kind],))
    if inp.kind == ACTION:
        return inp.instant, rank + offset.to_bytes(8, "big")
    return inp.instant, rank + hashlib.sha1(value).digest()


def routed_records(
    alerts: list[Alert],
    events: list[Event],
    terminal: Mapping[str, frozenset[str]],
    withdrawals: list[Withdrawal] = [],  # noqa: B006 - read only
) -> list[Record]:
    """The workflow-topic records of a persisted step: its alerts (but the workflow's own
    ``SUP_*``, which open none), its cases' terminal events and its withdrawals, keyed by
    ``case_id``."""
    records: list[Record] = []
    for a in alerts:
        if a.process != "supervision":
            records.append((None, a.case_id.encode("utf-8"), encode_alert(a), ()))
    for e in events:
        ends = terminal.get(e.process)
        if ends is not None and e.action in ends:
            records.append((None, e.case_id.encode("utf-8"), encode_event(e), ()))
    for w in withdrawals:
        records.append((None, w.case_id.encode("utf-8"), encode_withdrawal(w), ()))
    return records


class WorkflowRouting:
    """What the persister writes to the workflow topic after a step's rows are stored (and,
    with every tick's horizons, to each of its partitions)."""

    def __init__(self, terminal: Mapping[str, frozenset[str]], topic: str) -> None:
        self.terminal = terminal  # each process's terminal actions
        self.topic = topic

    async def publish(self, out: Output, publisher: BatchPublisher) -> None:
        events = [s.event for s in out.events]
        records = routed_records(out.alerts, events, self.terminal, out.withdrawals)
        if records:
            await asyncio.gather(*await publisher.send(self.topic, records))
