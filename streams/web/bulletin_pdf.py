"""A bulletin (通报) as an A4 PDF in Chinese, laid out with fpdf2: its id, month,
revision, configuration version, author and approver; the ranking table (rank,
department, score, grade, the counts the score deducts for, the on-time rate); the
bottom departments and their cards; the charts of ``bulletin_charts``.

``render(found, config, reader)`` is the one code path of ``supervise bulletin export``
and of the web page's download: ``reader`` (a user of the users file) sees the rows of the
departments within its scope (``User.covers``). Fonts: Noto Sans CJK SC from Debian's
``fonts-noto-cjk`` (``FONT_REGULAR``, ``FONT_BOLD``), embedded as subsets. The same
bulletin and reader give the same bytes (creation date: the draft's instant).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from streams.engine.alerts import LEVEL_NAMES
from streams.web import bulletin_charts
from streams.web.bulletins import Bulletin, bottom
from streams.web.names import RULE_NAMES, name_of
from streams.web.views import local_text

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
FONT_REGULAR = FONT_DIR / "NotoSansCJK-Regular.ttc"
FONT_BOLD = FONT_DIR / "NotoSansCJK-Bold.ttc"
SC_FACE = 2  # the collection's faces: JP, KR, SC, TC, HK, then the Mono ones
FAMILY = "noto"
COLUMNS = (
    ("排名", 10), ("部门", 17), ("得分", 13), ("等级", 13), ("黄牌", 10), ("红牌", 10),
    ("督办", 10), ("签收/反馈超时", 21), ("整改超时", 16), ("按期办结率", 20),
    ("签收及时率", 20), ("反馈及时率", 20),
)  # fmt: skip
CARD_COLUMNS = (("时间", 34), ("级别", 14), ("规则", 62), ("案件", 40), ("告警编号", 30))


class ExportError(RuntimeError):
    """Why a bulletin cannot be exported (Chinese)."""


def rate_text(rate: float | None) -> str:
    """A rate (on time, 督办 receipt or reply) as a percentage with two decimals; — when
    there was nothing to count."""
    return "—" if rate is None else f"{rate * 100:.2f}%"


class _Document(FPDF):
    """A4 portrait, with the bulletin's id and the page count at the foot of each page."""

    def __init__(self, bulletin_id: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.bulletin_id = bulletin_id

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.cell(0, 5, f"通报编号 {self.bulletin_id} · 第 {self.page_no()} 页 / 共 {{nb}} 页",
                  align="C")  # fmt: skip


def _pdf(found: Bulletin) -> Any:
    for path in (FONT_REGULAR, FONT_BOLD):
        if not path.exists():
            raise ExportError(f"缺少中文字体 {path}（Debian 软件包 fonts-noto-cjk）")
    pdf = _Document(found.bulletin_id)
    pdf.add_font(FAMILY, "", str(FONT_REGULAR), collection_font_number=SC_FACE)
    pdf.add_font(FAMILY, "B", str(FONT_BOLD), collection_font_number=SC_FACE)
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_creation_date(datetime.fromtimestamp(found.drafted_at_us / 1e6, tz=UTC))
    pdf.set_title(f"绩效测评通报 {found.month} 第{found.revision}版")
    pdf.set_subject(f"bulletin {found.bulletin_id}")
    pdf.set_creator("supervise bulletin export")
    pdf.set_producer("supervise (fpdf2)")
    pdf.set_lang("zh-CN")

    return pdf


def _heading(pdf: Any, text: str) -> None:
    pdf.ln(2)
    pdf.set_font(FAMILY, "B", 13)
    pdf.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 10)


def _table(pdf: Any, columns: Any, rows: list[list[str]], size: float = 9) -> None:
    pdf.set_font(FAMILY, "", size)
    widths = tuple(w for _, w in columns)
    with pdf.table(
        col_widths=widths, width=sum(widths), text_align="CENTER", line_height=6,
        first_row_as_headings=True, headings_style=_bold(), align="LEFT",
    ) as table:  # fmt: skip
        for cells in [[name for name, _ in columns], *rows]:
            row = table.row()
            for cell in cells:
                row.cell(cell)


def _bold() -> Any:
    return FontFace(family=FAMILY, emphasis="BOLD", fill_color=(235, 235, 235))


