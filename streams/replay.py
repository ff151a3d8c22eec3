"""Offline replay: JSON Lines in, alerts out, exactly as the rule book says.

Lines are validated; rejected ones are reported with their line number and
reason. Accepted events are de-duplicated by ``event_id`` in read order (the
first one read wins), ordered by ``occurred_at`` (stable, so equal instants
keep read order) and fed to the engine.

Replay gives the supervision state as of an instant T (rules.md §1.3; default:
the latest ``occurred_at`` of the input): only events with ``occurred_at`` ≤ T
are evaluated (later ones are read, counted in ``beyond_as_of`` and left out),
and every alert whose ``raised_at`` is ≤ T is raised — what the live service
had raised by T once every event up to T had arrived.

A valid event the engine fails on quarantines its case, as the live service does
(``streams.live.quarantine``): its state is dropped, it and every later event of
the case are reported as rejects with reason ``engine_error`` and not evaluated,
and the summary counts the quarantined cases; the other cases go on.
"""

from __future__ import annotations

import gc
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson

from streams.contract import PROGRESS_FIELDS
from streams.engine import Alert, Engine, EventValidator, SupervisionConfig
from streams.engine.cases import PendingCase
from streams.engine.model import Event
from streams.privacy import mask_text
from streams.replay_flow import FlowReplay

_CHUNK = 10_000  # events fed per call (and per progress report)

ENGINE_ERROR = "engine_error"
REASON_MAX = 200


@dataclass(slots=True)
class Reject:
    line: int  # 0 for an event of a quarantined case (its line is not kept)
    reason: str
    raw: bytes
    event_id: str = ""  # events of quarantined cases


def engine_error_reason(exc: BaseException) -> str:
    """``engine_error: <type>: <message>``, masked and short (as the live service's)."""
    text = mask_text(f"{ENGINE_ERROR}: {type(exc).__name__}: {exc}")
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"


def event_json(event: Event) -> bytes:
    """The event as the contract's JSON (its fields as validated; the line is not kept)."""
    record: dict[str, object] = {
        "event_id": event.event_id,
        "case_id": event.case_id,
        "process": event.process,
        "action": event.action,
        "occurred_at": event.occurred_at_text,
        "dept": event.dept,
    }
    if event.actor is not None:
        record["actor"] = event.actor
    if event.reported_at_text is not None:
        record["reported_at"] = event.reported_at_text
    record["attrs"] = event.attrs
    return orjson.dumps(record)


@dataclass
class ReplaySummary:
    lines: int = 0
    blank: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    conflicting: int = 0
    """Of the duplicates, those with other content than the first (also in the rejects)."""
    beyond_as_of: int = 0
    """Accepted events with ``occurred_at`` after the as-of instant: read, not evaluated."""
    as_of: int | None = None
    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)
    pending: list[PendingCase] = field(default_factory=list)
    """Cases whose timed decisions wait for a year without calendar data (rules.md §1.5)."""
    pending_years: dict[int, int] = field(default_factory=dict)
    """Pending cases per missing year."""
    quarantined: dict[str, str] = field(default_factory=dict)
    """Cases the engine failed on (``process|case_id`` -> reason): not evaluated further."""
    engine_errors: int = 0
    """Events of quarantined cases, reported as rejects with reason ``engine_error``."""

    @property
    def alert_count(self) -> int:
        return sum(self.alerts.values())


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bounded batch.

    The engine builds no reference cycles, but with millions of live objects
    every full collection walks them all: about a third of replay time.
    Reference counting still frees everything; collection resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


MARKER_IN_FILE = (
    "progress_marker: a progress marker is a Kafka message keyed __progress__ (events.md § "
    "Transport), not an event; files hold events only"
)


