"""Start escalations when alerts are raised and run due steps; the next due time lives on the alert row."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import CursorResult, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from hub.alerts.models import Alert, AlertChange, AlertState
from hub.audit import service as audit
from hub.audit.service import SYSTEM
from hub.detect.models import DetectionRecord
from hub.devices.models import EmergencyContact
from hub.escalation import policies, steps
from hub.escalation.effects import StepEffects
from hub.escalation.snapshot import Snapshot

log = logging.getLogger(__name__)

HELP_NOT_ARRIVED = "help_not_arrived"
UNACKNOWLEDGED = "unacknowledged"


class EscalationConflict(RuntimeError):
    """The alert changed under the escalation (someone acted on it): this run is rolled back and redone."""


class EscalationEngine:
    """Freeze a policy onto each new alert, then run its steps as they fall due, exactly once each."""

    def __init__(self, *, session_factory: sessionmaker[Session], effects: StepEffects,
                 publish: Callable[[Alert, str], None] = lambda alert, change: None) -> None:
        self.session_factory = session_factory
        self.effects = effects
        self.publish = publish
        self.steps_run = 0
        self.wake: Callable[[], None] = lambda: None  # the timer loop sets this: run due steps now

    def on_alert(self, session: Session, alert: Alert, _detection: DetectionRecord, change: str) -> None:
        """Alert hook: start escalation for a newly raised alert, in the alert's own transaction."""
        if change == AlertChange.RAISED:
            snap = self._snapshot(session, alert, reason=UNACKNOWLEDGED, now=alert.created_at)
            alert.escalation, alert.escalation_step, alert.next_escalation_at = snap.to_json(), 0, alert.created_at
            # The first step is due at once: wake the timer when the alert is committed, not at its next tick.
            event.listen(session, "after_commit", lambda _session: self.wake(), once=True)

    def _snapshot(self, session: Session, alert: Alert, *, reason: str, now: float) -> Snapshot:
        contact_ids: list[int] = []
        if alert.resident_id is not None:
            contact_ids = list(session.scalars(select(EmergencyContact.id)
                                               .where(EmergencyContact.resident_id == alert.resident_id)
                                               .order_by(EmergencyContact.order, EmergencyContact.id)))
        policy = policies.find(db_session=session, site_id=alert.site_id, alert_type=alert.type)
        previous = Snapshot.from_json(alert.escalation)
        run = (previous.run if previous is not None else 0) + 1
        snap = policies.snapshot(policy=policy, priority=alert.priority, contact_ids=contact_ids, reason=reason,
                                 now=now, run=run)
        audit.append(db_session=session, actor=SYSTEM, action="escalation.started", entity="alert",
                     entity_id=alert.id, at=now, detail={"policy": snap.policy, "reason": reason, "run": run,
                                                         "steps": len(snap.steps)})
        return snap

    def due(self, now: float, limit: int = 100) -> list[int]:
        """Return the ids of open alerts with an escalation step due at `now`, most urgent first."""
        with self.session_factory() as session:
            return list(session.scalars(
                select(Alert.id).where(Alert.next_escalation_at <= now,
                                       Alert.state.in_([AlertState.NEW.value, AlertState.DISPATCHED.value]))
                .order_by(Alert.priority, Alert.next_escalation_at).limit(limit)))

    def tick(self, now: float) -> int:
        """Run every due step of every alert; return how many alerts advanced (errors are logged, retried)."""
        advanced = 0
        for alert_id in self.due(now):
            try:
                advanced += self.advance(alert_id, now)
            except EscalationConflict:
                log.info("alert %s changed during escalation; retrying next tick", alert_id)
            except Exception:
                log.exception("escalation of alert %s failed; retrying next tick", alert_id)
        return advanced

    def advance(self, alert_id: int, now: float) -> bool:
        """Run the due steps of one alert in one transaction, claimed by compare-and-set on its step."""
        change = AlertChange.ESCALATED
        with self.session_factory() as session, session.begin():
            # FOR UPDATE (PostgreSQL; SQLite has one writer anyway): a second hub racing for the same step waits
            # here for this transaction and then finds nothing due, instead of failing on the messages' unique key.
            alert = session.get(Alert, alert_id, with_for_update=True)
            if alert is None or alert.next_escalation_at is None or alert.next_escalation_at > now:
                return False
            claim = (alert.state, alert.escalation_step, alert.next_escalation_at)
            stored = Snapshot.from_json(alert.escalation)
            snap = stored if stored is not None else self._snapshot(session, alert, reason=UNACKNOWLEDGED, now=now)
            step, due = alert.escalation_step, alert.next_escalation_at
            if alert.state == AlertState.DISPATCHED:
                if alert.arrived_at is not None:
                    return self._claim(session, alert, claim, snap, step, None, now)
                if snap.help_not_arrived_for != alert.dispatched_at:
                    # The responder did not confirm arrival in time: escalate again from the first step.
                    audit.append(db_session=session, actor=SYSTEM, action="alert.help_not_arrived", entity="alert",
                                 entity_id=alert.id, at=now, detail={"responder": alert.responder,
                                                                     "arrival_due_at": alert.arrival_due_at})
                    snap = self._snapshot(session, alert, reason=HELP_NOT_ARRIVED, now=now).replace(
                        help_not_arrived_for=alert.dispatched_at)
                    step, change = 0, AlertChange.HELP_NOT_ARRIVED
            elif alert.state != AlertState.NEW:
                return self._claim(session, alert, claim, snap, step, None, now)
            result = steps.plan(snap, step=step, due=due, now=now)
            snap = snap.replace(repeats_done=result.repeats_done)
            for effect in result.effects:
                did = self.effects.apply(session, alert, snap, effect, now)
                audit.append(db_session=session, actor=SYSTEM, action="escalation.step", entity="alert",
                             entity_id=alert.id, at=now,
                             detail={"run": snap.run, "repeat": effect.repeat, "step": effect.step,
                                     "action": str(effect.action), "due_late_s": round(now - due, 3), **did})
                self.steps_run += 1
            if result.next_at is None:
                audit.append(db_session=session, actor=SYSTEM, action="escalation.finished", entity="alert",
                             entity_id=alert.id, at=now, detail={"run": snap.run})
            self._claim(session, alert, claim, snap, result.step, result.next_at, now)
        with self.session_factory() as session:
            fresh = session.get(Alert, alert_id)
            if fresh is not None:
                self.publish(fresh, change)
        return True

    @staticmethod
    def _claim(session: Session, alert: Alert, claim: tuple, snap: Snapshot, step: int, next_at: float | None,
               now: float) -> bool:
        state, old_step, old_due = claim
        session.expunge(alert)  # the ORM must not write it: only the guarded update below may
        # An UPDATE gives a CursorResult (Session.execute is typed as returning the plain Result).
        result = cast("CursorResult[Any]", session.execute(
            update(Alert).where(Alert.id == alert.id, Alert.state == state, Alert.escalation_step == old_step,
                                Alert.next_escalation_at == old_due)
            .values(escalation=snap.to_json(), escalation_step=step, next_escalation_at=next_at, updated_at=now)))
        if result.rowcount != 1:
            raise EscalationConflict(f"alert {alert.id} changed")
        return True
