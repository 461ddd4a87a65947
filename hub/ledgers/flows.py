"""Ledger orchestration: hazards by hand, failed checklist items and complaints become hazards; timer checks."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session, sessionmaker

from hub.alerts.models import Alert, AlertChange
from hub.audit.service import SYSTEM
from hub.auth.principal import Principal
from hub.config import Settings
from hub.detect.models import DetectionRecord
from hub.devices import service as registry
from hub.ledgers import inspections, reports, service
from hub.ledgers.models import (
    Complaint,
    Hazard,
    HazardCategory,
    HazardIn,
    HazardLevel,
    InspectionTask,
    InspectionTemplate,
    TaskResultIn,
)
from hub.ledgers.policy import ALERT_CATEGORY, DEVICE_PROBLEMS, SAFETY_DEVICE_CATEGORY, HazardPolicy
from hub.workorders import service as workorder_service
from hub.workorders.models import WorkOrder


class AlertHazards:
    """The alert hook after the work orders': fire, gas and dead safety devices register a hazard (rules 5, 6).

    It runs inside the alert's transaction, so alert, order and hazard are written together or not at all,
    and it links the hazard with the order the work-order hook made for the alert (or the open repair
    that took the alert as a recurrence).
    """

    def __init__(self, policy: HazardPolicy) -> None:
        self.policy = policy

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertHazards:
        """Build the hook from the hub's settings."""
        return cls(HazardPolicy.of(settings.hazard_rules, settings.hazard_deadlines_h))

    def on_alert(self, session: Session, alert: Alert, detection: DetectionRecord, change: str) -> None:
        """Register (or add a recurrence to) the hazard a raised alert causes, linked with its order."""
        if change != AlertChange.RAISED:
            return
        order = workorder_service.order_for_alert(db_session=session, alert_id=alert.id,
                                                  device_key=alert.device_key if alert.type in DEVICE_PROBLEMS
                                                  else None)
        hazard = self._hazard(session, alert, alert.updated_at, order)
        if order is not None and hazard is not None and order.hazard_id != hazard.id:
            workorder_service.link_hazard(db_session=session, order=order, hazard_id=hazard.id, actor=SYSTEM,
                                          now=alert.updated_at)

    def _hazard(self, session: Session, alert: Alert, now: float, order: WorkOrder | None) -> Hazard | None:
        level = self.policy.alert_levels.get(alert.type)
        category = ALERT_CATEGORY.get(alert.type)
        title = f"{alert.type} alarm: {alert.subject}"
        if alert.type in DEVICE_PROBLEMS and alert.device_key and self.policy.device_level:
            # Rule 6: a dead, tampered or faulty smoke/gas detector is a fire-safety hazard, not a fire alert.
            device = registry.get_device_by_key(db_session=session, key=alert.device_key)
            category = SAFETY_DEVICE_CATEGORY.get(device.kind) if device is not None else None
            level = self.policy.device_level if category is not None else None
            title = f"safety device {alert.type}: {device.name or alert.device_key}" if device else title
        if level is None or category is None:
            return None
        open_hazard = None
        if alert.device_key:  # the same device again: one hazard in the ledger, its history says how often
            open_hazard = service.open_hazard_for_device(db_session=session, device_key=alert.device_key,
                                                         category=HazardCategory(category), level=HazardLevel(level))
        elif alert.room_id is not None:  # a room's confirmed fire joins the hazard its first smoke alarm opened
            open_hazard = service.open_hazard_in_room(db_session=session, room_id=alert.room_id,
                                                      category=HazardCategory(category), level=HazardLevel(level))
        if open_hazard is not None:
            return service.note_recurrence(db_session=session, hazard=open_hazard, alert_id=alert.id,
                                           actor=SYSTEM, now=now)
        return service.register(
            db_session=session, category=category, level=HazardLevel(level), title=title[:200],
            site_id=alert.site_id, room_id=alert.room_id, device_key=alert.device_key, source="alert", actor=SYSTEM,
            now=now, deadline_at=now + self.policy.deadline_s(level), alert_id=alert.id,
            work_order_id=order.id if order is not None else None,
            description=f"registered automatically from alert #{alert.id} ({alert.type})")


def link_order_to_hazard(session: Session, principal: Principal, hazard_id: int, order_id: int, now: float) -> bool:
    """Link a hand-made work order to the hazard it names; False when the hazard is not the caller's."""
    hazard = service.get_in_scope(db_session=session, hazard_id=hazard_id, principal=principal)
    if hazard is None:
        return False
    service.link_work_order(db_session=session, hazard=hazard, work_order_id=order_id, actor=principal.actor, now=now)
    return True


