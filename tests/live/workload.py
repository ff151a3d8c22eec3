"""A small deterministic workload for live-service tests, and Kafka helpers.

Cases of every topic, with violations of most rules: overdue and skipped
approvals, duplicate disbursements across cases of one program, inspections
with missing, revoked or foreign plans (plans live on other partitions than the
inspections that cite them), frequent inspections of one enterprise, split
purchases. Times are in 2026 (covered by the calendar), in the past: the live
service sees them as a backlog.

Hand-written on purpose, beside ``streams.workload``: a few hundred events whose
cross-partition cases (plans and inspections, programs, split purchases) are
placed so that a live run exercises the fact gate, small enough to read; the
generator is for volume and benchmarks.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from streams.contract import TOPIC_SUFFIX_BY_PROCESS

CST = timezone(timedelta(hours=8))

TOPIC_OF = TOPIC_SUFFIX_BY_PROCESS
"""Topic suffix of each process, as the contract says."""


def _at(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def workload(
    cases: int = 200, seed: int = 7, start: datetime | None = None
) -> list[dict[str, Any]]:
    """Events of about ``cases`` cases, sorted by occurred_at."""
    rnd = random.Random(seed)
    t0 = start or datetime(2026, 3, 2, 9, 0, tzinfo=CST)
    events: list[dict[str, Any]] = []
    seq = 0

    def ev(case: str, process: str, action: str, t: datetime, dept: str, **attrs: Any) -> None:
        nonlocal seq
        seq += 1
        e: dict[str, Any] = {
            "event_id": f"e{seq:07d}",
            "case_id": case,
            "process": process,
            "action": action,
            "occurred_at": _at(t),
            "dept": dept,
        }
        if attrs:
            e["attrs"] = attrs
        events.append(e)

    depts = [f"D{i:02d}" for i in range(1, 7)]
    plans: list[str] = []
    for i in range(cases):
        kind = i % 10
        dept = rnd.choice(depts)
        t = t0 + timedelta(
            hours=rnd.randint(0, 24 * 120), minutes=rnd.randint(0, 59), seconds=i % 60
        )
        cid = f"C{i:05d}"
        if kind in (0, 1, 2):  # approvals: on time, late, skipped review, rejected without reason
            ev(cid, "approval", "accept", t, dept, time_limit_days=rnd.choice([3, 5, 10]))
            if kind == 0:
                ev(cid, "approval", "review", t + timedelta(days=1), dept)
                ev(cid, "approval", "decide", t + timedelta(days=2), dept, decision="approve")
                ev(cid, "approval", "complete", t + timedelta(days=3), dept)
            elif kind == 1:
                ev(
                    cid, "approval", "decide", t + timedelta(days=2), dept, decision="approve"
                )  # skipped review
                if rnd.random() < 0.5:
                    ev(
                        cid, "approval", "complete", t + timedelta(days=25), dept
                    )  # late: cards first
            else:
                ev(cid, "approval", "supplement_request", t + timedelta(hours=5), dept)
                ev(cid, "approval", "supplement_received", t + timedelta(days=2), dept)
                if rnd.random() < 0.5:
                    ev(cid, "approval", "supplement_request", t + timedelta(days=3), dept)
                ev(
                    cid,
                    "approval",
                    "reject",
                    t + timedelta(days=4),
                    dept,
                    reason=rnd.choice(["", "材料不全"]),
                )
        elif kind == 3:  # complaints: assign late or never
            ev(cid, "complaint", "accept", t, dept, category=rnd.choice(["simple", "heavy"]))
            if rnd.random() < 0.5:
                ev(
                    cid,
                    "complaint",
                    "assign",
                    t + timedelta(days=rnd.choice([0, 3])),
                    dept,
                    assignee_dept="D09",
                )
                ev(cid, "complaint", "reply", t + timedelta(days=4), dept)
                ev(cid, "complaint", "complete", t + timedelta(days=5), dept)
        elif kind in (4, 5):  # funds: duplicates across cases of one program
            program = f"P{rnd.randint(1, 3)}"
            payee = f"PAYEE{rnd.randint(1, 4)}"
            amount = rnd.choice(["10000.00", "25000.00"])
            ev(
                cid,
                "fund_disbursement",
                "apply",
                t,
                dept,
                amount=amount,
                payee=payee,
                program=program,
            )
            ev(cid, "fund_disbursement", "review", t + timedelta(days=1), dept)
            ev(
                cid,
                "fund_disbursement",
                "approve",
                t + timedelta(days=2),
                dept,
                approved_amount=amount,
                payee=payee,
            )
            paid_to = payee if rnd.random() < 0.9 else "OTHER"
            ev(
                cid,
                "fund_disbursement",
                "disburse",
                t + timedelta(days=rnd.choice([3, 20])),
                dept,
                amount=amount,
                payee=paid_to,
            )
            if rnd.random() < 0.5:
                ev(cid, "fund_disbursement", "publicize", t + timedelta(days=25), dept)
        elif kind == 6:  # inspection plans
            pid = f"PLAN{i:05d}"
            plans.append(pid)
            ev(
                pid,
                "inspection_plan",
                "approve",
                t - timedelta(days=1),
                "SUP",
                inspecting_dept=dept,
                enterprise_ids=[f"ENT{rnd.randint(1, 5)}", f"ENT{rnd.randint(1, 5)}"],
                valid_from=(t - timedelta(days=1)).date().isoformat(),
                valid_to=(t + timedelta(days=30)).date().isoformat(),
            )
            if rnd.random() < 0.2:
                ev(pid, "inspection_plan", "revoke", t + timedelta(days=10), "SUP")
        elif kind in (7, 8):  # inspections, some citing plans on other partitions
            plan = rnd.choice(plans) if plans and rnd.random() < 0.7 else None
            attrs: dict[str, Any] = {
                "enterprise_id": f"ENT{rnd.randint(1, 5)}",
                "category": rnd.choice(["routine", "special", "safety"]),
            }
            if plan:
                attrs["plan_id"] = plan
            ev(cid, "inspection", "start", t, dept, **attrs)
            if rnd.random() < 0.6:
                ev(
                    cid,
                    "inspection",
                    "finish",
                    t + timedelta(days=rnd.choice([2, 12])),
                    dept,
                    result="ok",
                )
        else:  # tenders: direct awards to one winner (split purchase), contracts
            method = rnd.choice(["direct", "open"])
            winner = f"W{rnd.randint(1, 2)}"
            if method == "open":
                ev(
                    cid,
                    "tender",
                    "announce",
                    t,
                    dept,
                    method="open",
                    budget="900000",
                    bid_deadline=_at(t + timedelta(days=rnd.choice([10, 25]))),
                )
                for b in range(rnd.randint(1, 4)):
                    ev(
                        cid,
                        "tender",
                        "bid",
                        t + timedelta(days=5 + b),
                        dept,
                        bidder=f"W{b + 1}",
                        amount="800000",
                    )
                ev(cid, "tender", "open", t + timedelta(days=26), dept)
                ev(cid, "tender", "evaluate", t + timedelta(days=27), dept)
                ev(
                    cid,
                    "tender",
                    "award",
                    t + timedelta(days=28),
                    dept,
                    winner=winner,
                    amount="800000",
                )
                ev(
                    cid,
                    "tender",
                    "contract",
                    t + timedelta(days=rnd.choice([30, 70])),
                    dept,
                    supplier=winner,
                    amount=rnd.choice(["800000", "950000"]),
                )
            else:
                ev(cid, "tender", "announce", t, "D01", method="direct", budget="1500000")
                ev(
                    cid,
                    "tender",
                    "award",
                    t + timedelta(days=1),
                    "D01",
                    winner="W1",
                    amount="1500000",
                )
    events.sort(key=lambda e: datetime.fromisoformat(e["occurred_at"]))
    return events


def invalid_messages() -> list[bytes]:
    return [
        b"not json at all",
        orjson.dumps(
            {
                "event_id": "x1",
                "case_id": "c",
                "process": "approval",
                "action": "accept",
                "occurred_at": "2026-03-02T09:00:00",
                "dept": "D01",
                "attrs": {"time_limit_days": 3},
            }
        ),  # no offset
        orjson.dumps(
            {
                "event_id": "x2",
                "case_id": "c",
                "process": "approval",
                "action": "fly",
                "occurred_at": "2026-03-02T09:00:00+08:00",
                "dept": "D01",
            }
        ),
    ]


def produce_realtime(
    bootstrap: str,
    topic_names: dict[str, str],
    events: Iterable[dict[str, Any]],
    rate: float,
) -> list[dict[str, Any]]:
    """Produce events as they happen: each gets ``occurred_at`` = the moment it is sent.

    Keeps the events' relative order (and the partitions' time alignment a real
    upstream has); returns the events as sent, for replay.
    """
    import time as _time

    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    sent: list[dict[str, Any]] = []
    start = _time.monotonic()
    for n, e in enumerate(events):
        due = start + n / rate
        delay = due - _time.monotonic()
        if delay > 0:
            _time.sleep(delay)
        e = dict(e, occurred_at=datetime.now(CST).isoformat(timespec="microseconds"))
        producer.send(
            topic_names[TOPIC_OF[e["process"]]], key=e["case_id"].encode(), value=orjson.dumps(e)
        )
        sent.append(e)
    producer.flush(60)
    producer.close()
    return sent


def to_jsonl(events: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


def produce(
    bootstrap: str,
    topic_names: dict[str, str],
    events: Iterable[dict[str, Any] | tuple[str, bytes, bytes]],
    by_topic: bool = False,
) -> int:
    """Produce events (key = case_id) to their domain topic; ``by_topic`` sends one topic after another.

    ``topic_names`` maps 'approval'/'fund'/'trade'/'inspection' to topic names. Items may also be
    (domain, key, raw bytes) triples for invalid input.
    """
    from kafka import KafkaProducer

    items = list(events)
    if by_topic:
        order = {"trade": 0, "inspection": 1, "fund": 2, "approval": 3}
        items.sort(key=lambda e: order[e[0] if isinstance(e, tuple) else TOPIC_OF[e["process"]]])
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, batch_size=256 * 1024
    )
    n = 0
    for e in items:
        if isinstance(e, tuple):
            domain, key, raw = e
        else:
            domain, key, raw = TOPIC_OF[e["process"]], e["case_id"].encode(), orjson.dumps(e)
        producer.send(topic_names[domain], key=key, value=raw)
        n += 1
    producer.flush(60)
    producer.close()
    return n
