"""Work-order reads and writes: create, lifecycle transitions, SLA escalation, suggestions; the caller commits."""

from __future__ import annotations

import math
from typing import cast

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.audit.models import AuditEntry
from hub.audit.service import SYSTEM
from hub.auth.principal import Principal
from hub.devices.models import Site, Staff
from hub.workorders.models import (
    OPEN_STATUSES,
    UNACCEPTED_STATUSES,
    Suggestion,
    WorkOrder,
    WorkOrderStatus,
    WorkOrderType,
)

S = WorkOrderStatus


class WorkOrderStateError(ValueError):
    """A transition the lifecycle does not allow; the message says why."""


def create(*, db_session: Session, type: WorkOrderType, priority: int, title: str, site_id: int | None,
           source: str, actor: str, now: float, sla: tuple[float, float], roles: list[str],
           description: str = "", room_id: int | None = None, resident_id: int | None = None,
           device_key: str | None = None, alert_id: int | None = None, hazard_id: int | None = None) -> WorkOrder:
    """Create a pending order with its SLA frozen onto it."""
    accept_s, finish_s = sla
    order = WorkOrder(type=type.value, priority=priority, status=S.PENDING.value, title=title,
                      description=description, source=source, site_id=site_id, room_id=room_id,
                      resident_id=resident_id, device_key=device_key, alert_id=alert_id, hazard_id=hazard_id,
                      roles=list(roles), created_by=actor, created_at=now, updated_at=now, reject_count=0,
                      photos=[], result="", follow_up_comment="", cancel_reason="", escalations=[],
                      sla_accept_s=accept_s, sla_finish_s=finish_s, accept_due_at=now + accept_s,
                      finish_due_at=now + finish_s)
    db_session.add(order)
    db_session.flush()
    _audit(db_session, order, actor, "created", now, {"type": order.type, "priority": priority, "source": source,
                                                       "alert_id": alert_id, "hazard_id": hazard_id})
    return order


def _audit(db_session: Session, order: WorkOrder, actor: str, what: str, now: float, detail: dict | None = None):
    order.updated_at = now
    audit.append(db_session=db_session, actor=actor, action=f"workorder.{what}", entity="workorder",
                 entity_id=order.id, at=now, detail=detail or {})


def _require(order: WorkOrder, allowed: tuple[WorkOrderStatus, ...], doing: str) -> None:
    if order.status not in allowed:
        raise WorkOrderStateError(f"work order #{order.id} is {order.status}; it cannot be {doing}")


def dispatch(*, db_session: Session, order: WorkOrder, actor: str, assignee: str, staff_id: int | None,
             now: float) -> WorkOrder:
    """Send the order to a person (re-dispatching an order someone holds hands it over)."""
    _require(order, (S.PENDING, S.DISPATCHED), "dispatched")
    order.status, order.assignee, order.assignee_staff_id = S.DISPATCHED.value, assignee, staff_id
    order.dispatched_at, order.dispatched_by = now, actor
    _audit(db_session, order, actor, "dispatched", now, {"assignee": assignee, "staff_id": staff_id})
    return order


def accept(*, db_session: Session, order: WorkOrder, actor: str, now: float) -> WorkOrder:
    """Record that the assignee took the order (接单); the accept timer stops."""
    _require(order, (S.DISPATCHED,), "accepted")
    order.status, order.accepted_at, order.accepted_by = S.ACCEPTED.value, now, actor
    _audit(db_session, order, actor, "accepted", now, {"accept_s": round(now - order.created_at, 3)})
    return order


def reject(*, db_session: Session, order: WorkOrder, actor: str, reason: str, now: float) -> WorkOrder:
    """Hand the order back: pending again for re-dispatch, with a fresh accept timer."""
    _require(order, (S.DISPATCHED, S.ACCEPTED), "rejected")
    previous = order.assignee
    order.status, order.assignee, order.assignee_staff_id = S.PENDING.value, None, None
    order.accepted_at = order.accepted_by = None
    order.reject_count += 1
    order.accept_due_at, order.accept_escalated_at = now + order.sla_accept_s, None  # a new breach window
    _audit(db_session, order, actor, "rejected", now, {"reason": reason, "assignee": previous})
    return order


def check_in(*, db_session: Session, order: WorkOrder, actor: str, now: float, lat: float | None = None,
             lon: float | None = None) -> WorkOrder:
    """Record arrival on site (签到), with the position when the phone knows it."""
    _require(order, (S.ACCEPTED,), "checked in")
    order.status, order.check_in_at, order.check_in_lat, order.check_in_lon = S.IN_SERVICE.value, now, lat, lon
    _audit(db_session, order, actor, "checked_in", now, {"lat": lat, "lon": lon})
    return order


def add_photo(*, db_session: Session, order: WorkOrder, actor: str, path: str, now: float) -> WorkOrder:
    """Attach a stored photo (relative to the data directory) while the order is being served."""
    _require(order, (S.ACCEPTED, S.IN_SERVICE, S.COMPLETED), "given photos")
    order.photos = [*order.photos, path]  # a new list: JSON columns track assignment, not mutation
    _audit(db_session, order, actor, "photo_added", now, {"path": path})
    return order


