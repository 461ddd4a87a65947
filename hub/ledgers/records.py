"""The other ledgers: complaints with a working-day feedback clock, device functional tests, abnormal events."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.devices.models import Device
from hub.ledgers.inspections import local_midnight
from hub.ledgers.models import AbnormalEvent, AbnormalEventIn, Complaint, ComplaintIn, DeviceTest
from hub.ledgers.workdays import add_workdays

FEEDBACK_WORKDAYS = 5  # rule 12
TEST_INTERVAL_S = 7 * 86_400.0  # rule 8: alarm buttons and worn devices
TESTED_KINDS = ("sos_button", "wristband", "watch")


class RecordError(ValueError):
    """A ledger step that is refused; the message says why."""


def feedback_due(received_at: float, *, tz: str, holidays: list[dt.date], extra_workdays: list[dt.date]) -> float:
    """Return the end of the 5th working day after the day a complaint was received."""
    received = dt.datetime.fromtimestamp(received_at, ZoneInfo(tz)).date()
    last = add_workdays(received, FEEDBACK_WORKDAYS, holidays, extra_workdays)
    return local_midnight(last + dt.timedelta(days=1), tz)


def add_complaint(*, db_session: Session, complaint_in: ComplaintIn, actor: str, now: float, tz: str,
                  holidays: list[dt.date], extra_workdays: list[dt.date]) -> Complaint:
    """Record a complaint and start its feedback clock."""
    received_at = complaint_in.received_at if complaint_in.received_at is not None else now
    complaint = Complaint(site_id=complaint_in.site_id, resident_id=complaint_in.resident_id,
                          complainant=complaint_in.complainant, channel=complaint_in.channel,
                          content=complaint_in.content, received_at=received_at, recorded_by=actor,
                          feedback_due_at=feedback_due(received_at, tz=tz, holidays=holidays,
                                                       extra_workdays=extra_workdays), feedback="")
    db_session.add(complaint)
    db_session.flush()
    audit.append(db_session=db_session, actor=actor, action="complaint.received", entity="complaint",
                 entity_id=complaint.id, at=now, detail={"feedback_due_at": complaint.feedback_due_at})
    return complaint


def give_feedback(*, db_session: Session, complaint: Complaint, actor: str, feedback: str, now: float) -> Complaint:
    """Record the feedback given to the complainant (late feedback is kept and shows as late)."""
    if complaint.feedback_at is not None:
        raise RecordError(f"complaint #{complaint.id} already has its feedback")
    complaint.feedback_at, complaint.feedback_by, complaint.feedback = now, actor, feedback
    audit.append(db_session=db_session, actor=actor, action="complaint.feedback", entity="complaint",
                 entity_id=complaint.id, at=now, detail={"late": now > complaint.feedback_due_at})
    return complaint


def add_device_test(*, db_session: Session, device: Device, passed: bool, note: str, actor: str, tested_at: float,
                    now: float) -> DeviceTest:
    """Record a functional test of a device."""
    test = DeviceTest(device_id=device.id, site_id=device.site_id, tested_at=tested_at, tested_by=actor,
                      passed=passed, note=note)
    db_session.add(test)
    db_session.flush()
    audit.append(db_session=db_session, actor=actor, action="device.tested", entity="device", entity_id=device.id,
                 at=now, detail={"passed": passed, "tested_at": tested_at, "note": note})
    return test


def tests_overdue(*, db_session: Session, now: float, site_ids: frozenset[int] | None) -> list[dict]:
    """Return alarm buttons and worn devices without a passed functional test in the last 7 days."""
    last = (select(DeviceTest.device_id, func.max(DeviceTest.tested_at).label("last"))
            .where(DeviceTest.passed.is_(True)).group_by(DeviceTest.device_id).subquery())
    query = (select(Device, last.c.last).outerjoin(last, last.c.device_id == Device.id)
             .where(Device.kind.in_(TESTED_KINDS)).order_by(Device.id))
    if site_ids is not None:
        query = query.where(Device.site_id.in_(sorted(site_ids)))
    out = []
    for device, last_at in db_session.execute(query):
        if last_at is None or now - last_at > TEST_INTERVAL_S:
            out.append({"device_id": device.id, "name": device.name, "kind": device.kind, "site_id": device.site_id,
                        "resident_id": device.resident_id, "last_passed_test_at": last_at,
                        "due_at": None if last_at is None else last_at + TEST_INTERVAL_S})
    return out


def add_abnormal_event(*, db_session: Session, event_in: AbnormalEventIn, actor: str, now: float) -> AbnormalEvent:
    """Record an abnormal-event report."""
    event = AbnormalEvent(**event_in.model_dump(), reported_by=actor, reported_at=now)
    db_session.add(event)
    db_session.flush()
    audit.append(db_session=db_session, actor=actor, action="abnormal_event.reported", entity="abnormal_event",
                 entity_id=event.id, at=now, detail={"category": event.category, "site_id": event.site_id})
    return event
