"""The three lists inspectors ask for (隐患清单, 整改清单, 责任清单) as rows, and CSV of any rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

from hub.ledgers.models import OPEN_HAZARD, Hazard

HAZARD_COLUMNS = ["id", "site_id", "category", "level", "title", "location", "source", "registered_at",
                  "deadline_at", "status", "tier", "major", "alert_id", "work_order_id"]
RECTIFICATION_COLUMNS = ["id", "site_id", "title", "level", "measures", "responsible_person", "department",
                         "deadline_at", "rectified_at", "rectified_by", "reinspected_at", "reinspected_by",
                         "reinspection_passed", "failed_reinspections", "status", "overdue"]
RESPONSIBILITY_COLUMNS = ["responsible_person", "department", "open", "overdue", "closed", "hazard_ids"]
TIME_COLUMNS = {"registered_at", "deadline_at", "rectified_at", "reinspected_at"}


def _open(hazard: Hazard) -> bool:
    return hazard.status in OPEN_HAZARD


def hazard_rows(hazards: list[Hazard]) -> list[dict]:
    """Return the hazard list: every hazard with its level, deadline, state and links."""
    return [{c: getattr(h, c) for c in HAZARD_COLUMNS} for h in hazards]


def rectification_rows(hazards: list[Hazard], now: float) -> list[dict]:
    """Return the rectification list: measures, who, by when, and the re-inspection of each hazard."""
    rows = []
    for h in hazards:
        row = {c: getattr(h, c) for c in RECTIFICATION_COLUMNS if c != "overdue"}
        row["overdue"] = _open(h) and h.deadline_at <= now
        rows.append(row)
    return rows


def responsibility_rows(hazards: list[Hazard], now: float) -> list[dict]:
    """Return the responsibility list: per responsible person and department, open, overdue and closed hazards."""
    groups: dict[tuple[str, str], dict] = {}
    for h in hazards:
        key = (h.responsible_person or "(unassigned)", h.department or "")
        row = groups.setdefault(key, {"responsible_person": key[0], "department": key[1], "open": 0, "overdue": 0,
                                      "closed": 0, "hazard_ids": []})
        row["hazard_ids"].append(h.id)
        if _open(h):
            row["open"] += 1
            row["overdue"] += h.deadline_at <= now
        else:
            row["closed"] += 1
    return sorted(groups.values(), key=lambda r: (-r["overdue"], -r["open"], r["responsible_person"]))


def to_csv(rows: list[dict], columns: list[str], tz: str) -> str:
    """Return rows as CSV with a BOM (so spreadsheet programs read the Chinese text) and local times."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(columns)
    zone = ZoneInfo(tz)
    for row in rows:
        writer.writerow([_cell(row.get(c), c, zone) for c in columns])
    return out.getvalue()


def _cell(value, column: str, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    if column in TIME_COLUMNS or column.endswith("_at") and isinstance(value, float):
        return dt.datetime.fromtimestamp(value, zone).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)