def check_out(*, db_session: Session, order: WorkOrder, actor: str, result: str, now: float) -> WorkOrder:
    """Record leaving the site (签退) with what was done; the service duration counts from check-in."""
    _require(order, (S.IN_SERVICE,), "checked out")
    order.status, order.check_out_at, order.result, order.completed_by = S.COMPLETED.value, now, result, actor
    order.duration_s = now - (order.check_in_at or now)
    _audit(db_session, order, actor, "completed", now, {"result": result, "duration_s": order.duration_s})
    return order


def request_follow_up(*, db_session: Session, order: WorkOrder, actor: str, now: float) -> WorkOrder:
    """Queue a completed order for the follow-up call (待回访)."""
    _require(order, (S.COMPLETED,), "queued for follow-up")
    order.status = S.FOLLOW_UP.value
    _audit(db_session, order, actor, "follow_up_requested", now)
    return order


def record_follow_up(*, db_session: Session, order: WorkOrder, actor: str, rating: int, comment: str,
                     now: float) -> WorkOrder:
    """Record the follow-up call's rating and comment; the order closes (已回访)."""
    _require(order, (S.COMPLETED, S.FOLLOW_UP), "followed up")
    order.follow_up_at, order.follow_up_by, order.rating, order.follow_up_comment = now, actor, rating, comment
    order.status, order.closed_at = S.CLOSED.value, now
    _audit(db_session, order, actor, "followed_up", now, {"rating": rating, "comment": comment})
    return order


def close(*, db_session: Session, order: WorkOrder, actor: str, now: float) -> WorkOrder:
    """Close a completed order that needs no follow-up call (a battery swap, say)."""
    _require(order, (S.COMPLETED,), "closed without follow-up")
    order.status, order.closed_at = S.CLOSED.value, now
    _audit(db_session, order, actor, "closed", now)
    return order


def cancel(*, db_session: Session, order: WorkOrder, actor: str, reason: str, now: float) -> WorkOrder:
    """Cancel an order nobody needs to finish, with the reason."""
    _require(order, OPEN_STATUSES, "cancelled")
    order.status, order.cancelled_at, order.cancel_reason = S.CANCELLED.value, now, reason
    _audit(db_session, order, actor, "cancelled", now, {"reason": reason})
    return order


def link_hazard(*, db_session: Session, order: WorkOrder, hazard_id: int, actor: str, now: float) -> WorkOrder:
    """Record that the order works on a hazard (the hazard keeps the order's id as well)."""
    order.hazard_id = hazard_id
    _audit(db_session, order, actor, "hazard_linked", now, {"hazard_id": hazard_id})
    return order


def check_sla(*, db_session: Session, now: float) -> list[dict]:
    """Escalate orders past their accept or finish deadline, once per breach; return the new escalations."""
    open_values = [s.value for s in OPEN_STATUSES]
    unaccepted = [s.value for s in UNACCEPTED_STATUSES]
    query = select(WorkOrder).where(WorkOrder.status.in_(open_values), or_(
        (WorkOrder.status.in_(unaccepted) & WorkOrder.accept_escalated_at.is_(None)
         & (WorkOrder.accept_due_at <= now)),
        WorkOrder.finish_escalated_at.is_(None) & (WorkOrder.finish_due_at <= now),
    )).order_by(WorkOrder.id)
    out = []
    for order in db_session.scalars(query):
        breaches = []
        if order.status in unaccepted and order.accept_escalated_at is None and order.accept_due_at <= now:
            order.accept_escalated_at = now
            breaches.append(("not_accepted", order.accept_due_at))
        if order.finish_escalated_at is None and order.finish_due_at <= now:
            order.finish_escalated_at = now
            breaches.append(("not_finished", order.finish_due_at))
        for kind, due_at in breaches:
            entry = {"kind": kind, "at": now, "due_at": due_at, "status": order.status,
                     "assignee": order.assignee, "level": len(order.escalations) + 1}
            order.escalations = [*order.escalations, entry]
            _audit(db_session, order, SYSTEM, "escalated", now, entry)
            out.append({"work_order_id": order.id, "site_id": order.site_id, "priority": order.priority, **entry})
    return out


def get_in_scope(*, db_session: Session, order_id: int, principal: Principal) -> WorkOrder | None:
    """Return the order if it exists and the caller may see it (None: the API answers 404)."""
    order = db_session.get(WorkOrder, order_id)
    if order is None or not principal.sees(site_id=order.site_id, resident_id=order.resident_id):
        return None
    return order


