"""The monthly disclosure for month M (rule 12): alerts, answer times, work orders, hazards, inspections, coverage.

`monthly_figures` reads; the figures are plain JSON so the API, the XLSX and the PDF show the same numbers.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.alerts.models import Alert, Outcome
from hub.audit import service as audit
from hub.devices.models import Device, LivingSituation, Resident, Site, SiteKind
from hub.ledgers.inspections import local_midnight
from hub.ledgers.models import Hazard, InspectionTask, MonthlyReport
from hub.workorders.models import WorkOrder

READY_BY_DAY = 10  # the report for M is due by the end of the 10th of M+1
MONITORING_TARGET_PCT = 95.0
VISIT_TARGET_PCT = 100.0
VISIT_AGE = 70


def month_bounds(month: str, tz: str) -> tuple[float, float, float]:
    """Return (start, end, due) epoch seconds of month "YYYY-MM": its first instant, the next month's, the deadline."""
    first = dt.date.fromisoformat(f"{month}-01")
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    due = following.replace(day=READY_BY_DAY) + dt.timedelta(days=1)
    return local_midnight(first, tz), local_midnight(following, tz), local_midnight(due, tz)


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _scoped(query, column, site_ids: frozenset[int] | None):
    return query if site_ids is None else query.where(column.in_(sorted(site_ids)))


def monthly_figures(*, db_session: Session, month: str, tz: str, site_ids: frozenset[int] | None = None) -> dict:
    """Compute the disclosure figures of `month` for the sites in scope (None: every site)."""
    start, end, due = month_bounds(month, tz)
    return {"month": month, "start": start, "end": end, "due_at": due,
            "alerts": _alerts(db_session, start, end, site_ids),
            "workorders": _workorders(db_session, start, end, site_ids),
            "hazards": _hazards(db_session, start, end, site_ids),
            "inspections": _inspections(db_session, start, end, site_ids),
            "coverage": _coverage(db_session, start, end, tz, site_ids)}


def _alerts(db_session: Session, start: float, end: float, site_ids) -> dict:
    query = _scoped(select(Alert).where(Alert.created_at >= start, Alert.created_at < end), Alert.site_id, site_ids)
    alerts = list(db_session.scalars(query))
    # A device condition that cleared before anyone answered never waited for an answer.
    answerable = [a for a in alerts if not (a.outcome == Outcome.RESTORED and a.acknowledged_at is None)]
    waits = [a.acknowledged_at - a.created_at for a in answerable if a.acknowledged_at is not None]
    return {"total": len(alerts),
            "by_type": dict(sorted(Counter(a.type for a in alerts).items())),
            "by_outcome": dict(sorted(Counter(a.outcome or f"open:{a.state}" for a in alerts).items())),
            "answerable": len(answerable), "answered": len(waits),
            "answered_60s": sum(w <= 60 for w in waits), "answered_180s": sum(w <= 180 for w in waits),
            "answered_60s_pct": _pct(sum(w <= 60 for w in waits), len(answerable)),
            "answered_180s_pct": _pct(sum(w <= 180 for w in waits), len(answerable)),
            "median_answer_s": round(statistics.median(waits), 1) if waits else None}


def _workorders(db_session: Session, start: float, end: float, site_ids) -> dict:
    rows = list(db_session.scalars(_scoped(select(WorkOrder), WorkOrder.site_id, site_ids)))

    def within(t: float | None) -> bool:
        return t is not None and start <= t < end

    ratings = [o.rating for o in rows if within(o.follow_up_at) and o.rating is not None]
    return {"created": sum(within(o.created_at) for o in rows),
            "by_type": dict(sorted(Counter(o.type for o in rows if within(o.created_at)).items())),
            "completed": sum(within(o.check_out_at) for o in rows),
            "closed": sum(within(o.closed_at) for o in rows),
            "cancelled": sum(within(o.cancelled_at) for o in rows),
            "escalated": sum(any(within(e["at"]) for e in o.escalations) for o in rows),
            "followed_up": len(ratings),
            "average_rating": round(sum(ratings) / len(ratings), 2) if ratings else None}


