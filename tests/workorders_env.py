"""A real hub on a real SQLite file, its app through TestClient, sites, staff and users for the work-order and
ledger tests."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from hub.api import create_app
from hub.auth import service as auth_service
from hub.auth.models import UserCreate
from hub.config import Settings
from hub.detect.detection import Detection, DetectionType
from hub.devices import service as registry
from hub.devices.models import DeviceCreate, DeviceKind, ResidentCreate, SiteCreate, SiteKind, StaffCreate, StaffRole
from hub.runtime import Hub
from tests.clock import Clock

PASSWORD = "correct horse battery"
# Monday 2026-06-01 00:00 in Asia/Shanghai.
MONDAY = 1_780_243_200.0


@dataclass
class Env:
    """What a test works with."""

    hub: Hub
    client: TestClient
    clock: Clock
    ids: dict
    settings: Settings

    def login(self, username: str) -> dict:
        """Return headers of a signed-in user."""
        response = self.client.post("/api/auth/token", data={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def detect(self, type: DetectionType, *, device: str, site: str = "north", resident: str | None = None) -> None:
        """Emit a detection as the detector engine would (recorded, alerts and their hooks in one transaction)."""
        self.hub.detections._emit([Detection(
            type=type, subject=device, t=self.clock.now, device_key=device, site_id=self.ids[site],
            resident_id=self.ids[resident] if resident else None)])
        self.hub.detections.flush()  # non-urgent detections otherwise wait for the engine's timer


USERS = [("disp", "dispatcher", "north"), ("disp_south", "dispatcher", "south"), ("care", "caregiver", "north"),
         ("safety", "safety_officer", "north"), ("safety2", "safety_officer", "north"), ("auditor", "auditor", None),
         ("son", "family", None), ("admin", "admin", None)]


def make_env(tmp_path, monkeypatch, **settings_kw) -> Env:
    """Build a hub with two sites (an institution and a home), a resident, staff and a user per role."""
    monkeypatch.setenv("CAREHUB_CONFIG", str(tmp_path / "absent.toml"))
    clock = Clock(MONDAY + 9 * 3600)
    settings = Settings(data_dir=tmp_path, mqtt_url="", influx_url="", **settings_kw)
    hub = Hub(settings, clock=clock)
    ids: dict = {}
    with hub.session_factory() as session, session.begin():
        north = registry.create_site(db_session=session, site_in=SiteCreate(
            name="North Home", kind=SiteKind.INSTITUTION, township="Qiaotou", county="Anji", lat=30.0, lon=120.0))
        south = registry.create_site(db_session=session, site_in=SiteCreate(name="South Flat", kind=SiteKind.HOME))
        ids.update(north=north.id, south=south.id)
        ids["mother"] = registry.create_resident(db_session=session, resident_in=ResidentCreate(
            name="Li Mei", site_id=north.id)).id
        staff = [("Chen", StaffRole.CAREGIVER, north.id), ("Wang", StaffRole.CAREGIVER, north.id),
                 ("Roving Zhou", StaffRole.CAREGIVER, None), ("Sun", StaffRole.SAFETY_OFFICER, north.id),
                 ("Far Liu", StaffRole.CAREGIVER, south.id)]
        for name, role, site in staff:
            ids[f"staff:{name}"] = registry.create_staff(db_session=session, staff_in=StaffCreate(
                name=name, role=role, site_id=site)).id
        for key, kind in [("z2m:smoke-1", DeviceKind.SMOKE_DETECTOR), ("z2m:band-1", DeviceKind.WRISTBAND),
                          ("z2m:sos-1", DeviceKind.SOS_BUTTON)]:
            ids[key] = registry.create_device(db_session=session, supervision={"default": 3600.0},
                                              device_in=DeviceCreate(kind=kind, keys=[key], site_id=north.id,
                                                                     name=key.split(":")[1])).id
    with hub.session_factory() as session, session.begin():
        for username, role, site in USERS:
            extra = {"site_ids": [ids[site]]} if site else {}
            if role == "family":
                extra = {"resident_ids": [ids["mother"]]}
            auth_service.create_user(db_session=session, user_in=UserCreate(username=username, password=PASSWORD,
                                                                            role=role, **extra))
    client = TestClient(create_app(hub))
    client.__enter__()
    return Env(hub, client, clock, ids, settings)


def close_env(env: Env) -> None:
    """Stop the client and release the database."""
    env.client.__exit__(None, None, None)
    env.hub.engine.dispose()
