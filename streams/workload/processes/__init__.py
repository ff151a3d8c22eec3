"""One builder per process family; ``build_slot`` picks the one a slot needs.

Every builder takes the shared ``CaseBuilder``, the start instant and the
planted tag, and returns the case (or, for cross-case violations, the group of
cases) it built. A builder raises ``OutOfYear`` when the case would need a day
past the generated year; the slot is then built again.
"""

from __future__ import annotations

from streams.workload.builder import Case, CaseBuilder
from streams.workload.processes.approval import (
    build_approval,
    build_leader_assignment,
    build_one_day_approval,
)
from streams.workload.processes.complaint import build_complaint
from streams.workload.processes.fund import build_fund
from streams.workload.processes.inspection import build_single_inspection
from streams.workload.processes.key_task import build_key_task
from streams.workload.processes.meeting import build_meeting_item
from streams.workload.processes.penalty import build_penalty
from streams.workload.processes.plan import ROOM as PLAN_GROUP_ROOM
from streams.workload.processes.plan import PlanGroup
from streams.workload.processes.proposal import build_proposal
from streams.workload.processes.tender import build_tender

DUPPAY_ROOM = 2  # cases of a duplicate-payment pair
SPLIT_ROOM = 5  # the most cases of a split purchase


def build_slot(b: CaseBuilder, process: str, tag: str, t: int, room: int) -> list[Case] | None:
    """The cases of one slot, or None when its group needs more than ``room`` cases."""
    if process == "approval":
        return [build_approval(b, t, tag)]
    if process == "leader_assignment":
        return [build_leader_assignment(b, t, tag)]
    if process == "complaint":
        return [build_complaint(b, t, tag)]
    if process == "penalty":
        return [build_penalty(b, t, tag)]
    if process == "fund_disbursement":
        if tag == "DUPPAY" and room < DUPPAY_ROOM:
            return None
        return build_fund(b, t, tag)
    if process == "tender":
        if tag == "SPLIT" and room < SPLIT_ROOM:
            return None
        return build_tender(b, t, tag)
    if process == "inspection":
        single = build_single_inspection(b, t, tag)
        if single is not None:
            return [single]
        if room < PLAN_GROUP_ROOM:
            return None
        return PlanGroup(b, t, tag).build()
    if process == "key_task":
        return [build_key_task(b, t, tag)]
    if process == "proposal":
        return [build_proposal(b, t, tag)]
    if process == "meeting_item":
        return [build_meeting_item(b, t, tag)]
    raise AssertionError(process)


__all__ = ["build_one_day_approval", "build_slot"]
