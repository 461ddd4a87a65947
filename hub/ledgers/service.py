"""Hazard-ledger reads and writes: register, rectify, re-inspect, close, escalate; the caller commits."""

from __future__ import annotations

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.audit.models import AuditEntry
from hub.audit.service import SYSTEM
from hub.auth.principal import Principal
from hub.ledgers.models import OPEN_HAZARD, TIERS, Hazard, HazardCategory, HazardLevel, HazardStatus, Tier

H = HazardStatus


class HazardRuleError(ValueError):
    """A step the hazard lifecycle refuses; the message says why, for the person who tried it."""


def register(*, db_session: Session, category: HazardCategory, level: HazardLevel, title: str,
             site_id: int | None, source: str, actor: str, now: float, deadline_at: float, description: str = "",
             location: str = "", room_id: int | None = None, device_key: str | None = None,
             alert_id: int | None = None, work_order_id: int | None = None, inspection_task_id: int | None = None,
             complaint_id: int | None = None, evidence: list[str] | None = None, responsible_person: str = "",
             department: str = "", major: bool = False) -> Hazard:
    """Register a hazard (登记); the deadline is also when escalation first becomes due."""
    hazard = Hazard(category=category.value, level=level.value, status=H.REGISTERED.value, title=title,
                    description=description, location=location, evidence=list(evidence or []), source=source,
                    site_id=site_id, room_id=room_id, device_key=device_key, alert_id=alert_id,
                    work_order_id=work_order_id, inspection_task_id=inspection_task_id, complaint_id=complaint_id,
                    major=major, treatment_plan="", responsible_person=responsible_person, department=department,
                    measures="", deadline_at=deadline_at, registered_at=now, registered_by=actor, updated_at=now,
                    rectification_note="", rectification_evidence=[], reinspection_note="",
                    reinspection_evidence=[], failed_reinspections=0, tier=Tier.SITE.value,
                    next_escalation_at=deadline_at)
    db_session.add(hazard)
    db_session.flush()
    _audit(db_session, hazard, actor, "registered", now, {
        "category": hazard.category, "level": hazard.level, "source": source, "deadline_at": deadline_at,
        "alert_id": alert_id, "work_order_id": work_order_id})
    return hazard


def open_hazard_for_device(*, db_session: Session, device_key: str, category: HazardCategory,
                           level: HazardLevel) -> Hazard | None:
    """Return the oldest open hazard of this category and level registered for this device, if any.

    The level keeps a fire (red) apart from a dead smoke detector (orange) on the same device.
    """
    return db_session.scalars(select(Hazard).where(
        Hazard.device_key == device_key, Hazard.category == category.value, Hazard.level == level.value,
        Hazard.status.in_(OPEN_HAZARD),
    ).order_by(Hazard.id).limit(1)).first()


def open_hazard_in_room(*, db_session: Session, room_id: int, category: HazardCategory,
                        level: HazardLevel) -> Hazard | None:
    """Return the oldest open hazard of this category and level in this room (a room's fire joins its smoke alarm's)."""
    return db_session.scalars(select(Hazard).where(
        Hazard.room_id == room_id, Hazard.category == category.value, Hazard.level == level.value,
        Hazard.status.in_(OPEN_HAZARD),
    ).order_by(Hazard.id).limit(1)).first()


def note_recurrence(*, db_session: Session, hazard: Hazard, alert_id: int, actor: str, now: float) -> Hazard:
    """Record on an open hazard that its device raised the same kind of alert again."""
    _audit(db_session, hazard, actor, "recurred", now, {"alert_id": alert_id})
    return hazard


def _audit(db_session: Session, hazard: Hazard, actor: str, what: str, now: float, detail: dict | None = None):
    hazard.updated_at = now
    audit.append(db_session=db_session, actor=actor, action=f"hazard.{what}", entity="hazard", entity_id=hazard.id,
                 at=now, detail=detail or {})


def _require(hazard: Hazard, allowed: tuple[HazardStatus, ...], doing: str) -> None:
    if hazard.status not in allowed:
        raise HazardRuleError(f"hazard #{hazard.id} is {hazard.status}; it cannot be {doing}")


