"""Duty-record API under /api/duty: roster, who is on duty, handovers, duty log, emergency calls, CSV exports.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from sqlalchemy.orm import Session, sessionmaker

from hub.alerts import service as alert_service
from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.deps import require
from hub.devices import service as registry
from hub.devices.models import StaffRole
from hub.duty import service
from hub.duty.models import (
    CallIn,
    CallPublic,
    DutyLogIn,
    DutyLogPublic,
    DutyShift,
    Handover,
    HandoverAmendIn,
    HandoverIn,
    HandoverPublic,
    HandoverSignIn,
    OnDutyPublic,
    ShiftIn,
    ShiftPublic,
)

EXPORT_LIMIT = 100_000
CLOCK_SKEW_S = 60.0  # a call "made" further in the future than this is a typing error, not clock drift
# A cell starting with one of these is a formula to Excel: free text must not run as one (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class DutyContext:
    """What the duty routes need: the database, the clock and the timezone CSV exports show local times in."""

    session_factory: sessionmaker[Session]
    clock: Callable[[], float]
    timezone: str = "Asia/Shanghai"

    def local(self, ts: float | None) -> str:
        """Return epoch seconds as local ISO time in the context's timezone ("" for none)."""
        return "" if ts is None else dt.datetime.fromtimestamp(ts, ZoneInfo(self.timezone)).isoformat(
            timespec="seconds")


router = APIRouter(prefix="/api/duty", tags=["duty"])


def get_duty(request: Request) -> DutyContext:
    """Return the app's duty context (create_app puts it on app.state)."""
    return request.app.state.duty


Duty = Annotated[DutyContext, Depends(get_duty)]


def db_session(duty: Duty) -> Iterator[Session]:
    """Yield a session for one request."""
    # Writes commit explicitly before answering: a 201 means the record is durable.
    with duty.session_factory() as session:
        yield session


def staff_reader(principal: Annotated[Principal, require(Permission.ALERTS_READ)]) -> Principal:
    """Return the caller if they may read alerts and are not family."""
    # Families may read their relative's alerts, but the duty room's records are not theirs to read.
    if principal.is_family:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not read duty records")
    return principal


DbSession = Annotated[Session, Depends(db_session)]
Reader = Annotated[Principal, Depends(staff_reader)]
Writer = Annotated[Principal, require(Permission.DUTY_WRITE)]
Since = Annotated[float | None, Query(description="epoch seconds, inclusive")]
Until = Annotated[float | None, Query(description="epoch seconds, exclusive")]
Limit = Annotated[int, Query(ge=1, le=5000)]


def not_found(kind: str, record_id: int) -> HTTPException:
    """Return the 404 for a record the caller may not see."""
    # The same answer whether the record does not exist or is outside the caller's sites.
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{kind} {record_id} not found")


def check_filter(principal: Principal, site_id: int | None) -> None:
    """Refuse a site filter outside the caller's sites."""
    if site_id is not None and not principal.sees(site_id=site_id, resident_id=None):
        raise not_found("site", site_id)


def check_site(principal: Principal, session: Session, site_id: int | None) -> None:
    """Refuse a record for a site the caller may not write to (every site needs an all-sites caller)."""
    if site_id is None:
        if principal.site_ids is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "records for every site need access to every site")
        return
    check_filter(principal, site_id)
    if registry.get_site(db_session=session, site_id=site_id) is None:
        raise not_found("site", site_id)


def shift_visible(principal: Principal, shift: DutyShift | None) -> bool:
    """Tell whether the caller may see the shift."""
    # A shift for every site also covers the caller's sites, so site-scoped readers see it.
    return shift is not None and (shift.site_id is None or principal.sees(site_id=shift.site_id,
                                                                            resident_id=None))


def handover_out(handover: Handover) -> HandoverPublic:
    """Return the handover as the API shows it."""
    return HandoverPublic.model_validate(handover)


def conflict(err: service.DutyError) -> HTTPException:
    """Return the HTTP answer for a refused duty change (422 for an unknown reference, else 409)."""
    if isinstance(err, service.UnknownReferenceError):
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err))
    return HTTPException(status.HTTP_409_CONFLICT, str(err))


# ------------------------------------------------------------------------------------------ roster


@router.get("/shifts", response_model=list[ShiftPublic])
def list_shifts(principal: Reader, session: DbSession, site_id: int | None = None, staff_id: int | None = None,
                since: Since = None, until: Until = None, limit: Limit = 500) -> list[ShiftPublic]:
    """List roster shifts overlapping [since, until), by start time; a site's list includes all-site shifts."""
    check_filter(principal, site_id)
    shifts = service.list_shifts(db_session=session, site_ids=principal.site_ids, site_id=site_id,
                                 staff_id=staff_id, since=since, until=until, limit=limit)
    return [ShiftPublic.model_validate(s) for s in shifts]