class LedgerFlow:
    """People's actions on the ledgers, each in its own transaction, scoped to what the caller may see."""

    def __init__(self, *, session_factory: sessionmaker[Session], settings: Settings,
                 clock: Callable[[], float] = time.time) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.policy = HazardPolicy.of(settings.hazard_rules, settings.hazard_deadlines_h)
        self.clock = clock

    def act(self, principal: Principal, hazard_id: int,
            action: Callable[[Session, Hazard, float], Hazard]) -> Hazard | None:
        """Apply an action to a hazard the caller may see; None when it is not theirs to see (404)."""
        now = self.clock()
        with self.session_factory() as session, session.begin():
            hazard = service.get_in_scope(db_session=session, hazard_id=hazard_id, principal=principal)
            if hazard is None:
                return None
            return action(session, hazard, now)

    def register(self, principal: Principal, hazard_in: HazardIn) -> Hazard | None:
        """Register a hazard by hand; None when the site is not the caller's."""
        if not principal.sees(site_id=hazard_in.site_id, resident_id=None):
            return None
        now = self.clock()
        deadline = hazard_in.deadline_at or now + self.policy.deadline_s(hazard_in.level)
        with self.session_factory() as session, session.begin():
            return service.register(
                db_session=session, category=hazard_in.category, level=hazard_in.level, title=hazard_in.title,
                description=hazard_in.description, location=hazard_in.location, site_id=hazard_in.site_id,
                room_id=hazard_in.room_id, device_key=hazard_in.device_key, evidence=hazard_in.evidence,
                responsible_person=hazard_in.responsible_person, department=hazard_in.department,
                major=hazard_in.major, source="manual", actor=principal.actor, now=now, deadline_at=deadline)

    def complete_task(self, principal: Principal, task_id: int, result_in: TaskResultIn
                      ) -> tuple[InspectionTask, list[Hazard]] | None:
        """Record an inspection's results; each failed item registers a hazard linked to the task."""
        now = self.clock()
        with self.session_factory() as session, session.begin():
            task = session.get(InspectionTask, task_id)
            if task is None or not principal.sees(site_id=task.site_id, resident_id=None):
                return None
            template = session.get(InspectionTemplate, task.template_id)
            if template is None:
                raise LookupError(f"inspection task {task.id} refers to missing template {task.template_id}")
            results = [item.model_dump(mode="json") for item in result_in.items]
            inspections.complete(db_session=session, task=task, template=template, results=results,
                                 actor=principal.actor, now=now)
            categories = {item["key"]: item["category"] for item in template.items}
            found = []
            for item in result_in.items:
                if item.ok:
                    continue
                found.append(service.register(
                    db_session=session, category=HazardCategory(categories[item.key]), level=item.level,
                    title=f"{template.name}: {item.key}"[:200], description=item.note, evidence=item.photos,
                    site_id=task.site_id, source="inspection", actor=principal.actor, now=now,
                    deadline_at=now + self.policy.deadline_s(item.level), inspection_task_id=task.id))
            return task, found

    def hazard_from_complaint(self, principal: Principal, complaint: Complaint, session: Session,
                              category: HazardCategory, level: HazardLevel, now: float) -> Hazard:
        """Register the hazard a complaint revealed and link the complaint to it."""
        hazard = service.register(
            db_session=session, category=category, level=level, title=f"complaint #{complaint.id}",
            description=complaint.content, site_id=complaint.site_id, source="complaint", actor=principal.actor,
            now=now, deadline_at=now + self.policy.deadline_s(level), complaint_id=complaint.id)
        complaint.hazard_id = hazard.id
        return hazard


def check_overdue(*, db_session: Session, now: float, deadlines_h: Mapping[str, float] | None = None,
                  tz: str = "Asia/Shanghai") -> dict:
    """Escalate overdue hazards one tier, turn undone inspection tasks overdue, and report a late monthly report
    (call it from the timer loop; the caller commits and notifies)."""
    policy = HazardPolicy.of(None, deadlines_h)
    grace = {level: policy.deadline_s(level) for level in policy.deadlines_h}
    return {"hazards": service.escalate_overdue(db_session=db_session, now=now, grace_s=grace),
            "tasks": inspections.mark_overdue(db_session=db_session, now=now),
            "late_report": reports.late_report(db_session=db_session, now=now, tz=tz)}


def generate_tasks(*, db_session: Session, site_ids: list[int], start, days: int, now: float,
                   tz: str = "Asia/Shanghai") -> list[InspectionTask]:
    """Create inspection tasks by cadence for the sites (idempotent; call it daily for the days ahead)."""
    return inspections.generate_tasks(db_session=db_session, site_ids=site_ids, start=start, days=days, now=now,
                                      tz=tz)