def start_rectification(*, db_session: Session, hazard: Hazard, actor: str, measures: str,
                        responsible_person: str, department: str, now: float,
                        deadline_at: float | None = None) -> Hazard:
    """Set the measures, the responsible person and department (and a new deadline); rectifying (整改中)."""
    _require(hazard, (H.REGISTERED, H.RECTIFYING), "put into rectification")
    hazard.status, hazard.measures = H.RECTIFYING.value, measures
    hazard.responsible_person, hazard.department = responsible_person, department
    hazard.rectification_started_at = hazard.rectification_started_at or now
    if deadline_at is not None:
        hazard.deadline_at = deadline_at
        if hazard.tier == Tier.SITE:
            hazard.next_escalation_at = deadline_at
    _audit(db_session, hazard, actor, "rectifying", now, {"measures": measures, "responsible_person":
                                                          responsible_person, "department": department,
                                                          "deadline_at": hazard.deadline_at})
    return hazard


def submit_rectification(*, db_session: Session, hazard: Hazard, actor: str, note: str, evidence: list[str],
                         now: float) -> Hazard:
    """Report the rectification done, with evidence; the hazard waits for a re-inspection (待复查)."""
    _require(hazard, (H.RECTIFYING,), "reported rectified")
    hazard.status, hazard.rectified_at, hazard.rectified_by = H.AWAITING_REINSPECTION.value, now, actor
    hazard.rectification_note, hazard.rectification_evidence = note, list(evidence)
    hazard.reinspection_passed = None
    _audit(db_session, hazard, actor, "rectified", now, {"note": note, "evidence": list(evidence)})
    return hazard


def reinspect(*, db_session: Session, hazard: Hazard, actor: str, passed: bool, note: str, evidence: list[str],
              now: float) -> Hazard:
    """Record a re-inspection (复查) by someone other than the rectifier; a fail returns it to rectifying."""
    _require(hazard, (H.AWAITING_REINSPECTION,), "re-inspected")
    if actor == hazard.rectified_by:
        raise HazardRuleError(f"hazard #{hazard.id} was rectified by {actor}; the re-inspection must be done by "
                              "someone other than the rectifier")
    hazard.reinspected_at, hazard.reinspected_by, hazard.reinspection_passed = now, actor, passed
    hazard.reinspection_note, hazard.reinspection_evidence = note, list(evidence)
    if not passed:
        hazard.status = H.RECTIFYING.value
        hazard.failed_reinspections += 1
    _audit(db_session, hazard, actor, "reinspection_passed" if passed else "reinspection_failed", now,
           {"note": note, "evidence": list(evidence), "rectified_by": hazard.rectified_by})
    return hazard


def set_treatment_plan(*, db_session: Session, hazard: Hazard, actor: str, plan: str, major: bool,
                       now: float) -> Hazard:
    """Attach the treatment plan (治理方案) a major hazard needs before it can close."""
    _require(hazard, OPEN_HAZARD, "given a treatment plan")
    hazard.treatment_plan, hazard.major = plan, major or hazard.major
    _audit(db_session, hazard, actor, "treatment_plan", now, {"major": hazard.major, "plan": plan})
    return hazard


def close(*, db_session: Session, hazard: Hazard, actor: str, now: float) -> Hazard:
    """Close out the hazard (销号): only after a passed re-inspection by another person, and a plan if major."""
    if hazard.status in (H.CLOSED, H.ARCHIVED):
        raise HazardRuleError(f"hazard #{hazard.id} is already {hazard.status}")
    if hazard.status != H.AWAITING_REINSPECTION or hazard.reinspection_passed is not True:
        raise HazardRuleError(f"hazard #{hazard.id} cannot be closed: it has no passed re-inspection "
                              f"(status {hazard.status}); rectify it and have someone else re-inspect it first")
    if hazard.reinspected_by == hazard.rectified_by:
        raise HazardRuleError(f"hazard #{hazard.id} cannot be closed: the re-inspector is the rectifier")
    if hazard.major and not hazard.treatment_plan.strip():
        raise HazardRuleError(f"hazard #{hazard.id} is a major hazard: attach its treatment plan before closing")
    hazard.status, hazard.closed_at, hazard.closed_by, hazard.next_escalation_at = H.CLOSED.value, now, actor, None
    _audit(db_session, hazard, actor, "closed", now, {"reinspected_by": hazard.reinspected_by})
    return hazard


