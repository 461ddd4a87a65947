"""End to end: a detector that never sends a restore still raises a second alert after the first is resolved.

Real Mosquitto, a real pseudo-terminal pair and a real hub process: a Zigbee2MQTT gas alarm, an NB-IoT
(CTWing) smoke alarm and a Contact ID gas event each arrive, their alert is resolved, and the same alarm
arrives again with no restore in between.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest

from firmware_sim.receiver import SimulatedReceiver
from tests.hub_process import HubProcess, wait_for

IMEI = "869975031234567"  # valid Luhn check digit
DEVICES_CSV = "\n".join([
    "site,room,kind,vendor,model,profile,z2m_name,imei,cid_account,cid_zone,name",
    "Latch Home,101,gas_detector,HEIMAN,HS1CG,zigbee2mqtt,kitchen/gas,,,,Kitchen gas",
    f"Latch Home,102,smoke_detector,Generic,NB smoke,ctwing,,{IMEI},,,NB smoke 102",
    "Latch Home,103,gas_detector,Generic,Panel gas,,,,4321,003,Panel gas zone 3",
]) + "\n"




@pytest.fixture
def hub(mosquitto, pty_pair, tmp_path):
    proc = HubProcess(tmp_path / "hub-latch", mqtt_port=mosquitto.port,
                      client_id=f"hub-latch-{uuid.uuid4().hex[:8]}",
                      extra_env={"CAREHUB_SERIAL_PORTS": json.dumps([pty_pair.hub_end])})
    proc.import_devices(DEVICES_CSV)
    proc.start()
    wait_for(lambda: proc.api.get("/healthz").json()["receivers"][0].get("port_open"), 10, "serial port open")
    yield proc
    proc.stop()


def _open_alert(hub: HubProcess, alert_type: str, device_key: str, not_id: int | None = None) -> dict | None:
    for alert in hub.api.get("/api/alerts").json():
        if alert["type"] == alert_type and alert["device_key"] == device_key and alert["id"] != not_id:
            return alert
    return None


def _resolve(hub: HubProcess, alert: dict) -> None:
    response = hub.api.post(f"/api/alerts/{alert['id']}/resolve",
                            json={"outcome": "false_alarm", "note": "cooking fumes, checked by phone"})
    assert response.status_code == 200, response.text


def _publish(port: int, topic: str, payload: dict) -> None:
    subprocess.run(["mosquitto_pub", "-p", str(port), "-q", "1", "-t", topic, "-m", json.dumps(payload)],
                   check=True)


def _ctwing_smoke(ts_ms: int) -> dict:
    return {"deviceId": "a1b2c3" + IMEI, "IMEI": IMEI, "productId": "15012345", "timestamp": ts_ms,
            "messageType": "dataReport", "protocol": "lwm2m",
            "payload": {"serviceId": "1", "serviceData": {"Alarm_Status": 1, "Battery_Level": 90}}}


def test_an_alarm_after_its_resolved_alert_raises_a_second_alert_without_a_restore(hub, mosquitto, pty_pair):
    keys = {d["name"]: d["keys"][0] for d in hub.api.get("/api/devices").json()}
    senders = {
        "zigbee2mqtt": ("gas", keys["Kitchen gas"], lambda: _publish(
            mosquitto.port, "zigbee2mqtt/kitchen/gas", {"gas": True, "battery_low": False, "linkquality": 80})),
        "ctwing": ("fire_suspected", f"imei:{IMEI}", lambda: _publish(
            mosquitto.port, "ctwing/15012345", _ctwing_smoke(int(time.time() * 1000)))),
    }
    with SimulatedReceiver(pty_pair.device_end, retries=0) as rx:
        senders["contact_id"] = ("gas", "cid:4321:003", lambda: rx.send_event("4321", "151", "E", "01", "003"))
        for name, (alert_type, device_key, send) in senders.items():
            send()
            first = wait_for(lambda t=alert_type, k=device_key: _open_alert(hub, t, k), 10, f"{name}: first alert")
            send()  # still in alarm while the alert is open: joins nothing, raises nothing
            time.sleep(0.5)
            assert _open_alert(hub, alert_type, device_key, not_id=first["id"]) is None, name
            _resolve(hub, first)
            send()  # the same alarm again, no restore in between
            second = wait_for(lambda t=alert_type, k=device_key, n=first["id"]: _open_alert(hub, t, k, not_id=n), 10,
                               f"{name}: a second alert after the first was resolved")
            assert second["id"] > first["id"] and second["state"] == "new", name
