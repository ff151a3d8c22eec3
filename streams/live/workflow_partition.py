"""One partition of the workflow topic: its workflows, in time order, below the horizon.

``WorkflowPartition`` is Faust-free and synchronous (unit-tested without a broker).
It holds the ``WorkflowEngine`` of the cases whose ``case_id`` the worker's
partitioner puts here (``workflow_route``), behind a gate (``horizon.FactGate``):
an input (alert, case end, action) is applied only once every domain partition and
every actions partition has been read past its instant, in (instant, kind, digest)
order; the workflow clocks then run to that horizon. So the live service takes
alerts and actions in the order ``supervise replay --actions`` takes them, whatever
partition was read first, and the ``SUP_*`` alerts fire on the horizon of the case
rules. An input read after the horizon passed it (a client's clock far behind, a
cross-case alert released by its own gate meanwhile) is applied when read. An action
acted within ``realtime_us`` (``UPSTREAM_DELAY``) of when it is read is a person acting
now: it does not wait for the horizon but is applied at the next release, after the
inputs of its case read up to its instant, its case's clocks run to it (``take_case``,
``WorkflowEngine.advance(until, case_id)``).

Per input, the engine's outcome: each result is stored (``workflow_actions``) and
published (``supervision.action-results``, keyed by ``action_id``); a resent
``action_id`` publishes its first result again and stores nothing (with other
content, it is dead-lettered as ``conflicting_duplicate`` too); ``SUP_*`` alerts are
stored and published like every alert; every workflow changed makes a version row
(``workflows``), and its last state goes to the changelog.

``SUP_RECURRENCE`` compares closures across cases of a department: the engine's
closures, reopenings and probes go out as records keyed by (rule, department)
(``out.records``), and the partition hosts the keys the partitioner puts here behind a
gate over every workflow partition's horizon (``workflow_recur``); an answer (``R``)
fires the alert on the partition of its case. Each partition's horizon is reported
after its records (``workflow_service``).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from streams.contract import CONFLICTING_DUPLICATE, DeadLetter
from streams.engine import SupervisionConfig
from streams.engine.model import Alert
from streams.live.deadletter import dead_letter
from streams.live.horizon import FactGate, PendingFact, source_name
from streams.live.publish import Record
from streams.live.workflow_recur import HOSTED, RECURRED, RecurrenceHost, RecurrenceOutbox
from streams.live.workflow_route import (
    ACTION,
    ALERT,
    EVENT,
    WITHDRAWN,
    Input,
    decode,
    order_key,
)
from streams.storage.workflow_rows import ActionRecord, WorkflowVersion
from streams.workflow import Action, ActionValidator, InvalidAction, Outcome, WorkflowEngine

# A table write: (changelog partition, table key, value or None).
WorkflowWrite = tuple[int, bytes, bytes | None]


def workflow_key(partition: int, workflow_id: str) -> bytes:
    return f"{partition}|wf|{workflow_id}".encode()


def orphans_key(partition: int) -> bytes:
    """Results of actions on no workflow (``unknown_workflow``), so a resend meets them."""
    return f"{partition}|@orphans".encode()


class InputGate(FactGate):
    """The fact gate over workflow inputs, which can also hand over one case's inputs up to an
    instant ahead of the horizon (``take_case``)."""

    def take_case(self, case_id: str, until: int) -> list[PendingFact]:
        """The held inputs of ``case_id`` at or before ``until``, in order, taken off."""
        taken = [
            p for p in self._pending
            if p.order[0] <= until and cast(Input, p.fact).case_id == case_id
        ]  # fmt: skip
        if taken:
            gone = {id(p) for p in taken}
            self._pending = [p for p in self._pending if id(p) not in gone]
            heapq.heapify(self._pending)
        return sorted(taken)


@dataclass(slots=True)
class WorkflowOutput:
    actions: list[ActionRecord] = field(default_factory=list)
    results: list[tuple[bytes, bytes]] = field(default_factory=list)  # (action_id, result JSON)
    alerts: list[Alert] = field(default_factory=list)
    versions: list[WorkflowVersion] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    states: list[WorkflowWrite] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)  # to the workflow topic (recurrence)
    horizons: dict[str, int] = field(default_factory=dict)  # reported after ``records``

    def rows(self) -> bool:
        return bool(self.actions or self.alerts or self.versions or self.dead_letters)

    def empty(self) -> bool:
        return not (self.rows() or self.results or self.states or self.records or self.horizons)


class WorkflowPartition:
    def __init__(
        self,
        partition: int,
        topic: str,
        config: SupervisionConfig,
        sources: frozenset[str],
        validator: ActionValidator,
        realtime_us: int | None = None,
        partitions: int = 1,
    ) -> None:
        self.partition = partition
        self.topic = topic
        self.engine = WorkflowEngine(config)
        self.outbox = RecurrenceOutbox()
        self.engine.recurrence = self.outbox
        self.host = RecurrenceHost(
            partition,
            config.local,
            config.workflow.recurrence_calendar_days,
            frozenset(source_name(topic, q) for q in range(partitions)),
        )
        self.local = config.local
        self.gate = InputGate(sources)
        # An action acted at most this long before it is read (``UPSTREAM_DELAY``) is a person
        # acting now: applied at once (``release``); None: every action waits for the horizon.
        self.realtime_us = realtime_us
        self.prompt: list[tuple[int, bytes, Action]] = []
        self.validator = validator
        self.revisions: dict[str, int] = {}
        self._orphans = 0

    # ------------------------------------------------------------ state
    def load(self, entries: Iterable[tuple[str, bytes]], orphans: bytes | None) -> int:
        """Workflows saved in the table (``scan_prefix`` of ``{p}|``), and the orphans."""
        n = 0
        for key, value in entries:
            if key.startswith("rc|"):
                self.host.load(key[3:], value)
            if not key.startswith("wf|"):
                continue
            saved = orjson.loads(value)
            wf = self.engine.load_workflow(saved["workflow"])
            self.revisions[wf.workflow_id] = int(saved["revision"])
            n += 1
        if orphans:
            self.engine.store.orphans.update(orjson.loads(orphans))
        self._orphans = len(self.engine.store.orphans)
        self.engine.take_changed()  # loaded, not changed
        return n

    # ------------------------------------------------------------ inputs
    def add(self, offset: int, value: bytes, now: int = 0) -> None:
        """Hold an input until the horizon passes it (an action acted just now: until the
        next ``release``); raises ValueError when unreadable."""
        if value[:1] in HOSTED:
            self.host.add(offset, value)
            return
        acted_at, case_id = None, ""
        if value[:1] == ACTION:
            try:
                action = self.validator.parse(value[1:])
            except InvalidAction:
                action = None  # checked at the intake; if not, dead-lettered when applied
            acted_at, case_id = (action.acted_at, action.case_id) if action else (0, "")
            realtime = self.realtime_us
            if action is not None and realtime is not None and action.acted_at >= now - realtime:
                self.prompt.append((offset, value[1:], action))
                return
        inp = decode(value, acted_at, case_id)
        self.gate.add(PendingFact(order_key(inp, value, offset), offset, cast(Any, inp), value))

    def held_from(self) -> int | None:
        """Lowest offset of an input still held (the partition may be committed up to it)."""
        held = [
            self.gate.lowest_offset(),
            self.host.gate.lowest_offset(),
            *(offset for offset, _, _ in self.prompt),
        ]
        return min((h for h in held if h is not None), default=None)

    def report(self, horizons: dict[str, int]) -> None:
        """Horizons read (``W``): the domain and actions partitions', and the workflow
        partitions' (for the recurrence keys hosted here)."""
        self.gate.report(horizons)
        self.host.gate.report(horizons)

    def release(self, out: WorkflowOutput) -> int:
        """Apply every input the gate releases, in order, then the actions of people acting
        now (each after its case's inputs read up to its instant: its case's time moves
        ahead, as a case's does with its event), then run the clocks to the horizon; then
        the recurrence records of the keys hosted here."""
        n = 0
        for pending in self.gate.release():
            self._apply(pending, out)
            n += 1
        prompt, self.prompt = self.prompt, []
        for offset, raw, action in prompt:
            for pending in self.gate.take_case(action.case_id, action.acted_at):
                self._apply(pending, out, action.case_id)
                n += 1
            self._act(raw, offset, out, action.case_id)
            n += 1
        horizon = self.gate.horizon()
        if horizon is not None:
            self._handle(self.engine.advance(horizon - 1), out)
        out.records.extend(self.outbox.take())
        out.records.extend(self.host.release())
        self._collect(out)
        return n

    def _apply(self, pending: PendingFact, out: WorkflowOutput, case: str | None = None) -> None:
        """One input at its instant (``case``: only that case's clocks move)."""
        engine = self.engine
        inp = cast(Input, pending.fact)
        if inp.kind == ALERT:
            assert inp.alert is not None
            self._handle(engine.advance(inp.instant - 1, case), out)
            self._handle(engine.on_alert(inp.alert), out)
        elif inp.kind == EVENT:
            assert inp.event is not None
            self._handle(engine.advance(inp.instant, case), out)
            self._handle(engine.observe_event(inp.event), out)
        elif inp.kind == WITHDRAWN:
            assert inp.withdrawn is not None
            self._handle(engine.on_withdrawn(*inp.withdrawn), out)
        elif inp.kind == RECURRED:
            assert inp.recurred is not None
            self._handle(engine.recurred(*inp.recurred), out)
        else:
            self._act(inp.raw, pending.offset, out, case)

    def _act(self, raw: bytes, offset: int, out: WorkflowOutput, case: str | None = None) -> None:
        try:
            action = self.validator.parse(raw)
        except InvalidAction as exc:
            out.dead_letters.append(
                dead_letter(
                    raw,
                    None,
                    str(exc),
                    exc.kind,
                    topic=self.topic,
                    partition=self.partition,
                    offset=offset,
                )  # fmt: skip
            )
            return
        self._handle(self.engine.advance(action.acted_at, case), out)
        outcome = self.engine.act(action)
        for decision in outcome.decisions:
            if not decision.duplicate:
                continue
            first = decision.result
            out.results.append((first.action_id.encode(), orjson.dumps(first.to_dict(self.local))))
            if (first.type, first.user_id, first.acted_at) != (
                action.type,
                action.actor.user_id,
                action.acted_at,
            ):
                reason = (
                    f"conflicting_duplicate: action_id {action.action_id!r} was read before "
                    "with other content; the first result stands"
                )
                out.dead_letters.append(
                    dead_letter(
                        raw,
                        action.case_id.encode(),
                        reason,
                        CONFLICTING_DUPLICATE,
                        topic=self.topic,
                        partition=self.partition,
                        offset=offset,
                    )  # fmt: skip
                )
        outcome.decisions = [d for d in outcome.decisions if not d.duplicate]
        self._handle(outcome, out)

    def _handle(self, outcome: Outcome, out: WorkflowOutput) -> None:
        """The outcome of one engine call: results, alerts, and a version of each workflow
        it changed."""
        local = self.local
        for decision in outcome.decisions:
            result = decision.result.to_dict(local)
            out.actions.append(ActionRecord(dict(decision.action.document), result))
            out.results.append((decision.result.action_id.encode(), orjson.dumps(result)))
        out.alerts.extend(outcome.alerts)
        for wf in self.engine.take_changed():
            revision = self.revisions.get(wf.workflow_id, 0) + 1
            self.revisions[wf.workflow_id] = revision
            out.versions.append(WorkflowVersion(self.engine.to_dict(wf), revision))

    def _collect(self, out: WorkflowOutput) -> None:
        """Changelog writes: the last state of every workflow versioned in ``out``."""
        latest: dict[str, WorkflowVersion] = {}
        for version in out.versions:
            latest[version.document["workflow_id"]] = version
        for wid, version in latest.items():
            value = orjson.dumps({"revision": version.revision, "workflow": version.document})
            out.states.append((self.partition, workflow_key(self.partition, wid), value))
        orphans = self.engine.store.orphans
        if len(orphans) != self._orphans:
            self._orphans = len(orphans)
            out.states.append((self.partition, orphans_key(self.partition), orjson.dumps(orphans)))
        out.states.extend(self.host.states())


def gate_sources(domain: Iterable[str], actions: str, partitions: int) -> frozenset[str]:
    """Every partition whose horizon a workflow partition waits for: the domain topics' and
    the actions topic's (``horizon.source_name``)."""
    return frozenset(source_name(t, p) for t in (*domain, actions) for p in range(partitions))


__all__ = [
    "EVENT",
    "ActionRecord",
    "WorkflowOutput",
    "WorkflowPartition",
    "WorkflowVersion",
    "gate_sources",
]