def is_progress_marker(raw: bytes) -> bool:
    """A line that is a progress marker's value (``{"source": S, "watermark": T}``)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and doc.keys() == PROGRESS_FIELDS


def read_events(
    lines: Iterable[bytes],
    validator: EventValidator,
    summary: ReplaySummary,
    on_reject: Callable[[Reject], None],
) -> list[Event]:
    """Validated, de-duplicated events in read order."""

    def reject(number: int, reason: str, raw: bytes) -> None:
        summary.rejected += 1
        on_reject(Reject(number, MARKER_IN_FILE if is_progress_marker(raw) else reason, raw))

    events, counts = validator.read_lines(lines, reject)
    summary.lines += counts.lines
    summary.blank += counts.blank
    summary.duplicates += counts.duplicates
    summary.conflicting += counts.conflicting
    summary.accepted += len(events)
    return events


def replay(
    lines: Iterable[bytes],
    config: SupervisionConfig,
    on_alert: Callable[[Alert], None],
    on_reject: Callable[[Reject], None],
    as_of: int | None = None,
    validator: EventValidator | None = None,
    progress: Callable[[int], None] | None = None,
    flow: FlowReplay | None = None,
    *,
    engine: Engine | None = None,
) -> ReplaySummary:
    """Replay JSON Lines through a fresh engine; alerts and rejects go to the callbacks.

    With ``flow``, the 督办 workflow's actions are evaluated with the events in time order
    (``streams.replay_flow``): every alert raised opens or joins a workflow, and the
    workflow's ``SUP_*`` alerts go to ``on_alert`` with the others. The default as-of
    instant is then the latest event or action. ``engine``: the fresh engine to use
    (``replay_engine(config)``), for a caller that reads its case states afterwards
    (``supervise diff``: the deadlines)."""
    with cyclic_gc_paused():
        return _replay(lines, config, on_alert, on_reject, as_of, validator, progress, flow, engine)


def replay_engine(config: SupervisionConfig) -> Engine:
    """The engine replay uses: nothing is persisted and event ids are already unique (no
    change tracking, no id memory)."""
    return Engine(config, track_changes=False, event_ids=False)


def _replay(
    lines: Iterable[bytes],
    config: SupervisionConfig,
    on_alert: Callable[[Alert], None],
    on_reject: Callable[[Reject], None],
    as_of: int | None,
    validator: EventValidator | None,
    progress: Callable[[int], None] | None,
    flow: FlowReplay | None = None,
    engine: Engine | None = None,
) -> ReplaySummary:
    summary = ReplaySummary()
    events = read_events(lines, validator or EventValidator(), summary, on_reject)
    events.sort(key=lambda e: e.occurred_at)
    if as_of is None:
        as_of = events[-1].occurred_at if events else None
        latest = flow.latest() if flow is not None else None
        if latest is not None and (as_of is None or latest > as_of):
            as_of = latest
    elif events and events[-1].occurred_at > as_of:
        cut = bisect_right(events, as_of, key=lambda e: e.occurred_at)
        summary.beyond_as_of = len(events) - cut
        del events[cut:]
    events.reverse()  # fed by popping off the end: each event is freed once the engine has it
    total = len(events)
    if engine is None:
        engine = replay_engine(config)

    def emit(alerts: list[Alert]) -> None:
        for alert in alerts:
            if as_of is not None and alert.raised_at > as_of:
                continue  # not yet raised as of the cut (e.g. raised at a later reported_at)
            summary.alerts[(alert.rule, alert.level)] += 1
            on_alert(alert)
            if flow is not None:
                flow.alerts([alert])

    if flow is not None:
        if as_of is not None:
            flow.cut(as_of)
        flow.bind(emit, lambda instant: emit(engine.advance(instant)))

    quarantined = summary.quarantined

    def feed(count: int) -> None:
        """``count`` events off the stack, each guarded: an engine error quarantines its case.

        Time is advanced before each event apart from it (as ``Engine.feed`` does), so
        that the alerts due before a failing event are raised all the same."""
        for _ in range(min(count, len(events))):
            event = events.pop()
            key = event.process + "|" + event.case_id
            reason = quarantined.get(key) if quarantined else None
            if flow is not None:
                flow.until(event.occurred_at)
            if reason is None:
                emit(engine.advance(event.occurred_at))
                if flow is not None:
                    flow.advance(event.occurred_at)
                try:
                    emit(engine.process(event))
                    if flow is not None:
                        flow.observe(event)
                    continue
                except Exception as exc:  # noqa: BLE001 - any engine failure
                    reason = quarantined[key] = engine_error_reason(exc)
                    engine.cases.load(key, None)  # its timers never fire again
            else:
                reason = f"case quarantined: {reason}"
                emit(engine.advance(event.occurred_at))
                if flow is not None:
                    flow.advance(event.occurred_at)
            summary.engine_errors += 1
            on_reject(Reject(0, reason, event_json(event), event.event_id))

    while events:
        feed(_CHUNK)
        if progress is not None:
            progress(total - len(events))
    if as_of is not None:
        if flow is not None:
            flow.until(as_of, inclusive=True)
        emit(engine.advance(as_of))
        if flow is not None:
            flow.advance(as_of)
    if flow is not None:
        flow.finish()
    summary.as_of = as_of
    summary.pending = engine.pending_cases()
    summary.pending_years = engine.pending_calendar()
    if progress is not None:
        progress(total)
    return summary
