"""Duty-record reads and writes: roster, who is on duty, handovers, duty log, emergency calls; the caller commits.

Scope: `site_ids` None means every site. A site-scoped reader sees its sites' records; it also sees roster
shifts for every site (site NULL), because those staff cover its sites too, but not handovers, log entries or
calls for every site, which may describe other sites.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from hub.alerts import service as alert_service
from hub.audit import service as audit
from hub.auth.principal import Principal
from hub.devices.models import Staff
from hub.duty.models import DutyLogEntry, DutyLogKind, DutyShift, EmergencyCall, Handover, ShiftIn

SNAPSHOT_LIMIT = 5000  # open alerts carried on one handover; a queue longer than this is a disaster, not a shift


class DutyError(ValueError):
    """A change the duty rules do not allow; the message says why."""


class UnknownReferenceError(DutyError):
    """The change names a staff member (or other record) that does not exist or cannot be used."""


# ---------------------------------------------------------------------------------------------- roster


def _shift_detail(shift: DutyShift) -> dict:
    return {"staff_id": shift.staff_id, "site_id": shift.site_id, "role": shift.role, "starts_at": shift.starts_at,
            "ends_at": shift.ends_at, "note": shift.note}


def _check_staff(db_session: Session, staff_id: int) -> None:
    staff = db_session.get(Staff, staff_id)
    if staff is None:
        raise UnknownReferenceError(f"no staff member {staff_id}")
    if not staff.active:
        raise UnknownReferenceError(f"staff member {staff_id} is not active")


def create_shift(*, db_session: Session, shift_in: ShiftIn, actor: str, now: float) -> DutyShift:
    """Put a shift on the roster."""
    _check_staff(db_session, shift_in.staff_id)
    shift = DutyShift(staff_id=shift_in.staff_id, site_id=shift_in.site_id, role=shift_in.role.value,
                      starts_at=shift_in.starts_at, ends_at=shift_in.ends_at, note=shift_in.note, created_by=actor,
                      created_at=now)
    db_session.add(shift)
    db_session.flush()
    audit.append(db_session=db_session, actor=actor, action="duty.shift_created", entity="duty_shift",
                 entity_id=shift.id, at=now, detail=_shift_detail(shift))
    return shift


def get_shift(*, db_session: Session, shift_id: int) -> DutyShift | None:
    """Return one roster shift."""
    return db_session.get(DutyShift, shift_id)


def update_shift(*, db_session: Session, shift: DutyShift, shift_in: ShiftIn, actor: str, now: float) -> DutyShift:
    """Replace a shift's content; the audit entry keeps what it was before."""
    _check_staff(db_session, shift_in.staff_id)
    before = _shift_detail(shift)
    shift.staff_id, shift.site_id, shift.role = shift_in.staff_id, shift_in.site_id, shift_in.role.value
    shift.starts_at, shift.ends_at, shift.note = shift_in.starts_at, shift_in.ends_at, shift_in.note
    audit.append(db_session=db_session, actor=actor, action="duty.shift_updated", entity="duty_shift",
                 entity_id=shift.id, at=now, detail={"before": before, "after": _shift_detail(shift)})
    return shift


def delete_shift(*, db_session: Session, shift: DutyShift, actor: str, now: float) -> None:
    """Take a shift off the roster; the audit entry keeps its content."""
    audit.append(db_session=db_session, actor=actor, action="duty.shift_deleted", entity="duty_shift",
                 entity_id=shift.id, at=now, detail=_shift_detail(shift))
    db_session.delete(shift)


def _shift_scope(query: Select, site_ids: frozenset[int] | None) -> Select:
    if site_ids is None:
        return query
    return query.where(or_(DutyShift.site_id.in_(sorted(site_ids)), DutyShift.site_id.is_(None)))


def list_shifts(*, db_session: Session, site_ids: frozenset[int] | None, site_id: int | None = None,
                staff_id: int | None = None, since: float | None = None, until: float | None = None,
                limit: int = 500) -> list[DutyShift]:
    """Return shifts in scope overlapping [since, until), by start time; `site_id` adds that site's all-site shifts."""
    query = _shift_scope(select(DutyShift), site_ids)
    if site_id is not None:
        query = query.where(or_(DutyShift.site_id == site_id, DutyShift.site_id.is_(None)))
    if staff_id is not None:
        query = query.where(DutyShift.staff_id == staff_id)
    if since is not None:
        query = query.where(DutyShift.ends_at > since)
    if until is not None:
        query = query.where(DutyShift.starts_at < until)
    return list(db_session.scalars(query.order_by(DutyShift.starts_at, DutyShift.id).limit(limit)))


