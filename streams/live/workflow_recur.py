"""``SUP_RECURRENCE`` in the live worker: each (rule, department) on one partition.

The rule compares workflows of many cases of a department, whose partitions of the
workflow topic (keyed by ``case_id``) differ. So its memory lives where the key
``rule\\x1fdept`` falls on the same topic (the worker's partitioner), as the case rules'
cross-case facts live on the facts partition of their key:

- a workflow partition's engine talks to a ``RecurrenceOutbox``: a closure as
  ``confirmed_rectified`` (``L``), a reopening (``O``) and a ``Probe`` (``P``: an alert of
  a workflow that has not fired ``SUP_RECURRENCE``, with the workflow as it was then)
  become records keyed by their (rule, dept);
- the partition of that key holds them in a ``RecurrenceHost``: a gate over every workflow
  partition's horizon (``horizon.FactGate``; each workflow partition reports the horizon it
  applied its inputs below, after the records those inputs made), released in (instant,
  probes before closures and reopenings, digest or offset) order into a
  ``RecurrenceIndex``: the order replay applies them in, whatever partition was read first;
- a probe that matches a closure goes back (``R``) to the workflow partition of its case,
  which fires ``SUP_RECURRENCE`` with the probe's snapshot (``WorkflowEngine.recurred``):
  the alert replay fires when the alert comes, unless the workflow fired it meanwhile.

A record read after the host's horizon passed it (a late input of its workflow partition,
a redelivery after a crash) is applied when read, as every live gate does; a closure read
again is not added twice (its ``action_id``), a reopening is idempotent. The index of each
key is written to the ``workflow-state`` changelog (``{partition}|rc|{rule}\\x1f{dept}``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Final, cast

import orjson

from streams.engine.timeutil import LocalTime
from streams.live.horizon import FactGate, PendingFact
from streams.live.publish import Record
from streams.workflow.recurrence import Closure, Probe, RecurrenceIndex

PROBE: Final = b"P"
CLOSED: Final = b"L"
REOPENED: Final = b"O"
RECURRED: Final = b"R"
HOSTED: Final = (PROBE, CLOSED, REOPENED)
_RANK: Final = {PROBE: b"\x00", CLOSED: b"\x01", REOPENED: b"\x01"}
"""At one instant: probes, then closures and reopenings (replay's order: an alert at a
closure's instant comes before it). Closures and reopenings of one instant keep the order
read (one workflow's come from its one partition, in the order made)."""

# A changelog write: (partition, table key, value or None).
HostWrite = tuple[int, bytes, bytes | None]


def recurrence_key(rule: str, dept: str) -> bytes:
    return f"{rule}\x1f{dept}".encode()


def host_key(partition: int, rule: str, dept: str) -> bytes:
    return f"{partition}|rc|{rule}\x1f{dept}".encode()


def _probe(d: dict[str, Any]) -> Probe:
    return Probe(
        str(d["rule"]),
        str(d["dept"]),
        str(d["case_id"]),
        int(d["at"]),
        str(d["alert_id"]),
        str(d["workflow_id"]),
        str(d["level"]),
        str(d["state"]),
    )


def _closure(d: dict[str, Any]) -> Closure:
    return Closure(
        str(d["workflow_id"]), str(d["case_id"]), int(d["closed_at"]), str(d["action_id"])
    )


def encode_recurred(probe: Probe, closure: Closure) -> bytes:
    return RECURRED + orjson.dumps({"probe": asdict(probe), "closure": asdict(closure)})


def decode_recurred(body: bytes) -> tuple[Probe, Closure]:
    """The body of an ``R`` record (after its kind byte); raises ValueError."""
    try:
        d = orjson.loads(body)
        return _probe(d["probe"]), _closure(d["closure"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"unreadable recurrence answer: {exc!r}") from exc


class RecurrenceOutbox:
    """The ``RecurrenceLink`` of a workflow partition's engine: each closure, reopening and
    probe becomes a record for the partition of its (rule, dept); no answer now."""

    def __init__(self) -> None:
        self._records: list[Record] = []

    def add(self, rule: str, dept: str, closure: Closure) -> None:
        body = {"rule": rule, "dept": dept, **asdict(closure)}
        self._records.append((None, recurrence_key(rule, dept), CLOSED + orjson.dumps(body), ()))

    def remove(self, rule: str, dept: str, workflow_id: str, at: int) -> None:
        body = {"rule": rule, "dept": dept, "workflow_id": workflow_id, "at": at}
        self._records.append((None, recurrence_key(rule, dept), REOPENED + orjson.dumps(body), ()))

    def ask(self, probe: Probe) -> Closure | None:
        value = PROBE + orjson.dumps(asdict(probe))
        self._records.append((None, recurrence_key(probe.rule, probe.dept), value, ()))
        return None

    def take(self) -> list[Record]:
        records, self._records = self._records, []
        return records


@dataclass(frozen=True, slots=True)
class _Held:
    kind: bytes
    rule: str
    dept: str
    probe: Probe | None = None
    closure: Closure | None = None
    workflow_id: str = ""  # reopened


class RecurrenceHost:
    """The (rule, dept) keys whose records the partitioner puts on one partition."""

    def __init__(
        self, partition: int, local: LocalTime, window_days: int, sources: frozenset[str]
    ) -> None:
        self.partition = partition
        self.index = RecurrenceIndex(local, window_days)
        self.gate = FactGate(sources)
        self._dirty: set[tuple[str, str]] = set()

    def load(self, rule_dept: str, value: bytes) -> None:
        rule, dept = rule_dept.split("\x1f", 1)
        self.index.load_rows(rule, dept, orjson.loads(value))

    def add(self, offset: int, value: bytes) -> None:
        """Hold a record until every workflow partition is past it; raises ValueError."""
        kind = value[:1]
        d = orjson.loads(value[1:])
        if not isinstance(d, dict) or kind not in _RANK:
            raise ValueError(f"unreadable recurrence record {value[:40]!r}")
        try:
            rule, dept = str(d.pop("rule")), str(d.pop("dept"))
            if kind == PROBE:
                held = _Held(kind, rule, dept, probe=_probe({"rule": rule, "dept": dept, **d}))
                at = int(d["at"])
            elif kind == CLOSED:
                held = _Held(kind, rule, dept, closure=_closure(d))
                at = int(d["closed_at"])
            else:
                held = _Held(kind, rule, dept, workflow_id=str(d["workflow_id"]))
                at = int(d["at"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"unreadable recurrence record: {exc!r}") from exc
        tail = hashlib.sha1(value).digest() if kind == PROBE else b""
        self.gate.add(PendingFact((at, _RANK[kind] + tail), offset, cast(Any, held), value))

    def release(self) -> list[Record]:
        """Apply what the gate releases, in order; the answers to the probes that match."""
        answers: list[Record] = []
        index = self.index
        for pending in self.gate.release():
            held = cast(_Held, pending.fact)
            key = (held.rule, held.dept)
            if held.probe is not None:
                if index.holds(*key):  # a key without closures keeps no state
                    self._dirty.add(key)
                closure = index.ask(held.probe)
                if closure is not None:
                    value = encode_recurred(held.probe, closure)
                    answers.append((None, held.probe.case_id.encode("utf-8"), value, ()))
                continue
            self._dirty.add(key)
            if held.closure is not None:
                index.add(held.rule, held.dept, held.closure)
            else:
                index.remove(held.rule, held.dept, held.workflow_id, pending.order[0])
        return answers

    def states(self) -> Iterable[HostWrite]:
        """Changelog writes of the keys changed since the last call (None: no closure left)."""
        dirty, self._dirty = self._dirty, set()
        for rule, dept in sorted(dirty):
            rows = self.index.rows(rule, dept)
            value = orjson.dumps(rows) if rows else None
            yield self.partition, host_key(self.partition, rule, dept), value
