"""The bulletin's charts (matplotlib, drawn off screen with Agg): the score trend of the
departments over the recent months and the month's cards by rule, as PNG bytes for the
PDF (``bulletin_pdf``). Chinese labels in the Noto Sans CJK font of the PDF; the PNG
carries no time stamp or software tag, so the same bulletin draws the same bytes.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

from streams.engine.model import RED, YELLOW
from streams.web.names import RULE_NAMES, name_of

DPI = 200
LEVEL_COLOURS = {YELLOW: "#e0a800", RED: "#c62828"}
LEVEL_LABELS = {YELLOW: "黄牌", RED: "红牌"}


def _figure(width_mm: float, height_mm: float) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width_mm / 25.4, height_mm / 25.4), dpi=DPI)


def _png(fig: Any) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _font(path: str, size: float) -> Any:
    from matplotlib.font_manager import FontProperties

    return FontProperties(fname=path, size=size)


def score_trend(rows: list[dict[str, Any]], font_path: str, size_mm: tuple[float, float]) -> bytes:
    """One line per department: its score in each month of its ``trend``."""
    fig = _figure(*size_mm)
    ax = fig.add_subplot()
    font, small = _font(font_path, 9), _font(font_path, 7)
    months = sorted({m for r in rows for m in r.get("trend", {})})
    for r in rows:
        trend = r.get("trend", {})
        xs = [i for i, m in enumerate(months) if m in trend]
        ax.plot(xs, [float(trend[months[i]]) for i in xs], marker="o", label=r["dept"])
    ax.set_xticks(range(len(months)), months, fontproperties=small)
    ax.set_ylabel("得分", fontproperties=font)
    ax.set_title("近几个月得分走势", fontproperties=font)
    ax.grid(True, alpha=0.3)
    if rows:
        ax.legend(prop=small, loc="lower left", ncols=min(len(rows), 6))
    fig.tight_layout()
    return _png(fig)


def cards_by_rule(
    rows: list[dict[str, Any]], font_path: str, size_mm: tuple[float, float]
) -> bytes:
    """Horizontal bars: the month's yellow and red cards of ``rows`` per rule."""
    counts = Counter((c["rule"], c["level"]) for r in rows for c in r.get("cards", []))
    rules = sorted(
        {rule for rule, _ in counts},
        key=lambda x: (-sum(counts[(x, lv)] for lv in LEVEL_COLOURS), x),
    )
    fig = _figure(*size_mm)
    ax = fig.add_subplot()
    font, small = _font(font_path, 9), _font(font_path, 7)
    left = [0] * len(rules)
    for level, colour in LEVEL_COLOURS.items():
        widths = [counts[(rule, level)] for rule in rules]
        ax.barh(range(len(rules)), widths, left=left, color=colour, label=LEVEL_LABELS[level])
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_yticks(
        range(len(rules)), [f"{name_of(RULE_NAMES, r)}（{r}）" for r in rules], fontproperties=small
    )
    ax.invert_yaxis()
    ax.set_xlabel("张数", fontproperties=font)
    ax.set_title("本月红黄牌（按规则）", fontproperties=font)
    ax.xaxis.get_major_locator().set_params(integer=True)
    if rules:
        ax.legend(prop=small)
    else:
        ax.text(0.5, 0.5, "本月无红黄牌", ha="center", va="center", transform=ax.transAxes,
                fontproperties=font)  # fmt: skip
    fig.tight_layout()
    return _png(fig)
