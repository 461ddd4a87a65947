"""Escalation steps, notifications, quiet hours, retries and family answers on a real SQLite store, fake clock."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.alerts import service as alert_service
from hub.alerts.models import Alert
from hub.api import create_app
from hub.audit.models import AuditEntry
from hub.config import Settings
from hub.detect.detection import Detection, DetectionType
from hub.devices import service as registry
from hub.devices.models import ContactCreate, ResidentCreate, SiteCreate, Staff
from hub.duty import service as duty_service
from hub.duty.models import EmergencyCall, ShiftIn
from hub.escalation.engine import EscalationEngine
from hub.notifications.models import DeliveryAttempt, Notification
from hub.notifications.sender import NotificationSender
from hub.notifications.service import quiet_until
from hub.runtime import Hub
from tests.clock import Clock

T0 = 1_790_028_800.0  # 2026-09-21 22:13:20 UTC
P1_POLICY = [{"action": "notify_on_duty"}, {"action": "wait", "seconds": 60}, {"action": "notify_supervisor"},
             {"action": "wait", "seconds": 60}, {"action": "notify_family", "seconds": 30},
             {"action": "wait", "seconds": 60}, {"action": "call_emergency", "number": "120"}]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREHUB_CONFIG", str(tmp_path / "absent.toml"))
    clock = Clock(T0)
    settings = Settings(data_dir=tmp_path, mqtt_url="", influx_url="", timezone="UTC",
                        public_url="https://care.example")
    hub = Hub(settings, clock=clock)
    with hub.session_factory() as session, session.begin():
        site = registry.create_site(db_session=session, site_in=SiteCreate(name="North Home"))
        mother = registry.create_resident(db_session=session, resident_in=ResidentCreate(
            name="Li Mei", site_id=site.id, contacts=[
                ContactCreate(name="Son", apprise_urls=["json://127.0.0.1:9/son"], order=1, quiet_hours="22:00-07:00"),
                ContactCreate(name="Daughter", apprise_urls=["json://127.0.0.1:9/daughter"], order=2,
                              language="en")]))
        op = Staff(name="Operator Wang", role="operator", apprise_urls=["json://127.0.0.1:9/op"], site_id=site.id)
        off = Staff(name="Operator Off", role="operator", apprise_urls=["json://127.0.0.1:9/off"], site_id=site.id)
        sup = Staff(name="Supervisor Chen", role="supervisor", apprise_urls=["mailto://127.0.0.1:9?to=s@x.cn"],
                    site_id=site.id)
        session.add_all([op, off, sup])
        session.flush()
        duty_service.create_shift(db_session=session, shift_in=ShiftIn(
            staff_id=op.id, site_id=site.id, role="operator", starts_at=T0 - 3600, ends_at=T0 + 8 * 3600),
            actor="test", now=T0)
        ids = {"site": site.id, "mother": mother.id, "op": op.id, "sup": sup.id,
               "son": mother.contacts[0].id, "daughter": mother.contacts[1].id}
    with TestClient(create_app(hub)) as client:
        yield hub, client, clock, ids
    hub.engine.dispose()


def put_policy(hub: Hub, site_id: int | None, steps: list[dict], alert_type: str | None = None) -> None:
    from hub.escalation import policies
    from hub.escalation.models import PolicyIn

    with hub.session_factory() as session, session.begin():
        policies.put(db_session=session, policy_in=PolicyIn(name="test", site_id=site_id, alert_type=alert_type,
                                                            steps=steps), actor="test", now=T0)


def raise_alert(hub: Hub, ids: dict, t: float, kind: DetectionType = DetectionType.SOS) -> int:
    hub.detections._emit([Detection(type=kind, subject="z2m:sos-1", t=t, device_key="z2m:sos-1",
                                    resident_id=ids["mother"], site_id=ids["site"])])
    hub.detections.flush()
    with hub.session_factory() as session:
        return session.scalars(select(Alert.id).order_by(Alert.id.desc())).first()


def messages(hub: Hub) -> list[tuple[str, int, str]]:
    with hub.session_factory() as session:
        return [(n.recipient_kind, n.recipient_id, n.action) for n in
                session.scalars(select(Notification).order_by(Notification.id))]


def test_each_step_runs_at_its_due_time_once(env):
    hub, _client, clock, ids = env
    put_policy(hub, ids["site"], P1_POLICY)
    alert_id = raise_alert(hub, ids, T0)
    schedule = [  # (seconds after the alert, new messages expected by then)
        (0, [("staff", ids["op"], "notify_staff")]),  # only the rostered operator, not the one off duty
        (59, []),
        (60, [("staff", ids["sup"], "notify_staff")]),
        (119, []),
        (120, [("contact", ids["son"], "notify_contact")]),
        (149, []),
        (150, [("contact", ids["daughter"], "notify_contact")]),
        (209, []),
        (210, [("staff", ids["op"], "call_emergency"), ("staff", ids["sup"], "call_emergency")]),
        (5000, []),
    ]
    seen: list = []
    for offset, expected in schedule:
        clock.now = T0 + offset
        hub.escalation.tick(clock.now)
        new = messages(hub)[len(seen):]
        assert new == expected, offset
        seen += new
    with hub.session_factory() as session:
        alert = session.get(Alert, alert_id)
        assert alert.next_escalation_at is None and alert.escalation["policy"] == "test"
        calls = list(session.scalars(select(EmergencyCall)))
        assert [(c.callee, c.outcome, c.alert_id) for c in calls] == [("120", "requested", alert_id)]
        actions = [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.entity_id == str(alert_id))
                                                       .order_by(AuditEntry.id))]
    assert actions.count("escalation.step") == 5 and actions[-1] == "escalation.finished"


def test_acknowledgement_stops_escalation(env):
    hub, client, clock, ids = env
    put_policy(hub, ids["site"], P1_POLICY)
    alert_id = raise_alert(hub, ids, T0)
    hub.escalation.tick(T0)
    clock.now = T0 + 30
    with hub.session_factory() as session, session.begin():
        alert_service.acknowledge(db_session=session, alert=session.get(Alert, alert_id), actor="user:op", now=T0 + 30)
    for offset in (60, 120, 500):
        hub.escalation.tick(T0 + offset)
    assert len(messages(hub)) == 1


def test_a_late_run_catches_up_every_missed_step_once_and_a_restart_repeats_none(env):
    hub, _client, _clock, ids = env
    put_policy(hub, ids["site"], P1_POLICY)
    raise_alert(hub, ids, T0)
    hub.escalation.tick(T0)
    assert len(messages(hub)) == 1
    # The hub was down for 1000 s: every step due meanwhile runs now, once, none skipped.
    hub.escalation.tick(T0 + 1000)
    assert [m[2] for m in messages(hub)] == ["notify_staff", "notify_staff", "notify_contact", "notify_contact",
                                             "call_emergency", "call_emergency"]
    restarted = EscalationEngine(session_factory=hub.session_factory, effects=hub.escalation.effects)
    assert restarted.tick(T0 + 2000) == 0
    assert len(messages(hub)) == 6


def test_repeat_goes_round_the_policy_the_given_number_of_times(env):
    hub, _client, _clock, ids = env
    put_policy(hub, ids["site"], [{"action": "notify_on_duty"}, {"action": "wait", "seconds": 10},
                                  {"action": "repeat", "times": 2}])
    raise_alert(hub, ids, T0)
    for offset in range(0, 100, 5):
        hub.escalation.tick(T0 + offset)
    with hub.session_factory() as session:
        created = [n.created_at - T0 for n in session.scalars(select(Notification).order_by(Notification.id))]
    assert created == [0, 10, 20]


def test_help_that_did_not_arrive_re_escalates(env):
    hub, _client, clock, ids = env
    put_policy(hub, ids["site"], [{"action": "notify_on_duty"}, {"action": "wait", "seconds": 60},
                                  {"action": "notify_supervisor"}])
    alert_id = raise_alert(hub, ids, T0)
    hub.escalation.tick(T0)
    with hub.session_factory() as session, session.begin():
        alert_service.dispatch(db_session=session, alert=session.get(Alert, alert_id), actor="user:op",
                               responder="Caregiver Zhou", now=T0 + 10, arrival_timeout_s=1800)
    hub.escalation.tick(T0 + 1809)
    assert len(messages(hub)) == 1
    clock.now = T0 + 1810
    hub.escalation.tick(T0 + 1810)
    with hub.session_factory() as session:
        alert = session.get(Alert, alert_id)
        assert alert.escalation["reason"] == "help_not_arrived" and alert.escalation["run"] == 2
        second = session.scalars(select(Notification).order_by(Notification.id.desc())).first()
    assert "已派出的人员未在规定时间内确认到达" in second.body
    with hub.session_factory() as session, session.begin():
        alert_service.confirm_arrival(db_session=session, alert=session.get(Alert, alert_id), actor="user:zhou",
                                      now=T0 + 1820)
    hub.escalation.tick(T0 + 5000)
    assert len(messages(hub)) == 2  # arrival stopped the second run before its supervisor step


def test_quiet_hours_hold_a_check_but_never_a_life_alarm(env):
    hub, _client, _clock, ids = env
    put_policy(hub, ids["site"], [{"action": "notify_family", "seconds": 0}])
    # T0 is 22:13 UTC: inside the son's quiet hours (22:00-07:00), which end at 07:00 the next day.
    morning = quiet_until("22:00-07:00", T0, hub.escalation.effects.context.tz)
    assert morning == T0 - (22 * 3600 + 13 * 60 + 20) + 86_400 + 7 * 3600
    raise_alert(hub, ids, T0, DetectionType.INACTIVITY)
    raise_alert(hub, ids, T0, DetectionType.SOS)
    hub.escalation.tick(T0)
    with hub.session_factory() as session:
        rows = {(n.priority, n.recipient_name): n for n in session.scalars(select(Notification))}
    assert rows[(2, "Son")].next_attempt_at == morning and rows[(2, "Son")].deferred_reason
    assert rows[(2, "Daughter")].next_attempt_at == T0  # no quiet hours set
    assert rows[(1, "Son")].next_attempt_at == T0


def test_messages_render_per_language_with_resident_place_time_and_link(env):
    hub, _client, _clock, ids = env
    put_policy(hub, ids["site"], [{"action": "notify_family", "seconds": 0}])
    raise_alert(hub, ids, T0)
    hub.escalation.tick(T0)
    with hub.session_factory() as session:
        son, daughter = list(session.scalars(select(Notification).order_by(Notification.id)))
    assert son.title == "【P1 一键呼叫】Li Mei" and "2026-09-21 22:13:20" in son.body and "North Home" in son.body
    assert re.search(r"https://care\.example/f/[\w-]{20,}", son.body)
    assert daughter.title == "[P1 SOS call] Li Mei" and "please call me" in daughter.body


def test_failed_deliveries_retry_with_backoff_then_give_up(env):
    hub, _client, clock, ids = env
    put_policy(hub, ids["site"], [{"action": "notify_on_duty"}])
    raise_alert(hub, ids, T0)
    hub.escalation.tick(T0)
    sender = NotificationSender(session_factory=hub.session_factory, clock=clock, max_attempts=4,
                                send=lambda url, title, body: (False, "connection refused"))
    waits = []
    for _ in range(4):
        (row,) = sender.claim(clock.now)
        assert sender.claim(clock.now) == []  # claimed once only
        sender.deliver(row)
        with hub.session_factory() as session:
            current = session.get(Notification, row.id)
        waits.append(current.next_attempt_at - clock.now)
        clock.now = current.next_attempt_at
    assert waits[:3] == [5.0, 15.0, 45.0] and current.state == "failed"
    with hub.session_factory() as session:
        assert session.query(DeliveryAttempt).count() == 4
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "notification.failed"))


def test_a_message_left_mid_send_by_a_crash_is_sent_again_not_lost(env):
    hub, _client, clock, ids = env
    put_policy(hub, ids["site"], [{"action": "notify_on_duty"}])
    raise_alert(hub, ids, T0)
    hub.escalation.tick(T0)
    sent = []
    sender = NotificationSender(session_factory=hub.session_factory, clock=clock,
                                send=lambda url, title, body: (sent.append(url), (True, ""))[1])
    assert len(sender.claim(T0)) == 1  # claimed, then the process died before sending
    assert sender.claim(T0) == []
    assert sender.recover() == 1
    (row,) = sender.claim(T0)
    assert sender.deliver(row) and sent == ["json://127.0.0.1:9/op"]


def test_family_answer_from_the_link_is_logged_on_the_alert(env):
    hub, client, clock, ids = env
    put_policy(hub, ids["site"], [{"action": "notify_family", "seconds": 0}])
    alert_id = raise_alert(hub, ids, T0)
    hub.escalation.tick(T0)
    with hub.session_factory() as session:
        body = session.scalars(select(Notification).order_by(Notification.id)).first().body
    path = re.search(r"https://care\.example(/f/[\w-]+)", body).group(1)
    page = client.get(path)
    assert page.status_code == 200 and "我来处理" in page.text
    assert client.post(path, data={"answer": "call_me"}).status_code == 200
    assert client.post(path, data={"answer": "nonsense"}).status_code == 422
    assert client.get("/f/not-a-real-token").status_code == 404
    history = alert_service.history(db_session=hub.session_factory(), alert_id=alert_id)
    answers = [h for h in history if h["action"] == "alert.family_response"]
    assert answers[0]["actor"] == "family:Son" and answers[0]["detail"]["answer"] == "call_me"
    clock.now = T0 + 4 * 86_400  # links expire
    assert client.get(path).status_code == 404


def test_policy_api_and_the_snapshot_is_frozen(env):
    hub, client, _clock, ids = env
    from hub.auth import service as auth_service
    from hub.auth.models import UserCreate

    with hub.session_factory() as session, session.begin():
        auth_service.create_user(db_session=session, user_in=UserCreate(
            username="siteadmin", password="correct horse battery", role="site_admin", site_ids=[ids["site"]]))
    token = client.post("/api/auth/token", data={"username": "siteadmin", "password": "correct horse battery"})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    body = {"name": "north sos", "site_id": ids["site"], "alert_type": "sos", "steps": P1_POLICY}
    assert client.put("/api/escalation/policies", json=body, headers=headers).status_code == 200
    assert client.put("/api/escalation/policies", json={**body, "site_id": None},
                      headers=headers).status_code == 403
    bad = {**body, "steps": [{"action": "repeat"}, {"action": "notify_on_duty"}]}
    assert client.put("/api/escalation/policies", json=bad, headers=headers).status_code == 422
    alert_id = raise_alert(hub, ids, T0)
    client.put("/api/escalation/policies", json={**body, "steps": [{"action": "notify_on_duty"}]}, headers=headers)
    with hub.session_factory() as session:
        assert len(session.get(Alert, alert_id).escalation["steps"]) == 9  # family step -> 3
    listed = client.get("/api/escalation/policies", headers=headers).json()
    assert [p["name"] for p in listed] == ["north sos"]
    notes = client.get(f"/api/alerts/{alert_id}/notifications", headers=headers)
    assert notes.status_code == 200


def test_a_signed_in_family_user_answers_only_their_relatives_alerts(env):
    hub, client, _clock, ids = env
    from hub.auth import service as auth_service
    from hub.auth.models import UserCreate

    alert_id = raise_alert(hub, ids, T0)
    with hub.session_factory() as session, session.begin():
        stranger = registry.create_resident(db_session=session, resident_in=ResidentCreate(
            name="Zhao Gang", site_id=ids["site"]))
        for name, role, residents in (("son", "family", [ids["mother"]]), ("other", "family", [stranger.id]),
                                      ("op", "duty_operator", [])):
            auth_service.create_user(db_session=session, user_in=UserCreate(
                username=name, password="correct horse battery", role=role, resident_ids=residents))

    def headers(user: str) -> dict:
        token = client.post("/api/auth/token", data={"username": user, "password": "correct horse battery"})
        return {"Authorization": f"Bearer {token.json()['access_token']}"}

    path = f"/api/alerts/{alert_id}/family-response"
    assert client.post(path, json={"answer": "handling"}, headers=headers("son")).status_code == 200
    assert client.post(path, json={"answer": "handling"}, headers=headers("other")).status_code == 404
    assert client.post(path, json={"answer": "handling"}, headers=headers("op")).status_code == 403
    assert client.post(path, json={"answer": "maybe"}, headers=headers("son")).status_code == 422
    history = alert_service.history(db_session=hub.session_factory(), alert_id=alert_id)
    assert [(h["actor"], h["detail"]["answer"]) for h in history if h["action"] == "alert.family_response"] == [
        ("user:1:son", "handling")]  # actor ids carry the user id
