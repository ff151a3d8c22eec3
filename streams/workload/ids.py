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
- inspection 检查编号: ``JC{date}{number}``, ``JC2026010573122046``;
- key_task 督办编号: ``ZDGZ-{year}-{seq}``, ``ZDGZ-2026-0123``;
- proposal 建议/提案编号: ``RDJY-{year}-{seq}`` (人大代表建议), ``ZXTA-{year}-{seq}``
  (政协委员提案), ``RDJY-2026-0123``;
- meeting_item 会议纪要事项号: ``{meeting}-{item}``, the meeting ``CWHY-{year}-{n}``
  (常务会议), ``BGHY-…`` (办公会议) or ``ZTHY-…`` (专题会议) and the item's number
  in its minutes, ``CWHY-2026-015-03``.

``number`` is an eight-digit running number: the case's serial plus an offset
drawn from the seed, so ids are unique within a workload and workloads of
different seeds almost never share one. No id is a digit run of 11, 15 or 18
digits, the lengths ``streams.privacy`` masks as phone or citizen ID numbers.

The rarer processes number their cases per year and series as upstream does
(``seq``, four digits or more): counting from a start drawn from the seed, so
two seeds seldom share a number; a meeting's number counts its kind's meetings
of the term so far (from a seed-drawn base) and its items from 1.
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
        self._series: dict[str, int] = {}  # cases numbered so far per series (and meeting)

    def _next(self, series: str, first: int) -> int:
        count = self._series.get(series, 0)
        self._series[series] = count + 1
        return first + count

    def sequence_start(self, series: str) -> int:
        """First number of a yearly series (1..5000, from the seed and the series)."""
        salt = int.from_bytes(series.encode()[:8].ljust(8, b"\0"), "big")
        return 1 + (self._offset ^ salt) % 5_000

    def meeting_number(self, period: int, prefix: str, day: int) -> int:
        """Number of the meeting of kind ``prefix`` (one every ``period`` days) held by ``day``."""
        base = self.sequence_start(prefix) % 100
        return base + (date.fromordinal(day).timetuple().tm_yday - 1) // period + 1

    def number(self, serial: int) -> str:
        return f"{(self._offset + serial) % NUMBERS:08d}"

    def case_id(self, process: str, serial: int, day: int, dept: str, series: str = "") -> str:
        """The id of case ``serial`` of ``process``, started on ordinal ``day`` by ``dept``.

        ``series``: a proposal's prefix (``RDJY``/``ZXTA``), a meeting item's meeting
        (``CWHY-2026-015``).
        """
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
        if process in ("key_task", "proposal"):
            prefix = f"{series or 'ZDGZ'}-{when.year}"
            return f"{prefix}-{self._next(prefix, self.sequence_start(prefix)):04d}"
        if process == "meeting_item":
            return f"{series}-{self._next(series, 1):02d}"
        raise ValueError(f"no case-id format for process {process!r}")