@router.post("/shifts", response_model=ShiftPublic, status_code=status.HTTP_201_CREATED)
def create_shift(principal: Writer, shift_in: ShiftIn, session: DbSession, duty: Duty) -> ShiftPublic:
    """Put a shift on the roster."""
    check_site(principal, session, shift_in.site_id)
    try:
        shift = service.create_shift(db_session=session, shift_in=shift_in, actor=principal.actor, now=duty.clock())
    except service.DutyError as err:
        raise conflict(err) from err
    session.commit()
    return ShiftPublic.model_validate(shift)


@router.get("/shifts/{shift_id}", response_model=ShiftPublic)
def get_shift(principal: Reader, shift_id: int, session: DbSession) -> ShiftPublic:
    """Return one roster shift."""
    shift = service.get_shift(db_session=session, shift_id=shift_id)
    if not shift_visible(principal, shift):
        raise not_found("shift", shift_id)
    return ShiftPublic.model_validate(shift)


@router.put("/shifts/{shift_id}", response_model=ShiftPublic)
def update_shift(principal: Writer, shift_id: int, shift_in: ShiftIn, session: DbSession, duty: Duty) -> ShiftPublic:
    """Replace a roster shift (the audit log keeps the old content)."""
    shift = service.get_shift(db_session=session, shift_id=shift_id)
    if shift is None or not shift_visible(principal, shift):
        raise not_found("shift", shift_id)
    check_site(principal, session, shift.site_id)
    check_site(principal, session, shift_in.site_id)
    try:
        service.update_shift(db_session=session, shift=shift, shift_in=shift_in, actor=principal.actor,
                             now=duty.clock())
    except service.DutyError as err:
        raise conflict(err) from err
    session.commit()
    return ShiftPublic.model_validate(shift)


@router.delete("/shifts/{shift_id}", status_code=status.HTTP_204_NO_CONTENT, response_model=None)
def delete_shift(principal: Writer, shift_id: int, session: DbSession, duty: Duty) -> Response:
    """Take a shift off the roster (the audit log keeps its content)."""
    shift = service.get_shift(db_session=session, shift_id=shift_id)
    if shift is None or not shift_visible(principal, shift):
        raise not_found("shift", shift_id)
    check_site(principal, session, shift.site_id)
    service.delete_shift(db_session=session, shift=shift, actor=principal.actor, now=duty.clock())
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/on-duty", response_model=list[OnDutyPublic])
def on_duty_now(principal: Reader, session: DbSession, duty: Duty, site_id: int | None = None,
                role: StaffRole | None = None) -> list[OnDutyPublic]:
    """Return who is on duty now (for a site: its shifts and the shifts for every site)."""
    check_filter(principal, site_id)
    sites = principal.site_ids if site_id is None else frozenset({site_id})
    rows = service.shifts_covering(db_session=session, at=duty.clock(), site_ids=sites,
                                   role=role.value if role else None)
    return [OnDutyPublic(staff_id=staff.id, name=staff.name, phone=staff.phone, role=shift.role,
                         shift_id=shift.id, site_id=shift.site_id, starts_at=shift.starts_at,
                         ends_at=shift.ends_at) for shift, staff in rows]


# --------------------------------------------------------------------------------------- handovers


@router.get("/handovers", response_model=list[HandoverPublic])
def list_handovers(principal: Reader, session: DbSession, site_id: int | None = None, since: Since = None,
                   until: Until = None, limit: Limit = 500) -> list[HandoverPublic]:
    """List handovers made in [since, until), newest first."""
    check_filter(principal, site_id)
    return [handover_out(h) for h in service.list_handovers(
        db_session=session, site_ids=principal.site_ids, site_id=site_id, since=since, until=until,
        limit=limit)]


@router.post("/handovers", response_model=HandoverPublic, status_code=status.HTTP_201_CREATED)
def create_handover(principal: Writer, handover_in: HandoverIn, session: DbSession, duty: Duty) -> HandoverPublic:
    """Make a handover as the outgoing user; the open alerts of the site in your scope are attached."""
    check_site(principal, session, handover_in.site_id)
    handover = service.create_handover(db_session=session, principal=principal, site_id=handover_in.site_id,
                                       notes=handover_in.notes, now=duty.clock())
    session.commit()
    return handover_out(handover)


def visible_handover(principal: Principal, session: Session, handover_id: int) -> Handover:
    """Return the handover if the caller may see it (404 otherwise)."""
    handover = service.get_handover(db_session=session, handover_id=handover_id)
    if handover is None or not principal.sees(site_id=handover.site_id, resident_id=None):
        raise not_found("handover", handover_id)
    return handover


