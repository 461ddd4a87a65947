"""Detections become alerts in the detections' own transaction; changes go to the live feed after commit."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session, sessionmaker

from hub.alerts import service
from hub.alerts.bus import AlertBus
from hub.alerts.models import Alert, AlertChange, AlertPublic
from hub.alerts.types import check_keys
from hub.auth.principal import Principal
from hub.detect.models import DetectionRecord

# Called inside the detections' transaction for each alert change: (session, alert, detection, change), where
# change is RAISED, REPEATED or CLEARED. Work orders, hazards and escalation attach here, so an alert
# and what it causes are committed together or not at all.
AlertHook = Callable[[Session, Alert, DetectionRecord, str], None]
# Called inside a person's action's transaction with (session, alert, change), change being the action
# ("acknowledged", "dispatched", "resolved", ...): work orders follow their alert here.
ActionHook = Callable[[Session, Alert, str], None]


class AlertFlow:
    """Raises alerts from recorded detections and applies people's actions, publishing every change."""

    def __init__(self, *, session_factory: sessionmaker[Session], bus: AlertBus,
                 priorities: Mapping[str, int] | None = None, arrival_timeout_s: float = 1800.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.session_factory = session_factory
        self.bus = bus
        check_keys(priorities or {}, "alert_priorities")
        self.priorities = dict(priorities or {})
        self.arrival_timeout_s = arrival_timeout_s
        self.clock = clock
        self.raised = 0
        self.hooks: list[AlertHook] = []
        self.action_hooks: list[ActionHook] = []

    def on_detections(self, session: Session, rows: list[DetectionRecord]) -> list[tuple[Alert, str]]:
        """Raise, join or clear alerts for freshly flushed detection rows (inside the caller's transaction)."""
        now = self.clock()
        changes: list[tuple[Alert, str]] = []
        for row in rows:
            if row.state == "cleared":
                alert = service.note_cleared(db_session=session, detection=row, now=now)
                if alert is not None:
                    self._run_hooks(session, alert, row, AlertChange.CLEARED)
                    changes.append((alert, AlertChange.CLEARED))
                continue
            if row.state != "active":
                continue  # "cancelled" (a fall the resident called off in its cancel window): logged, no alert
            alert, created = service.raise_or_join(db_session=session, detection=row, now=now,
                                                   priorities=self.priorities)
            change = AlertChange.RAISED if created else AlertChange.REPEATED
            self._run_hooks(session, alert, row, change)
            changes.append((alert, change))
        return changes

    def _run_hooks(self, session: Session, alert: Alert, row: DetectionRecord, change: str) -> None:
        for hook in self.hooks:
            hook(session, alert, row, change)

    def publish(self, changes: list[tuple[Alert, str]]) -> None:
        """Send committed changes to the live feed."""
        for alert, change in changes:
            self.raised += change == AlertChange.RAISED
            self.bus.publish(public(alert), change=change)

    def rehome_bound(self, session: Session, device) -> Callable[[], None]:
        """Give a just-bound device's open alerts its place (in the bind's transaction); return the publisher."""
        alerts = service.rehome_device(db_session=session, device_id=device.id, keys=list(device.keys),
                                       site_id=device.site_id, room_id=device.room_id,
                                       resident_id=device.resident_id, now=self.clock())

        def publish() -> None:
            for alert in alerts:
                self.bus.publish(public(alert), change=AlertChange.REHOMED)

        return publish

    def act(self, principal: Principal, alert_id: int, action: Callable[[Session, Alert, float], Alert],
            change: str) -> Alert | None:
        """Apply a person's action to an alert they may see; None when it is not theirs to see (404)."""
        now = self.clock()
        with self.session_factory() as session, session.begin():
            alert = service.get_in_scope(db_session=session, alert_id=alert_id, principal=principal)
            if alert is None:
                return None
            action(session, alert, now)
            for hook in self.action_hooks:
                hook(session, alert, change)
        self.bus.publish(public(alert), change=change)
        return alert


def public(alert: Alert) -> dict:
    """Return the alert as the API and the live feed show it."""
    return AlertPublic.model_validate(alert).model_dump(mode="json")
