"""Progress markers and the horizon of a partition's upstreams (events.md § Transport, rules.md §1.4).

An upstream system may publish to each partition of its topic a message keyed
``__progress__`` with value ``{"source": S, "watermark": T}``: source S has
published, to that partition, every event with ``occurred_at`` < T. The live
service reads markers in offset order with the events (so once a marker is read,
every event of S before T on that partition has been read too), keeps the latest
watermark per source and partition (``ProgressMarks``), and never stores or
evaluates a marker as an event.

- A message keyed ``__progress__`` whose value is not exactly such an object
  (T an RFC 3339 date-time with offset in years 2000..2099, S a non-empty string
  of at most 128 characters) is dead-lettered (reason ``progress_marker``).
- A watermark earlier than the source's latest on that partition is ignored and
  counted (``backwards``); a source not configured for the topic is ignored and
  counted (``unconfigured``).

``UpstreamHorizon`` says how far a *caught-up* partition counts as consumed
(rules.md §1.4 (b)): the minimum latest watermark over the sources configured for
its topic (nothing until each has spoken on that partition), or, for a topic with
no configured source, the wall clock minus ``upstream_delay``. A partition whose
broker has not answered a fetch within the last ``upstream_delay`` does not
advance at all.

The watermarks are bookkeeping of the partition's state: stored in the case-state
table under ``"{p}|@progress|{topic}"`` (JSON ``{source: µs}``), written with the
partition's states before its next offset, restored with them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson

from streams.contract import DOMAIN_SUFFIXES, PROGRESS_FIELDS, SOURCE_MAX_CHARS
from streams.engine.timeutil import InstantError, parse_instant
from streams.settings import Settings

# Watermarks, like every date-time of the contract, lie in years 2000..2099.
MIN_WATERMARK_US = 946_684_800 * 1_000_000  # 2000-01-01T00:00:00Z
MAX_WATERMARK_US = 4_102_444_800 * 1_000_000  # 2100-01-01T00:00:00Z
# Outcomes of a marker, as ``supervision_progress_markers_total`` labels them.
ADVANCED, UNCHANGED, BACKWARDS, UNCONFIGURED, MALFORMED = (
    "advanced",
    "unchanged",
    "backwards",
    "unconfigured",
    "malformed",
)
MARKER_OUTCOMES = (ADVANCED, UNCHANGED, BACKWARDS, UNCONFIGURED, MALFORMED)
RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


class InvalidMarker(ValueError):
    """A message keyed ``__progress__`` that is not a well-formed progress marker."""


@dataclass(frozen=True, slots=True)
class Marker:
    source: str
    watermark: int  # epoch µs


def parse_marker(value: bytes) -> Marker:
    """The marker in a message value; raises ``InvalidMarker`` naming what is wrong."""
    prefix = "progress_marker: "
    if not value:
        raise InvalidMarker(prefix + 'no value; a marker is {"source": S, "watermark": T}')
    try:
        doc: Any = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidMarker(f"{prefix}not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidMarker(f"{prefix}a marker is a JSON object, not {type(doc).__name__}")
    missing = sorted(PROGRESS_FIELDS - doc.keys())
    if missing:
        raise InvalidMarker(f"{prefix}{missing[0]}: required")
    unknown = sorted(doc.keys() - PROGRESS_FIELDS)
    if unknown:
        raise InvalidMarker(f"{prefix}{unknown[0]}: not a field of a progress marker")
    source, text = doc["source"], doc["watermark"]
    if not isinstance(source, str) or not 1 <= len(source) <= SOURCE_MAX_CHARS:
        raise InvalidMarker(f"{prefix}source: a string of 1..{SOURCE_MAX_CHARS} characters")
    if not isinstance(text, str) or not RFC3339.fullmatch(text):
        raise InvalidMarker(f"{prefix}watermark: an RFC 3339 date-time with offset")
    try:
        watermark = parse_instant(text)
    except InstantError as exc:
        raise InvalidMarker(f"{prefix}watermark: {exc}") from None
    if not MIN_WATERMARK_US <= watermark < MAX_WATERMARK_US:
        raise InvalidMarker(f"{prefix}watermark: outside the years 2000..2099")
    return Marker(source, watermark)


def progress_key(partition: int, topic: str) -> bytes:
    """Case-state table key of a source partition's watermarks (bookkeeping, not engine state)."""
    return f"{partition}|@progress|{topic}".encode()


@dataclass(slots=True)
class ProgressMarks:
    """The latest watermark of each source on one partition."""

    latest: dict[str, int] = field(default_factory=dict)
    dirty: bool = False  # changed since last stored

    def observe(self, marker: Marker, configured: frozenset[str]) -> str:
        """Take a marker read from the partition; its outcome (``MARKER_OUTCOMES``)."""
        if marker.source not in configured:
            return UNCONFIGURED
        last = self.latest.get(marker.source)
        if last is not None and marker.watermark <= last:
            return UNCHANGED if marker.watermark == last else BACKWARDS
        self.latest[marker.source] = marker.watermark
        self.dirty = True
        return ADVANCED

    def horizon(self, sources: Iterable[str]) -> int | None:
        """The minimum latest watermark over ``sources``; None until every one has spoken."""
        marks = [self.latest.get(s) for s in sources]
        if not marks or any(m is None for m in marks):
            return None
        return min(m for m in marks if m is not None)

    def pack(self) -> bytes:
        return json.dumps(self.latest, sort_keys=True, separators=(",", ":")).encode()

    def load(self, value: bytes | None) -> None:
        if value:
            self.latest = {str(k): int(v) for k, v in json.loads(value).items()}
        self.dirty = False


def parse_sources(text: str) -> frozenset[str]:
    """A comma-separated list of source names (the ``TOPIC_*_SOURCES`` settings)."""
    return frozenset(s.strip() for s in text.split(",") if s.strip())


@dataclass(frozen=True, slots=True)
class UpstreamHorizon:
    """rules.md §1.4 (b): how far a caught-up partition counts as consumed."""

    sources: Mapping[str, frozenset[str]]  # topic -> sources configured for it
    delay_us: int

    @classmethod
    def from_settings(cls, settings: Settings) -> UpstreamHorizon:
        """``TOPIC_*_SOURCES`` per topic, ``UPSTREAM_DELAY``."""
        sources = {}
        for suffix in DOMAIN_SUFFIXES:
            names = parse_sources(getattr(settings, f"topic_{suffix}_sources"))
            if names:
                sources[getattr(settings, f"topic_{suffix}")] = names
        delay_us = settings.upstream_delay // timedelta(microseconds=1)
        return cls(sources, delay_us)

    def configured(self, topic: str) -> frozenset[str]:
        return self.sources.get(topic, frozenset())

    def horizon(
        self,
        topic: str,
        marks: ProgressMarks,
        now: int,
        answered_at: int | None,
        stream: int | None = None,
        *,
        by_stream: bool = False,
    ) -> int | None:
        """The horizon of ``topic``'s upstreams on a partition, or None: it does not advance.

        ``answered_at``: when the broker last answered a fetch of the partition (µs); None
        (never) or older than the delay: None. ``by_stream`` (``WATERMARK_IDLE=stream``): a
        topic without sources goes no further than ``stream`` (the stream's own clock), and
        not at all without one.
        """
        if answered_at is None or now - answered_at > self.delay_us:
            return None
        sources = self.sources.get(topic)
        if sources:
            return marks.horizon(sources)
        wall = now - self.delay_us
        if not by_stream:
            return wall
        return None if stream is None else min(stream, wall)
