"""Rule 5 and 6: a fire alarm makes alert, red hazard and work order in one transaction; a dead smoke detector
makes a hazard and a maintenance order, never a fire alert."""

from __future__ import annotations

import sqlite3

import pytest

from hub.detect.detection import DetectionType
from tests.workorders_env import close_env, make_env


@pytest.fixture
def env(tmp_path, monkeypatch):
    env = make_env(tmp_path, monkeypatch)
    yield env
    close_env(env)


def _count(env, table: str, where: str = "1=1") -> int:
    with sqlite3.connect(env.settings.data_dir / "carehub.db") as conn:
        return conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]


def test_smoke_alarm_at_an_institution_writes_alert_red_hazard_and_order_linked_both_ways(env):
    env.detect(DetectionType.FIRE, device="z2m:smoke-1")
    op = env.login("disp")
    (alert,) = env.client.get("/api/alerts", headers=op).json()
    assert (alert["type"], alert["priority"]) == ("fire", 1)
    (order,) = env.client.get("/api/workorders", headers=op, params={"alert_id": alert["id"]}).json()
    (hazard,) = env.client.get("/api/hazards", headers=op, params={"alert_id": alert["id"]}).json()
    assert order["type"] == "safety_check" and order["roles"][0] == "safety_officer"
    assert (hazard["level"], hazard["category"], hazard["status"], hazard["source"]) == ("red", "fire",
                                                                                         "registered", "alert")
    assert hazard["deadline_at"] - hazard["registered_at"] == 24 * 3600
    # Linked both ways: order → alert and hazard, hazard → alert and order.
    assert (order["alert_id"], order["hazard_id"]) == (alert["id"], hazard["id"])
    assert (hazard["alert_id"], hazard["work_order_id"]) == (alert["id"], order["id"])
    assert [o["id"] for o in env.client.get("/api/workorders", headers=op,
                                            params={"hazard_id": hazard["id"]}).json()] == [order["id"]]
    with sqlite3.connect(env.settings.data_dir / "carehub.db") as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    assert {"alert.raised", "workorder.created", "hazard.registered", "workorder.hazard_linked"} <= set(actions)


def test_if_the_hazard_insert_fails_nothing_of_the_alarm_is_written(env):
    db = env.settings.data_dir / "carehub.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TRIGGER refuse_hazard BEFORE INSERT ON hazards "
                     "BEGIN SELECT RAISE(ABORT, 'hazard insert refused'); END")
    audit_before = _count(env, "audit_log")
    with pytest.raises(Exception, match="hazard insert refused"):
        env.detect(DetectionType.FIRE, device="z2m:smoke-1")
    assert [_count(env, t) for t in ("detections", "alerts", "work_orders", "hazards")] == [0, 0, 0, 0]
    assert _count(env, "audit_log") == audit_before
    # The detection engine keeps what it could not write and writes it all once the store accepts it.
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER refuse_hazard")
    env.hub.detections.flush()
    assert [_count(env, t) for t in ("detections", "alerts", "work_orders", "hazards")] == [1, 1, 1, 1]
    assert _count(env, "hazards", "work_order_id = (SELECT id FROM work_orders)") == 1
    assert _count(env, "work_orders", "hazard_id = (SELECT id FROM hazards)") == 1


@pytest.mark.parametrize("problem", [DetectionType.DEVICE_OFFLINE, DetectionType.BATTERY_LOW, DetectionType.TAMPER,
                                     DetectionType.FAULT])
def test_a_smoke_detector_problem_is_a_hazard_and_a_maintenance_order_not_a_fire_alert(env, problem):
    env.detect(problem, device="z2m:smoke-1")
    op = env.login("safety")
    (alert,) = env.client.get("/api/alerts", headers=op).json()
    assert alert["type"] == problem.value and alert["priority"] == 3
    (order,) = env.client.get("/api/workorders", headers=op).json()
    (hazard,) = env.client.get("/api/hazards", headers=op).json()
    assert order["type"] == "maintenance" and order["hazard_id"] == hazard["id"]
    assert (hazard["level"], hazard["category"], hazard["work_order_id"]) == ("orange", "fire", order["id"])
    assert hazard["deadline_at"] - hazard["registered_at"] == 72 * 3600


def test_a_condition_that_clears_before_dispatch_cancels_the_order_but_keeps_the_hazard(env):
    from hub.detect.detection import Detection, DetectionState

    env.detect(DetectionType.BATTERY_LOW, device="z2m:smoke-1")
    env.hub.detections._emit([Detection(type=DetectionType.BATTERY_LOW, subject="z2m:smoke-1", t=env.clock.now,
                                        state=DetectionState.CLEARED, device_key="z2m:smoke-1",
                                        site_id=env.ids["north"])])
    env.hub.detections.flush()
    op = env.login("safety")
    (order,) = env.client.get("/api/workorders", headers=op, params={"status": "cancelled"}).json()
    assert "cleared" in order["cancel_reason"]
    assert env.client.get("/api/hazards", headers=op).json()[0]["status"] == "registered"


def test_hazard_rules_and_deadlines_are_configurable(tmp_path, monkeypatch):
    env = make_env(tmp_path, monkeypatch, hazard_rules={"fire": "orange", "device": ""},
                   hazard_deadlines_h={"orange": 48})
    try:
        env.detect(DetectionType.FIRE, device="z2m:smoke-1")
        env.detect(DetectionType.BATTERY_LOW, device="z2m:smoke-1")
        (hazard,) = env.client.get("/api/hazards", headers=env.login("safety")).json()
        assert hazard["level"] == "orange" and hazard["deadline_at"] - hazard["registered_at"] == 48 * 3600
    finally:
        close_env(env)


