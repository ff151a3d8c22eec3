"""The live service: admit, evaluate, store, publish, save state, commit; tick; rebalance.

One ``LiveService`` per worker. The four domain agents append what they read to
one buffer (``intake``); a batch is flushed when it is full or old enough
(``worker_batch_max`` / ``worker_batch_within_s``), by whichever agent or timer
gets there first, under one lock. Per batch, in this order:

1. admit (``offsets``): messages in exact offset order per partition (holes
   make the worker seek back, unless the broker confirms them; messages stored
   before are skipped; partitions the rejection breaker stopped are not read);
2. evaluate (``evaluate``): validate, dead-letter and apply (pure, in memory);
   the cases of late events are read from storage first and corrected
   (``corrections``, rules.md §1.4);
3. store (``persister``): events, alerts, case status and dead letters into
   ClickHouse, retried with back-off until they are (the agents stop reading
   meanwhile: back-pressure; nothing is committed);
4. publish: alerts, dead letters and cross-case facts to Kafka, awaited;
5. save state: the changed engine states, then each partition's next offset,
   to the table changelogs, awaited;
6. commit: only then each partition's next offset, to Kafka.

The facts agent's batches take the same path under their own lock: admitted,
fed to the fact gates, what they release applied, then persisted and committed
by the same persister (in a lane of their own, beside the events').

A SIGKILL anywhere replays from the last commit: rows are idempotent, the
engine ignores events a case already holds, facts carry order stamps; users
read no loss and no duplicate.

The tick (``worker_tick_s``, ``ticker``) fires timed alerts of each partition
up to its horizon from the deadline index, and publishes each owned source
partition's horizon to every facts partition. A rebalance forgets what now
belongs to another worker. The health probe (``probe``) runs on its own timer.

Nothing that calls into the Kafka consumer's thread (seek, commit, offsets
lookups) runs under a lock: Faust's rebalance callback holds that thread while
it waits for ``on_partitions_revoked``, which takes the locks.
"""

from __future__ import annotations

import asyncio
import logging

from streams.live.breaker import SkipDecision, decisions_topic
from streams.live.corrections import LateEvents
from streams.live.delivery import die
from streams.live.evaluate import Evaluator
from streams.live.intake import Buffer, Intake
from streams.live.kafka_port import TP, KafkaPort
from streams.live.offsets import OffsetKeeper
from streams.live.persister import Persister
from streams.live.processor import Message
from streams.live.recovery import Recovery
from streams.live.ticker import Ticker
from streams.settings import Settings

log = logging.getLogger(__name__)

REVOKE_WAIT_S = 5.0


