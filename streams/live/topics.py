"""Topic names of the live service and their creation.

Every supervision topic has the same partition count: Faust co-partitions the
domain topics, the facts topic and the table changelogs, so a worker that owns
partition *p* owns it everywhere. Topics are created up front (never implicitly
at produce time); creation is idempotent.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass

from streams.contract import topic_suffix
from streams.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Topics:
    approval: str
    fund: str
    trade: str
    inspection: str
    alerts: str
    deadletter: str
    facts: str
    actions: str
    action_results: str
    partitions: int
    replication: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Topics:
        return cls(
            approval=settings.topic_approval,
            fund=settings.topic_fund,
            trade=settings.topic_trade,
            inspection=settings.topic_inspection,
            alerts=settings.topic_alerts,
            deadletter=settings.topic_deadletter,
            facts=settings.topic_facts,
            partitions=settings.topic_partitions,
            replication=settings.topic_replication,
            actions=settings.topic_actions,
            action_results=settings.topic_action_results,
        )

    @property
    def domain(self) -> tuple[str, ...]:
        """The topics business systems publish events to."""
        return (self.approval, self.fund, self.trade, self.inspection)

    @property
    def workflow(self) -> tuple[str, ...]:
        """The 督办 workflow's topics: actions in, their results out (contract.WORKFLOW_SUFFIXES)."""
        return (self.actions, self.action_results)

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.domain, self.alerts, self.deadletter, self.facts, *self.workflow)

    def for_process(self, process: str) -> str | None:
        suffix = topic_suffix(process)
        return getattr(self, suffix) if suffix else None


def bootstrap_list(bootstrap: str) -> list[str]:
    return [b.strip() for b in bootstrap.split(",") if b.strip()]


def ensure_topics(bootstrap: str, topics: Topics, timeout_s: float = 30.0) -> list[str]:
    """Create every missing supervision topic; return the names created.

    Existing topics are left alone, but a partition count different from the
    setting is an error: co-partitioning would silently break.
    """
    from kafka.admin import KafkaAdminClient, NewTopic  # kafka-python
    from kafka.errors import TopicAlreadyExistsError

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap_list(bootstrap), client_id="supervise-topics"
            )
            break
        except Exception:  # broker not up yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics.all if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent creator won
                admin.create_topics(
                    [
                        NewTopic(
                            t,
                            num_partitions=topics.partitions,
                            replication_factor=topics.replication,
                        )
                        for t in missing
                    ]
                )
            log.info("created topics %s", ", ".join(missing))
        described = admin.describe_topics([t for t in topics.all])
        for d in described:
            n = len(d.get("partitions") or [])
            if n and n != topics.partitions:
                raise RuntimeError(
                    f"topic {d['topic']} has {n} partitions, settings say {topics.partitions}: "
                    "every supervision topic must have the same partition count"
                )
        return missing
    finally:
        admin.close()
