"""Seeded workload generator: realistic supervision events for tests, demos and benchmarks.

``generate_events(config)`` yields event dicts of the contract in
``events.md`` (all eleven processes of rules.md §2), deterministically from
``config.seed``: the same configuration always yields the same events in the
same order. Nothing here touches Kafka, files or the wall clock; the
``supervise generate`` command (``streams.cli.generate``) is the thin edge
that writes the lines out.

Shape of the workload
---------------------
- Cases start on the days between ``config.start`` and ``config.until``
  (at most 2026-11-30): working days carry every process, rest days only
  12345 hotline complaints. Key tasks, proposals and meeting items (issue
  #19) are rare: a few percent of the cases together. Every instant a rule
  could compute for a case (event times, deadlines, red-card instants, step
  clocks) lies on or before 2026-12-30, because working-day data for 2027
  does not exist; only an open key task's December report falls due later,
  at the end of 2026-12-31, a calendar instant that needs no such data.
- Most cases are compliant. With probability ``config.open_share`` a case is
  left open (a compliant case cut before its terminal action); otherwise, with
  probability ``config.violation_rate``, it carries one deliberate violation
  chosen uniformly among the kinds of its process (``VIOLATION_KINDS``).
- Case ids look like the upstream systems' own numbers (``ids.py``) and say
  nothing of the violation. What each case carries is reported beside the
  output as a ``PlantedCase`` (``WorkloadGenerator(config, on_case)``,
  ``generate_workload``, ``supervise generate --planted FILE``).
- Cross-case violations come as groups (DUPPAY pairs, SPLIT series, FREQ
  triples) whose later members start later; ``Guards`` keep compliant cases
  from tripping cross-case rules (duplicates, split purchases, frequent or
  quiet-day inspections) by accident.
- Event ids are ``E{seed}-{case serial}-{n}``; malformed lines ``BAD{seed}-{n}``.
- Output order is ``sorted`` (by ``occurred_at``), ``feed`` (by a simulated
  arrival time: each event arrives up to ``max_delay`` seconds late, a case's
  own events keep their order) or ``shuffled`` (``sorted`` passed through a
  random buffer of ``shuffle_window`` events; cases' events may swap).

Modules: ``config`` (what to generate), ``reference`` (departments, where
items are handled, violation kinds), ``catalogue`` (the item catalogue,
``item_catalogue.toml``: item codes, legal limits, allowed promises), ``calendar`` (working days by index, over the engine's
calendar), ``ids`` (case-id formats), ``builder`` and ``clocks`` (what the
builders share), ``guards`` (cross-case guards), ``processes/`` (one builder
per process family), ``stream`` (slots, order, duplicates), ``lines`` (JSON
Lines bytes and malformed lines).
"""

from streams.workload.calendar import OutOfYear, WorkdayIndex
from streams.workload.config import LAST_START, ORDERS, GenerateConfig
from streams.workload.lines import BAD_KINDS, Line, encode_lines, hold_back_last, report_late
from streams.workload.reference import VIOLATION_KINDS
from streams.workload.stream import (
    GenerateStats,
    PlantedCase,
    WorkloadGenerator,
    generate_events,
    generate_workload,
)

__all__ = [
    "BAD_KINDS",
    "LAST_START",
    "ORDERS",
    "VIOLATION_KINDS",
    "GenerateConfig",
    "GenerateStats",
    "Line",
    "OutOfYear",
    "PlantedCase",
    "WorkdayIndex",
    "WorkloadGenerator",
    "encode_lines",
    "generate_events",
    "generate_workload",
    "hold_back_last",
    "report_late",
]