def test_a_flapping_device_keeps_one_open_order_and_one_open_hazard_with_each_recurrence_in_history(env):
    from hub.detect.detection import Detection, DetectionState

    def flap():
        env.hub.detections._emit([Detection(type=DetectionType.TAMPER, subject="z2m:smoke-1", t=env.clock.now,
                                            state=DetectionState.CLEARED, device_key="z2m:smoke-1",
                                            site_id=env.ids["north"])])
        env.hub.detections.flush()
        env.clock.now += 60
        env.detect(DetectionType.TAMPER, device="z2m:smoke-1")

    env.detect(DetectionType.TAMPER, device="z2m:smoke-1")
    op = env.login("safety")
    (order,) = env.client.get("/api/workorders", headers=op).json()
    assert env.client.post(f"/api/workorders/{order['id']}/dispatch", headers=op,
                           json={"assignee": "safety"}).status_code == 200  # someone is on it: not cancelled
    flap()
    flap()
    alerts = env.client.get("/api/alerts", headers=op,
                            params={"state": ["new", "acknowledged", "dispatched", "resolved", "closed"]}).json()
    assert len(alerts) == 3
    assert [o["id"] for o in env.client.get("/api/workorders", headers=op).json()] == [order["id"]]
    (hazard,) = env.client.get("/api/hazards", headers=op).json()
    assert hazard["work_order_id"] == order["id"]
    recurred = [h for h in env.client.get(f"/api/hazards/{hazard['id']}", headers=op).json()["history"]
                if h["action"] == "hazard.recurred"]
    assert sorted(h["detail"]["alert_id"] for h in recurred) == sorted(a["id"] for a in alerts)[1:]
    history = env.client.get(f"/api/workorders/{order['id']}", headers=op).json()["history"]
    assert [h["action"] for h in history].count("workorder.recurred") == 2
    # A fire on the same detector is not folded into its device-problem hazard.
    env.detect(DetectionType.FIRE, device="z2m:smoke-1")
    levels = sorted(h["level"] for h in env.client.get("/api/hazards", headers=op).json())
    assert levels == ["orange", "red"]


def _resolve(env, headers, alert_id: int) -> None:
    response = env.client.post(f"/api/alerts/{alert_id}/resolve", headers=headers,
                               json={"outcome": "false_alarm", "note": "pressed by mistake, resident fine"})
    assert response.status_code == 200, response.text


def test_resolving_an_alert_cancels_its_untaken_order_but_a_taken_order_stays_as_its_own_work(env):
    op = env.login("disp")
    env.detect(DetectionType.SOS, device="z2m:sos-1")
    (first,) = env.client.get("/api/alerts", headers=op).json()
    _resolve(env, op, first["id"])
    (order,) = env.client.get("/api/workorders", headers=op, params={"alert_id": first["id"]}).json()
    assert order["status"] == "cancelled" and f"alert #{first['id']} resolved" in order["cancel_reason"]

    env.clock.now += 600
    env.detect(DetectionType.SOS, device="z2m:sos-1")
    (second,) = env.client.get("/api/alerts", headers=op).json()
    (taken,) = env.client.get("/api/workorders", headers=op, params={"alert_id": second["id"]}).json()
    assert env.client.post(f"/api/workorders/{taken['id']}/dispatch", headers=op,
                           json={"assignee": "care"}).status_code == 200
    _resolve(env, op, second["id"])
    assert env.client.get(f"/api/workorders/{taken['id']}", headers=op).json()["status"] == "dispatched"

    # A later SOS from the same button is a new incident: its own order, not a recurrence on the taken one.
    env.clock.now += 600
    env.detect(DetectionType.SOS, device="z2m:sos-1")
    (third,) = env.client.get("/api/alerts", headers=op).json()
    (own,) = env.client.get("/api/workorders", headers=op, params={"alert_id": third["id"]}).json()
    assert own["id"] != taken["id"] and own["status"] == "pending"


def test_a_resolved_device_alert_leaves_its_repair_open(env):
    op = env.login("safety")
    env.detect(DetectionType.BATTERY_LOW, device="z2m:smoke-1")
    (alert,) = env.client.get("/api/alerts", headers=op).json()
    _resolve(env, op, alert["id"])
    (order,) = env.client.get("/api/workorders", headers=op, params={"alert_id": alert["id"]}).json()
    assert (order["type"], order["status"]) == ("maintenance", "pending")


def test_a_single_smoke_alarm_opens_a_red_hazard_and_the_rooms_confirmed_fire_joins_it(env):
    from hub.detect.detection import Detection

    with env.hub.session_factory() as session, session.begin():
        from hub.devices import service as registry
        room = registry.get_or_create_room(db_session=session, site_id=env.ids["north"], building="A", name="101")
        room_id = room.id
    for dtype, subject, device in ((DetectionType.FIRE_SUSPECTED, "z2m:smoke-1", "z2m:smoke-1"),
                                   (DetectionType.FIRE, f"room:{room_id}", None)):
        env.hub.detections._emit([Detection(type=dtype, subject=subject, t=env.clock.now, device_key=device,
                                            site_id=env.ids["north"], room_id=room_id)])
    env.hub.detections.flush()
    op = env.login("safety")
    (hazard,) = env.client.get("/api/hazards", headers=op).json()
    assert (hazard["level"], hazard["category"], hazard["device_key"]) == ("red", "fire", "z2m:smoke-1")
    history = env.client.get(f"/api/hazards/{hazard['id']}", headers=op).json()["history"]
    assert [h["action"] for h in history].count("hazard.recurred") == 1