def shifts_covering(*, db_session: Session, at: float, site_ids: frozenset[int] | None,
                    role: str | None = None) -> list[tuple[DutyShift, Staff]]:
    """Return (shift, staff) for active staff whose shift covers `at` (start inclusive, end exclusive).

    `site_ids` None: every shift; otherwise shifts at those sites plus shifts for every site.
    """
    query = (select(DutyShift, Staff).join(Staff, Staff.id == DutyShift.staff_id)
             .where(DutyShift.starts_at <= at, DutyShift.ends_at > at, Staff.active.is_(True)))
    if role is not None:
        query = query.where(DutyShift.role == role)
    query = _shift_scope(query, site_ids).order_by(DutyShift.starts_at, Staff.id, DutyShift.id)
    return [(shift, staff) for shift, staff in db_session.execute(query)]


def on_duty(*, db_session: Session, site_id: int | None, at: float, role: str) -> list[Staff]:
    """Return active staff on duty in `role` at `at` for the site or every site, by shift start then id.

    With `site_id` None (an alert without a site) only shifts for every site count.
    """
    sites = frozenset() if site_id is None else frozenset({site_id})
    staff: dict[int, Staff] = {}
    for _shift, person in shifts_covering(db_session=db_session, at=at, site_ids=sites, role=role):
        staff.setdefault(person.id, person)  # the earliest-starting shift decides the order
    return list(staff.values())


# ------------------------------------------------------------------------------------------- handovers


def _record_scope(query: Select, column, site_ids: frozenset[int] | None) -> Select:
    return query if site_ids is None else query.where(column.in_(sorted(site_ids)))


def _same_person(actor_a: str, actor_b: str) -> bool:
    # Actors read "kind:id:name"; compare kind and id so a renamed account is still the same person.
    return actor_a.split(":", 2)[:2] == actor_b.split(":", 2)[:2]


def create_handover(*, db_session: Session, principal: Principal, site_id: int | None, notes: str,
                    now: float) -> Handover:
    """Make a handover as the outgoing user, with a snapshot of the open alerts of the site in their scope."""
    scope = principal if site_id is None else dataclasses.replace(principal, site_ids=frozenset({site_id}))
    alerts = alert_service.queue(db_session=db_session, principal=scope, limit=SNAPSHOT_LIMIT)
    snapshot = [{"id": a.id, "type": a.type, "priority": a.priority, "state": a.state, "subject": a.subject,
                 "site_id": a.site_id, "count": a.count, "created_at": a.created_at} for a in alerts]
    handover = Handover(site_id=site_id, created_at=now, outgoing_by=principal.actor, notes=notes,
                        open_alerts=snapshot, incoming_notes="")
    db_session.add(handover)
    db_session.flush()
    audit.append(db_session=db_session, actor=principal.actor, action="duty.handover_created", entity="handover",
                 entity_id=handover.id, at=now,
                 detail={"site_id": site_id, "notes": notes, "open_alert_ids": [a["id"] for a in snapshot]})
    return handover


def get_handover(*, db_session: Session, handover_id: int) -> Handover | None:
    """Return one handover."""
    return db_session.get(Handover, handover_id)


def amend_handover(*, db_session: Session, handover: Handover, actor: str, notes: str, now: float) -> Handover:
    """Change the notes; only the outgoing user may, and only until the incoming user has signed."""
    if handover.complete:
        raise DutyError(f"handover #{handover.id} is signed by both and cannot be changed")
    if not _same_person(actor, handover.outgoing_by):
        raise DutyError(f"only the outgoing user ({handover.outgoing_by}) may amend handover #{handover.id}")
    before = handover.notes
    handover.notes, handover.amended_at = notes, now
    audit.append(db_session=db_session, actor=actor, action="duty.handover_amended", entity="handover",
                 entity_id=handover.id, at=now, detail={"before": before, "notes": notes})
    return handover