@router.get("/handovers/{handover_id}", response_model=HandoverPublic)
def get_handover(principal: Reader, handover_id: int, session: DbSession) -> HandoverPublic:
    """Return one handover with its snapshot of open alerts."""
    return handover_out(visible_handover(principal, session, handover_id))


@router.patch("/handovers/{handover_id}", response_model=HandoverPublic)
def amend_handover(principal: Writer, handover_id: int, amend_in: HandoverAmendIn,
                   session: DbSession, duty: Duty) -> HandoverPublic:
    """Change the notes (outgoing user only, until the incoming user has signed)."""
    handover = visible_handover(principal, session, handover_id)
    try:
        service.amend_handover(db_session=session, handover=handover, actor=principal.actor,
                               notes=amend_in.notes, now=duty.clock())
    except service.DutyError as err:
        raise conflict(err) from err
    session.commit()
    return handover_out(handover)


@router.post("/handovers/{handover_id}/sign", response_model=HandoverPublic)
def sign_handover(principal: Writer, handover_id: int, sign_in: HandoverSignIn,
                  session: DbSession, duty: Duty) -> HandoverPublic:
    """Sign as the incoming user (someone other than the outgoing user); the handover is then complete."""
    handover = visible_handover(principal, session, handover_id)
    try:
        service.sign_handover(db_session=session, handover=handover, actor=principal.actor,
                              notes=sign_in.notes, now=duty.clock())
    except service.DutyError as err:
        raise conflict(err) from err
    session.commit()
    return handover_out(handover)


# ---------------------------------------------------------------------------------------- duty log


def visible_alert(principal: Principal, session: Session, alert_id: int | None):
    """Return the alert a record names if the caller may see it (None for none, 404 otherwise)."""
    if alert_id is None:
        return None
    alert = alert_service.get_in_scope(db_session=session, alert_id=alert_id, principal=principal)
    if alert is None:
        raise not_found("alert", alert_id)
    return alert


@router.get("/log", response_model=list[DutyLogPublic])
def list_log(principal: Reader, session: DbSession, site_id: int | None = None, since: Since = None,
             until: Until = None, limit: Limit = 500) -> list[DutyLogPublic]:
    """List duty-log entries written in [since, until), newest first."""
    check_filter(principal, site_id)
    return [DutyLogPublic.model_validate(e) for e in service.list_log(
        db_session=session, site_ids=principal.site_ids, site_id=site_id, since=since, until=until,
        limit=limit)]


@router.post("/log", response_model=DutyLogPublic, status_code=status.HTTP_201_CREATED)
def append_log(principal: Writer, entry_in: DutyLogIn, session: DbSession, duty: Duty) -> DutyLogPublic:
    """Append a line to the duty log; with an alert, the site defaults to the alert's."""
    alert = visible_alert(principal, session, entry_in.alert_id)
    site_id = entry_in.site_id if entry_in.site_id is not None or alert is None else alert.site_id
    check_site(principal, session, site_id)
    entry = service.append_log(db_session=session, actor=principal.actor, at=duty.clock(), text=entry_in.text,
                               kind=entry_in.kind, site_id=site_id, alert_id=entry_in.alert_id)
    session.commit()
    return DutyLogPublic.model_validate(entry)


# --------------------------------------------------------------------------------- emergency calls


@router.get("/calls", response_model=list[CallPublic])
def list_calls(principal: Reader, session: DbSession, site_id: int | None = None, alert_id: int | None = None,
               since: Since = None, until: Until = None, limit: Limit = 500) -> list[CallPublic]:
    """List emergency-call records made in [since, until), newest first."""
    check_filter(principal, site_id)
    return [CallPublic.model_validate(c) for c in service.list_calls(
        db_session=session, site_ids=principal.site_ids, site_id=site_id, alert_id=alert_id, since=since,
        until=until, limit=limit)]


@router.post("/calls", response_model=CallPublic, status_code=status.HTTP_201_CREATED)
def record_call(principal: Writer, call_in: CallIn, session: DbSession, duty: Duty) -> CallPublic:
    """Record a call you made; with an alert, the site and resident default to the alert's."""
    now = duty.clock()
    at = call_in.at if call_in.at is not None else now
    if at > now + CLOCK_SKEW_S:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "a call cannot be recorded in the future")
    alert = visible_alert(principal, session, call_in.alert_id)
    site_id = call_in.site_id if call_in.site_id is not None or alert is None else alert.site_id
    resident_id = call_in.resident_id if call_in.resident_id is not None or alert is None else alert.resident_id
    check_site(principal, session, site_id)
    if resident_id is not None:
        resident = registry.get_resident(db_session=session, resident_id=resident_id)
        if resident is None or not principal.sees(site_id=resident.site_id, resident_id=resident_id):
            raise not_found("resident", resident_id)
    call = service.record_call(db_session=session, at=at, caller=principal.actor, callee=call_in.callee,
                               outcome=call_in.outcome, note=call_in.note, alert_id=call_in.alert_id,
                               site_id=site_id, resident_id=resident_id)
    session.commit()
    return CallPublic.model_validate(call)


