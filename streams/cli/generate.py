"""``supervise generate``: a seeded, realistic workload as JSON Lines or straight to Kafka.

``--planted FILE`` writes, beside the events, one JSON line per case saying what
the generator planted in it (``{"process", "case_id", "planted": [...], "open"}``):
the case ids themselves look like the upstream systems' numbers and tell nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import orjson
import typer

from streams.cli import app
from streams.contract import PROGRESS_KEY, progress_marker
from streams.engine.timeutil import parse_instant
from streams.workload import (
    LAST_START,
    ORDERS,
    GenerateConfig,
    Line,
    PlantedCase,
    WorkloadGenerator,
    encode_lines,
    hold_back_last,
    report_late,
)

WRITE_BATCH = 4_096  # lines per write() call
_LATE = "Share of cases whose last event is sent after all the others (a late upstream)."
_REPORTED = "Share of cases whose last event is recorded two days late (reported_at)."
MARKER_EVERY_LINES = 1_000  # progress markers after this many events sent...
MARKER_EVERY_S = 1.0  # ... or this long, whichever comes first
DEFAULT_SOURCE = "supervise-generate"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"supervise generate: {message}", err=True)
    return typer.Exit(code=2)


def _parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(f"{option} must be a date YYYY-MM-DD, got {text!r}") from None


def _paced(lines: Iterator[Line], rate: float) -> Iterator[Line]:
    """Yield at most ``rate`` lines per second (0 = as fast as possible)."""
    if rate <= 0:
        yield from lines
        return
    started = time.monotonic()
    for n, line in enumerate(lines):
        due = started + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield line


def write_lines(lines: Iterator[Line], sink: BinaryIO, batch_size: int = WRITE_BATCH) -> int:
    """Write JSON Lines in batches; returns the number of lines written."""
    count = 0
    batch: list[bytes] = []
    for line in lines:
        batch.append(line.value)
        if len(batch) >= batch_size:
            sink.write(b"\n".join(batch) + b"\n")
            count += len(batch)
            batch.clear()
    if batch:
        sink.write(b"\n".join(batch) + b"\n")
        count += len(batch)
    sink.flush()
    return count


def open_sink(stack: ExitStack, target: str) -> BinaryIO:
    """Standard output for ``-``, else the file (its folder created), closed with ``stack``."""
    if target == "-":
        return sys.stdout.buffer
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    return stack.enter_context(path.open("wb", buffering=1 << 20))


def planted_writer(sink: BinaryIO) -> Callable[[PlantedCase], None]:
    """A generator callback writing each case's planted record as one JSON line."""

    def write(case: PlantedCase) -> None:
        sink.write(orjson.dumps(case.to_dict()) + b"\n")

    return write


@dataclass
class Progress:
    """Progress markers a well-behaved upstream publishes (events.md § Transport): after every
    ``every_lines`` events or ``every_s`` seconds, once what it sent before is acknowledged, a
    marker ``{"source", "watermark"}`` keyed ``__progress__`` on every partition of every topic
    it publishes to; at the end, one past everything it sent (and at least the wall clock)."""

    source: str
    watermark: Callable[[], str | None]  # RFC 3339, or None: nothing to say yet
    end: Callable[[], str | None]
    every_lines: int = MARKER_EVERY_LINES
    every_s: float = MARKER_EVERY_S
    sent: int = 0  # markers published
    _last: int | None = None  # the last watermark published (µs): never goes back

    def publish(self, producer: Any, topics: Iterable[str], text: str | None) -> None:
        if text is None:
            return
        at = parse_instant(text)
        if self._last is not None and at <= self._last:
            return
        producer.flush()  # every event before the marker is published first
        value = progress_marker(self.source, text)
        for topic in topics:
            for partition in sorted(producer.partitions_for(topic) or ()):
                producer.send(topic, key=PROGRESS_KEY, value=value, partition=partition)
                self.sent += 1
        self._last = at

    def final(self) -> str | None:
        """Past every event sent, and not before now: the upstream has published everything."""
        end = self.end()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        return now if end is None or parse_instant(now) > parse_instant(end) else end