class LiveService:
    def __init__(
        self,
        settings: Settings,
        port: KafkaPort,
        offsets: OffsetKeeper,
        evaluator: Evaluator,
        persister: Persister,
        ticker: Ticker,
        recovery: Recovery,
    ) -> None:
        self.port = port
        self.offsets = offsets
        self.evaluator = evaluator
        self.partitions = evaluator.partitions
        self.persister = persister
        self.ticker = ticker
        self.recovery = recovery
        self.late = LateEvents(
            self.partitions.case, evaluator.pipeline.validator, persister.case_events
        )
        self.intake = Intake(
            settings.worker_batch_max, settings.worker_batch_within_s, self.flush, self.flush_facts
        )
        self.close_timeout_s = settings.health_probe_timeout_s
        self.decisions_topic = decisions_topic(settings.topic_deadletter)
        self.lock = asyncio.Lock()  # event batches and ticks
        self.fact_lock = asyncio.Lock()  # fact batches

    # ------------------------------------------------------------ batches
    def _admit(self, buffer: Buffer, unknown: set[TP]) -> tuple[list[Message], dict[TP, int]]:
        """Take the buffer's messages of partitions with a known start; admit them in order.

        Call under the buffer's lock, after ``learn_starts`` (which must not hold it): the
        messages of partitions whose start is still ``unknown`` wait for the next flush."""
        batch = buffer.take(keep=unknown)
        batch = [m for m in batch if self.offsets.known(m.tp)]  # revoked or tripped meanwhile
        return self.offsets.admit(batch)

    async def flush(self) -> None:
        """Admit → evaluate → hand to the persister (store, publish, save state, commit)."""
        buffer = self.intake.events
        if not buffer.messages:
            return
        if not self.evaluator.breakers.loaded:  # before the first batch: no trip to undo
            await self.poll_decisions()
        unknown = await self.offsets.learn_starts(self.readable(buffer.tps()))
        # Late events' cases: their stored events read first (``corrections``), before the
        # lock so that a storage round trip does not hold up other batches and ticks.
        known = self.offsets.known
        waiting = [m for m in buffer.messages if m.tp not in unknown and known(m.tp)]
        ahead = await self.late.read_ahead(waiting)
        try:
            async with self.lock:
                admitted, seeks = self._admit(buffer, unknown)
                if admitted:  # ``prepare`` stops the read-ahead's watch before evaluating
                    history = await self.late.prepare(admitted, self.evaluator.now_us(), ahead)
                    step = self.evaluator.events(admitted, history)
                    self.late.unstored.add(step.out)
                    await self.persister.enqueue(step)
        finally:
            self.late.discard(ahead)  # not used (nothing admitted), or cancelled
        await self.offsets.seek(seeks)

    async def flush_facts(self) -> None:
        """The same for the facts topic: admit → feed the fact gates → hand over."""
        buffer = self.intake.facts
        unknown = await self.offsets.learn_starts(buffer.tps())
        async with self.fact_lock:
            admitted, seeks = self._admit(buffer, unknown)
            step = self.evaluator.facts(admitted)
            if not step.out.empty() or step.commits:
                step.committed = asyncio.Event()
                await self.persister.enqueue(step)
        await self.offsets.seek(seeks)
        if step.committed is not None:  # the agent reads on (and the tick ends) once it is
            await step.committed.wait()

    # ------------------------------------------------------------ time
    async def tick(self) -> None:
        """Fire due timed alerts up to each partition's horizon; report horizons; release facts.

        Any exception stops the worker through ``die`` at once (F14), never through Faust's
        crash path: that one stops the worker slowly, while the persister still runs, and
        a batch persisted meanwhile could save a case whose timer fired in memory without
        the alert it raised. Nothing evaluated after the failure is persisted."""
        try:
            await self._tick()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("tick failed")
            die(f"tick failed: {exc!r}")

    async def _tick(self) -> None:
        self.ticker.health.heartbeat()
        await self.recovery.watch()
        if not self.recovery.ready_for_state():
            return
        assignment = self.port.assignment()
        if assignment is None:  # consumer not started yet
            return
        partitions = self.partitions
        await self.poll_decisions()
        read = self.readable({tp for tp in assignment if partitions.owns(tp)})
        await self.offsets.learn_starts(read)
        await self.offsets.seek(self.offsets.stalled(read))
        async with self.lock:
            owned = [tp for tp in assignment if tp.topic in partitions.domain]
            step = self.ticker.fire(owned, self.evaluator.now_us())
            if step is not None:
                # Behind every batch evaluated so far: their facts are published first.
                await self.persister.enqueue(step)
        await self.flush_facts()
        self.ticker.report_facts_lag(assignment)

    # ------------------------------------------------------------ breaker
    def readable(self, tps: set[TP]) -> set[TP]:
        """``tps`` without the partitions the rejection breaker stopped (``breaker``)."""
        breakers = self.evaluator.breakers
        if not breakers.tripped:
            return tps
        return {tp for tp in tps if not breakers.is_tripped(tp.topic, tp.partition)}

    async def poll_decisions(self) -> None:
        """Read the operators' decisions when due; a partition they let through resumes
        (from its stored restart position: ``learn_starts``)."""
        breakers = self.evaluator.breakers
        if not breakers.due():
            return
        try:
            records = await self.port.read_all(self.decisions_topic)
        except Exception as exc:  # broker busy: next time
            log.warning("cannot read the operators' decisions (%s): %r", self.decisions_topic, exc)
            breakers.polled_at = breakers.clock()
            return
        decisions = [d for k, v in records if (d := SkipDecision.from_record(k, v)) is not None]
        breakers.apply(decisions)

    # ------------------------------------------------------------ rebalance
    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        """Forget what now belongs to another worker.

        Waits (briefly) for the batch in flight; whatever it still writes for a
        revoked partition is dropped (``Persister.write_states``) and its commit
        refused by the consumer, so the next owner starts from a consistent state.
        """
        for tp in revoked:
            self.ticker.lags.forget(tp)
        self.evaluator.breakers.forget((tp.topic, tp.partition) for tp in revoked)
        self.late.forget()
        locks = []
        for lock in (self.lock, self.fact_lock):
            try:
                await asyncio.wait_for(lock.acquire(), REVOKE_WAIT_S)
                locks.append(lock)
            except TimeoutError:
                log.warning("rebalance: a batch is still in flight (storage slow?); fencing it")
        try:  # what was evaluated is persisted (its commit may wait: it needs the consumer)
            await asyncio.wait_for(self.persister.persisted.wait(), REVOKE_WAIT_S)
        except TimeoutError:
            log.warning("rebalance: evaluated batches are still being stored; fencing them")
        try:
            self.partitions.forget(revoked)
            self.offsets.forget(revoked)
            self.intake.drop(revoked)
        finally:
            for lock in locks:
                lock.release()

    async def close(self) -> None:
        await self.port.close(self.close_timeout_s)
        self.persister.close()
