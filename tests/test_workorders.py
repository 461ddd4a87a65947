"""Work orders from alerts and by hand: lifecycle, SLA escalation, suggestions, photos, scope (real SQLite, app)."""

from __future__ import annotations

import pytest

from hub.detect.detection import DetectionType
from hub.workorders import flows
from hub.workorders.rules import Rules
from tests.workorders_env import close_env, make_env


@pytest.fixture
def env(tmp_path, monkeypatch):
    env = make_env(tmp_path, monkeypatch)
    yield env
    close_env(env)


def _orders(env, user="disp", **params):
    response = env.client.get("/api/workorders", headers=env.login(user), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_alert_rules_make_the_default_order_types_and_a_repeat_makes_no_second_order(env):
    env.detect(DetectionType.SOS, device="z2m:sos-1", resident="mother")
    env.detect(DetectionType.SOS, device="z2m:sos-1", resident="mother")  # joins the open alert
    env.detect(DetectionType.INACTIVITY, device="resident:x", resident="mother")
    env.detect(DetectionType.VITALS, device="z2m:band-1", resident="mother")
    env.detect(DetectionType.BATTERY_LOW, device="z2m:band-1")
    orders = _orders(env)
    assert sorted((o["type"], o["priority"]) for o in orders) == [
        ("maintenance", 3), ("medical_follow_up", 2), ("onsite_check", 1), ("phone_check", 2)]
    sos = next(o for o in orders if o["type"] == "onsite_check")
    assert sos["status"] == "pending" and sos["source"] == "alert" and sos["roles"] == ["caregiver", "responder"]
    # SOS at P1: accept within 5 min, finish within 1 h (defaults), counted from the alert.
    assert sos["accept_due_at"] - sos["created_at"] == 300 and sos["finish_due_at"] - sos["created_at"] == 3600
    # The alert's side of the link: its orders are found by alert id.
    assert [o["id"] for o in _orders(env, alert_id=sos["alert_id"])] == [sos["id"]]
    # A worn device's flat battery is a maintenance job, not a hazard.
    band = next(o for o in orders if o["type"] == "maintenance")
    assert band["hazard_id"] is None


def test_rules_are_configurable_and_an_empty_rule_switches_one_off(tmp_path, monkeypatch):
    env = make_env(tmp_path, monkeypatch, workorder_rules={"inactivity": "", "sos": "service"},
                   workorder_sla={"service:p1": [60, 600]})
    try:
        env.detect(DetectionType.SOS, device="z2m:sos-1", resident="mother")
        env.detect(DetectionType.INACTIVITY, device="resident:x", resident="mother")
        (order,) = _orders(env)
        assert order["type"] == "service" and order["accept_due_at"] - order["created_at"] == 60
    finally:
        close_env(env)
    assert Rules.of().sla_for("maintenance", 3) == (8 * 3600, 72 * 3600)
    assert Rules.of().sla_for("onsite_check", 2) == (1800, 4 * 3600)


def test_full_lifecycle_with_check_in_photo_check_out_and_follow_up(env):
    env.detect(DetectionType.FALL, device="z2m:band-1", resident="mother")
    (order,) = _orders(env)
    url = f"/api/workorders/{order['id']}"
    disp, care = env.login("disp"), env.login("care")
    assert env.client.post(f"{url}/accept", headers=care).status_code == 409  # nobody dispatched it yet
    env.clock.now += 60
    dispatched = env.client.post(f"{url}/dispatch", headers=disp, json={"staff_id": env.ids["staff:Chen"]}).json()
    assert dispatched["status"] == "dispatched" and dispatched["assignee"] == "Chen"
    env.clock.now += 30
    assert env.client.post(f"{url}/accept", headers=care).json()["status"] == "accepted"
    env.clock.now += 600
    checked_in = env.client.post(f"{url}/check-in", headers=care, json={"lat": 30.01, "lon": 120.01}).json()
    assert (checked_in["status"], checked_in["check_in_lat"]) == ("in_service", 30.01)
    photo = env.client.post(f"{url}/photos", headers=care, files={"file": ("door.jpg", b"\xff\xd8jpeg", "image/jpeg")})
    assert photo.status_code == 200, photo.text
    (path,) = photo.json()["photos"]
    assert (env.settings.data_dir / path).read_bytes() == b"\xff\xd8jpeg"
    assert env.client.get(f"{url}/photos/0", headers=disp).content == b"\xff\xd8jpeg"
    refused = env.client.post(f"{url}/photos", headers=care, files={"file": ("x.txt", b"hi", "text/plain")})
    assert refused.status_code == 415
    env.clock.now += 1200
    done = env.client.post(f"{url}/check-out", headers=care, json={"result": "helped up, no injury"}).json()
    assert (done["status"], done["duration_s"], done["result"]) == ("completed", 1200, "helped up, no injury")
    assert env.client.post(f"{url}/follow-up-due", headers=disp).json()["status"] == "follow_up"
    closed = env.client.post(f"{url}/follow-up", headers=disp, json={"rating": 5, "comment": "很满意"}).json()
    assert (closed["status"], closed["rating"], closed["follow_up_comment"]) == ("closed", 5, "很满意")
    assert env.client.post(f"{url}/cancel", headers=disp, json={"reason": "x"}).status_code == 409
    history = env.client.get(url, headers=env.login("auditor")).json()["history"]
    assert [h["action"] for h in history] == [
        "workorder.created", "workorder.dispatched", "workorder.accepted", "workorder.checked_in",
        "workorder.photo_added", "workorder.completed", "workorder.follow_up_requested", "workorder.followed_up"]
    assert history[2]["actor"].endswith(":care")


def test_reject_returns_the_order_for_re_dispatch_and_cancel_needs_a_reason(env):
    env.detect(DetectionType.SOS, device="z2m:sos-1", resident="mother")
    (order,) = _orders(env)
    url = f"/api/workorders/{order['id']}"
    disp, care = env.login("disp"), env.login("care")
    env.client.post(f"{url}/dispatch", headers=disp, json={"assignee": "Chen"})
    env.clock.now += 100
    rejected = env.client.post(f"{url}/reject", headers=care, json={"reason": "already on another call"}).json()
    assert rejected["status"] == "pending" and rejected["assignee"] is None and rejected["reject_count"] == 1
    assert rejected["accept_due_at"] == env.clock.now + 300  # a fresh accept window
    again = env.client.post(f"{url}/dispatch", headers=disp, json={"staff_id": env.ids["staff:Wang"]}).json()
    assert again["assignee"] == "Wang"
    # Staff of another site cannot be sent.
    far = env.client.post(f"{url}/dispatch", headers=disp, json={"staff_id": env.ids["staff:Far Liu"]})
    assert far.status_code == 409
    assert env.client.post(f"{url}/cancel", headers=disp, json={}).status_code == 422
    cancelled = env.client.post(f"{url}/cancel", headers=disp, json={"reason": "resident fine, duplicate"}).json()
    assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"] == "resident fine, duplicate"


def test_an_order_nobody_accepts_escalates_once_per_breach_visibly_and_audited(env):
    env.detect(DetectionType.SOS, device="z2m:sos-1", resident="mother")
    (order,) = _orders(env)

    def check() -> list[dict]:
        with env.hub.session_factory() as session, session.begin():
            return flows.check_sla(db_session=session, now=env.clock.now)

    env.clock.now += 299
    assert check() == []
    env.clock.now += 1
    (escalation,) = check()
    assert (escalation["work_order_id"], escalation["kind"], escalation["level"]) == (order["id"], "not_accepted", 1)
    assert check() == []  # idempotent: the same breach escalates once
    env.clock.now += 60
    assert check() == []
    shown = env.client.get(f"/api/workorders/{order['id']}", headers=env.login("disp")).json()
    assert [e["kind"] for e in shown["escalations"]] == ["not_accepted"]
    assert [h for h in shown["history"] if h["action"] == "workorder.escalated"][0]["actor"] == "system"
    # Dispatched and accepted, it still has to be finished within the hour.
    url = f"/api/workorders/{order['id']}"
    env.client.post(f"{url}/dispatch", headers=env.login("disp"), json={"assignee": "Chen"})
    env.client.post(f"{url}/accept", headers=env.login("care"))
    env.clock.now = order["finish_due_at"]
    (late,) = check()
    assert late["kind"] == "not_finished" and late["status"] == "accepted" and late["level"] == 2
    assert check() == []
    # A rejected order gets a new accept window, and its breach escalates again.
    env.client.post(f"{url}/reject", headers=env.login("care"), json={"reason": "ill"})
    env.clock.now += 300
    assert [e["kind"] for e in check()] == ["not_accepted"]


def test_suggestions_rank_by_site_role_load_and_distance(env):
    env.detect(DetectionType.SOS, device="z2m:sos-1", resident="mother")
    env.detect(DetectionType.FALL, device="z2m:band-1", resident="mother")
    first, second = sorted(_orders(env), key=lambda o: o["id"])
    disp, care = env.login("disp"), env.login("care")
    # Chen takes the first order and checks in at the site: busy, but now has a known position.
    url = f"/api/workorders/{first['id']}"
    env.client.post(f"{url}/dispatch", headers=disp, json={"staff_id": env.ids["staff:Chen"]})
    env.client.post(f"{url}/accept", headers=care)
    env.client.post(f"{url}/check-in", headers=care, json={"lat": 30.0, "lon": 120.0})
    ranked = env.client.get(f"/api/workorders/{second['id']}/suggestions", headers=disp).json()
    # Site staff first (Wang idle, Chen busy), then the roving caregiver; the safety officer and the other
    # site's caregiver are not suggested for an on-site check here.
    assert [(s["name"], s["load"]) for s in ranked] == [("Wang", 0), ("Chen", 1), ("Roving Zhou", 0)]
    assert ranked[1]["distance_km"] == 0.0 and ranked[0]["distance_km"] is None
    # When Chen is free again, the known distance breaks the tie with Wang.
    env.client.post(f"{url}/check-out", headers=care, json={"result": "ok"})
    ranked = env.client.get(f"/api/workorders/{second['id']}/suggestions", headers=disp).json()
    assert [s["name"] for s in ranked[:2]] == ["Chen", "Wang"]


def test_scope_roles_and_manual_orders(env):
    env.detect(DetectionType.SOS, device="z2m:sos-1", resident="mother")
    (order,) = _orders(env)
    south = env.login("disp_south")
    assert env.client.get("/api/workorders", headers=south).json() == []
    assert env.client.get(f"/api/workorders/{order['id']}", headers=south).status_code == 404
    assert env.client.post(f"/api/workorders/{order['id']}/dispatch", headers=south,
                           json={"assignee": "x"}).status_code == 404
    assert env.client.get("/api/workorders", headers=env.login("son")).status_code == 403
    assert env.client.post(f"/api/workorders/{order['id']}/accept", headers=env.login("auditor")).status_code == 403
    body = {"type": "service", "title": "送餐 meal delivery", "site_id": env.ids["south"], "priority": 3}
    made = env.client.post("/api/workorders", headers=south, json=body)
    assert made.status_code == 201 and made.json()["source"] == "manual"
    assert made.json()["finish_due_at"] - made.json()["created_at"] == 72 * 3600
    assert env.client.post("/api/workorders", headers=south, json={**body, "site_id": env.ids["north"]}
                           ).status_code == 404
