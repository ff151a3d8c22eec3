"""Case clocks (rules.md §2): when the terminal action falls, and extensions of the time limit.

``cur`` is the working-day index the case has reached, ``last`` the index of
its last allowed day; the planted tag decides whether the terminal action
lands before, on or after it.
"""

from __future__ import annotations

from streams.workload.builder import Case, CaseBuilder

COMPLIANT = ("OK", "OPEN")


def completion_index(b: CaseBuilder, tag: str, cur: int, last: int) -> int:
    """Working-day index of the terminal action, by the intended OVERDUE outcome."""
    if tag == "OVERDUE_N":
        return last
    if tag == "OVERDUE_Y":
        return last + b.rng.randint(1, 3)
    if tag == "OVERDUE_R":
        return last + b.rng.randint(4, 8)
    if last - 1 <= cur:
        return cur
    # compliant: mostly well before the last day
    span = last - 1 - cur
    return cur + min(span, int(span * b.rng.random() ** 1.6 + 0.5))


def extensions(
    b: CaseBuilder,
    case: Case,
    t: int,
    dept: str,
    actor: str | None,
    cur: int,
    last: int,
    late_days: tuple[int, int],
    timely_days: tuple[int, int],
    timely_share: float,
) -> tuple[int, int, int, int]:
    """A case clock's extension, if any: (time, current index, last day index, done index).

    LATEEXT cases extend 1-2 working days after the deadline (LATE_EXTENSION; the deadline
    stays); a few compliant cases extend before it, moving the last day.
    """
    rng, cal, tag = b.rng, b.cal, case.tag
    if tag == "LATEEXT":
        ext_idx = last + rng.randint(1, 2)
        t = b.ev(
            case,
            "extend",
            b.after(t, cal.wd(ext_idx)),
            dept,
            {"extension_days": rng.randint(*late_days), "approver": b.leader(dept)},
            actor,
        )
        return t, ext_idx, last, b.between(ext_idx, last + 3)
    if tag in COMPLIANT and last - 1 > cur and rng.random() < timely_share:
        ext_idx = b.between(cur, last - 1)
        ext = rng.randint(*timely_days)
        t = b.ev(
            case,
            "extend",
            b.after(t, cal.wd(ext_idx)),
            dept,
            {"extension_days": ext, "approver": b.leader(dept)},
            actor,
        )
        return t, ext_idx, last + ext, b.between(last, last + ext - 1)
    return t, cur, last, completion_index(b, tag, cur, last)
