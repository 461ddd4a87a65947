"""End to end: an SOS from a device nobody has bound yet reaches its site's operator once the device is bound."""

from __future__ import annotations

import subprocess
import uuid

import httpx
import pytest

from tests.hub_process import HubProcess, wait_for

PASSWORD = "duty-room-password"
DEVICES_CSV = "\n".join([
    "site,room,kind,vendor,model,profile,z2m_name,name",
    "Pine Home,301,smoke_detector,HEIMAN,HS1SA,zigbee2mqtt,pine/301/smoke,Smoke 301",
]) + "\n"


@pytest.fixture(scope="module")
def hub(mosquitto, tmp_path_factory):
    proc = HubProcess(tmp_path_factory.mktemp("hub-rehome"), mqtt_port=mosquitto.port,
                      client_id=f"hub-rehome-{uuid.uuid4().hex[:6]}")
    proc.import_devices(DEVICES_CSV)
    proc.start()
    site_id = proc.api.get("/api/sites").json()[0]["id"]
    proc.add_user("pine_duty", PASSWORD, "duty_operator", "--site", str(site_id))
    yield proc
    proc.stop()


def _operator(hub: HubProcess) -> httpx.Client:
    token = httpx.post(f"{hub.url}/api/auth/token", data={"username": "pine_duty", "password": PASSWORD}).json()
    return httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10)




def test_binding_a_pending_device_gives_its_open_alert_and_events_their_site(hub, mosquitto):
    subprocess.run(["mosquitto_pub", "-p", str(mosquitto.port), "-q", "1", "-t", "zigbee2mqtt/pine/301/sos",
                    "-m", '{"action":"emergency","battery":90,"linkquality":60}'], check=True)
    alert = wait_for(lambda: next((a for a in hub.api.get("/api/alerts").json()
                                    if a["device_key"] == "z2m:pine/301/sos"), None), 10, "SOS alert raised")
    assert alert["site_id"] is None
    operator = _operator(hub)
    assert all(a["id"] != alert["id"] for a in operator.get("/api/alerts").json()), "unbound: no site yet"

    site_id = hub.api.get("/api/sites").json()[0]["id"]
    room_id = next(d["room_id"] for d in hub.api.get("/api/devices").json() if d["name"] == "Smoke 301")
    response = hub.api.post("/api/devices/pending/z2m:pine/301/sos/bind",
                            json={"kind": "sos_button", "site_id": site_id, "room_id": room_id})
    assert response.status_code == 201, response.text
    device_id = response.json()["id"]

    seen = {a["id"]: a for a in operator.get("/api/alerts").json()}
    assert alert["id"] in seen, "the site's operator must see the SOS raised before the bind"
    assert (seen[alert["id"]]["site_id"], seen[alert["id"]]["room_id"]) == (site_id, room_id)
    events = hub.api.get("/api/events", params={"device_key": "z2m:pine/301/sos"}).json()
    assert events and {e["device_id"] for e in events} == {device_id}


def test_binding_from_the_command_line_re_homes_too(hub, mosquitto):
    subprocess.run(["mosquitto_pub", "-p", str(mosquitto.port), "-q", "1", "-t", "zigbee2mqtt/pine/302/sos",
                    "-m", '{"action":"emergency","battery":90,"linkquality":60}'], check=True)
    alert = wait_for(lambda: next((a for a in hub.api.get("/api/alerts").json()
                                   if a["device_key"] == "z2m:pine/302/sos"), None), 10, "SOS alert raised")
    result = hub.cli("devices", "bind", "z2m:pine/302/sos", "--kind", "sos_button", "--site", "Pine Home",
                     "--room", "302")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 open alert(s) it raised while pending now belong to its site" in result.stdout
    assert alert["id"] in {a["id"] for a in _operator(hub).get("/api/alerts").json()}
