"""The monthly figures as rows, CSV, XLSX (openpyxl) and PDF (fpdf2 with a CJK font) — the same numbers in each."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

SECTIONS = {"alerts": "告警 alerts", "workorders": "工单 work orders", "hazards": "隐患 hazards",
            "inspections": "巡查 inspections"}
LABELS = {
    "total": "总数 total", "by_type": "按类型 by type", "by_outcome": "按结果 by outcome",
    "answerable": "需应答 answerable", "answered": "已应答 answered", "answered_60s": "60秒内应答 within 60 s",
    "answered_180s": "180秒内应答 within 180 s", "answered_60s_pct": "60秒应答率% within 60 s %",
    "answered_180s_pct": "180秒应答率% within 180 s %", "median_answer_s": "应答中位数(秒) median answer s",
    "created": "新建 created", "completed": "完成 completed", "closed": "关闭 closed", "cancelled": "取消 cancelled",
    "escalated": "超时升级 escalated", "followed_up": "已回访 followed up", "average_rating": "平均评分 average rating",
    "opened": "新增 opened", "opened_by_level": "按等级 by level", "overdue_at_end": "月末逾期 overdue at end",
    "open_at_end": "月末未销号 open at end", "due": "应检 due", "done": "按时完成 done", "missed": "漏检 missed",
    "done_pct": "完成率% done %",
}
COVERAGE_COLUMNS = [("county", "县 county"), ("township", "乡镇 township"),
                    ("solitary_or_empty_nest", "独居空巢 solitary/empty-nest"), ("monitored", "已监测 monitored"),
                    ("monitoring_pct", "监测覆盖率% (≥95)"), ("solitary_70_plus", "70岁以上独居 solitary 70+"),
                    ("visited", "已探访 visited"), ("visit_pct", "探访率% (100)")]
FONT_CANDIDATES = [
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),  # Debian fonts-droid-fallback
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
]

# Latin text in a font that has it; Chinese falls back to the CJK font (Droid Sans Fallback has no Latin glyphs).
LATIN_CANDIDATES = [Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
                    Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")]


class NoChineseFont(RuntimeError):
    """No font with Chinese glyphs is installed, so a PDF would show empty boxes."""


def rows(figures: dict) -> list[tuple[str, str, object]]:
    """Return (section, metric, value) for every figure except coverage; nested counts become "by_type.sos"."""
    out: list[tuple[str, str, object]] = []
    for section in SECTIONS:
        for key, value in figures[section].items():
            if isinstance(value, dict):
                out.extend((section, f"{key}.{sub}", count) for sub, count in value.items())
            else:
                out.append((section, key, value))
    return out


def label(metric: str) -> str:
    """Return the bilingual label of a metric ("by_type.sos" → "按类型 by type: sos")."""
    head, _, tail = metric.partition(".")
    text = LABELS.get(head, head)
    return f"{text}: {tail}" if tail else text


def to_csv(figures: dict) -> str:
    """Return the figures as CSV (UTF-8 with BOM)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(["section", "metric", "label", "value"])
    for section, metric, value in rows(figures):
        writer.writerow([section, metric, label(metric), "" if value is None else value])
    writer.writerow([])
    writer.writerow([c for c, _ in COVERAGE_COLUMNS])
    for row in figures["coverage"]:
        writer.writerow(["" if row[c] is None else row[c] for c, _ in COVERAGE_COLUMNS])
    return out.getvalue()


def to_xlsx(figures: dict) -> bytes:
    """Return an XLSX workbook: a summary sheet (section, metric, label, value) and a coverage sheet."""
    from openpyxl import Workbook

    book = Workbook()
    summary = book.active
    if summary is None:  # a new workbook always has its first sheet
        raise RuntimeError("openpyxl made a workbook without a sheet")
    summary.title = "summary"
    summary.append(["section", "metric", "label", "value"])
    for section, metric, value in rows(figures):
        summary.append([section, metric, label(metric), value])
    summary.column_dimensions["C"].width = 36
    coverage = book.create_sheet("coverage")
    coverage.append([c for c, _ in COVERAGE_COLUMNS])
    coverage.append([title for _, title in COVERAGE_COLUMNS])
    for row in figures["coverage"]:
        coverage.append([row[c] for c, _ in COVERAGE_COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def find_font() -> Path:
    """Return an installed font with Chinese glyphs (Debian: fonts-droid-fallback)."""
    for path in FONT_CANDIDATES:
        if path.exists():
            return path
    raise NoChineseFont("no Chinese font installed: install the Debian package fonts-droid-fallback")


def to_pdf(figures: dict, tz: str, font: Path | None = None) -> bytes:
    """Return the figures as a PDF with its Chinese text in an embedded CJK font."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("cjk", fname=str(font or find_font()))
    latin = next((p for p in LATIN_CANDIDATES if p.exists()), None)
    main = "cjk"
    if latin is not None:
        pdf.add_font("latin", fname=str(latin))
        pdf.set_fallback_fonts(["cjk"])
        main = "latin"
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    zone = ZoneInfo(tz)
    pdf.set_font(main, size=16)
    pdf.cell(0, 10, f"{figures['month']} 月度公开报告 Monthly disclosure", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(main, size=9)
    last_day = dt.datetime.fromtimestamp(figures["due_at"] - 1, zone).strftime("%Y-%m-%d")
    pdf.cell(0, 6, f"公开截止 {last_day} 当日 · due by the end of {last_day} ({tz})", new_x="LMARGIN", new_y="NEXT")
    current = None
    for section, metric, value in rows(figures):
        if section != current:
            current = section
            pdf.set_font(main, size=12)
            pdf.cell(0, 9, SECTIONS[section], new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(main, size=10)
        pdf.cell(120, 6, label(metric))
        pdf.cell(0, 6, "—" if value is None else str(value), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(main, size=12)
    pdf.cell(0, 9, "覆盖率 coverage", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(main, size=8)
    widths = [22, 26, 26, 20, 26, 26, 20, 24]
    for width, (_, title) in zip(widths, COVERAGE_COLUMNS, strict=True):
        pdf.cell(width, 6, title.split(" ")[0], border=1)  # the Chinese half fits the column
    pdf.ln()
    for row in figures["coverage"]:
        for width, (column, _) in zip(widths, COVERAGE_COLUMNS, strict=True):
            pdf.cell(width, 6, "—" if row[column] is None else str(row[column]), border=1)
        pdf.ln()
    return bytes(pdf.output())
