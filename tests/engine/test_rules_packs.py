"""Rule packs (rules.md §3.2–3.5): each rule at, just below and just above its threshold."""

import pytest

from tests.engine.harness import config_with, ev, run


def only(alerts: list[dict], rule: str) -> list[dict]:
    return [a for a in alerts if a["rule"] == rule]


# ---------------------------------------------------------------- approval conduct
@pytest.mark.parametrize(
    ("attrs", "raised"),
    [
        ({}, True),
        ({"reason": None}, True),
        ({"reason": "  \t"}, True),
        ({"reason": "材料不齐全"}, False),
    ],
)
def test_refusal_without_reason(attrs: dict, raised: bool) -> None:
    events = [
        ev("R-0", "R", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=5),
        ev("R-1", "R", "approval", "reject", "2026-03-03T09:00:00", **attrs),
    ]
    alerts = only(run(events), "REFUSAL_WITHOUT_REASON")
    assert len(alerts) == int(raised)
    if raised:
        assert (
            alerts[0]["level"] == "yellow" and alerts[0]["raised_at"] == "2026-03-03T09:00:00+08:00"
        )


@pytest.mark.parametrize(
    ("requests", "raised_at"), [(1, None), (2, "2026-03-04"), (3, "2026-03-04")]
)
def test_repeated_supplement(requests: int, raised_at: str | None) -> None:
    events = [ev("S-0", "S", "approval", "accept", "2026-03-02T09:00:00", time_limit_days=20)]
    for i in range(requests):
        events.append(
            ev(f"S-q{i}", "S", "approval", "supplement_request", f"2026-03-0{3 + i}T09:00:00")
        )
        events.append(
            ev(f"S-r{i}", "S", "approval", "supplement_received", f"2026-03-0{3 + i}T15:00:00")
        )
    alerts = only(run(events), "REPEATED_SUPPLEMENT")
    assert [a["raised_at"][:10] for a in alerts] == ([raised_at] if raised_at else [])
    if alerts:
        assert alerts[0]["evidence"] == ["S-q0", "S-q1"]


# ---------------------------------------------------------------- funds
def fund(
    case: str,
    approved: str,
    *disbursements: tuple,
    payee: str = "P1",
    program: str = "惠农",
    day: int = 1,
    dept: str = "CZJ",
) -> list[dict]:
    events = [
        ev(
            f"{case}-a",
            case,
            "fund_disbursement",
            "apply",
            f"2026-07-{day:02d}T09:00:00",
            dept,
            amount=approved,
            payee=payee,
            program=program,
        ),
        ev(f"{case}-r", case, "fund_disbursement", "review", f"2026-07-{day:02d}T10:00:00", dept),
        ev(
            f"{case}-p",
            case,
            "fund_disbursement",
            "approve",
            f"2026-07-{day:02d}T11:00:00",
            dept,
            approved_amount=approved,
            payee=payee,
        ),
    ]
    for i, (amount, to, at) in enumerate(disbursements):
        events.append(
            ev(
                f"{case}-d{i}",
                case,
                "fund_disbursement",
                "disburse",
                at,
                dept,
                amount=amount,
                payee=to,
            )
        )
    return events


@pytest.mark.parametrize(
    ("amounts", "raised_at"),
    [
        (["100000", "150000.00"], None),  # exactly the approved 250000
        (
            ["100000", 150000.01],
            "2026-07-08T09:00:00+08:00",
        ),  # one cent over (a JSON number, exact)
        (["250000.01"], "2026-07-06T09:00:00+08:00"),
        (["200000", "60000", "1"], "2026-07-08T09:00:00+08:00"),  # raised at the crossing, once
    ],
)
def test_over_disbursement(amounts: list, raised_at: str | None) -> None:
    times = ["2026-07-06T09:00:00", "2026-07-08T09:00:00", "2026-07-09T09:00:00"]
    events = fund("F", "250000", *[(a, "P1", t) for a, t in zip(amounts, times, strict=False)])
    alerts = only(run(events), "OVER_DISBURSEMENT")
    assert [a["raised_at"] for a in alerts] == ([raised_at] if raised_at else [])
    if alerts:
        assert alerts[0]["details"]["approved_amount"] == "250000"


def test_payee_mismatch() -> None:
    events = fund(
        "F", "100", ("50", "P1", "2026-07-06T09:00:00"), ("50", "P2", "2026-07-07T09:00:00")
    )
    alerts = only(run(events), "PAYEE_MISMATCH")
    assert [(a["raised_at"][:10], a["details"]["payee"]) for a in alerts] == [("2026-07-07", "P2")]


