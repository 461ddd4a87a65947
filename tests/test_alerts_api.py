"""Alerts, sign-in, scope and audit through the real app (TestClient) on a real SQLite hub store."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from hub.api import create_app
from hub.config import Settings
from hub.detect.detection import Detection, DetectionState, DetectionType
from hub.devices import service as registry
from hub.devices.models import ResidentCreate, SiteCreate
from hub.runtime import Hub
from tests.clock import Clock

PASSWORD = "correct horse battery"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREHUB_CONFIG", str(tmp_path / "absent.toml"))
    clock = Clock()
    settings = Settings(data_dir=tmp_path, mqtt_url="", influx_url="", login_attempts=3)
    hub = Hub(settings, clock=clock)
    with hub.session_factory() as session, session.begin():
        north = registry.create_site(db_session=session, site_in=SiteCreate(name="North Home"))
        south = registry.create_site(db_session=session, site_in=SiteCreate(name="South Home"))
        mother = registry.create_resident(db_session=session, resident_in=ResidentCreate(
            name="Li Mei", site_id=north.id, medical_notes="warfarin"))
        stranger = registry.create_resident(db_session=session, resident_in=ResidentCreate(
            name="Zhao Gang", site_id=south.id))
        ids = {"north": north.id, "south": south.id, "mother": mother.id, "stranger": stranger.id}
    from hub.auth import service as auth_service
    from hub.auth.models import UserCreate
    with hub.session_factory() as session, session.begin():
        for name, role, extra in [("op", "duty_operator", {}),
                                  ("op_south", "duty_operator", {"site_ids": [ids["south"]]}),
                                  ("son", "family", {"resident_ids": [ids["mother"]]}),
                                  ("safety", "safety_officer", {}), ("auditor", "auditor", {})]:
            auth_service.create_user(db_session=session, user_in=UserCreate(
                username=name, password=PASSWORD, role=role, **extra))
    app = create_app(hub)
    with TestClient(app) as client:
        yield hub, client, clock, ids, settings
    hub.engine.dispose()


def login(client, username: str, password: str = PASSWORD) -> dict:
    response = client.post("/api/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def sos(hub: Hub, resident_id: int, site_id: int, t: float, device: str = "z2m:sos-1") -> None:
    hub.detections._emit([Detection(type=DetectionType.SOS, subject=device, t=t, device_key=device,
                                    resident_id=resident_id, site_id=site_id)])


def test_every_data_endpoint_needs_authentication(env):
    _hub, client, _clock, _ids, _settings = env
    open_paths = {"/api/auth/token", "/api/auth/refresh"}
    checked = 0
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        if not path.startswith("/api/") or path in open_paths:
            continue
        concrete = path.replace("{alert_id}", "1").replace("{device_id}", "1").replace("{resident_id}", "1") \
            .replace("{device_key}", "x").replace("{platform}", "ctwing")
        for method in operations:
            response = client.request(method.upper(), concrete)
            assert response.status_code == 401, (method, path, response.status_code)
            checked += 1
    assert checked >= 25
    assert client.get("/healthz").status_code == 200


def test_sign_in_refresh_rotation_and_rate_limit(env):
    _hub, client, _clock, _ids, _settings = env
    pair = client.post("/api/auth/token", data={"username": "op", "password": PASSWORD}).json()
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}).json()
    assert me["role"] == "duty_operator" and "alerts:act" in me["permissions"]
    fresh = client.post("/api/auth/refresh", data={"refresh_token": pair["refresh_token"]})
    assert fresh.status_code == 200
    # The old refresh token was rotated away; using it again ends every session of the user.
    assert client.post("/api/auth/refresh", data={"refresh_token": pair["refresh_token"]}).status_code == 401
    assert client.post("/api/auth/refresh", data={"refresh_token": fresh.json()["refresh_token"]}).status_code == 401
    # An access token is not a refresh token, and a forged one is refused.
    assert client.post("/api/auth/refresh", data={"refresh_token": pair["access_token"]}).status_code == 401
    assert client.get("/api/alerts", headers={"Authorization": "Bearer x.y.z"}).status_code == 401
    # Three failed attempts are allowed (login_attempts=3); the fourth is refused even with the right password.
    for _ in range(3):
        assert client.post("/api/auth/token", data={"username": "son", "password": "wrong"}).status_code == 401
    limited = client.post("/api/auth/token", data={"username": "son", "password": PASSWORD})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_sos_repeats_join_one_p1_alert_and_the_lifecycle_rules_hold(env):
    hub, client, clock, ids, _settings = env
    op = login(client, "op")
    for i in range(10):
        sos(hub, ids["mother"], ids["north"], clock.now + 3 * i)
    queue = client.get("/api/alerts", headers=op).json()
    assert len(queue) == 1
    alert = queue[0]
    assert (alert["type"], alert["priority"], alert["state"], alert["count"]) == ("sos", 1, "new", 10)
    url = f"/api/alerts/{alert['id']}"
    clock.now += 42
    acked = client.post(f"{url}/acknowledge", headers=op).json()
    assert acked["state"] == "acknowledged" and acked["acknowledged_at"] - acked["created_at"] == 42
    assert client.post(f"{url}/acknowledge", headers=op).status_code == 409
    dispatched = client.post(f"{url}/dispatch", headers=op, json={"responder": "Caregiver Chen"}).json()
    assert dispatched["arrival_due_at"] == clock.now + 1800
    # A P1 alert needs an outcome and a note; nothing but a person resolves it.
    assert client.post(f"{url}/resolve", headers=op, json={"outcome": "genuine"}).status_code == 409
    assert client.post(f"{url}/resolve", headers=op, json={"outcome": "restored", "note": "x"}).status_code == 409
    resolved = client.post(f"{url}/resolve", headers=op, json={"outcome": "genuine", "note": "fell in bathroom"})
    assert resolved.json()["state"] == "resolved" and resolved.json()["outcome"] == "genuine"
    assert client.get("/api/alerts", headers=op).json() == []
    # After resolution a new press is a new alert.
    sos(hub, ids["mother"], ids["north"], clock.now + 100)
    queue = client.get("/api/alerts", headers=op).json()
    assert len(queue) == 1 and queue[0]["id"] != alert["id"] and queue[0]["count"] == 1
    detail = client.get(url, headers=op).json()
    # The escalation's start is part of the history too (its steps run on the hub's timer, not here).
    assert [h["action"] for h in detail["history"]] == ["alert.raised", "escalation.started"] + [
        "alert.repeated"] * 9 + ["alert.acknowledged", "alert.dispatched", "alert.resolved"]
    assert detail["resident"]["medical_notes"] == "warfarin"


def test_queue_orders_by_priority_then_age(env):
    hub, client, clock, ids, _settings = env
    hub.detections._emit([Detection(type=DetectionType.INACTIVITY, subject=f"resident:{ids['mother']}",
                                    t=clock.now, resident_id=ids["mother"], site_id=ids["north"])])
    clock.now += 5
    hub.detections._emit([Detection(type=DetectionType.BATTERY_LOW, subject="z2m:smoke", t=clock.now,
                                    device_key="z2m:smoke", site_id=ids["north"])])
    clock.now += 5
    sos(hub, ids["stranger"], ids["south"], clock.now)
    clock.now += 5
    sos(hub, ids["mother"], ids["north"], clock.now)
    queue = client.get("/api/alerts", headers=login(client, "op")).json()
    assert [(a["priority"], a["type"], a["resident_id"]) for a in queue] == [
        (1, "sos", ids["stranger"]), (1, "sos", ids["mother"]), (2, "inactivity", ids["mother"]),
        (3, "battery_low", None)]


def test_family_and_site_scope_never_disclose_other_residents(env):
    hub, client, clock, ids, _settings = env
    sos(hub, ids["mother"], ids["north"], clock.now, device="z2m:sos-mother")
    sos(hub, ids["stranger"], ids["south"], clock.now, device="z2m:sos-stranger")
    everyone = {a["resident_id"]: a["id"] for a in client.get("/api/alerts", headers=login(client, "op")).json()}
    son = login(client, "son")
    assert [a["resident_id"] for a in client.get("/api/alerts", headers=son).json()] == [ids["mother"]]
    assert client.get(f"/api/alerts/{everyone[ids['mother']]}", headers=son).status_code == 200
    for path in (f"/api/alerts/{everyone[ids['stranger']]}", "/api/alerts/999999"):
        response = client.get(path, headers=son)
        # The same answer as for an alert that does not exist.
        assert response.status_code == 404
        assert response.json() == {"detail": f"alert {path.rsplit('/', 1)[1]} not found"}
    # Families read but do not run the duty room, and never see the registry.
    assert client.post(f"/api/alerts/{everyone[ids['mother']]}/acknowledge", headers=son).status_code == 403
    assert client.get("/api/residents", headers=son).status_code == 403
    # ... but they know their own relative by name, and only them.
    assert client.get("/api/auth/me", headers=son).json()["relatives"] == [{"id": ids["mother"], "name": "Li Mei"}]
    assert client.get("/api/auth/me", headers=login(client, "op")).json()["relatives"] == []
    # A site-scoped operator sees only their site.
    south = login(client, "op_south")
    assert [a["resident_id"] for a in client.get("/api/alerts", headers=south).json()] == [ids["stranger"]]
    assert client.post(f"/api/alerts/{everyone[ids['mother']]}/acknowledge", headers=south).status_code == 404
    assert client.get(f"/api/residents/{ids['mother']}", headers=south).status_code == 404


def test_medical_notes_are_masked_by_role_and_reads_are_audited(env, tmp_path):
    hub, client, _clock, ids, _settings = env
    assert client.get(f"/api/residents/{ids['mother']}", headers=login(client, "safety")).json()[
        "medical_notes"] == "***"
    assert client.get("/api/residents", headers=login(client, "op")).json()[0]["medical_notes"] == "***"
    assert client.get(f"/api/residents/{ids['mother']}", headers=login(client, "op")).json()[
        "medical_notes"] == "warfarin"
    with sqlite3.connect(tmp_path / "carehub.db") as conn:
        reads = conn.execute("SELECT actor FROM audit_log WHERE action='resident.medical_notes.read'").fetchall()
    assert reads == [("user:1:op",)]


def test_tampering_with_one_audit_row_fails_verification_and_names_it(env, tmp_path):
    hub, client, clock, ids, _settings = env
    for i in range(5):
        sos(hub, ids["mother"], ids["north"], clock.now + i)
    cli_env = {"CAREHUB_CONFIG": str(tmp_path / "absent.toml"), "CAREHUB_DATA_DIR": str(tmp_path),
               "PATH": "/usr/bin:/bin"}

    def verify() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hub", "audit", "verify"], env=cli_env, capture_output=True,
                              text=True, timeout=60)

    with sqlite3.connect(tmp_path / "carehub.db") as conn:
        rows = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        # Alert hooks (work orders, escalation) append rows of their own: find the third press by its content.
        row = conn.execute("SELECT id FROM audit_log WHERE action = 'alert.repeated' "
                           "AND json_extract(detail, '$.count') = 3").fetchone()[0]
    intact = verify()
    assert intact.returncode == 0 and f"{rows} rows verified" in intact.stdout, intact.stdout + intact.stderr
    with sqlite3.connect(tmp_path / "carehub.db") as conn:
        conn.execute(f"UPDATE audit_log SET detail = json_set(detail, '$.count', 1) WHERE id = {row}")
    broken = verify()
    assert broken.returncode == 1
    assert f"row {row}" in broken.stderr and "modified" in broken.stderr
    with sqlite3.connect(tmp_path / "carehub.db") as conn:
        conn.execute(f"UPDATE audit_log SET detail = json_set(detail, '$.count', 3) WHERE id = {row}")
    assert verify().returncode == 0  # the original content verifies again: the check is exact
    with sqlite3.connect(tmp_path / "carehub.db") as conn:
        conn.execute(f"DELETE FROM audit_log WHERE id = {row - 1}")
    deleted = verify()
    assert deleted.returncode == 1 and f"row {row}" in deleted.stderr and "deleted" in deleted.stderr


def test_a_cleared_device_condition_resolves_an_untouched_p3_alert_only(env):
    hub, client, clock, ids, _settings = env
    for kind in (DetectionType.BATTERY_LOW, DetectionType.SOS):
        hub.detections._emit([Detection(type=kind, subject="z2m:dev", t=clock.now, device_key="z2m:dev",
                                        site_id=ids["north"])])
    clock.now += 60
    for kind in (DetectionType.BATTERY_LOW, DetectionType.SOS):
        hub.detections._emit([Detection(type=kind, subject="z2m:dev", t=clock.now, device_key="z2m:dev",
                                        site_id=ids["north"], state=DetectionState.CLEARED)])
    op = login(client, "op")
    open_now = client.get("/api/alerts", headers=op).json()
    assert [(a["type"], a["cleared_at"]) for a in open_now] == [("sos", clock.now)]
    done = client.get("/api/alerts", headers=op, params={"state": "resolved"}).json()
    assert [(a["type"], a["outcome"]) for a in done] == [("battery_low", "restored")]
