"""``supervise deadletter``: operator decisions about input the rejection breaker stopped.

``supervise deadletter skip --topic T --partition P [--until-offset O]`` lets the
invalid messages of ``T[P]`` below ``O`` (default: the partition's end now) through
as dead letters: they no longer count toward the rejection-rate limit. The decision
is a record of the compacted topic ``<TOPIC_DEADLETTER>.decisions`` (created when
missing), which every worker reads (``streams.live.breaker``); a stopped partition
resumes within seconds, and no restart trips on that range again.
"""

from __future__ import annotations

import contextlib
import getpass
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from streams.cli import app

deadletter_app = typer.Typer(
    help="Decisions about input stopped by the rejection breaker.", no_args_is_help=True
)
app.add_typer(deadletter_app, name="deadletter")

TIMEOUT_S = 30.0


def _fail(message: str) -> typer.Exit:
    typer.echo(f"supervise deadletter: {message}", err=True)
    return typer.Exit(code=2)


def _ensure_decisions_topic(bootstrap: list[str], topic: str, replication: int) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic  # kafka-python
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="supervise-deadletter")
    try:
        if topic in set(admin.list_topics()):
            return
        with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent creator won
            admin.create_topics(
                [
                    NewTopic(
                        topic,
                        num_partitions=1,
                        replication_factor=replication,
                        topic_configs={"cleanup.policy": "compact"},
                    )
                ]
            )
    finally:
        admin.close()


def _log_end(bootstrap: list[str], topic: str, partition: int) -> int | None:
    """The partition's end offset now (the high watermark of a fetch, which every broker
    reports exactly; list-offsets answers are taken only when a fetch gives none); None
    when the broker does not know the partition."""
    from kafka import KafkaConsumer, TopicPartition

    consumer: Any = KafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="supervise-deadletter",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        known = consumer.partitions_for_topic(topic) or set()
        if partition not in known:
            return None
        tp = TopicPartition(topic, partition)
        listed: int = consumer.end_offsets([tp])[tp]
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        consumer.poll(timeout_ms=int(TIMEOUT_S * 1000) // 10, max_records=1)
        highwater: int | None = consumer.highwater(tp)
        return max(listed, highwater or 0)
    finally:
        consumer.close()


@deadletter_app.command("skip")
def skip_command(
    topic: Annotated[str, typer.Option("--topic", help="Source topic the breaker stopped.")],
    partition: Annotated[int, typer.Option("--partition", min=0, help="Its partition.")],
    until_offset: Annotated[
        int | None,
        typer.Option(
            "--until-offset",
            min=0,
            help="Let invalid messages below this offset through (default: the partition's "
            "end now: everything published so far).",
        ),
    ] = None,
    operator: Annotated[
        str | None, typer.Option("--operator", help="Who decided (default: the login name).")
    ] = None,
) -> None:
    """Let a range stopped by the rejection breaker through as dead letters (README:
    Rejection breaker tripped)."""
    from kafka import KafkaProducer

    from streams.live.breaker import SkipDecision, decisions_topic
    from streams.live.topics import Topics, bootstrap_list
    from streams.settings import get_settings

    settings = get_settings()
    topics = Topics.from_settings(settings)
    if topic not in topics.domain:
        raise _fail(f"--topic {topic!r} is not a supervision topic ({', '.join(topics.domain)})")
    bootstrap = bootstrap_list(settings.kafka_bootstrap)
    try:
        end = _log_end(bootstrap, topic, partition)
        if end is None:
            raise _fail(f"{topic} has no partition {partition}")
        until = end if until_offset is None else until_offset
        target = decisions_topic(settings.topic_deadletter)
        _ensure_decisions_topic(bootstrap, target, settings.topic_replication)
        decision = SkipDecision(
            topic,
            partition,
            until,
            operator or getpass.getuser(),
            datetime.now(UTC).isoformat(timespec="seconds"),
        )
        producer = KafkaProducer(
            bootstrap_servers=bootstrap, client_id="supervise-deadletter", acks="all"
        )
        try:
            producer.send(target, key=decision.key, value=decision.to_bytes(), partition=0).get(
                timeout=TIMEOUT_S
            )
            producer.flush(TIMEOUT_S)
        finally:
            producer.close(TIMEOUT_S)
    except typer.Exit:
        raise
    except Exception as exc:  # broker unreachable, topic creation refused, ...
        raise _fail(f"cannot record the decision: {exc!r}") from None
    typer.echo(
        f"recorded in {target}: invalid messages of {topic}[{partition}] below offset {until} "
        f"go to the dead-letter topic without counting toward the rejection limit "
        f"(decided by {decision.operator} at {decision.decided_at}). A stopped partition "
        "resumes within seconds: watch supervision_deadletter_breaker_tripped return to 0."
    )
