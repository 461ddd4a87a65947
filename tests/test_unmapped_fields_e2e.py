"""Over real Mosquitto and a real hub process: every field is stored or counted, every topic decoded or counted.

Issue 11, class 4: a watch's SpO2, blood pressure and position were dropped silently, a platform's
signal strength was stored with the wrong sign, and messages on an unconfigured topic root vanished.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.hub_process import HubProcess

WATCH_IMEI = "865067123456785"  # Luhn-valid IMEIs: the registry checks them when binding
STRANGER_IMEI = "352099001761481"
NB_IMEI = "869975031234563"
DEVICES_CSV = "\n".join([
    "site,building,room,resident,kind,vendor,model,profile,imei,supervision_s,name",
    f"Sunshine Home,A,102,Li Wei,watch,Generic,4G-W1,watch,{WATCH_IMEI},3600,Watch 102",
    f"Sunshine Home,A,102,,smoke_detector,Generic,NB-S1,ctwing,{NB_IMEI},86400,NB smoke 102",
]) + "\n"


@pytest.fixture(scope="module")
def hub(mosquitto, tmp_path_factory):
    proc = HubProcess(tmp_path_factory.mktemp("hub-unmapped"), mqtt_port=mosquitto.port,
                      client_id=f"hub-unmapped-{uuid.uuid4().hex[:6]}")
    proc.import_devices(DEVICES_CSV)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def publish(mosquitto):
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()

    def send(topic: str, payload: object, qos: int = 1) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        client.publish(topic, body, qos=qos).wait_for_publish(10)

    yield send
    client.loop_stop()
    client.disconnect()


def _wait(fetch, ok, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    value = fetch()
    while not ok(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = fetch()
    return value


def _metric(hub: HubProcess, name: str, **labels: str) -> float:
    """Return the value of one Prometheus sample of the hub (0 when absent)."""
    text = httpx.get(f"{hub.url}/metrics").text
    for match in re.finditer(rf"^{name}\{{(.*?)\}} (\S+)$", text, re.M):
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1)))
        if found == labels and not math.isnan(float(match.group(2))):
            return float(match.group(2))
    return 0.0


def _state(hub: HubProcess, device_key: str) -> dict:
    return next((d for d in hub.api.get("/api/devices/state").json() if d["device_key"] == device_key), {})


def _history(hub: HubProcess, device_key: str, metric: str) -> list[float]:
    body = hub.api.get("/api/readings/history", params={"device_key": device_key, "metric": metric}).json()
    return [p["value"] for p in body["points"]]


def test_watch_spo2_blood_pressure_and_position_are_stored_and_nothing_is_unmapped(hub, publish):
    key = f"imei:{WATCH_IMEI}"
    # Vendor spellings the watch profile once dropped: blood_oxygen, bp "sys/dia", a nested gps fix.
    publish(f"watch/{WATCH_IMEI}/up", {
        "IMEI": WATCH_IMEI, "type": "health", "blood_oxygen": 97, "bp": "121/79", "pulse": 71,
        "gps": {"lat": "31.2304N", "lng": "121.4737E", "type": "GPS", "accuracy": 8},
        "lbs": {"mcc": 460, "mnc": "00", "lac": "0x10CD", "cid": 20986},
    })
    stored = {"spo2": [97.0], "bp_systolic": [121.0], "bp_diastolic": [79.0], "heart_rate": [71.0],
              "latitude": [31.2304], "longitude": [121.4737], "location_accuracy": [8.0],
              "location_source": [1.0], "cell_mcc": [460.0], "cell_lac": [4301.0], "cell_cid": [20986.0]}
    history = _wait(lambda: {m: _history(hub, key, m) for m in stored}, lambda h: h == stored)
    assert history == stored
    state = _state(hub, key)
    assert state["readings"]["spo2"]["unit"] == "%" and state["readings"]["latitude"]["unit"] == "deg"
    assert state["unmapped_fields"] == {}
    assert _metric(hub, "carehub_unmapped_fields_total", profile="watch", field="bp") == 0.0


def test_unknown_fields_are_counted_in_metrics_and_shown_on_the_pending_and_bound_device(hub, publish):
    publish(f"watch/{STRANGER_IMEI}/up", {"IMEI": STRANGER_IMEI, "heartRate": 66, "stressLevel": 31,
                                          "sleep": {"deep": 120}})
    pending = _wait(lambda: {p["device_key"]: p for p in hub.api.get("/api/devices/pending").json()},
                    lambda p: p.get(f"imei:{STRANGER_IMEI}", {}).get("unmapped_fields"))
    assert pending[f"imei:{STRANGER_IMEI}"]["unmapped_fields"] == {"stressLevel": 1, "sleep": 1}
    assert _metric(hub, "carehub_unmapped_fields_total", profile="watch", field="stressLevel") == 1.0
    assert _metric(hub, "carehub_unmapped_fields_total", profile="watch", field="sleep") == 1.0

    publish(f"watch/{WATCH_IMEI}/up", {"IMEI": WATCH_IMEI, "battery": 80, "calories": 230})
    state = _wait(lambda: _state(hub, f"imei:{WATCH_IMEI}"), lambda s: s.get("unmapped_fields"))
    assert state["unmapped_fields"] == {"calories": 1}
    assert state["readings"]["battery"]["value"] == 80.0
    assert _history(hub, f"imei:{WATCH_IMEI}", "calories") == []  # counted, never stored as telemetry


def test_nb_iot_signal_magnitudes_are_stored_as_negative_dbm(hub, publish):
    key = f"imei:{NB_IMEI}"
    publish("ctwing/relay", {"messageType": "dataReport", "IMEI": NB_IMEI, "productId": "15012345",
                             "timestamp": int(time.time() * 1000),
                             "payload": {"serviceId": "smoke", "serviceData": {
                                 "Alarm_Status": 7, "RSRP": 105, "SNR": -8, "rssi": 870}}})
    # RSRP sent as a magnitude, RSSI in tenths as a magnitude; a negative SNR keeps its sign
    want = {"rsrp": [-105.0], "snr": [-8.0], "rssi": [-87.0]}
    history = _wait(lambda: {m: _history(hub, key, m) for m in want}, lambda h: h == want)
    assert history == want
    assert _state(hub, key)["unmapped_fields"] == {}


def test_messages_on_an_unconfigured_root_are_counted_by_root(hub, publish):
    before = _metric(hub, "carehub_undecoded_messages_total", root="wearables")
    covered_before = _metric(hub, "carehub_undecoded_messages_total", root="watch")
    for i in range(3):
        publish(f"wearables/{STRANGER_IMEI}/up", {"IMEI": STRANGER_IMEI, "spo2": 95 + i}, qos=0)
    publish(f"watch/{WATCH_IMEI}/up", {"IMEI": WATCH_IMEI, "battery": 79})  # a configured root: decoded
    count = _wait(lambda: _metric(hub, "carehub_undecoded_messages_total", root="wearables"),
                  lambda n: n >= before + 3)
    assert count == before + 3
    roots = {r["root"]: r for r in hub.api.get("/api/ingest/undecoded").json()}
    assert roots["wearables"]["count"] >= 3
    assert roots["wearables"]["last_topic"] == f"wearables/{STRANGER_IMEI}/up"
    assert '"spo2": 97' in roots["wearables"]["last_payload"]
    assert _metric(hub, "carehub_undecoded_messages_total", root="watch") == covered_before == 0.0
    assert not any(r.startswith("$") for r in roots)
    reject = _metric(hub, "carehub_ingest_rejected_total", reason="unknown_topic", source="mqtt")
    assert reject >= 3
