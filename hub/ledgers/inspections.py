"""Inspection plans and tasks: default templates, tasks per site and period, results, overdue; the caller commits."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.audit.service import SYSTEM
from hub.ledgers.models import InspectionTask, InspectionTemplate, TemplateIn

DAILY, WEEKLY, MONTHLY = "daily", "weekly", "monthly"

# Rule 9: caregivers daily (electricity, gas, food); the site safety lead weekly (building, fire, food);
# township leaders monthly.
DEFAULT_TEMPLATES: list[dict] = [
    {"name": "每日安全检查 daily caregiver check", "cadence": DAILY, "role": "caregiver", "items": [
        {"key": "electricity", "label": "用电安全 electricity", "category": "electricity"},
        {"key": "gas", "label": "燃气安全 gas", "category": "gas"},
        {"key": "food", "label": "食品安全 food", "category": "food"}]},
    {"name": "每周安全检查 weekly site safety check", "cadence": WEEKLY, "role": "safety_officer", "items": [
        {"key": "building", "label": "建筑安全 building", "category": "building"},
        {"key": "fire", "label": "消防安全 fire", "category": "fire"},
        {"key": "food", "label": "食品安全 food", "category": "food"}]},
    {"name": "每月乡镇督查 monthly township inspection", "cadence": MONTHLY, "role": "township", "items": [
        {"key": "fire", "label": "消防安全 fire", "category": "fire"},
        {"key": "electricity", "label": "用电安全 electricity", "category": "electricity"},
        {"key": "gas", "label": "燃气安全 gas", "category": "gas"},
        {"key": "building", "label": "建筑安全 building", "category": "building"},
        {"key": "food", "label": "食品安全 food", "category": "food"}]},
]
# Who hears of a task its role left undone.
ESCALATE_TO = {"caregiver": "safety_officer", "safety_officer": "township", "township": "county"}


class InspectionError(ValueError):
    """An inspection step that is refused; the message says why."""


def ensure_default_templates(*, db_session: Session) -> list[InspectionTemplate]:
    """Create the default plans when there are none yet; return every template."""
    if db_session.scalar(select(InspectionTemplate.id).limit(1)) is None:
        for template in DEFAULT_TEMPLATES:
            db_session.add(InspectionTemplate(**template, active=True))
        db_session.flush()
    return list(db_session.scalars(select(InspectionTemplate).order_by(InspectionTemplate.id)))


def save_template(*, db_session: Session, template_in: TemplateIn, actor: str, now: float,
                  template_id: int | None = None) -> InspectionTemplate:
    """Create a plan, or replace one (tasks already generated keep the checklist they were made with)."""
    values = template_in.model_dump(mode="json")
    template = db_session.get(InspectionTemplate, template_id) if template_id is not None else None
    if template_id is not None and template is None:
        raise InspectionError(f"template {template_id} not found")
    if template is None:
        template = InspectionTemplate(**values)
        db_session.add(template)
    else:
        for key, value in values.items():
            setattr(template, key, value)
    db_session.flush()
    audit.append(db_session=db_session, actor=actor, action="inspection.template_saved", entity="inspection_template",
                 entity_id=template.id, at=now, detail=values)
    return template


def periods(cadence: str, start: dt.date, days: int) -> list[tuple[dt.date, dt.date]]:
    """Return every (first day, last day) period of `cadence` that overlaps the `days` from `start`."""
    end = start + dt.timedelta(days=days - 1)
    out: list[tuple[dt.date, dt.date]] = []
    if cadence == DAILY:
        first = start
    elif cadence == WEEKLY:
        first = start - dt.timedelta(days=start.weekday())  # ISO weeks start on Monday
    else:
        first = start.replace(day=1)
    while first <= end:
        if cadence == DAILY:
            last = first
        elif cadence == WEEKLY:
            last = first + dt.timedelta(days=6)
        else:
            last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        out.append((first, last))
        first = last + dt.timedelta(days=1)
    return out


def local_midnight(day: dt.date, tz: str) -> float:
    """Return the epoch seconds of the start of `day` in the time zone `tz`."""
    return dt.datetime.combine(day, dt.time(), ZoneInfo(tz)).timestamp()


def generate_tasks(*, db_session: Session, site_ids: list[int], start: dt.date, days: int, now: float,
                   tz: str = "Asia/Shanghai") -> list[InspectionTask]:
    """Create the tasks of every active plan for each site and period overlapping the window (idempotent)."""
    templates = [t for t in ensure_default_templates(db_session=db_session) if t.active]
    window_end = (start + dt.timedelta(days=days)).isoformat()
    existing = set(db_session.execute(
        select(InspectionTask.template_id, InspectionTask.site_id, InspectionTask.period_start)
        .where(InspectionTask.site_id.in_(site_ids), InspectionTask.period_start < window_end)).all())
    created = []
    for template in templates:
        for first, last in periods(template.cadence, start, days):
            for site_id in site_ids:
                if (template.id, site_id, first.isoformat()) in existing:
                    continue
                task = InspectionTask(template_id=template.id, site_id=site_id, cadence=template.cadence,
                                      role=template.role, period_start=first.isoformat(),
                                      period_end=last.isoformat(),
                                      due_at=local_midnight(last + dt.timedelta(days=1), tz), status="open",
                                      created_at=now, results=[])
                db_session.add(task)
                created.append(task)
    db_session.flush()
    if created:
        audit.append(db_session=db_session, actor=SYSTEM, action="inspection.tasks_generated",
                     entity="inspection_task", entity_id="*", at=now,
                     detail={"start": start.isoformat(), "days": days, "sites": sorted(site_ids),
                             "created": len(created)})
    return created


def complete(*, db_session: Session, task: InspectionTask, template: InspectionTemplate, results: list[dict],
             actor: str, now: float) -> InspectionTask:
    """Record the result of every checklist item; a task done after its due time stays marked late."""
    if task.status == "done":
        raise InspectionError(f"inspection task #{task.id} is already done")
    keys = {item["key"] for item in template.items}
    given = [r["key"] for r in results]
    if set(given) != keys or len(given) != len(keys):
        raise InspectionError(f"give one result for each checklist item: {sorted(keys)}")
    task.status, task.done_at, task.done_by, task.results = "done", now, actor, results
    audit.append(db_session=db_session, actor=actor, action="inspection.done", entity="inspection_task",
                 entity_id=task.id, at=now, detail={"late": now > task.due_at,
                                                    "failed": [r["key"] for r in results if not r["ok"]]})
    return task


def mark_overdue(*, db_session: Session, now: float) -> list[dict]:
    """Turn open tasks past their due time overdue and escalate each to the next tier (once)."""
    out = []
    query = (select(InspectionTask).where(InspectionTask.status == "open", InspectionTask.due_at <= now)
             .order_by(InspectionTask.id))
    for task in db_session.scalars(query):
        task.status, task.overdue_at = "overdue", now
        task.escalated_to = ESCALATE_TO.get(task.role, "county")
        detail = {"site_id": task.site_id, "role": task.role, "period_start": task.period_start,
                  "due_at": task.due_at, "escalated_to": task.escalated_to}
        audit.append(db_session=db_session, actor=SYSTEM, action="inspection.overdue", entity="inspection_task",
                     entity_id=task.id, at=now, detail=detail)
        out.append({"task_id": task.id, **detail})
    return out


def list_tasks(*, db_session: Session, site_ids: frozenset[int] | None, status: str | None = None,
               site_id: int | None = None, limit: int = 2000) -> list[InspectionTask]:
    """Return inspection tasks in scope (`site_ids` None: every site), by due time."""
    query = select(InspectionTask)
    if status:
        query = query.where(InspectionTask.status == status)
    if site_id is not None:
        query = query.where(InspectionTask.site_id == site_id)
    if site_ids is not None:
        query = query.where(InspectionTask.site_id.in_(sorted(site_ids)))
    return list(db_session.scalars(query.order_by(InspectionTask.due_at, InspectionTask.id).limit(limit)))
