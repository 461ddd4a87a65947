"""What a due escalation step does: find its recipients, render their messages, queue them, record calls."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.alerts.models import Alert
from hub.audit import service as audit
from hub.audit.service import SYSTEM
from hub.devices.models import Building, EmergencyContact, Resident, Room, Site, Staff
from hub.duty import service as duty_service
from hub.escalation.snapshot import Action, Snapshot
from hub.escalation.steps import Effect
from hub.notifications import service as notifications
from hub.notifications.models import RecipientKind
from hub.notifications.templates import language_of, render

log = logging.getLogger(__name__)

LIFE_SAFETY = 1


@dataclass(frozen=True, slots=True)
class Recipient:
    """Someone to tell, with their addresses."""

    kind: RecipientKind
    id: int
    name: str
    urls: list[str]
    language: str
    quiet_hours: str = ""


@dataclass(frozen=True, slots=True)
class MessageContext:
    """Where links point, which clock the reader lives by, how long a family link lives."""

    public_url: str
    tz: ZoneInfo
    family_link_ttl_s: float


class StepEffects:
    """Apply due steps to an alert inside the escalation's transaction."""

    def __init__(self, context: MessageContext) -> None:
        self.context = context

    def apply(self, session: Session, alert: Alert, snapshot: Snapshot, effect: Effect, now: float) -> dict:
        """Carry out one step; return what it did (for the audit entry)."""
        run = self._ACTIONS.get(effect.action)
        if run is None:  # waits and repeats are the planner's; they never reach here
            log.error("alert %s: escalation action %r has no effect; skipped", alert.id, effect.action)
            return {"skipped": f"no effect for action {effect.action!r}"}
        return run(self, session, alert, snapshot, effect, now)

    def _notify_staff(self, session: Session, alert: Alert, snapshot: Snapshot, effect: Effect, now: float) -> dict:
        staff, rostered = self._staff(session, alert.site_id, effect.spec.role, now)
        queued = self._notify(session, alert, snapshot, effect, staff, now, reason=snapshot.reason)
        return {"recipients": [r.name for r in staff], "messages": queued, "rostered": rostered}

    def _notify_contact(self, session: Session, alert: Alert, snapshot: Snapshot, effect: Effect,
                        now: float) -> dict:
        contact = session.get(EmergencyContact, effect.spec.contact_id)
        if contact is None:
            return {"recipients": [], "messages": 0, "skipped": "contact no longer exists"}
        recipient = Recipient(RecipientKind.CONTACT, contact.id, contact.name, list(contact.apprise_urls),
                              contact.language, contact.quiet_hours)
        queued = self._notify(session, alert, snapshot, effect, [recipient], now, reason=snapshot.reason)
        return {"recipients": [contact.name], "messages": queued}

    def _call_emergency(self, session: Session, alert: Alert, snapshot: Snapshot, effect: Effect,
                        now: float) -> dict:
        number = effect.spec.number
        call = duty_service.record_call(db_session=session, at=now, caller="carehub escalation", callee=number,
                                        outcome="requested", alert_id=alert.id, site_id=alert.site_id,
                                        resident_id=alert.resident_id,
                                        note="alert unanswered: the duty room was told to call")
        staff = []
        for role in ("operator", "supervisor"):
            staff += self._staff(session, alert.site_id, role, now)[0]
        queued = self._notify(session, alert, snapshot, effect, staff, now, reason="call_emergency",
                              number=number)
        return {"call_id": call.id, "number": number, "recipients": [r.name for r in staff], "messages": queued}

    _ACTIONS = {Action.NOTIFY_STAFF: _notify_staff, Action.NOTIFY_CONTACT: _notify_contact,
                Action.CALL_EMERGENCY: _call_emergency}

    def _staff(self, session: Session, site_id: int | None, role: str, now: float) -> tuple[list[Recipient], bool]:
        staff = duty_service.on_duty(db_session=session, site_id=site_id, at=now, role=role)
        rostered = bool(staff)
        if not staff:
            # Nobody rostered: tell everyone of that role who works at the site rather than nobody.
            query = select(Staff).where(Staff.active.is_(True), Staff.role == role)
            query = query.where((Staff.site_id == site_id) | Staff.site_id.is_(None)) if site_id is not None else query
            staff = list(session.scalars(query.order_by(Staff.id)))
        return [Recipient(RecipientKind.STAFF, s.id, s.name, list(s.apprise_urls), s.language) for s in staff], rostered

    def _notify(self, session: Session, alert: Alert, snapshot: Snapshot, effect: Effect, recipients: list[Recipient],
                now: float, *, reason: str, number: str = "") -> int:
        resident, place = _resident_and_place(session, alert)
        when = dt.datetime.fromtimestamp(alert.first_at, self.context.tz).strftime("%Y-%m-%d %H:%M:%S")
        queued = 0
        for person in recipients:
            language = language_of(person.language)
            link = f"{self.context.public_url}/console/alerts/{alert.id}"
            answer_link = ""
            if person.kind == RecipientKind.CONTACT and person.urls:
                token = notifications.issue_family_link(
                    db_session=session, alert_id=alert.id, contact_id=person.id, contact_name=person.name,
                    language=language, now=now, ttl_s=self.context.family_link_ttl_s)
                link = answer_link = f"{self.context.public_url}/f/{token}"
            not_before, deferred = None, ""
            if alert.priority > LIFE_SAFETY and person.quiet_hours:
                # Quiet hours hold back checks and device care; a life-safety alert is never delayed.
                until = notifications.quiet_until(person.quiet_hours, now, self.context.tz)
                if until is not None:
                    not_before, deferred = until, f"quiet hours {person.quiet_hours}"
            for n, url in enumerate(person.urls):
                key = f"{alert.id}:{snapshot.run}:{effect.repeat}:{effect.step}:{person.kind}:{person.id}:{n}"
                ref = f"CH-{alert.id}-{snapshot.run}.{effect.repeat}.{effect.step}"
                message = render(language=language, alert_type=alert.type, priority=alert.priority,
                                 resident=resident, place=place, time=when, link=link, ref=ref, reason=reason,
                                 number=number, answer_link=answer_link)
                row = notifications.queue(
                    db_session=session, dedupe_key=key, alert_id=alert.id, step=effect.step, action=effect.action,
                    recipient_kind=person.kind.value, recipient_id=person.id, recipient_name=person.name, url=url,
                    language=language, priority=alert.priority, title=message.title, body=message.body, now=now,
                    not_before=not_before, deferred_reason=deferred)
                queued += row is not None
            if not person.urls:
                audit.append(db_session=session, actor=SYSTEM, action="notification.no_address", entity="alert",
                             entity_id=alert.id, at=now, detail={"recipient": f"{person.kind}:{person.id}",
                                                                 "name": person.name})
        return queued


def _resident_and_place(session: Session, alert: Alert) -> tuple[str | None, str]:
    resident = session.get(Resident, alert.resident_id) if alert.resident_id is not None else None
    parts: list[str] = []
    site = session.get(Site, alert.site_id) if alert.site_id is not None else None
    if site is not None:
        parts.append(site.name)
    room = session.get(Room, alert.room_id) if alert.room_id is not None else None
    if room is not None:
        building = session.get(Building, room.building_id)
        parts += [building.name if building else "", room.name]
    elif not parts and alert.device_key:
        parts.append(alert.device_key)
    return (resident.name if resident else None), " ".join(p for p in parts if p)
