"""The baseline of the live benchmark: Faust agents that read the domain topics and do nothing.

Same Faust app class and consumer settings as ``supervise worker`` (fetch wait,
poll size, stream buffer, uvloop, commit interval), one agent per domain topic;
each agent only iterates its stream, so Faust acknowledges and commits every
message. What one and two of these reach on the same backlog, in the same run,
is what the platform itself allows per worker and for scaling out on this
machine; ``bench_live.py`` prints the workers' figures next to it.

    KAFKA_BOOTSTRAP=... TOPIC_PREFIX=... WORKER_GROUP_ID=... python benchmarks/bare_faust.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streams.live.faust_app import (  # noqa: E402
    build_worker,
    install_uvloop,
    new_faust_app,
    raw_schema,
    tune_gc,
)
from streams.live.topics import Topics  # noqa: E402
from streams.settings import Settings  # noqa: E402


def create_bare_app(settings: Settings) -> Any:
    topics = Topics.from_settings(settings)
    app = new_faust_app(settings, topics.partitions)
    schema = raw_schema()
    for name in (topics.approval, topics.fund, topics.trade, topics.inspection):

        async def agent(stream: Any) -> None:
            async for _ in stream.events():
                pass

        agent.__name__ = agent.__qualname__ = f"bare-{name}"
        topic = app.topic(name, schema=schema, partitions=topics.partitions)
        app.agent(topic, name=f"bare-{name}")(agent)
    return app


def main() -> None:
    install_uvloop()
    worker = build_worker(create_bare_app(Settings()), "warning")
    tune_gc()
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