def _head(pdf: Any, found: Bulletin, config: Any, names: dict[str, str]) -> None:
    def who(uid: str) -> str:
        return f"{names.get(uid, uid)}（{uid}）"

    pdf.set_font(FAMILY, "B", 18)
    year, month = found.month.split("-")
    pdf.cell(
        0, 12, f"{year}年{int(month)}月 绩效测评通报", align="C", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_font(FAMILY, "", 10)
    approval = (
        f"审批：{who(found.approver)} {local_text(found.approved_at_us, config)}"
        if found.approver
        else "审批：待审批（未生效）"
    )
    for line in (
        f"通报编号：{found.bulletin_id}    第 {found.revision} 版",
        f"配置版本：{found.config_version}",
        f"起草：{who(found.author)} {local_text(found.drafted_at_us, config)}    {approval}",
    ):
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")


def _formula(found: Bulletin, config: Any) -> str:
    """How the scores were counted: the weights when the configuration is the bulletin's."""
    if config.version == found.config_version:
        w = config.scoring
        formula = (
            f"得分 = {w.base} − 提示 × {w.notice} − 黄牌 × {w.yellow} − 红牌 × {w.red} − 督办 × "
            f"{w.duban} − 签收/反馈超时 × {w.sup_receipt_reply} − 整改超时 × {w.sup_rectify}；"
        )
    else:
        formula = f"得分按配置版本 {found.config_version[:12]} 的 [scoring] 权重扣减；"
    return (
        formula + "已撤回的告警及以误报、重复摘牌的督办件不计；同分同名次。"
        "按期办结率：本月办结且有承诺时限的案件中按期办结的比例；签收及时率、反馈及时率：本月计分的"
        "督办件中已签收且未发生签收超时、已反馈且未发生反馈超时的比例；无相应事项记“—”。"
    )


def _ranking(pdf: Any, found: Bulletin, rows: list[dict[str, Any]], config: Any) -> None:
    _heading(pdf, "一、排名")
    if len(rows) < len(found.scores):
        pdf.multi_cell(0, 5, f"本件仅含您职责范围内的 {len(rows)} 个部门；参与排名的部门共 "
                       f"{len(found.scores)} 个。", new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.multi_cell(0, 5, _formula(found, config), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    table = [
        [
            str(r["rank"]),
            r["dept"],
            r["score"],
            r["grade"],
            str(r["yellow"]),
            str(r["red"]),
            str(r["duban"]),
            str(r["sup_receipt_reply"]),
            str(r["sup_rectify"]),
            rate_text(r.get("on_time_rate")),
            rate_text(r.get("receipt_rate")),
            rate_text(r.get("reply_rate")),
        ]  # fmt: skip
        for r in rows
    ]
    _table(pdf, COLUMNS, table, size=8)
    if not rows:
        pdf.cell(0, 6, "本月没有参与排名的部门。", new_x="LMARGIN", new_y="NEXT")


def _bottom(pdf: Any, found: Bulletin, rows: list[dict[str, Any]], config: Any) -> None:
    named = bottom(found, rows)
    if not named:
        return
    _heading(pdf, "二、排名末位及不合格部门")
    for r in named:
        pdf.set_font(FAMILY, "B", 10)
        pdf.multi_cell(
            0, 6, new_x="LMARGIN", new_y="NEXT", text=
            f"{r['dept']}：{r['score']} 分（{r['grade']}，第 {r['rank']} 名），红牌 {r['red']} 张、"
            f"黄牌 {r['yellow']} 张、督办 {r['duban']} 件、签收/反馈超时 {r['sup_receipt_reply']} 次、"
            f"整改超时 {r['sup_rectify']} 次。",
        )  # fmt: skip
        cards = [
            [
                local_text(c["raised_at_us"], config),
                LEVEL_NAMES.get(c["level"], c["level"]),
                f"{name_of(RULE_NAMES, c['rule'])}（{c['rule']}）",
                c["case_id"],
                c["alert_id"][:12],
            ]  # fmt: skip
            for c in r.get("cards", [])
        ]
        if cards:
            _table(pdf, CARD_COLUMNS, cards, size=8)
        pdf.ln(2)


def _charts(pdf: Any, rows: list[dict[str, Any]]) -> None:
    _heading(pdf, "三、图表")
    width = pdf.epw
    for draw in (bulletin_charts.score_trend, bulletin_charts.cards_by_rule):
        image = draw(rows, str(FONT_REGULAR), (width, 80))
        if pdf.will_page_break(82):
            pdf.add_page()
        pdf.image(io.BytesIO(image), w=width, h=80)
        pdf.ln(2)


def render(found: Bulletin, config: Any, reader: Any) -> bytes:
    """The bulletin as ``reader`` may read it, as PDF bytes."""
    rows = [r for r in found.scores if reader.covers(r["dept"])]
    names = {uid: u.name for uid, u in config.users.items()}
    pdf = _pdf(found)
    pdf.add_page()
    _head(pdf, found, config, names)
    _ranking(pdf, found, rows, config)
    _bottom(pdf, found, rows, config)
    _charts(pdf, rows)
    return bytes(pdf.output())
