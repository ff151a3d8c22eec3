"""The live supervision service: Faust agents from Kafka to alerts and ClickHouse.

Rooms of this package. The orchestrator and its steps, in the order a message
meets them:

- ``service``    ``LiveService``: admit → evaluate → store → publish → save state
                 → commit; tick; rebalance. Composes the steps below.
- ``intake``     the agents' bodies: read (never acknowledge), buffer, flush.
- ``offsets``    start offsets, admission in exact offset order, seeks, commits;
                 gaps the broker confirms passed, retention truncation reported.
- ``evaluate``   a batch of events or facts in, a ``Step`` (what to persist and
                 commit) out.
- ``persister``  the one way out: store rows, publish alerts, dead letters and
                 facts, write the engine state, then commit — one queue.
- ``ticker``     timed alerts up to each partition's horizon; horizons.
- ``probe``      health probe (broker, storage ping) and consumer lag.
- ``recovery``   table recovery watch: re-read a stalled changelog, or stop.

What they stand on:

- ``kafka_port`` the Kafka edge: every Faust/aiokafka internal the service uses.
- ``processor``  the Faust-free core: ``CasePartition``, ``FactPartition``,
                 ``Pipeline`` (validate, route, dead-letter); ``Output``.
- ``contents``   the content window: a repeated ``event_id`` with other content
                 (``conflicting_duplicate``).
- ``partitions`` the partitions a worker owns, restored from the state tables.
- ``horizon``    time: per-partition consumption watermarks (rules.md §1.3) and
                 the fact gate that releases cross-partition facts in
                 ``occurred_at`` order once every source is past them.
- ``state``      engine state in Faust tables: keys, stamps, codecs.
- ``delivery``   at-least-once plumbing: the offset gate (works around
                 faust-streaming #606), retry that never drops data, ``die``.
- ``deadletter`` the rejection-rate limit (the dead-letter shape itself is
                 ``streams.contract.DeadLetter``).
- ``breaker``    that limit per source partition: a tripped partition stops alone
                 until an operator's decision (``supervise deadletter skip``) lets
                 its range through.
- ``quarantine`` a valid event the engine fails on quarantines its case
                 (dead-lettered as ``engine_error``), not its partition.
- ``publish``    many records in one producer batch per partition.
- ``sink``       where stored rows go (the storage writer); the demo's printer.
- ``topics``     topic names and creation (every topic has the same partition
                 count: partition *p* of every topic and changelog lives on
                 one worker).
- ``faust_app``  the Faust app, raw schema, agents' wrapper, worker, GC tuning.
- ``app``        the composition root: builds the worker from settings.
"""
