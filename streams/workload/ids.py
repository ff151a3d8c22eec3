"""Case ids in the upstream systems' own formats.

An inspector watching a demo sees numbers like the ones the business systems
print on their forms, never a hint of what the generator planted (that goes to
the planted-case record, ``streams.workload.stream.PlantedCase``):

- approval 办件编号: area code, accept date, number (22 digits),
  ``3301022026010573122046``;
- leader_assignment 交办单号: ``JB-{year}-{number}``, ``JB-2026-73122046``;
- complaint 12345 工单号: ``GD{date}{number}``, ``GD2026010573122046``;
- penalty 处罚案号: ``CF-{dept}-{year}-{number}``, ``CF-SCJ-2026-73122046``;
- fund_disbursement 拨付单号: ``BF{date}{number}``, ``BF2026010573122046``;
- tender 采购项目编号: ``ZFCG-{year}-{number}``, ``ZFCG-2026-73122046``;
- inspection_plan 检查计划编号: ``JCJH-{dept}-{year}-{number}``, ``JCJH-SCJ-2026-73122046``;
- inspection 检查编号: ``JC{date}{number}``, ``JC2026010573122046``.

``number`` is an eight-digit running number: the case's serial plus an offset
drawn from the seed, so ids are unique within a workload and workloads of
different seeds almost never share one. No id is a digit run of 11, 15 or 18
digits, the lengths ``streams.privacy`` masks as phone or citizen ID numbers.
"""

from __future__ import annotations

import hashlib
from datetime import date

from streams.workload.reference import AREA_CODE_BY_DEPT, CITY_AREA_CODE

NUMBERS = 100_000_000  # eight digits


class CaseIds:
    """Deterministic case ids of one seed (no random draws: the workload's stream is untouched)."""

    def __init__(self, seed: int) -> None:
        digest = hashlib.blake2b(seed.to_bytes(8, "big"), digest_size=8, person=b"case-ids")
        self._offset = int.from_bytes(digest.digest(), "big") % NUMBERS

    def number(self, serial: int) -> str:
        return f"{(self._offset + serial) % NUMBERS:08d}"

    def case_id(self, process: str, serial: int, day: int, dept: str) -> str:
        """The id of case ``serial`` of ``process``, started on ordinal ``day`` by ``dept``."""
        number = self.number(serial)
        when = date.fromordinal(day)
        ymd = f"{when.year:04d}{when.month:02d}{when.day:02d}"
        if process == "approval":
            return f"{AREA_CODE_BY_DEPT.get(dept, CITY_AREA_CODE)}{ymd}{number}"
        if process == "leader_assignment":
            return f"JB-{when.year}-{number}"
        if process == "complaint":
            return f"GD{ymd}{number}"
        if process == "penalty":
            return f"CF-{dept}-{when.year}-{number}"
        if process == "fund_disbursement":
            return f"BF{ymd}{number}"
        if process == "tender":
            return f"ZFCG-{when.year}-{number}"
        if process == "inspection_plan":
            return f"JCJH-{dept}-{when.year}-{number}"
        if process == "inspection":
            return f"JC{ymd}{number}"
        raise ValueError(f"no case-id format for process {process!r}")
