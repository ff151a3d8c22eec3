"""Administrative penalties (行政处罚): register, investigate, reviews, execute, complete.

The only violation is SKIP: mostly a fine of 2,000 yuan or more, or a heavy
measure, without legal_review and/or leader_approve; sometimes no investigation.
"""

from __future__ import annotations

from typing import Any

from streams.workload.builder import Case, CaseBuilder
from streams.workload.reference import PENALTY_DEPTS

HEAVY_MEASURES = ("confiscate", "suspend_business", "revoke_license")
HEAVY_FINE = 2_000_00  # cents


def _missing_steps(b: CaseBuilder) -> tuple[str, tuple[str, ...], int]:
    """A SKIP case's (measure, missing steps, fine in cents or 0 to draw one later)."""
    rng = b.rng
    variant = rng.random()
    if variant < 0.6:
        cents = HEAVY_FINE if rng.random() < 0.1 else rng.randint(2_000, 200_000) * 100
        missing = rng.choice(
            (("legal_review", "leader_approve"), ("leader_approve",), ("legal_review",))
        )
        return "fine", missing, cents
    if variant < 0.85:
        measure = rng.choice(("suspend_business", "revoke_license", "confiscate"))
        return measure, rng.choice((("legal_review", "leader_approve"), ("leader_approve",))), 0
    return "", ("investigate",), 0


def build_penalty(b: CaseBuilder, t0: int, tag: str) -> Case:
    rng, cal = b.rng, b.cal
    dept = rng.choice(PENALTY_DEPTS)
    actor = b.officer(dept)
    case = b.new_case("penalty", tag, t0, dept)
    cur = cal.count_upto(b.day(t0)) - 1
    measure = rng.choices(
        ("warning", "fine", "confiscate", "suspend_business", "revoke_license"),
        (28, 52, 6, 9, 5),
    )[0]
    missing: tuple[str, ...] = ()
    cents = 0
    if tag == "SKIP":
        skip_measure, missing, cents = _missing_steps(b)
        measure = skip_measure or measure
    attrs: dict[str, Any] = {"measure": measure}
    if measure == "fine":
        if tag != "SKIP" or "investigate" in missing:
            cents = (
                rng.randint(200, 1_999) * 100
                if rng.random() < 0.3
                else rng.randint(2_000, 300_000) * 100
            )
        attrs["amount"] = b.amount(cents)
    heavy = measure in HEAVY_MEASURES or (measure == "fine" and cents >= HEAVY_FINE)
    t = b.ev(case, "register", t0, dept, {"enterprise_id": b.enterprise()}, actor)
    cur += rng.randint(1, 8)
    if "investigate" not in missing:
        t = b.ev(case, "investigate", b.after(t, cal.wd(cur)), dept, None, actor)
    if heavy or rng.random() < 0.2:
        cur += rng.randint(2, 10)
        if "legal_review" not in missing:
            at = b.after(t, cal.wd(cur))
            reviewer = "SFJ" if rng.random() < 0.3 else dept
            t = b.ev(case, "legal_review", at, reviewer, None, actor)
        cur += rng.randint(0, 3)
        if "leader_approve" not in missing:
            at = b.after(t, cal.wd(cur))
            t = b.ev(case, "leader_approve", at, dept, None, b.leader(dept))
    cur += rng.randint(1, 8)
    t = b.ev(case, "execute", b.after(t, cal.wd(cur)), dept, attrs, actor)
    cur += rng.randint(1, 20)
    b.ev(case, "complete", b.after(t, cal.wd(cur)), dept, None, actor)
    return case
