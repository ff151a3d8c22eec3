"""Shadow configurations (issue #17): candidates evaluated beside the active one, kept apart.

``SHADOW_CONFIGS`` names candidate configuration files (comma separated). Each is a
separate evaluator with its own state: on every source partition a shadow ``CaseEngine``
sees exactly the events the active one applies, in the same order, and is advanced to
the same horizons (batches and ticks); its cross-case facts travel the facts topic like
the active ones (keyed ``~<version>|<key>``), behind the same gate, and are judged by a
shadow ``CrossEngine`` on their facts partition. A shadow's alerts carry its
``config_version`` and go to the ``shadow_alerts`` table and nowhere else: not to
``alerts``, the alerts topic, the echo, the metrics of alerts, workflows or scores.

Where shadow state lives: in the active state tables, beside the active state, under
keys marked with the shadow's version (``{p}|{topic}|~<version>|{case key}``,
``{q}|~<version>|{fact key}``), written in the same batch as the active state and
before the same offsets are committed. After a restart or a rebalance a shadow resumes
exactly where the active configuration does: nothing is read twice into it or skipped
(rows stored again are one row: ``shadow_alerts`` is keyed by version and alert id).
Recomputing a shadow from the stored events instead would cost a replay of the whole
history per restart.

Limits: a shadow starts with no history. Added (or edited: another version is another
shadow) while the service runs, it sees the events read from then on, so cases already
open are seen from the middle and their clock rules judge them from there: compare a new
shadow with the active configuration on what happened after its start, or use
``supervise diff`` over the stored events. The state of a version no longer configured
is deleted (tombstones) when its partition is next loaded, and its facts still in
flight are dropped. Late input that withdraws a shadow's alert (rules.md §1.4) leaves its
row in ``shadow_alerts`` as raised. An engine failure in a shadow drops that case from that shadow only
(logged), for as long as the worker runs; a failure while advancing its timers stops
that shadow on that partition (logged). Neither ever touches the active evaluation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from streams.engine import CaseEngine, CrossEngine, Fact, SupervisionConfig, load_config
from streams.engine.model import Alert, Event
from streams.live.processor import FactPartition, Output, case_key
from streams.live.quarantine import GuardedCasePartition
from streams.live.state import NO_OFFSET, pack_case, pack_cross, unpack_case, unpack_cross

log = logging.getLogger(__name__)

MARK = "~"  # table and fact keys of a shadow start with "~<version>|"
NO_MARKER = (-(2**63), b"\0" * 20)  # a cross state's "no fact applied yet" (as FactPartition's)


@dataclass(frozen=True, slots=True)
class Shadow:
    config: SupervisionConfig

    @property
    def prefix(self) -> str:
        return f"{MARK}{self.config.version}|"


def shadow_paths(setting: str) -> list[Path]:
    """The files named in ``SHADOW_CONFIGS`` (comma separated; blanks ignored)."""
    return [Path(part.strip()) for part in setting.split(",") if part.strip()]


def load_shadows(setting: str, active: SupervisionConfig) -> tuple[Shadow, ...]:
    """Each shadow configuration, loaded and validated (``ConfigError`` names the file).

    A shadow identical to the active configuration, or to another shadow, is refused:
    its alerts would be the active ones (or the other's) again."""
    shadows: dict[str, Shadow] = {}
    for path in shadow_paths(setting):
        config = load_config(path)
        if config.version == active.version:
            raise ValueError(f"SHADOW_CONFIGS: {path} is the active configuration")
        if config.version in shadows:
            raise ValueError(f"SHADOW_CONFIGS: {path} is named twice ({config.version})")
        shadows[config.version] = Shadow(config)
    return tuple(shadows.values())


def split_key(key: str) -> tuple[str, str] | None:
    """(shadow prefix, the key within it) of a shadow's key; None for an active key."""
    if not key.startswith(MARK):
        return None
    cut = key.index("|") + 1
    return key[:cut], key[cut:]


def split_entries(
    entries: Iterable[tuple[str, bytes]], prefixes: Container[str]
) -> tuple[list[tuple[str, bytes]], list[tuple[str, str, bytes]], list[str]]:
    """Stored entries: the active ones, the shadows' (prefix, key within, value), and the
    keys of shadows no longer configured (to delete)."""
    active: list[tuple[str, bytes]] = []
    shadows: list[tuple[str, str, bytes]] = []
    stale: list[str] = []
    for key, value in entries:
        split = split_key(key)
        if split is None:
            active.append((key, value))
        elif split[0] in prefixes:
            shadows.append((split[0], split[1], value))
        else:
            stale.append(key)
    return active, shadows, stale


class ShadowCases:
    """One shadow's case half on one source partition."""

    def __init__(self, shadow: Shadow, where: str) -> None:
        self.prefix = shadow.prefix
        self.where = where
        self.cases = CaseEngine(shadow.config)
        self.failed: set[str] = set()  # cases this shadow failed on: left out from then on
        self.stopped = False
        self.alerts: list[Alert] = []
        self.facts: list[Fact] = []

    def process(self, event: Event) -> None:
        key = case_key(event.process, event.case_id)
        if self.stopped or key in self.failed:
            return
        try:
            self.alerts += self.cases.advance_case(key, event.occurred_at)
            alerts, facts = self.cases.process(event)
        except Exception:  # noqa: BLE001 - a shadow's failure is its own
            log.exception("shadow %s on %s: case %s left out", self.prefix, self.where, key)
            self.failed.add(key)
            self.cases.load(key, None)
            return
        self.alerts += alerts
        for fact in facts:
            fact.key = self.prefix + fact.key
        self.facts += facts

    def advance(self, until: int) -> None:
        if self.stopped:
            return
        try:
            self.alerts += self.cases.advance(until)
        except Exception:  # noqa: BLE001
            log.exception("shadow %s on %s: stopped", self.prefix, self.where)
            self.stopped = True

    def next_timer(self) -> int | None:
        return None if self.stopped else self.cases.next_timer()

    def collect(
        self,
        part: ShadowedCasePartition,
        out: Output,
        table_key: Callable[[int, str, str], bytes],
    ) -> None:
        p = part.partition
        for key, blob in self.cases.export_dirty().items():
            value = None if blob is None else pack_case(part.applied.get(key, NO_OFFSET), blob)
            out.case_states.append((p, table_key(p, part.topic, self.prefix + key), value, part))
        self.cases.take_status()  # no case status for shadows
        out.shadow_alerts += self.alerts
        out.facts += self.facts
        self.alerts, self.facts = [], []


class ShadowedCasePartition(GuardedCasePartition):
    """A source partition evaluated with the active configuration and each shadow."""

    def __init__(
        self,
        topic: str,
        partition: int,
        cases: CaseEngine,
        lateness_us: int,
        shadows: Sequence[Shadow],
    ) -> None:
        super().__init__(topic, partition, cases, lateness_us)
        where = f"{topic}[{partition}]"
        self.shadows = {s.prefix: ShadowCases(s, where) for s in shadows}
        self.stale: list[str] = []  # keys of shadows no longer configured: deleted at collect

    def load(self, entries: Iterable[tuple[str, bytes]]) -> int:
        active, shadows, stale = split_entries(entries, self.shadows)
        for prefix, key, value in shadows:
            self.shadows[prefix].cases.load(key, unpack_case(value)[1])
        self.stale += stale
        return super().load(active)

    def process(
        self, event: Event, offset: int, out: Output, arrived_at: int | None = None
    ) -> bool:
        applied = super().process(event, offset, out, arrived_at)
        if applied:  # stored: every shadow sees it too (not an event the case held)
            for shadow in self.shadows.values():
                shadow.process(event)
        return applied

    def advance(self, t: int, out: Output) -> None:
        super().advance(t, out)
        for shadow in self.shadows.values():
            shadow.advance(t)

    def next_timer(self) -> int | None:
        timers = [super().next_timer()] + [s.next_timer() for s in self.shadows.values()]
        return min((t for t in timers if t is not None), default=None)

    def collect(self, out: Output, table_key: Callable[[int, str, str], bytes]) -> None:
        super().collect(out, table_key)
        for shadow in self.shadows.values():
            shadow.collect(self, out, table_key)
        p = self.partition
        out.case_states += [(p, table_key(p, self.topic, key), None, self) for key in self.stale]
        self.stale.clear()


class ShadowedFactPartition(FactPartition):
    """A facts partition judging the active facts and each shadow's (by key prefix)."""

    def __init__(
        self, partition: int, cross: CrossEngine, sources: frozenset[str], shadows: Sequence[Shadow]
    ) -> None:
        super().__init__(partition, cross, sources)
        self.shadows = {s.prefix: CrossEngine(s.config) for s in shadows}
        self.shadow_alerts: list[Alert] = []
        self.stale: list[str] = []

    def load(self, entries: Iterable[tuple[str, bytes]]) -> int:
        active, shadows, stale = split_entries(entries, self.shadows)
        for prefix, key, value in shadows:
            marker, blob = unpack_cross(value)
            self.shadows[prefix].load(key, blob)
            self.applied[prefix + key] = marker
        self.stale += stale
        return super().load(active)

    def out_of_window(self, fact: Fact) -> bool:
        split = split_key(fact.key)
        if split is None:
            return super().out_of_window(fact)
        engine = self.shadows.get(split[0])
        if engine is None:
            return True  # a shadow no longer configured: its facts in flight are dropped
        return self.expired_at is not None and engine.expired(
            split[1], fact.occurred_at, self.expired_at
        )

    def logged(self, fact: Fact) -> bool:
        split = split_key(fact.key)
        if split is None:
            return super().logged(fact)
        engine = self.shadows.get(split[0])
        if engine is None:
            return False
        state = engine.states.get(split[1])
        return engine.facts is not None and state is not None and "log" in state

    def judge(self, fact: Fact, now: int = 0) -> list[Alert]:
        split = split_key(fact.key)
        if split is None:
            return super().judge(fact, now)
        prefix, key = split
        own = Fact(
            key,
            fact.occurred_at,
            fact.kind,
            fact.data,
            fact.event_id,
            fact.case_id,
            fact.dept,
            fact.may_alert,
            fact.seq,
        )
        engine = self.shadows[prefix]
        self.shadow_alerts += engine.process(own, now)
        engine.take_withdrawals()  # a shadow's withdrawals are not stored (module doc)
        return []

    def expire(self, horizon: int) -> int:
        gone = super().expire(horizon)
        for engine in self.shadows.values():
            gone += engine.expire(horizon)
        return gone

    def collect(self, out: Output, table_key: Callable[[int, str], bytes]) -> None:
        q = self.partition
        for prefix, engine in self.shadows.items():  # before the expiry mark that covers them
            for key, blob in engine.export_dirty().items():
                full = prefix + key
                if blob is None:
                    self.applied.pop(full, None)
                    out.cross_states.append((q, table_key(q, full), None, self))
                else:
                    value = pack_cross(self.applied.get(full, NO_MARKER), blob)
                    out.cross_states.append((q, table_key(q, full), value, self))
        out.cross_states += [(q, table_key(q, key), None, self) for key in self.stale]
        self.stale.clear()
        out.shadow_alerts += self.shadow_alerts
        self.shadow_alerts = []
        super().collect(out, table_key)
