"""Alerts become work orders in the alert's own transaction; people move orders through their lifecycle."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from hub.alerts.models import Alert, AlertChange, AlertState, Outcome
from hub.audit.service import SYSTEM
from hub.auth.principal import Principal
from hub.config import Settings
from hub.detect.models import DetectionRecord
from hub.workorders import service
from hub.workorders.models import WorkOrder, WorkOrderIn, WorkOrderStatus, WorkOrderType
from hub.workorders.rules import ROLES, TITLES, Rules

# Links a hand-made order to the hazard it names, in the order's transaction: (session, caller, hazard id,
# order id, now) -> False when the hazard is not the caller's to see. hub.ledgers provides it.
HazardLink = Callable[[Session, Principal, int, int, float], bool]


class _HazardOutOfScope(Exception):
    """The named hazard is not the caller's: the order is rolled back."""


class AlertWorkOrders:
    """The alert hook: a raised alert gets its work order (its hazard comes from hub.ledgers.flows.AlertHazards)."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertWorkOrders:
        """Build the hook from the hub's settings."""
        return cls(Rules.of(settings.workorder_rules, settings.workorder_sla))

    def on_alert(self, session: Session, alert: Alert, detection: DetectionRecord, change: str) -> None:
        """Create, inside the alert's transaction, the order a raised alert causes; tidy up after a restored one."""
        if change == AlertChange.RAISED:
            self._raised(session, alert)
        elif change == AlertChange.CLEARED and alert.outcome == Outcome.RESTORED and alert.state == AlertState.RESOLVED:
            self._restored(session, alert)

    def _raised(self, session: Session, alert: Alert) -> None:
        now = alert.updated_at
        order_type = self.rules.order_type(alert.type)
        order = None
        if order_type == WorkOrderType.MAINTENANCE and alert.device_key:
            # A device whose condition flaps raises one alert per flap; staff need one open repair, not one each.
            # An incident (SOS, fall, fire) after its alert closed is new work with an order of its own.
            order = service.open_order_for_device(db_session=session, device_key=alert.device_key, type=order_type)
        if order is not None:
            service.note_recurrence(db_session=session, order=order, alert_id=alert.id, actor=SYSTEM, now=now)
        elif order_type is not None:
            order = service.create(
                db_session=session, type=order_type, priority=alert.priority, source="alert", actor=SYSTEM,
                now=now, title=f"{TITLES[order_type]}: {alert.type} {alert.subject}"[:200],
                sla=self.rules.sla_for(order_type, alert.priority), roles=ROLES[order_type],
                site_id=alert.site_id, room_id=alert.room_id, resident_id=alert.resident_id,
                device_key=alert.device_key, alert_id=alert.id)

    def on_action(self, session: Session, alert: Alert, change: str) -> None:
        """Inside a person's alert action: an alert resolved before anyone took its order cancels that order.

        An order someone has taken (dispatched, accepted, in service) stays open as its own work until its
        assignee checks out; a repair (maintenance) stays open whatever the alert says, since resolving an
        alert mends no device.
        """
        if change != AlertChange.RESOLVED:
            return
        for order in service.orders_of_alert(db_session=session, alert_id=alert.id):
            if order.status == WorkOrderStatus.PENDING and order.type != WorkOrderType.MAINTENANCE:
                reason = f"alert #{alert.id} resolved ({alert.outcome}) before anyone took the order"
                service.cancel(db_session=session, order=order, actor=alert.resolved_by or SYSTEM,
                               now=alert.updated_at, reason=reason)

    def _restored(self, session: Session, alert: Alert) -> None:
        # A device condition that cleared before anyone acted needs no visit; the hazard stays for the officer.
        for order in service.orders_of_alert(db_session=session, alert_id=alert.id):
            if order.status == WorkOrderStatus.PENDING:
                service.cancel(db_session=session, order=order, actor=SYSTEM, now=alert.updated_at,
                               reason="device condition cleared before anyone was dispatched")


class WorkOrderFlow:
    """People's actions on work orders, each in its own transaction, scoped to what the caller may see."""

    def __init__(self, *, session_factory: sessionmaker[Session], settings: Settings,
                 clock: Callable[[], float] = time.time, hazard_link: HazardLink | None = None) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.hazard_link = hazard_link
        self.rules = Rules.of(settings.workorder_rules, settings.workorder_sla)
        self.clock = clock

    def act(self, principal: Principal, order_id: int,
            action: Callable[[Session, WorkOrder, float], WorkOrder]) -> WorkOrder | None:
        """Apply an action to an order the caller may see; None when it is not theirs to see (404)."""
        now = self.clock()
        with self.session_factory() as session, session.begin():
            order = service.get_in_scope(db_session=session, order_id=order_id, principal=principal)
            if order is None:
                return None
            return action(session, order, now)

    def create(self, principal: Principal, order_in: WorkOrderIn) -> WorkOrder | None:
        """Create an order by hand; a named hazard links back to it. None when a site or hazard is out of scope."""
        if not principal.sees(site_id=order_in.site_id, resident_id=order_in.resident_id):
            return None
        hazard_id = order_in.hazard_id
        if hazard_id is not None and self.hazard_link is None:
            return None  # nothing here can tell whether the hazard is the caller's
        now = self.clock()
        try:
            with self.session_factory() as session, session.begin():
                order_type = WorkOrderType(order_in.type)
                order = service.create(
                    db_session=session, type=order_type, priority=order_in.priority, title=order_in.title,
                    description=order_in.description, site_id=order_in.site_id, room_id=order_in.room_id,
                    resident_id=order_in.resident_id, device_key=order_in.device_key, alert_id=order_in.alert_id,
                    hazard_id=hazard_id, source="hazard" if hazard_id is not None else "manual",
                    actor=principal.actor, now=now, sla=self.rules.sla_for(order_type, order_in.priority),
                    roles=ROLES[order_type])
                if (hazard_id is not None and self.hazard_link is not None  # set with hazard_id: see above
                        and not self.hazard_link(session, principal, hazard_id, order.id, now)):
                    raise _HazardOutOfScope
                return order
        except _HazardOutOfScope:
            return None


def check_sla(*, db_session: Session, now: float) -> list[dict]:
    """Escalate orders past their accept or finish deadline, once per breach (call it from the timer loop)."""
    return service.check_sla(db_session=db_session, now=now)
