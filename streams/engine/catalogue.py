"""The item catalogue (事项目录) and the compression of promised limits (rules.md §3.6).

The catalogue is data, not configuration: a TOML file named by the configuration's
``[catalogue] file`` (relative to the configuration file; empty: no catalogue), one
table per item code::

    [items."330000-XK-0001"]
    name = "建设工程规划许可证核发"
    legal_limit_days = 20      # 法定时限, working days
    max_promised_days = 12     # optional
    deemed_approval = true     # optional: true turns 超时默许 on for this item, false
                               # exempts it; absent: the approval template's setting

It is validated at load (errors name the item and key) and its content is part of the
configuration's version. Never compiled: the engine reads ``CatalogueItem`` values.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ConfigDict, ValidationError, model_validator

from streams.engine.configfile import CompressionRow, ConfigError, _Strict


class ItemSpec(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str
    legal_limit_days: int
    max_promised_days: int | None = None
    deemed_approval: bool | None = None

    @model_validator(mode="after")
    def _limits(self) -> ItemSpec:
        if not 1 <= self.legal_limit_days <= 3650:
            raise ValueError(f"legal_limit_days {self.legal_limit_days} outside 1..3650")
        promised = self.max_promised_days
        if promised is not None and not 1 <= promised <= self.legal_limit_days:
            raise ValueError(
                f"max_promised_days {promised} outside 1..legal_limit_days "
                f"({self.legal_limit_days})"
            )
        return self


class CatalogueFile(_Strict):
    items: dict[str, ItemSpec] = {}


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    """One item of the catalogue, with the longest limit it may promise already worked out."""

    code: str
    name: str
    legal_limit_days: int
    max_promised_days: int | None
    allowed_days: int  # max_promised_days if given, else the compression of the legal limit
    deemed_approval: bool | None


def compressed(table: Sequence[CompressionRow], legal_days: int) -> int:
    """The longest promise allowed for a legal limit of ``legal_days`` working days."""
    for row in table:
        if row.up_to is None or legal_days <= row.up_to:
            return legal_days - row.minus
    raise AssertionError("the last row of a validated table has no 'up_to'")


def load_catalogue(
    path: Path, table: Sequence[CompressionRow]
) -> tuple[dict[str, CatalogueItem], dict[str, object]]:
    """The catalogue's items by code, and its parsed content (for the configuration version)."""
    try:
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read item catalogue {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        parsed = CatalogueFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
    items = {
        code: CatalogueItem(
            code=code,
            name=spec.name,
            legal_limit_days=spec.legal_limit_days,
            max_promised_days=spec.max_promised_days,
            allowed_days=(
                spec.max_promised_days
                if spec.max_promised_days is not None
                else compressed(table, spec.legal_limit_days)
            ),
            deemed_approval=spec.deemed_approval,
        )
        for code, spec in parsed.items.items()
    }
    return items, parsed.model_dump(mode="json")


EMPTY_CATALOGUE: Mapping[str, CatalogueItem] = {}