def sign_handover(*, db_session: Session, handover: Handover, actor: str, notes: str, now: float) -> Handover:
    """Sign as the incoming user, who must be someone else; after that the handover is complete and frozen."""
    if handover.complete:
        raise DutyError(f"handover #{handover.id} is already signed by {handover.incoming_by}")
    if _same_person(actor, handover.outgoing_by):
        raise DutyError("the incoming user must be someone other than the outgoing user")
    handover.incoming_by, handover.incoming_signed_at, handover.incoming_notes = actor, now, notes
    audit.append(db_session=db_session, actor=actor, action="duty.handover_signed", entity="handover",
                 entity_id=handover.id, at=now, detail={"outgoing_by": handover.outgoing_by, "notes": notes})
    return handover


def list_handovers(*, db_session: Session, site_ids: frozenset[int] | None, site_id: int | None = None,
                   since: float | None = None, until: float | None = None, limit: int = 500) -> list[Handover]:
    """Return handovers in scope made in [since, until), newest first."""
    return _list_records(db_session, Handover, Handover.created_at, site_ids=site_ids, site_id=site_id,
                         since=since, until=until, limit=limit)


def _list_records(db_session: Session, model, at_column, *, site_ids: frozenset[int] | None, site_id: int | None,
                  since: float | None, until: float | None, limit: int, where: tuple = ()) -> list:
    # The one shape of every duty-record list: scoped by site, a time window, newest first.
    query = _record_scope(select(model), model.site_id, site_ids).where(*where)
    if site_id is not None:
        query = query.where(model.site_id == site_id)
    if since is not None:
        query = query.where(at_column >= since)
    if until is not None:
        query = query.where(at_column < until)
    return list(db_session.scalars(query.order_by(at_column.desc(), model.id.desc()).limit(limit)))


# -------------------------------------------------------------------------------------------- duty log


def append_log(*, db_session: Session, actor: str, at: float, text: str, kind: DutyLogKind = DutyLogKind.NOTE,
               site_id: int | None = None, alert_id: int | None = None) -> DutyLogEntry:
    """Append a line to the duty log (entries are never changed)."""
    entry = DutyLogEntry(at=at, actor=actor, site_id=site_id, kind=DutyLogKind(kind).value, text=text,
                         alert_id=alert_id)
    db_session.add(entry)
    db_session.flush()
    audit.append(db_session=db_session, actor=actor, action="duty.log_appended", entity="duty_log",
                 entity_id=entry.id, at=at, detail={"site_id": site_id, "kind": entry.kind, "text": text,
                                                    "alert_id": alert_id})
    return entry


def list_log(*, db_session: Session, site_ids: frozenset[int] | None, site_id: int | None = None,
             since: float | None = None, until: float | None = None, limit: int = 500) -> list[DutyLogEntry]:
    """Return duty-log entries in scope written in [since, until), newest first."""
    return _list_records(db_session, DutyLogEntry, DutyLogEntry.at, site_ids=site_ids, site_id=site_id,
                         since=since, until=until, limit=limit)


# ------------------------------------------------------------------------------------- emergency calls


def record_call(*, db_session: Session, at: float, caller: str, callee: str, outcome: str, note: str = "",
                alert_id: int | None = None, site_id: int | None = None,
                resident_id: int | None = None) -> EmergencyCall:
    """Record an emergency call (who called whom, when, how it went) and audit it."""
    if not caller or not callee or not outcome:
        raise DutyError("a call record needs a caller, a callee and an outcome")
    call = EmergencyCall(at=at, caller=caller, callee=callee, outcome=outcome, note=note, alert_id=alert_id,
                         site_id=site_id, resident_id=resident_id)
    db_session.add(call)
    db_session.flush()
    audit.append(db_session=db_session, actor=caller, action="duty.call_recorded", entity="emergency_call",
                 entity_id=call.id, at=at, detail={"callee": callee, "outcome": outcome, "note": note,
                                                   "alert_id": alert_id, "site_id": site_id,
                                                   "resident_id": resident_id})
    return call


def list_calls(*, db_session: Session, site_ids: frozenset[int] | None, site_id: int | None = None,
               alert_id: int | None = None, since: float | None = None, until: float | None = None,
               limit: int = 500) -> list[EmergencyCall]:
    """Return emergency calls in scope made in [since, until), newest first."""
    where = (EmergencyCall.alert_id == alert_id,) if alert_id is not None else ()
    return _list_records(db_session, EmergencyCall, EmergencyCall.at, site_ids=site_ids, site_id=site_id,
                         since=since, until=until, limit=limit, where=where)
