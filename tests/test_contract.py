"""The transport contract (``streams/contract.py``): which topic carries which process."""

from __future__ import annotations

from streams.contract import topic_for


def test_topics_follow_the_contract() -> None:
    assert topic_for("complaint") == "supervision.approval"
    assert topic_for("fund_disbursement", "x") == "x.fund"
    assert topic_for("tender") == "supervision.trade"
    assert topic_for("inspection_plan") == "supervision.inspection"
