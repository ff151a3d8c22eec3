"""The item catalogue (事项目录) the generated approvals draw their items from.

One source of truth: ``item_catalogue.toml`` beside this module, shipped as
package data so ``supervise generate`` works from an installed package or the
image (which carry no ``deploy/``). ``deploy/config/item-catalogue.example.toml``
is the same file for operators, kept byte-equal by a test. The format is the
one the engine's catalogue loader reads (rules.md §3.6):

    [items."330000-XK-0001"]
    name = "建设工程规划许可证核发"
    legal_limit_days = 20      # 法定时限, working days
    max_promised_days = 12     # optional
    deemed_approval = true     # optional

``allowed_promise`` is the longest 承诺时限 an accept may carry without
raising LIMIT_NOT_COMPRESSED.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

CATALOGUE_FILE = "item_catalogue.toml"

# (largest legal limit of the row, days taken off); beyond the last row: 30 days off
COMPRESSION: tuple[tuple[int, int], ...] = ((2, 0), (7, 1), (15, 3), (30, 5), (90, 10))
BEYOND = 30


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    code: str
    name: str
    legal_limit_days: int
    max_promised_days: int | None = None
    deemed_approval: bool | None = None

    @property
    def allowed_promise(self) -> int:
        """The promise allowed: ``max_promised_days``, else the compression table of §3.6."""
        if self.max_promised_days is not None:
            return self.max_promised_days
        limit = self.legal_limit_days
        for upto, off in COMPRESSION:
            if limit <= upto:
                return limit - off
        return limit - BEYOND


def parse_catalogue(data: dict[str, Any], source: str) -> dict[str, CatalogueItem]:
    """``{"items": {code: {...}}}`` -> items by code; a ValueError names what is wrong."""
    items = data.get("items")
    if not isinstance(items, dict) or set(data) != {"items"}:
        raise ValueError(f"{source}: expected one table 'items' of item codes")
    out: dict[str, CatalogueItem] = {}
    for code, entry in items.items():
        where = f"{source}: items.{code}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be a table")
        unknown = set(entry) - {"name", "legal_limit_days", "max_promised_days", "deemed_approval"}
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
        name, legal = entry.get("name"), entry.get("legal_limit_days")
        promised, deemed = entry.get("max_promised_days"), entry.get("deemed_approval")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}: name must be a non-empty string")
        if type(legal) is not int or legal < 1:
            raise ValueError(f"{where}: legal_limit_days must be an integer >= 1")
        if promised is not None and (type(promised) is not int or not 1 <= promised <= legal):
            raise ValueError(f"{where}: max_promised_days must be an integer in 1..{legal}")
        if deemed is not None and not isinstance(deemed, bool):
            raise ValueError(f"{where}: deemed_approval must be true or false")
        out[code] = CatalogueItem(code, name, legal, promised, deemed)
    return out


@cache
def item_catalogue() -> dict[str, CatalogueItem]:
    """The packaged catalogue, by item code (in file order)."""
    text = resources.files("streams.workload").joinpath(CATALOGUE_FILE).read_text("utf-8")
    return parse_catalogue(tomllib.loads(text), CATALOGUE_FILE)