def list_orders(*, db_session: Session, principal: Principal, statuses: list[WorkOrderStatus] | None = None,
                alert_id: int | None = None, hazard_id: int | None = None, staff_id: int | None = None,
                limit: int = 500) -> list[WorkOrder]:
    """Return the caller's orders, most urgent first (open ones by priority, then age)."""
    query = select(WorkOrder)
    if statuses:
        query = query.where(WorkOrder.status.in_([s.value for s in statuses]))
    if alert_id is not None:
        query = query.where(WorkOrder.alert_id == alert_id)
    if hazard_id is not None:
        query = query.where(WorkOrder.hazard_id == hazard_id)
    if staff_id is not None:
        query = query.where(WorkOrder.assignee_staff_id == staff_id)
    if principal.is_family:
        query = query.where(WorkOrder.resident_id.in_(sorted(principal.resident_ids)))
    elif principal.site_ids is not None:
        query = query.where(WorkOrder.site_id.in_(sorted(principal.site_ids)))
    return list(db_session.scalars(query.order_by(WorkOrder.priority, WorkOrder.created_at, WorkOrder.id)
                                   .limit(limit)))


def open_order_for_device(*, db_session: Session, device_key: str, type: WorkOrderType) -> WorkOrder | None:
    """Return the oldest order of this type for this device that someone still has to act on, if any."""
    return db_session.scalars(select(WorkOrder).where(
        WorkOrder.device_key == device_key, WorkOrder.type == type.value, WorkOrder.status.in_(OPEN_STATUSES),
    ).order_by(WorkOrder.id).limit(1)).first()


def note_recurrence(*, db_session: Session, order: WorkOrder, alert_id: int, actor: str, now: float) -> WorkOrder:
    """Record on an open order that its device raised the same kind of alert again."""
    _audit(db_session, order, actor, "recurred", now, {"alert_id": alert_id})
    return order


def order_for_alert(*, db_session: Session, alert_id: int, device_key: str | None) -> WorkOrder | None:
    """Return the order working on an alert: the one it created, else the open repair of `device_key`."""
    own = orders_of_alert(db_session=db_session, alert_id=alert_id)
    if own:
        return own[0]
    if device_key is None:
        return None
    return open_order_for_device(db_session=db_session, device_key=device_key, type=WorkOrderType.MAINTENANCE)


def orders_of_alert(*, db_session: Session, alert_id: int) -> list[WorkOrder]:
    """Return the orders an alert caused (the alert's side of the link)."""
    return list(db_session.scalars(select(WorkOrder).where(WorkOrder.alert_id == alert_id).order_by(WorkOrder.id)))


def history(*, db_session: Session, order_id: int) -> list[dict]:
    """Return the order's timeline from the audit log, oldest first."""
    rows = db_session.scalars(select(AuditEntry).where(AuditEntry.entity == "workorder",
                                                       AuditEntry.entity_id == str(order_id))
                              .order_by(AuditEntry.id))
    return [{"at": r.at, "actor": r.actor, "action": r.action, "detail": r.detail} for r in rows]


def suggest(*, db_session: Session, order: WorkOrder, limit: int = 5) -> list[Suggestion]:
    """Suggest staff: the order's roles at its site (or every site), fewest open orders, then nearest."""
    roles = order.roles or []
    query = select(Staff).where(Staff.active.is_(True), or_(Staff.site_id == order.site_id,
                                                             Staff.site_id.is_(None)))
    if roles:
        query = query.where(Staff.role.in_(roles))
    staff = list(db_session.scalars(query))
    if not staff:
        return []
    ids = [s.id for s in staff]
    load = dict(db_session.execute(
        select(WorkOrder.assignee_staff_id, func.count()).where(
            WorkOrder.assignee_staff_id.in_(ids), WorkOrder.status.in_([s.value for s in OPEN_STATUSES]))
        .group_by(WorkOrder.assignee_staff_id)).all())
    site = db_session.get(Site, order.site_id) if order.site_id is not None else None
    target = (site.lat, site.lon) if site is not None and site.lat is not None and site.lon is not None else None
    positions = _last_positions(db_session, ids) if target else {}
    rows = []
    for member in staff:
        pos = positions.get(member.id)
        distance = round(_haversine_km(pos, target), 3) if pos and target else None
        rows.append(Suggestion(staff_id=member.id, name=member.name, role=member.role, site_id=member.site_id,
                               load=load.get(member.id, 0), distance_km=distance))
    rank = {role: i for i, role in enumerate(roles)}
    far = math.inf  # unknown distance ranks after every known one
    rows.sort(key=lambda r: (r.site_id != order.site_id, r.load, far if r.distance_km is None else r.distance_km,
                             rank.get(r.role, 99), r.staff_id))
    return rows[:limit]


def _last_positions(db_session: Session, staff_ids: list[int]) -> dict[int, tuple[float, float]]:
    # A staff member's last known position is their latest check-in that carried one.
    rows = db_session.execute(
        select(WorkOrder.assignee_staff_id, WorkOrder.check_in_lat, WorkOrder.check_in_lon)
        .where(WorkOrder.assignee_staff_id.in_(staff_ids), WorkOrder.check_in_lat.is_not(None),
               WorkOrder.check_in_lon.is_not(None))
        .order_by(WorkOrder.check_in_at)).all()
    # The WHERE clause leaves out NULL staff ids and coordinates, so none of the three is None.
    return cast(dict[int, tuple[float, float]], {staff_id: (lat, lon) for staff_id, lat, lon in rows})


def _haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))