@pytest.mark.parametrize(
    ("second_at", "other_program", "raised"),
    [
        ("2026-07-31T09:00:00", "惠农", True),  # exactly 720 h after the first: inside the window
        ("2026-07-31T09:00:01", "惠农", False),  # one second outside
        ("2026-07-10T09:00:00", "助学", False),  # another program
    ],
)
def test_duplicate_disbursement_window(second_at: str, other_program: str, raised: bool) -> None:
    first = fund("FA", "5000", ("5000", "COOP", "2026-07-01T09:00:00"))
    second = fund("FB", "5000.00", (5000, "COOP", second_at), program=other_program)
    alerts = only(run(first + second), "DUPLICATE_DISBURSEMENT")
    assert [a["case_id"] for a in alerts] == (["FB"] if raised else [])
    if raised:
        assert alerts[0]["details"]["other_case_id"] == "FA"
        assert alerts[0]["evidence"] == ["FB-d0", "FA-d0"]


def test_duplicate_disbursement_needs_another_case_and_counts_ended_cases() -> None:
    same_case = fund(
        "FS", "10000", ("5000", "X", "2026-07-02T09:00:00"), ("5000", "X", "2026-07-03T09:00:00")
    )
    assert only(run(same_case), "DUPLICATE_DISBURSEMENT") == []
    # a disbursement after its case was publicized still counts as a fact for other cases
    ended = fund("FE", "100", ("100", "Y", "2026-07-02T09:00:00"))
    ended.insert(
        3, ev("FE-pub", "FE", "fund_disbursement", "publicize", "2026-07-01T12:00:00", "CZJ")
    )
    other = fund("FO", "100", ("100", "Y", "2026-07-03T09:00:00"))
    alerts = run(ended + other)
    assert [a["case_id"] for a in only(alerts, "DUPLICATE_DISBURSEMENT")] == ["FO"]
    assert only(alerts, "SKIPPED_STEP")[0]["case_id"] == "FE"  # publicize before any disbursement


# ---------------------------------------------------------------- public-resource trading
def tender(
    case: str, method: str, announce: str, deadline: str | None, *rest: tuple, dept: str = "JTJ"
) -> list[dict]:
    attrs = {"method": method, "budget": "5000000"}
    if deadline:
        attrs["bid_deadline"] = deadline + "+08:00"
    events = [ev(f"{case}-an", case, "tender", "announce", announce, dept, **attrs)]
    for i, (action, at, *extra) in enumerate(rest):
        events.append(
            ev(f"{case}-{i}", case, "tender", action, at, dept, **(extra[0] if extra else {}))
        )
    return events


@pytest.mark.parametrize(
    ("method", "deadline", "raised"),
    [
        ("open", "2026-07-21T09:00:00", False),  # exactly 20 x 24 h
        ("open", "2026-07-21T08:59:59", True),
        ("invited", "2026-07-11T09:00:00", True),
        (
            "competitive_negotiation",
            "2026-07-02T09:00:00",
            False,
        ),  # the rule covers open and invited only
    ],
)
def test_short_tender_period(method: str, deadline: str, raised: bool) -> None:
    alerts = only(run(tender("T", method, "2026-07-01T09:00:00", deadline)), "SHORT_TENDER_PERIOD")
    assert len(alerts) == int(raised)


def bids(*bidders: tuple[str, str]) -> list[tuple]:
    return [("bid", at, {"bidder": b, "amount": "100"}) for b, at in bidders]


@pytest.mark.parametrize(
    ("bidders", "raised"),
    [
        (
            [
                ("A", "2026-07-10T09:00:00"),
                ("B", "2026-07-11T09:00:00"),
                ("C", "2026-07-25T09:00:00"),
            ],
            False,
        ),
        (
            [
                ("A", "2026-07-10T09:00:00"),
                ("B", "2026-07-11T09:00:00"),
                ("B", "2026-07-12T09:00:00"),
            ],
            True,
        ),
        (
            [
                ("A", "2026-07-10T09:00:00"),
                ("B", "2026-07-11T09:00:00"),
                ("C", "2026-07-25T09:00:01"),
            ],
            True,
        ),
    ],
)
def test_too_few_bids(bidders: list[tuple[str, str]], raised: bool) -> None:
    events = tender(
        "T",
        "open",
        "2026-07-01T09:00:00",
        "2026-07-25T09:00:00",
        *bids(*bidders),
        ("open", "2026-07-25T09:30:00"),
    )
    alerts = only(run(events), "TOO_FEW_BIDS")
    assert len(alerts) == int(raised)
    if raised:
        assert alerts[0]["details"]["count"] == 2


