"""A bulletin PDF's text read back with pdfium (``pypdfium2``, the engine of Chromium's
PDF viewer), its ranking table parsed per department, and the live figures it must equal
(``supervise query performance --month``)."""

from __future__ import annotations

import re
from typing import Any

import orjson
from typer.testing import CliRunner

from streams.cli import app


def pdf_text(pdf: bytes) -> tuple[int, list[tuple[float, float]], str]:
    """(pages, page sizes in points, the text of every page) as pdfium reads them."""
    import pypdfium2

    doc = pypdfium2.PdfDocument(pdf)
    try:
        sizes = [tuple(page.get_size()) for page in doc]
        text = "\n".join(page.get_textpage().get_text_range() for page in doc)
        return len(doc), sizes, text  # type: ignore[return-value]
    finally:
        doc.close()


RATE = r"(—|[\d.]+%)"
RANK_ROW = re.compile(
    r"^(\d+) (\S+) (\d+\.\d+) (优秀|良好|合格|不合格) (\d+) (\d+) (\d+) (\d+) (\d+) "
    + " ".join([RATE] * 3)
    + "$"
)
COUNTS = ("yellow", "red", "duban", "sup_receipt_reply", "sup_rectify")
RATES = ("on_time_rate", "receipt_rate", "reply_rate")


def ranking_rows(text: str) -> dict[str, dict[str, Any]]:
    """The ranking table's rows in the PDF's text, by department."""
    found = {}
    for line in text.splitlines():
        m = RANK_ROW.match(line.strip())
        if m:
            rank, dept, score, grade, *rest = m.groups()
            found[dept] = {
                "rank": int(rank),
                "score": score,
                "grade": grade,
                **{k: int(v) for k, v in zip(COUNTS, rest[:5], strict=True)},
                **{k: None if v == "—" else v for k, v in zip(RATES, rest[5:], strict=True)},
            }
    return found


def performance_rows(month: str) -> dict[str, dict[str, Any]]:
    """``supervise query performance --month`` (JSON Lines), as the PDF shows its rows."""
    out = CliRunner().invoke(app, ["query", "performance", "--month", month, "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = {}
    for line in out.stdout.splitlines():
        r = orjson.loads(line)
        rows[r["dept"]] = {
            **{k: r[k] for k in ("rank", "score", "grade", *COUNTS)},
            **{k: None if r[k] is None else f"{r[k] * 100:.2f}%" for k in RATES},
        }
    return rows
