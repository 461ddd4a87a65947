"""Alerts become work orders and hazards in the alert's own transaction; people move orders through their lifecycle."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from hub.alerts.models import Alert, AlertState, Outcome
from hub.audit.service import SYSTEM
from hub.auth.principal import Principal
from hub.config import Settings
from hub.detect.models import DetectionRecord
from hub.devices import service as registry
from hub.ledgers import service as hazards
from hub.ledgers.models import Hazard, HazardCategory, HazardLevel
from hub.ledgers.policy import ALERT_CATEGORY, DEVICE_PROBLEMS, SAFETY_DEVICE_CATEGORY, HazardPolicy
from hub.workorders import service
from hub.workorders.models import WorkOrder, WorkOrderIn, WorkOrderStatus, WorkOrderType
from hub.workorders.rules import ROLES, TITLES, Rules


class AlertWorkOrders:
    """The alert hook: a raised alert gets its work order and, for fire, gas and dead safety devices, a hazard."""

    def __init__(self, rules: Rules, policy: HazardPolicy) -> None:
        self.rules = rules
        self.policy = policy

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertWorkOrders:
        """Build the hook from the hub's settings."""
        return cls(Rules.of(settings.workorder_rules, settings.workorder_sla),
                   HazardPolicy.of(settings.hazard_rules, settings.hazard_deadlines_h))

    def on_alert(self, session: Session, alert: Alert, detection: DetectionRecord, change: str) -> None:
        """Create, inside the alert's transaction, what a raised alert causes; tidy up after a restored one."""
        if change == "raised":
            self._raised(session, alert)
        elif change == "cleared" and alert.outcome == Outcome.RESTORED and alert.state == AlertState.RESOLVED:
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
        hazard = self._hazard(session, alert, now, order)
        if order is not None and hazard is not None and order.hazard_id != hazard.id:
            service.link_hazard(db_session=session, order=order, hazard_id=hazard.id, actor=SYSTEM, now=now)

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
            open_hazard = hazards.open_hazard_for_device(db_session=session, device_key=alert.device_key,
                                                         category=HazardCategory(category), level=HazardLevel(level))
        elif alert.room_id is not None:  # a room's confirmed fire joins the hazard its first smoke alarm opened
            open_hazard = hazards.open_hazard_in_room(db_session=session, room_id=alert.room_id,
                                                      category=HazardCategory(category), level=HazardLevel(level))
        if open_hazard is not None:
            return hazards.note_recurrence(db_session=session, hazard=open_hazard, alert_id=alert.id,
                                           actor=SYSTEM, now=now)
        return hazards.register(
            db_session=session, category=category, level=HazardLevel(level), title=title[:200],
            site_id=alert.site_id, room_id=alert.room_id, device_key=alert.device_key, source="alert", actor=SYSTEM,
            now=now, deadline_at=now + self.policy.deadline_s(level), alert_id=alert.id,
            work_order_id=order.id if order is not None else None,
            description=f"registered automatically from alert #{alert.id} ({alert.type})")

    def on_action(self, session: Session, alert: Alert, change: str) -> None:
        """Inside a person's alert action: an alert resolved before anyone took its order cancels that order.

        An order someone has taken (dispatched, accepted, in service) stays open as its own work until its
        assignee checks out; a repair (maintenance) stays open whatever the alert says, since resolving an
        alert mends no device.
        """
        if change != "resolved":
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
                 clock: Callable[[], float] = time.time) -> None:
        self.session_factory = session_factory
        self.settings = settings
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
        now = self.clock()
        with self.session_factory() as session, session.begin():
            hazard = None
            if order_in.hazard_id is not None:
                hazard = hazards.get_in_scope(db_session=session, hazard_id=order_in.hazard_id, principal=principal)
                if hazard is None:
                    return None
            order_type = WorkOrderType(order_in.type)
            order = service.create(
                db_session=session, type=order_type, priority=order_in.priority, title=order_in.title,
                description=order_in.description, site_id=order_in.site_id, room_id=order_in.room_id,
                resident_id=order_in.resident_id, device_key=order_in.device_key, alert_id=order_in.alert_id,
                hazard_id=order_in.hazard_id, source="hazard" if hazard else "manual", actor=principal.actor,
                now=now, sla=self.rules.sla_for(order_type, order_in.priority), roles=ROLES[order_type])
            if hazard is not None:
                hazards.link_work_order(db_session=session, hazard=hazard, work_order_id=order.id,
                                        actor=principal.actor, now=now)
            return order


def check_sla(*, db_session: Session, now: float) -> list[dict]:
    """Escalate orders past their accept or finish deadline, once per breach (call it from the timer loop)."""
    return service.check_sla(db_session=db_session, now=now)