@pytest.mark.parametrize(
    ("winner", "reason"),
    [("A", None), ("C", "late_bid"), ("Z", "no_bid")],
)
def test_late_bid_awarded(winner: str, reason: str | None) -> None:
    events = tender(
        "T",
        "open",
        "2026-07-01T09:00:00",
        "2026-07-25T09:00:00",
        *bids(("A", "2026-07-25T09:00:00"), ("C", "2026-07-25T09:00:01")),
        ("open", "2026-07-25T09:30:00"),
        ("evaluate", "2026-07-26T09:00:00"),
        ("award", "2026-07-27T09:00:00", {"winner": winner, "amount": "100"}),
    )
    alerts = only(run(events), "LATE_BID_AWARDED")
    assert [a["details"]["reason"] for a in alerts] == ([reason] if reason else [])


@pytest.mark.parametrize(
    ("contract_amount", "supplier", "rules"),
    [
        ("1100000.00", "W", []),  # exactly 1.10 x the award
        ("1100000.01", "W", ["CONTRACT_EXCEEDS_AWARD"]),
        ("1000000", "OTHER", ["CONTRACT_SUPPLIER_MISMATCH"]),
    ],
)
def test_contract_checks(contract_amount: str, supplier: str, rules: list[str]) -> None:
    events = tender(
        "T",
        "direct",
        "2026-07-01T09:00:00",
        None,
        ("award", "2026-07-02T09:00:00", {"winner": "W", "amount": "1000000"}),
        ("contract", "2026-07-03T09:00:00", {"supplier": supplier, "amount": contract_amount}),
    )
    found = sorted(a["rule"] for a in run(events) if a["rule"].startswith("CONTRACT_"))
    assert found == rules


def direct_award(
    case: str, at: str, amount: str, method: str = "direct", dept: str = "JTJ", winner: str = "W"
):
    return tender(
        case, method, at, None, ("award", at, {"winner": winner, "amount": amount}), dept=dept
    )


@pytest.mark.parametrize(
    ("awards", "raised"),
    [
        ([("A", "2026-01-05T09:00:00", "1000000"), ("B", "2026-03-05T09:00:00", "999999.99")], []),
        ([("A", "2026-01-05T09:00:00", "1000000"), ("B", "2026-03-05T09:00:00", "1000000")], ["B"]),
        # exactly 365 x 24 h apart: inside; every later award while the sum stays over raises too
        (
            [("A", "2026-01-05T09:00:00", "1500000"), ("B", "2027-01-05T09:00:00", "500000")][:1]
            + [("B", "2026-12-31T09:00:00", "500000"), ("C", "2026-12-31T10:00:00", "1")],
            ["B", "C"],
        ),
        # an award of 2,000,000 or more is not "such an award"
        ([("A", "2026-01-05T09:00:00", "2000000"), ("B", "2026-03-05T09:00:00", "1")], []),
    ],
)
def test_split_purchase(awards: list[tuple[str, str, str]], raised: list[str]) -> None:
    events = [e for case, at, amount in awards for e in direct_award(case, at, amount)]
    assert [a["case_id"] for a in only(run(events), "SPLIT_PURCHASE")] == raised


def test_split_purchase_window_edge_and_keys() -> None:
    inside = direct_award("A", "2026-01-05T09:00:00", "1000000") + direct_award(
        "B", "2027-01-05T09:00:00", "1"
    )
    # 2027 has no calendar data, but no rule needs working days for a direct award; the window is 365 x 24 h
    outside = direct_award("A", "2026-01-05T09:00:00", "1000000") + direct_award(
        "B", "2026-12-31T09:00:00", "999999"
    )
    assert only(run(outside), "SPLIT_PURCHASE") == []
    other_dept = direct_award("A", "2026-01-05T09:00:00", "1000000") + direct_award(
        "B", "2026-02-05T09:00:00", "1000000", dept="ZJJ"
    )
    assert only(run(other_dept), "SPLIT_PURCHASE") == []
    open_tender = direct_award("A", "2026-01-05T09:00:00", "1000000") + direct_award(
        "B", "2026-02-05T09:00:00", "1000000", method="competitive_negotiation"
    )
    assert only(run(open_tender), "SPLIT_PURCHASE") == []
    del inside