def produce_lines(
    lines: Iterator[Line],
    bootstrap: str,
    topics: dict[str, str],
    progress: Progress | None = None,
) -> int:
    """Send every line to its process's topic, keyed by case_id (with ``progress`` markers);
    flush before returning."""
    from kafka import KafkaProducer  # kafka-python

    producer = KafkaProducer(
        bootstrap_servers=[b.strip() for b in bootstrap.split(",") if b.strip()],
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
        client_id="supervise-generate",
    )
    count = 0
    targets = sorted(set(topics.values()))
    marked_count, marked_at = 0, time.monotonic()
    try:
        for line in lines:
            topic = topics.get(line.process, topics["approval"])
            producer.send(topic, key=line.key, value=line.value)
            count += 1
            if progress is not None and (
                count - marked_count >= progress.every_lines
                or time.monotonic() - marked_at >= progress.every_s
            ):
                progress.publish(producer, targets, progress.watermark())
                marked_count, marked_at = count, time.monotonic()
        if progress is not None:
            progress.publish(producer, targets, progress.final())
        producer.flush()
    finally:
        producer.close()
    return count


def create_topics(bootstrap: str, topics: dict[str, str], prefix: str | None) -> None:
    """Create the supervision topics the live service expects (idempotent, same partitions)."""
    from streams.contract import ACTION_RESULTS_SUFFIX, ACTIONS_SUFFIX, WORKFLOW_INPUTS_SUFFIX
    from streams.live.topics import Topics, ensure_topics
    from streams.settings import get_settings

    settings = get_settings()
    base = Topics.from_settings(settings)
    ensure_topics(
        bootstrap,
        Topics(
            approval=topics["approval"],
            fund=topics["fund_disbursement"],
            trade=topics["tender"],
            inspection=topics["inspection"],
            alerts=f"{prefix}.alerts" if prefix else base.alerts,
            deadletter=f"{prefix}.deadletter" if prefix else base.deadletter,
            facts=f"{prefix}.facts" if prefix else base.facts,
            partitions=base.partitions,
            replication=base.replication,
            actions=f"{prefix}.{ACTIONS_SUFFIX}" if prefix else base.actions,
            action_results=f"{prefix}.{ACTION_RESULTS_SUFFIX}" if prefix else base.action_results,
            workflow_inputs=f"{prefix}.{WORKFLOW_INPUTS_SUFFIX}"
            if prefix
            else base.workflow_inputs,
        ),
    )


def topic_map(prefix: str | None) -> dict[str, str]:
    """Topic per process: ``{prefix}.approval`` etc., or the TOPIC_* settings without a prefix."""
    from streams.contract import DOMAIN_SUFFIXES, topics_by_process

    if prefix:
        return topics_by_process({s: f"{prefix}.{s}" for s in DOMAIN_SUFFIXES})
    from streams.settings import get_settings

    settings = get_settings()
    return topics_by_process({s: getattr(settings, f"topic_{s}") for s in DOMAIN_SUFFIXES})


