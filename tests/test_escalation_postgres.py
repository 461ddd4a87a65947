"""Two hubs' escalation engines on one real PostgreSQL database: each step of each alert runs once, whoever wins."""

from __future__ import annotations

import logging
import threading
from collections import Counter

from sqlalchemy import select

from hub.alerts.models import Alert
from hub.audit.models import AuditEntry
from hub.config import Settings
from hub.detect.detection import Detection, DetectionType
from hub.devices import service as registry
from hub.devices.models import SiteCreate, Staff
from hub.duty import service as duty_service
from hub.duty.models import EmergencyCall, ShiftIn
from hub.escalation import policies
from hub.escalation.models import PolicyIn
from hub.notifications.models import Notification
from hub.runtime import Hub
from tests.clock import Clock

T0 = 1_790_028_800.0
ALERTS = 25
POLICY = [{"action": "notify_on_duty"}, {"action": "wait", "seconds": 60}, {"action": "notify_supervisor"},
          {"action": "wait", "seconds": 60}, {"action": "call_emergency", "number": "120"}]


def make_hub(tmp_path, monkeypatch, url: str, name: str, clock: Clock) -> Hub:
    monkeypatch.setenv("CAREHUB_CONFIG", str(tmp_path / "absent.toml"))
    (tmp_path / name).mkdir()
    return Hub(Settings(data_dir=tmp_path / name, database_url=url, mqtt_url="", influx_url="", timezone="UTC"),
               clock=clock)


def tick_together(hub: Hub, start: threading.Barrier, now: float) -> None:
    """Run one escalation tick as soon as the other hub is ready too."""
    start.wait()
    hub.escalation.tick(now)


def test_two_engines_racing_on_postgresql_run_every_step_exactly_once(tmp_path, monkeypatch, pg_url, caplog):
    caplog.set_level(logging.INFO, logger="hub.escalation")
    clock = Clock(T0)
    first, second = (make_hub(tmp_path, monkeypatch, pg_url, name, clock) for name in ("a", "b"))
    try:
        with first.session_factory() as session, session.begin():
            site = registry.create_site(db_session=session, site_in=SiteCreate(name="North Home"))
            op = Staff(name="Operator Wang", role="operator", apprise_urls=["json://127.0.0.1:9/op"], site_id=site.id)
            sup = Staff(name="Supervisor Chen", role="supervisor", apprise_urls=["json://127.0.0.1:9/sup"],
                        site_id=site.id)
            session.add_all([op, sup])
            session.flush()
            duty_service.create_shift(db_session=session, shift_in=ShiftIn(
                staff_id=op.id, site_id=site.id, role="operator", starts_at=T0 - 3600, ends_at=T0 + 3600),
                actor="test", now=T0)
            policies.put(db_session=session, policy_in=PolicyIn(name="race", site_id=site.id, steps=POLICY),
                         actor="test", now=T0)
            site_id, staff = site.id, {op.id: "op", sup.id: "sup"}
        first.detections._emit([Detection(type=DetectionType.SOS, subject=f"z2m:sos-{i}", t=T0,
                                          device_key=f"z2m:sos-{i}", site_id=site_id) for i in range(ALERTS)])
        first.detections.flush()

        for offset in (0, 60, 120, 121):
            clock.now = T0 + offset
            start = threading.Barrier(2)
            threads = [threading.Thread(target=tick_together, args=(hub, start, clock.now)) for hub in (first, second)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)

        with first.session_factory() as session:
            alert_ids = list(session.scalars(select(Alert.id)))
            steps = Counter(e.entity_id for e in session.scalars(
                select(AuditEntry).where(AuditEntry.action == "escalation.step")))
            sent = Counter((n.alert_id, staff[n.recipient_id], n.action) for n in session.scalars(select(Notification)))
            calls = Counter(c.alert_id for c in session.scalars(select(EmergencyCall)))
            finished = [a.next_escalation_at for a in session.scalars(select(Alert))]
    finally:
        first.engine.dispose()
        second.engine.dispose()

    assert len(alert_ids) == ALERTS
    assert steps == {str(i): 3 for i in alert_ids}  # on duty, supervisor, emergency call: once each
    expected = {(i, who, action) for i in alert_ids for who, action in
                (("op", "notify_staff"), ("sup", "notify_staff"), ("op", "call_emergency"), ("sup", "call_emergency"))}
    assert set(sent) == expected and set(sent.values()) == {1}
    assert calls == {i: 1 for i in alert_ids}
    assert finished == [None] * ALERTS
    assert first.escalation.steps_run > 0 and second.escalation.steps_run > 0  # both engines really raced
    # Losing a race is normal with two hubs: the loser waits for the winner's row lock and finds nothing due.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