# ---------------------------------------------------------------- enterprise inspections
def inspection(
    case: str, at: str, enterprise: str = "E1", category: str = "routine", dept: str = "SCJ"
) -> dict:
    return ev(
        f"{case}-s",
        case,
        "inspection",
        "start",
        at,
        dept,
        enterprise_id=enterprise,
        category=category,
        plan_id="IP-1",
    )


PLAN = ev(
    "IP-a",
    "IP-1",
    "inspection_plan",
    "approve",
    "2026-01-01T08:00:00",
    "JCJ",
    inspecting_dept="SCJ",
    enterprise_ids=["E1", "E2"],
    valid_from="2026-01-01",
    valid_to="2026-12-31",
)


@pytest.mark.parametrize(
    ("at", "category", "raised"),
    [
        ("2026-06-01T09:00:00", "routine", True),
        ("2026-06-05T23:59:59", "special", True),
        ("2026-06-06T00:00:00", "routine", False),
        ("2026-06-04T09:00:00", "safety", False),
        (
            "2026-06-05T16:30:00Z",
            "routine",
            False,
        ),  # 06-06 00:30 in Shanghai: the local date counts
    ],
)
def test_quiet_day_inspection(at: str, category: str, raised: bool) -> None:
    alerts = only(run([PLAN, inspection("Q", at, category=category)]), "QUIET_DAY_INSPECTION")
    assert len(alerts) == int(raised)


def test_quiet_days_are_configurable(tmp_path) -> None:
    config = config_with(
        tmp_path, {"month_days = [[1, 5]]\ndates = []": 'month_days = []\ndates = ["2026-06-18"]'}
    )
    assert (
        len(
            only(
                run([PLAN, inspection("Q", "2026-06-18T09:00:00")], config=config),
                "QUIET_DAY_INSPECTION",
            )
        )
        == 1
    )
    assert (
        only(
            run([PLAN, inspection("Q", "2026-06-01T09:00:00")], config=config),
            "QUIET_DAY_INSPECTION",
        )
        == []
    )


@pytest.mark.parametrize(
    ("third_at", "raised"),
    [
        ("2026-07-21T09:00:00", True),
        ("2026-08-08T09:00:01", False),
    ],  # A drops out one second past 720 h
)
def test_frequent_inspection_window(third_at: str, raised: bool) -> None:
    events = [
        PLAN,
        inspection("A", "2026-07-09T09:00:00", dept="SCJ"),
        inspection(
            "B", "2026-07-09T10:00:00", category="safety", dept="YJJ"
        ),  # exempt: not counted
        inspection("C", "2026-07-20T09:00:00", dept="ZJJ"),
        inspection("D", third_at, dept="SCJ"),
    ]
    alerts = only(run(events), "FREQUENT_INSPECTION")
    assert [a["case_id"] for a in alerts] == (["D"] if raised else [])
    if raised:
        assert alerts[0]["details"]["count"] == 3
        assert [i["case_id"] for i in alerts[0]["details"]["inspections"]] == ["A", "C", "D"]


def test_frequent_inspection_edge_is_inclusive() -> None:
    events = [
        PLAN,
        inspection("A", "2026-07-09T09:00:00"),
        inspection("B", "2026-07-20T09:00:00"),
        inspection("C", "2026-08-08T09:00:00"),
    ]  # exactly 720 h after A
    assert [a["case_id"] for a in only(run(events), "FREQUENT_INSPECTION")] == ["C"]


def test_disabled_rule_raises_nothing(tmp_path) -> None:
    config = config_with(
        tmp_path,
        {
            "[rules.FREQUENT_INSPECTION]\nenabled = true": "[rules.FREQUENT_INSPECTION]\nenabled = false"
        },
    )
    events = [PLAN] + [inspection(c, f"2026-07-1{i}T09:00:00") for i, c in enumerate("ABC")]
    assert only(run(events, config=config), "FREQUENT_INSPECTION") == []


def test_cross_case_rule_raises_once_per_case_even_after_its_window_moved() -> None:
    from streams.engine import load_config
    from streams.engine.cross import CrossEngine, Fact

    cross = CrossEngine(load_config())
    hour = 3600 * 1_000_000

    def start(case: str, at: int) -> list:
        return cross.process(
            Fact("ent|E1", at * hour, "start", {"enterprise_id": "E1"}, f"{case}-{at}", case, "SCJ")
        )

    raised = start("A", 0) + start("B", 1) + start("C", 2)  # C is the third: raised
    raised += start("C", 800) + start("D", 801) + start("C", 802)  # C's first start left the window
    assert [a.case_id for a in raised] == ["C"]