@app.command("generate")
def generate_command(
    cases: Annotated[
        int, typer.Option("--cases", min=0, help="Number of cases (process instances).")
    ] = 1_000,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Random seed: same seed, same bytes.")
    ] = 1,
    start: Annotated[
        str, typer.Option("--start", help="First day cases may start (2026).")
    ] = "2026-01-05",
    until: Annotated[
        str, typer.Option("--until", help=f"Last day cases may start (at most {LAST_START}).")
    ] = LAST_START.isoformat(),
    out: Annotated[
        str | None,
        typer.Option("--out", "-o", help="JSON Lines file to write, or - for standard output."),
    ] = None,
    kafka: Annotated[
        str | None,
        typer.Option("--kafka", help="Bootstrap servers: produce to Kafka instead of a file."),
    ] = None,
    topic_prefix: Annotated[
        str | None,
        typer.Option(
            "--topic-prefix",
            envvar="SUPERVISE_TOPIC_PREFIX",
            help="Topics {prefix}.approval, .fund, .trade, .inspection; default: TOPIC_* settings.",
        ),
    ] = None,
    make_topics: Annotated[
        bool,
        typer.Option(
            "--create-topics/--no-create-topics",
            help="With --kafka: first create missing topics (TOPIC_PARTITIONS partitions).",
        ),
    ] = True,
    rate: Annotated[
        float, typer.Option("--rate", min=0, help="Events per second (0 = unpaced).")
    ] = 0.0,
    order: Annotated[
        str,
        typer.Option(
            "--order", help="sorted | feed (arrival jitter, per-case order kept) | shuffled."
        ),
    ] = "feed",
    max_delay: Annotated[
        int, typer.Option("--max-delay", min=0, help="feed order: longest arrival delay, seconds.")
    ] = 900,
    shuffle_window: Annotated[
        int,
        typer.Option(
            "--shuffle-window", min=1, help="shuffled order: events in the shuffle buffer."
        ),
    ] = 1_000,
    violation_rate: Annotated[
        float,
        typer.Option("--violation-rate", min=0, max=1, help="Share of cases carrying a violation."),
    ] = 0.15,
    open_share: Annotated[
        float,
        typer.Option(
            "--open-share", min=0, max=1, help="Share of cases left open (no terminal event)."
        ),
    ] = 0.0,
    bad_rate: Annotated[
        float,
        typer.Option("--bad-rate", min=0, max=1, help="Malformed lines added per valid event."),
    ] = 0.0,
    duplicate_rate: Annotated[
        float,
        typer.Option(
            "--duplicate-rate", min=0, max=1, help="Share of events re-sent (same event_id)."
        ),
    ] = 0.0,
    late_share: Annotated[float, typer.Option("--late-share", min=0, max=1, help=_LATE)] = 0.0,
    late_reported_share: Annotated[
        float, typer.Option("--late-reported-share", min=0, max=1, help=_REPORTED)
    ] = 0.0,
    planted: Annotated[
        str | None,
        typer.Option(
            "--planted",
            help="JSON Lines file: per case, the violations planted in it (not in its ids).",
        ),
    ] = None,
    source: Annotated[
        str,
        typer.Option(
            "--source",
            help="With --kafka: the upstream source named in the progress markers published "
            "after each batch of events, on every partition (events.md § Transport; the worker "
            "follows them for the topics whose TOPIC_*_SOURCES name it); '' publishes none.",
        ),
    ] = DEFAULT_SOURCE,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No summary on standard error.")
    ] = False,
) -> None:
    """Write a deterministic, realistic workload of supervision events (JSON Lines or Kafka)."""
    if out is not None and kafka is not None:
        raise _fail("give either --out or --kafka, not both")
    if order not in ORDERS:
        raise _fail(f"--order must be one of {', '.join(ORDERS)}")
    try:
        config = GenerateConfig(
            cases=cases,
            seed=seed,
            start=_parse_date(start, "--start"),
            until=_parse_date(until, "--until"),
            violation_rate=violation_rate,
            open_share=open_share,
            duplicate_rate=duplicate_rate,
            order=order,
            max_delay=max_delay,
            shuffle_window=shuffle_window,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None

    with ExitStack() as stack:
        on_case = None
        if planted is not None:
            if planted == "-" or planted == out:
                raise _fail("--planted needs a file of its own")
            on_case = planted_writer(open_sink(stack, planted))
        generator = WorkloadGenerator(config, on_case)
        events = report_late(generator.events(), late_reported_share, seed=seed)
        events = hold_back_last(events, late_share, seed=seed)
        lines = _paced(encode_lines(events, bad_rate=bad_rate, seed=seed), rate)
        began = time.perf_counter()
        progress = None
        if kafka is not None and source:
            progress = Progress(source, generator.watermark, generator.end_watermark)
        if kafka is not None:
            written, target = _to_kafka(lines, kafka, topic_prefix, make_topics, progress)
        else:
            target = out or "-"
            sink = open_sink(stack, target)
            written = write_lines(lines, sink, 1 if rate > 0 else WRITE_BATCH)
        elapsed = time.perf_counter() - began
    if not quiet:
        stats = generator.stats
        typer.echo(
            f"generate: {written} lines to {target} in {elapsed:.1f}s "
            f"({written / elapsed if elapsed else 0:,.0f}/s): {stats.cases} cases "
            f"({stats.open_cases} open), {stats.events} events incl. {stats.duplicates} re-sent, "
            f"{written - stats.events} malformed"
            + (f"; {progress.sent} progress markers of {source!r}" if progress else ""),
            err=True,
        )


def _to_kafka(
    lines: Iterator[Line],
    kafka: str,
    topic_prefix: str | None,
    make_topics: bool,
    progress: Progress | None = None,
) -> tuple[int, str]:
    """Produce the lines; returns (lines written, a description of the target)."""
    from kafka.errors import KafkaError

    topics = topic_map(topic_prefix)
    try:
        if make_topics:
            create_topics(kafka, topics, topic_prefix)
        written = produce_lines(lines, kafka, topics, progress)
    except KafkaError as exc:
        typer.echo(f"supervise generate: Kafka at {kafka}: {exc!r}", err=True)
        raise typer.Exit(code=1) from None
    return written, f"Kafka {kafka} ({', '.join(sorted(set(topics.values())))})"
