"""The live supervision service: Faust agents from Kafka to alerts and ClickHouse.

Rooms of this package (``app`` is the composition root and nothing else):

- ``topics``     topic names and creation (pre-created; every topic has the same
                 partition count so partition *p* of every topic, and of every
                 table changelog, lives on one worker).
- ``deadletter`` the error policy for bad input: dead-letter records and the
                 rejection-rate limit that stops the worker loudly.
- ``horizon``    time: per-partition consumption watermarks (rules.md §1.3) and
                 the fact gate that releases cross-partition facts in
                 ``occurred_at`` order only once every source partition has been
                 consumed past them.
- ``state``      engine state in Faust tables: blobs written in batches with an
                 explicit changelog partition, each stamped with what it already
                 contains so a replay after a crash never applies an event twice.
- ``delivery``   at-least-once plumbing: in-order acknowledgement after the rows
                 are stored (works around faust-streaming #606) and retry with
                 back-off that never drops data.
- ``processor``  the Faust-free core: one ``CasePartition`` per source partition,
                 one ``FactPartition`` per facts partition; a batch in, rows out.
- ``sink``       where stored rows go (the storage writer), alerts topic.
- ``app``        the Faust app: agents, tables, timers, wiring.
"""