def archive(*, db_session: Session, hazard: Hazard, actor: str, now: float) -> Hazard:
    """Archive a closed hazard (归档)."""
    _require(hazard, (H.CLOSED,), "archived")
    hazard.status, hazard.archived_at = H.ARCHIVED.value, now
    _audit(db_session, hazard, actor, "archived", now)
    return hazard


def link_work_order(*, db_session: Session, hazard: Hazard, work_order_id: int, actor: str, now: float) -> Hazard:
    """Record the work order that rectifies the hazard (the order keeps the hazard's id as well)."""
    hazard.work_order_id = work_order_id
    _audit(db_session, hazard, actor, "work_order_linked", now, {"work_order_id": work_order_id})
    return hazard


def escalate_overdue(*, db_session: Session, now: float, grace_s: dict[str, float]) -> list[dict]:
    """Move each overdue open hazard one tier up (site → township → county), once per breach."""
    query = (select(Hazard).where(Hazard.status.in_([s.value for s in OPEN_HAZARD]),
                                  Hazard.next_escalation_at.is_not(None), Hazard.next_escalation_at <= now)
             .order_by(Hazard.id))
    out = []
    for hazard in db_session.scalars(query):
        index = TIERS.index(Tier(hazard.tier))
        if index + 1 >= len(TIERS):
            hazard.next_escalation_at = None
            continue
        previous, hazard.tier = hazard.tier, TIERS[index + 1].value
        # The next tier gets the level's own deadline again before it, too, is passed upwards.
        at_top = index + 2 >= len(TIERS)
        hazard.next_escalation_at = None if at_top else now + grace_s[hazard.level]
        entry = {"from": previous, "to": hazard.tier, "deadline_at": hazard.deadline_at,
                 "overdue_s": round(now - hazard.deadline_at, 3)}
        _audit(db_session, hazard, SYSTEM, "escalated", now, entry)
        out.append({"hazard_id": hazard.id, "site_id": hazard.site_id, "level": hazard.level, **entry})
    return out


def get_in_scope(*, db_session: Session, hazard_id: int, principal: Principal) -> Hazard | None:
    """Return the hazard if it exists and the caller may see it (None: the API answers 404)."""
    hazard = db_session.get(Hazard, hazard_id)
    if hazard is None or not principal.sees(site_id=hazard.site_id, resident_id=None):
        return None
    return hazard


def list_hazards(*, db_session: Session, principal: Principal, statuses: list[HazardStatus] | None = None,
                 level: HazardLevel | None = None, site_id: int | None = None, alert_id: int | None = None,
                 overdue_at: float | None = None, limit: int = 1000) -> list[Hazard]:
    """Return the caller's hazards, most severe and oldest first."""
    query = select(Hazard)
    if statuses:
        query = query.where(Hazard.status.in_([s.value for s in statuses]))
    if level is not None:
        query = query.where(Hazard.level == level.value)
    if site_id is not None:
        query = query.where(Hazard.site_id == site_id)
    if alert_id is not None:
        query = query.where(Hazard.alert_id == alert_id)
    if overdue_at is not None:
        query = query.where(Hazard.status.in_([s.value for s in OPEN_HAZARD]), Hazard.deadline_at <= overdue_at)
    if principal.site_ids is not None:
        query = query.where(Hazard.site_id.in_(sorted(principal.site_ids)))
    severity = case({level.value: i for i, level in enumerate(HazardLevel)}, value=Hazard.level, else_=9)
    return list(db_session.scalars(query.order_by(severity, Hazard.registered_at, Hazard.id).limit(limit)))


def history(*, db_session: Session, hazard_id: int) -> list[dict]:
    """Return every step of the hazard from the audit log, oldest first."""
    rows = db_session.scalars(select(AuditEntry).where(AuditEntry.entity == "hazard",
                                                       AuditEntry.entity_id == str(hazard_id))
                              .order_by(AuditEntry.id))
    return [{"at": r.at, "actor": r.actor, "action": r.action, "detail": r.detail} for r in rows]
