"""Alert reads and writes: raise or join, lifecycle transitions, the scoped queue; the caller commits."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from hub.alerts.models import OPEN_STATES, Alert, AlertOccurrence, AlertState, Outcome
from hub.alerts.types import DEVICE_CARE, DEVICE_CONDITIONS, LIFE_SAFETY, priority_of
from hub.audit import service as audit
from hub.audit.models import AuditEntry
from hub.audit.service import SYSTEM
from hub.auth.principal import Principal
from hub.detect.models import DetectionRecord
from hub.events.models import DeviceEventRecord


class AlertStateError(ValueError):
    """A transition the lifecycle does not allow; the message says why."""


def group_subject(det: DetectionRecord) -> str:
    """Return who or what an alert is about: the resident when known, the device for device conditions."""
    if det.type in DEVICE_CONDITIONS:
        return det.device_key or det.subject
    if det.resident_id is not None:
        return f"resident:{det.resident_id}"
    return det.subject


def raise_or_join(*, db_session: Session, detection: DetectionRecord, now: float,
                  priorities: Mapping[str, int] | None = None) -> tuple[Alert, bool]:
    """Open an alert for an active detection, or add it to the open alert of the same subject and type."""
    subject = group_subject(detection)
    open_key = f"{subject}|{detection.type}"
    alert = db_session.scalar(select(Alert).where(Alert.open_key == open_key))
    created = alert is None
    if alert is None:
        alert = Alert(type=detection.type, priority=priority_of(detection.type, priorities),
                      state=AlertState.NEW.value, subject=subject, open_key=open_key,
                      resident_id=detection.resident_id, device_key=detection.device_key,
                      site_id=detection.site_id, room_id=detection.room_id, count=1, first_at=detection.t,
                      last_at=detection.t, created_at=now, updated_at=now, detection_id=detection.id)
        db_session.add(alert)
        db_session.flush()
        audit.append(db_session=db_session, actor=SYSTEM, action="alert.raised", entity="alert",
                     entity_id=alert.id, at=now, detail={"type": alert.type, "priority": alert.priority,
                                                         "subject": subject, "detection_id": detection.id})
    else:
        alert.count += 1
        alert.last_at = max(alert.last_at, detection.t)
        alert.updated_at = now
        alert.cleared_at = None
        audit.append(db_session=db_session, actor=SYSTEM, action="alert.repeated", entity="alert",
                     entity_id=alert.id, at=now, detail={"count": alert.count, "detection_id": detection.id})
    db_session.add(AlertOccurrence(alert_id=alert.id, detection_id=detection.id, t=detection.t, recorded_at=now,
                                   confidence=detection.confidence, device_key=detection.device_key))
    return alert, created


def note_cleared(*, db_session: Session, detection: DetectionRecord, now: float) -> Alert | None:
    """Record that a condition cleared; an untouched P3 alert resolves as restored, nothing else changes."""
    alert = db_session.scalar(select(Alert).where(Alert.open_key == f"{group_subject(detection)}|{detection.type}"))
    if alert is None:
        return None
    alert.cleared_at = detection.t
    alert.updated_at = now
    audit.append(db_session=db_session, actor=SYSTEM, action="alert.cleared", entity="alert", entity_id=alert.id,
                 at=now, detail={"detection_id": detection.id})
    if alert.priority >= DEVICE_CARE and alert.state == AlertState.NEW:
        _finish(db_session, alert, actor=SYSTEM, outcome=Outcome.RESTORED, note="condition cleared", now=now)
    return alert


def acknowledge(*, db_session: Session, alert: Alert, actor: str, now: float) -> Alert:
    """Acknowledge: a person has taken the alert; escalation stops."""
    if alert.state != AlertState.NEW:
        raise AlertStateError(f"alert #{alert.id} is {alert.state}, not new")
    _acknowledge(db_session, alert, actor, now)
    return alert


def _acknowledge(db_session: Session, alert: Alert, actor: str, now: float) -> None:
    alert.state = AlertState.ACKNOWLEDGED.value
    alert.acknowledged_at, alert.acknowledged_by, alert.updated_at = now, actor, now
    alert.next_escalation_at = None
    audit.append(db_session=db_session, actor=actor, action="alert.acknowledged", entity="alert",
                 entity_id=alert.id, at=now, detail={"answer_s": round(now - alert.created_at, 3)})


def dispatch(*, db_session: Session, alert: Alert, actor: str, responder: str, now: float,
             arrival_timeout_s: float, note: str = "") -> Alert:
    """Send a responder; they must confirm arrival within `arrival_timeout_s` or escalation resumes."""
    if alert.state not in (AlertState.NEW, AlertState.ACKNOWLEDGED, AlertState.DISPATCHED):
        raise AlertStateError(f"alert #{alert.id} is {alert.state}; it cannot be dispatched")
    if alert.state == AlertState.NEW:
        _acknowledge(db_session, alert, actor, now)
    alert.state = AlertState.DISPATCHED.value
    alert.dispatched_at, alert.dispatched_by, alert.responder = now, actor, responder
    alert.arrival_due_at, alert.arrived_at, alert.updated_at = now + arrival_timeout_s, None, now
    alert.next_escalation_at = alert.arrival_due_at
    audit.append(db_session=db_session, actor=actor, action="alert.dispatched", entity="alert", entity_id=alert.id,
                 at=now, detail={"responder": responder, "arrival_due_at": alert.arrival_due_at, "note": note})
    return alert


def confirm_arrival(*, db_session: Session, alert: Alert, actor: str, now: float) -> Alert:
    """Record that the responder is with the resident."""
    if alert.state != AlertState.DISPATCHED:
        raise AlertStateError(f"alert #{alert.id} is {alert.state}, not dispatched")
    if alert.arrived_at is not None:
        raise AlertStateError(f"arrival at alert #{alert.id} is already confirmed")
    alert.arrived_at, alert.updated_at, alert.next_escalation_at = now, now, None
    audit.append(db_session=db_session, actor=actor, action="alert.arrived", entity="alert", entity_id=alert.id,
                 at=now, detail={"arrival_s": round(now - (alert.dispatched_at or now), 3)})
    return alert


def resolve(*, db_session: Session, alert: Alert, actor: str, outcome: Outcome, note: str, now: float) -> Alert:
    """Resolve with an outcome; a P1 alert also needs a note, and only a person may resolve it."""
    if alert.state not in (AlertState.NEW, AlertState.ACKNOWLEDGED, AlertState.DISPATCHED):
        raise AlertStateError(f"alert #{alert.id} is {alert.state}; it cannot be resolved")
    if outcome == Outcome.RESTORED:
        raise AlertStateError("'restored' is recorded by the hub when a device condition clears")
    if alert.priority <= LIFE_SAFETY and not note.strip():
        raise AlertStateError("a P1 alert needs a note saying what happened")
    if alert.acknowledged_at is None:
        _acknowledge(db_session, alert, actor, now)
    _finish(db_session, alert, actor=actor, outcome=outcome, note=note, now=now)
    return alert


def _finish(db_session: Session, alert: Alert, *, actor: str, outcome: Outcome, note: str, now: float) -> None:
    alert.state = AlertState.RESOLVED.value
    alert.resolved_at, alert.resolved_by, alert.outcome, alert.note = now, actor, outcome.value, note
    alert.open_key, alert.next_escalation_at, alert.updated_at = None, None, now
    audit.append(db_session=db_session, actor=actor, action="alert.resolved", entity="alert", entity_id=alert.id,
                 at=now, detail={"outcome": outcome.value, "note": note})


def close(*, db_session: Session, alert: Alert, actor: str, now: float) -> Alert:
    """Close a resolved alert (the record is complete; the family and follow-up are done)."""
    if alert.state != AlertState.RESOLVED:
        raise AlertStateError(f"alert #{alert.id} is {alert.state}, not resolved")
    alert.state, alert.closed_at, alert.updated_at = AlertState.CLOSED.value, now, now
    audit.append(db_session=db_session, actor=actor, action="alert.closed", entity="alert", entity_id=alert.id,
                 at=now)
    return alert


def add_note(*, db_session: Session, alert: Alert, actor: str, note: str, now: float) -> Alert:
    """Add a note to the alert's history (a call made, what the family said)."""
    alert.updated_at = now
    audit.append(db_session=db_session, actor=actor, action="alert.note", entity="alert", entity_id=alert.id,
                 at=now, detail={"note": note})
    return alert