# ------------------------------------------------------------------------------------- CSV exports


@router.get("/shifts.csv", response_class=Response, response_model=None)
def export_shifts(principal: Reader, session: DbSession, duty: Duty, site_id: int | None = None, since: Since = None,
                  until: Until = None) -> Response:
    """Export roster shifts overlapping [since, until) as CSV (UTF-8 with BOM, for Excel)."""
    check_filter(principal, site_id)
    shifts = service.list_shifts(db_session=session, site_ids=principal.site_ids, site_id=site_id,
                                 since=since, until=until, limit=EXPORT_LIMIT)
    names = {s.id: s.name for s in registry.list_staff(db_session=session)}
    return _csv("duty-shifts.csv", [
        "id", "staff_id", "staff_name", "role", "site_id", "starts_at", "starts_local", "ends_at", "ends_local",
        "note", "created_by", "created_at"],
        ([s.id, s.staff_id, names.get(s.staff_id, ""), s.role, s.site_id, s.starts_at, duty.local(s.starts_at),
          s.ends_at, duty.local(s.ends_at), s.note, s.created_by, s.created_at] for s in shifts))


@router.get("/handovers.csv", response_class=Response, response_model=None)
def export_handovers(principal: Reader, session: DbSession, duty: Duty, site_id: int | None = None, since: Since = None,
                     until: Until = None) -> Response:
    """Export handovers made in [since, until) as CSV, oldest first (UTF-8 with BOM, for Excel)."""
    check_filter(principal, site_id)
    handovers = service.list_handovers(db_session=session, site_ids=principal.site_ids, site_id=site_id,
                                       since=since, until=until, limit=EXPORT_LIMIT)
    return _csv("duty-handovers.csv", [
        "id", "site_id", "created_at", "created_local", "outgoing_by", "notes", "open_alert_count",
        "open_alerts", "amended_local", "incoming_by", "incoming_signed_at", "incoming_signed_local",
        "incoming_notes", "complete"],
        ([h.id, h.site_id, h.created_at, duty.local(h.created_at), h.outgoing_by, h.notes, len(h.open_alerts),
          "; ".join(f"#{a['id']} P{a['priority']} {a['type']} {a['state']} {a['subject']}"
                    for a in h.open_alerts),
          duty.local(h.amended_at), h.incoming_by, h.incoming_signed_at, duty.local(h.incoming_signed_at),
          h.incoming_notes, "yes" if h.complete else "no"] for h in reversed(handovers)))


@router.get("/log.csv", response_class=Response, response_model=None)
def export_log(principal: Reader, session: DbSession, duty: Duty, site_id: int | None = None, since: Since = None,
               until: Until = None) -> Response:
    """Export the duty log for [since, until) as CSV, oldest first (UTF-8 with BOM, for Excel)."""
    check_filter(principal, site_id)
    entries = service.list_log(db_session=session, site_ids=principal.site_ids, site_id=site_id, since=since,
                               until=until, limit=EXPORT_LIMIT)
    return _csv("duty-log.csv", ["id", "at", "at_local", "site_id", "kind", "actor", "text", "alert_id"],
                ([e.id, e.at, duty.local(e.at), e.site_id, e.kind, e.actor, e.text, e.alert_id]
                 for e in reversed(entries)))


@router.get("/calls.csv", response_class=Response, response_model=None)
def export_calls(principal: Reader, session: DbSession, duty: Duty, site_id: int | None = None, since: Since = None,
                 until: Until = None) -> Response:
    """Export emergency-call records for [since, until) as CSV, oldest first (UTF-8 with BOM, for Excel)."""
    check_filter(principal, site_id)
    calls = service.list_calls(db_session=session, site_ids=principal.site_ids, site_id=site_id, since=since,
                               until=until, limit=EXPORT_LIMIT)
    return _csv("emergency-calls.csv", [
        "id", "at", "at_local", "caller", "callee", "outcome", "note", "alert_id", "site_id", "resident_id"],
        ([c.id, c.at, duty.local(c.at), c.caller, c.callee, c.outcome, c.note, c.alert_id, c.site_id,
          c.resident_id] for c in reversed(calls)))


def _cell(value: Any) -> Any:
    """Return a CSV cell: "" for None, formula-like text quoted."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv(filename: str, header: list[str], rows: Iterable[list]) -> Response:
    """Return the rows as a CSV download."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    # The byte-order mark makes Excel read the file as UTF-8, so Chinese names and notes show as written.
    return Response(("\ufeff" + buffer.getvalue()).encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
