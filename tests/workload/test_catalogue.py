"""The item catalogue (``streams/workload/item_catalogue.toml``): the example operators copy
is the same file, its format is the one rules.md §3.6 loads, and the generator draws every
approval item from it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from streams.workload.catalogue import CatalogueItem, item_catalogue, parse_catalogue
from streams.workload.reference import ITEM_PLACES, ONE_DAY_ITEM

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "deploy" / "config" / "item-catalogue.example.toml"
PACKAGED = REPO / "streams" / "workload" / "item_catalogue.toml"


def test_the_example_is_the_packaged_catalogue() -> None:
    assert EXAMPLE.read_bytes() == PACKAGED.read_bytes()


def test_the_example_has_the_catalogue_format() -> None:
    """One table ``items``; per item code: name, legal_limit_days >= 1, and optionally
    max_promised_days (an int) and deemed_approval (a bool); nothing else."""
    data = tomllib.loads(EXAMPLE.read_text("utf-8"))
    assert set(data) == {"items"} and 10 <= len(data["items"]) <= 20
    for code, item in data["items"].items():
        assert code.startswith("330000-XK-") and len(code) == 14, code
        assert set(item) <= {"name", "legal_limit_days", "max_promised_days", "deemed_approval"}
        assert isinstance(item["name"], str) and item["name"].strip()
        assert type(item["legal_limit_days"]) is int and item["legal_limit_days"] >= 1
        if "max_promised_days" in item:
            assert type(item["max_promised_days"]) is int
            assert 1 <= item["max_promised_days"] <= item["legal_limit_days"]
        if "deemed_approval" in item:
            assert type(item["deemed_approval"]) is bool


def test_the_example_spans_every_row_of_the_compression_table() -> None:
    items = item_catalogue().values()
    rows = {(1, 2), (3, 7), (8, 15), (16, 30), (31, 90), (91, 365)}
    for low, high in rows:
        assert any(low <= item.legal_limit_days <= high for item in items), (low, high)
    assert 2 <= sum(item.max_promised_days is not None for item in items) <= 6
    assert sum(item.deemed_approval is True for item in items) >= 2
    assert sum(item.deemed_approval is False for item in items) == 1


@pytest.mark.parametrize(
    ("legal", "allowed"),
    [(1, 1), (2, 2), (3, 2), (7, 6), (8, 5), (15, 12), (16, 11), (30, 25), (31, 21),
     (90, 80), (91, 61), (120, 90)],
)  # fmt: skip
def test_allowed_promise_follows_the_compression_table(legal: int, allowed: int) -> None:
    assert CatalogueItem("x", "x", legal).allowed_promise == allowed
    assert CatalogueItem("x", "x", legal, max_promised_days=1).allowed_promise == 1


def test_the_generator_knows_where_every_item_is_handled() -> None:
    assert set(ITEM_PLACES) == set(item_catalogue())
    assert item_catalogue()[ONE_DAY_ITEM].allowed_promise == 1


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"items": {"A": {"legal_limit_days": 5}}},
        {"items": {"A": {"name": "x", "legal_limit_days": 0}}},
        {"items": {"A": {"name": "x", "legal_limit_days": 5, "max_promised_days": 6}}},
        {"items": {"A": {"name": "x", "legal_limit_days": 5, "deemed_approval": "yes"}}},
        {"items": {"A": {"name": "x", "legal_limit_days": 5, "dept": "ZJJ"}}},
        {"items": {}, "other": 1},
    ],
)
def test_a_malformed_catalogue_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        parse_catalogue(bad, "test")