def _in_scope(query, principal: Principal):
    if principal.is_family:
        return query.where(Alert.resident_id.in_(sorted(principal.resident_ids)))
    if principal.site_ids is not None:
        return query.where(Alert.site_id.in_(sorted(principal.site_ids)))
    return query


def get_in_scope(*, db_session: Session, alert_id: int, principal: Principal) -> Alert | None:
    """Return the alert if it exists and the caller may see it (None otherwise: the API answers 404)."""
    alert = db_session.get(Alert, alert_id)
    if alert is None or not principal.sees(site_id=alert.site_id, resident_id=alert.resident_id):
        return None
    return alert


def queue(*, db_session: Session, principal: Principal, states: list[AlertState] | None = None,
          limit: int | None = 500) -> list[Alert]:
    """Return the caller's alerts: open ones by priority then age (oldest first), unless `states` say else.

    `limit=None` returns them all (the live feed's snapshot: a console must never miss an open alert).
    """
    states = states or list(OPEN_STATES)
    is_open = case((Alert.state.in_([s.value for s in OPEN_STATES]), 0), else_=1)
    query = (select(Alert).where(Alert.state.in_([s.value for s in states]))
             .order_by(is_open, Alert.priority, Alert.created_at, Alert.id))
    if limit is not None:
        query = query.limit(limit)
    return list(db_session.scalars(_in_scope(query, principal)))


