"""Ledger orchestration: hazards by hand, failed checklist items and complaints become hazards; timer checks."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session, sessionmaker

from hub.auth.principal import Principal
from hub.config import Settings
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
from hub.ledgers.policy import HazardPolicy


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
