"""Registry API through FastAPI's TestClient against a real SQLite file."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub import migrate
from hub.auth.principal import Principal
from hub.auth.roles import Role
from hub.db import make_engine, make_session_factory
from hub.deps import current_principal
from hub.devices.directory import DeviceDirectory
from hub.devices.views import Registry, router


@pytest.fixture
def api(tmp_path):
    url = f"sqlite:///{tmp_path / 'carehub.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    directory = DeviceDirectory(factory)
    directory.refresh()
    app = FastAPI()
    live = {1: {"online": True, "battery": 88.0}}
    # Authentication has its own tests; here every call is made by a signed-in administrator.
    admin = Principal(kind="user", id=1, name="admin", role=Role.ADMIN, site_ids=None)
    app.dependency_overrides[current_principal] = lambda: admin
    app.state.registry = Registry(session_factory=factory, directory=directory, live_state=lambda i: live.get(i, {}),
                                  supervision={"sos_button": 1200.0, "default": 3600.0})
    app.include_router(router)
    with TestClient(app) as client:
        yield client, directory
    engine.dispose()


def test_sites_rooms_residents_devices(api) -> None:
    client, directory = api
    site = client.post("/api/sites", json={"name": "Sunrise Home", "kind": "institution", "township": "Dipu",
                                           "county": "Anji", "lat": 30.63, "lon": 119.68})
    assert site.status_code == 201, site.text
    site_id = site.json()["id"]
    assert client.post("/api/sites", json={"name": "Sunrise Home"}).status_code == 409
    assert client.post("/api/sites", json={"name": "X", "kind": "castle"}).status_code == 422
    room = client.post("/api/rooms", json={"site_id": site_id, "building": "A", "name": "101"}).json()
    assert room == {"id": room["id"], "name": "101", "building_id": room["building_id"], "building": "A",
                    "site_id": site_id}
    assert [r["id"] for r in client.get("/api/rooms", params={"site_id": site_id}).json()] == [room["id"]]
    assert client.post("/api/rooms", json={"site_id": 999, "name": "1"}).status_code == 422

    born = dt.date.today().replace(year=dt.date.today().year - 80) - dt.timedelta(days=1)
    resident = client.post("/api/residents", json={
        "name": "Wang Fang", "external_id": "R-001", "birth_date": born.isoformat(),
        "living_situation": "alone", "medical_notes": "diabetes; pacemaker", "room_id": room["id"],
        "contacts": [
            {"name": "Wang Lei", "relation": "son", "phone": "+86 138 0000 0000", "order": 1,
             "apprise_urls": ["wecombot://KEY"], "language": "zh-CN"},
            {"name": "Anna", "relation": "neighbour", "phone": "+49 30 1234", "order": 2, "language": "en"},
        ],
    })
    assert resident.status_code == 201, resident.text
    body = resident.json()
    assert body["age"] == 80 and body["site_id"] == site_id
    assert [(c["name"], c["order"], c["language"]) for c in body["contacts"]] == [
        ("Wang Lei", 1, "zh-CN"), ("Anna", 2, "en")]
    by_year = client.post("/api/residents", json={"name": "Li Wei", "birth_year": 1950,
                                                  "living_situation": "empty_nest"}).json()
    assert by_year["age"] == dt.date.today().year - 1950
    assert [r["name"] for r in client.get("/api/residents").json()] == ["Li Wei", "Wang Fang"]
    assert client.get(f"/api/residents/{body['id']}").json()["medical_notes"] == "diabetes; pacemaker"

    device = client.post("/api/devices", json={
        "kind": "sos_button", "keys": ["ieee:0x00124B0012345678"], "room_id": room["id"],
        "resident_id": body["id"], "name": "Bed"})
    assert device.status_code == 201, device.text
    created = device.json()
    assert created["keys"] == ["ieee:0x00124b0012345678"] and created["site_id"] == site_id
    assert created["supervision_s"] == 1200.0 and created["state"] == {"online": True, "battery": 88.0}
    assert directory.lookup("ieee:0x00124b0012345678").resident_id == body["id"]  # router refreshed it

    duplicate = client.post("/api/devices", json={"kind": "watch", "keys": ["ieee:0x00124b0012345678"]})
    assert duplicate.status_code == 409 and "device #1" in duplicate.json()["detail"]
    for refused in ({"keys": ["imei:4901542032"]}, {"keys": []}, {"keys": ["ch:w"], "room_id": 77}):
        assert client.post("/api/devices", json={"kind": "watch", **refused}).status_code == 422

    assert [d["id"] for d in client.get("/api/devices", params={"kind": "sos_button"}).json()] == [1]
    assert client.get("/api/devices", params={"kind": "smoke_detector"}).json() == []
    assert client.get("/api/devices/1").json()["name"] == "Bed"
    assert client.get("/api/devices/99").status_code == 404

    staff = client.post("/api/staff", json={"name": "Zhao Min", "role": "operator", "site_id": site_id})
    assert staff.status_code == 201
    assert [s["name"] for s in client.get("/api/staff", params={"site_id": site_id}).json()] == ["Zhao Min"]


def test_pending_list_and_bind(api) -> None:
    client, directory = api
    key = "z2m:floor 2/hall button"
    directory.note_unknown(key, source="zigbee2mqtt", topic="zigbee2mqtt/floor 2/hall button",
                           payload=b'{"action":"single"}', info=None, ts=1000.0)
    pending = client.get("/api/devices/pending").json()
    assert [(p["device_key"], p["message_count"], p["first_payload"]) for p in pending] == [
        (key, 1, '{"action":"single"}')]
    site_id = client.post("/api/sites", json={"name": "Lotus"}).json()["id"]

    url = f"/api/devices/pending/{quote(key, safe='')}/bind"
    bound = client.post(url, json={"kind": "sos_button", "site_id": site_id, "name": "Hall"})
    assert bound.status_code == 201, bound.text
    assert bound.json()["keys"] == [key] and bound.json()["profile"] == "zigbee2mqtt"
    assert directory.lookup(key).name == "Hall"
    assert client.get("/api/devices/pending").json() == []
    assert client.post(url, json={"kind": "sos_button"}).status_code == 404
    assert client.post("/api/devices/pending/ch:x/bind", json={"kind": "toaster"}).status_code == 422