def history(*, db_session: Session, alert_id: int) -> list[dict]:
    """Return the alert's timeline from the audit log, oldest first."""
    rows = db_session.scalars(select(AuditEntry).where(AuditEntry.entity == "alert",
                                                       AuditEntry.entity_id == str(alert_id))
                              .order_by(AuditEntry.id))
    return [{"at": r.at, "actor": r.actor, "action": r.action, "detail": r.detail} for r in rows]


def rehome_device(*, db_session: Session, device_id: int, keys: list[str], site_id: int | None,
                  room_id: int | None, resident_id: int | None, now: float) -> list[Alert]:
    """Give a newly bound device's open alerts, detections and events its place, so its site's staff see them.

    Alerts raised while the device was pending carry no site, room or resident; a site-scoped operator
    would never see them. An alert about a person is regrouped under its resident unless that resident
    already has an open alert of the type (then the two stay apart rather than break the open-key rule).
    """
    alerts = list(db_session.scalars(select(Alert).where(Alert.device_key.in_(keys), Alert.open_key.is_not(None))))
    for alert in alerts:
        alert.site_id, alert.room_id, alert.updated_at = site_id, room_id, now
        if resident_id is not None and alert.resident_id is None and alert.type not in DEVICE_CONDITIONS:
            open_key = f"resident:{resident_id}|{alert.type}"
            if db_session.scalar(select(Alert.id).where(Alert.open_key == open_key)) is None:
                alert.subject, alert.open_key = f"resident:{resident_id}", open_key
            alert.resident_id = resident_id
        audit.append(db_session=db_session, actor=SYSTEM, action="alert.rehomed", entity="alert", entity_id=alert.id,
                     at=now, detail={"device_id": device_id, "site_id": site_id, "room_id": room_id,
                                     "resident_id": resident_id})
    db_session.execute(update(DetectionRecord).where(DetectionRecord.device_key.in_(keys),
                                                     DetectionRecord.site_id.is_(None))
                       .values(site_id=site_id, room_id=room_id, resident_id=resident_id))
    db_session.execute(update(DeviceEventRecord).where(DeviceEventRecord.device_key.in_(keys),
                                                       DeviceEventRecord.device_id.is_(None))
                       .values(device_id=device_id))
    return alerts