def _hazards(db_session: Session, start: float, end: float, site_ids) -> dict:
    rows = list(db_session.scalars(_scoped(select(Hazard).where(Hazard.registered_at < end), Hazard.site_id,
                                           site_ids)))
    opened = [h for h in rows if h.registered_at >= start]
    # Overdue at the month's end: registered by then, not closed by then, deadline passed.
    overdue = [h for h in rows if (h.closed_at is None or h.closed_at >= end) and h.deadline_at < end]
    return {"opened": len(opened),
            "opened_by_level": dict(sorted(Counter(h.level for h in opened).items())),
            "closed": sum(h.closed_at is not None and start <= h.closed_at < end for h in rows),
            "overdue_at_end": len(overdue),
            "open_at_end": sum(h.closed_at is None or h.closed_at >= end for h in rows)}


def _inspections(db_session: Session, start: float, end: float, site_ids) -> dict:
    query = select(InspectionTask).where(InspectionTask.due_at > start, InspectionTask.due_at <= end)
    tasks = list(db_session.scalars(_scoped(query, InspectionTask.site_id, site_ids)))
    done = [t for t in tasks if t.done_at is not None and t.done_at <= t.due_at]
    return {"due": len(tasks), "done": len(done), "missed": len(tasks) - len(done),
            "done_pct": _pct(len(done), len(tasks))}


def _coverage(db_session: Session, start: float, end: float, tz: str, site_ids) -> list[dict]:
    query = select(Resident, Site).join(Site, Resident.site_id == Site.id)
    residents = list(db_session.execute(_scoped(query, Site.id, site_ids)))
    devices = list(db_session.execute(select(Device.resident_id, Device.site_id)))
    worn = {r for r, _ in devices if r is not None}
    at_site = {s for _, s in devices if s is not None}
    visited = set(db_session.scalars(select(WorkOrder.resident_id).where(
        WorkOrder.check_in_at >= start, WorkOrder.check_in_at < end, WorkOrder.resident_id.is_not(None))))
    month_end = dt.datetime.fromtimestamp(end - 1, ZoneInfo(tz)).date()
    groups: dict[tuple[str, str], dict] = {}
    for resident, site in residents:
        row = groups.setdefault((site.county, site.township), {
            "county": site.county, "township": site.township, "solitary_or_empty_nest": 0, "monitored": 0,
            "solitary_70_plus": 0, "visited": 0})
        if resident.living_situation in (LivingSituation.ALONE, LivingSituation.EMPTY_NEST):
            row["solitary_or_empty_nest"] += 1
            # Monitored: a device of their own, or a device in their home.
            row["monitored"] += resident.id in worn or (site.kind == SiteKind.HOME and site.id in at_site)
        age = resident.age(month_end)
        if resident.living_situation == LivingSituation.ALONE and age is not None and age >= VISIT_AGE:
            row["solitary_70_plus"] += 1
            row["visited"] += resident.id in visited
    out = []
    for row in sorted(groups.values(), key=lambda r: (r["county"], r["township"])):
        monitoring = _pct(row["monitored"], row["solitary_or_empty_nest"])
        visits = _pct(row["visited"], row["solitary_70_plus"])
        out.append({**row, "monitoring_pct": monitoring, "monitoring_target_pct": MONITORING_TARGET_PCT,
                    "monitoring_met": monitoring is None or monitoring >= MONITORING_TARGET_PCT,
                    "visit_pct": visits, "visit_target_pct": VISIT_TARGET_PCT,
                    "visit_met": visits is None or visits >= VISIT_TARGET_PCT})
    return out


def publish(*, db_session: Session, month: str, tz: str, actor: str, now: float) -> MonthlyReport:
    """Freeze the whole-county figures of `month` as its published report (again: replaced, and audited)."""
    figures = monthly_figures(db_session=db_session, month=month, tz=tz)
    report = db_session.get(MonthlyReport, month) or MonthlyReport(month=month)
    report.figures, report.published_at, report.published_by = figures, now, actor
    report.late = now > figures["due_at"]
    db_session.add(report)
    db_session.flush()
    audit.append(db_session=db_session, actor=actor, action="report.published", entity="monthly_report",
                 entity_id=month, at=now, detail={"late": report.late})
    return report


def late_report(*, db_session: Session, now: float, tz: str) -> dict | None:
    """Return the previous month's report when it is past its deadline and still unpublished (else None)."""
    today = dt.datetime.fromtimestamp(now, ZoneInfo(tz)).date()
    previous = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    _, _, due = month_bounds(previous, tz)
    if now < due or db_session.get(MonthlyReport, previous) is not None:
        return None
    return {"month": previous, "due_at": due, "late_s": round(now - due, 3)}
