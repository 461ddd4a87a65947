"""End to end: NB-IoT platform HTTP pushes (CTWing dataReport, OneNET data push) into a real hub process."""

from __future__ import annotations

import json
import math
import re
import time
import uuid

import httpx
import pytest

from tests.hub_process import HubProcess, wait_for


def _luhn_complete(body14: str) -> str:
    """Return the 15-digit IMEI with the Luhn check digit appended to 14 digits."""
    total = 0
    for i, ch in enumerate(reversed(body14)):
        d = int(ch)
        if i % 2 == 0:  # doubled positions, counted from the right of the body
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body14 + str((10 - total % 10) % 10)


SMOKE_IMEI = _luhn_complete("86506712345678")
UNKNOWN_IMEI = _luhn_complete("86506798765432")
ONENET_PID, ONENET_NAME = "Xk2pQ9sL0a", "smoke-0042"

DEVICES_CSV = "\n".join([
    "site,room,kind,vendor,model,profile,imei,name",
    f"NB Home,201,smoke_detector,Generic,NB-SD1,ctwing,{SMOKE_IMEI},Kitchen smoke 201",
]) + "\n"


def _ctwing_report(imei: str, alarm_status: int, *, ts_ms: int | None = None) -> dict:
    ts_ms = ts_ms or int(time.time() * 1000)
    return {
        "deviceId": f"dev{imei[-8:]}", "IMEI": imei, "productId": "15012345", "timestamp": ts_ms,
        "messageType": "dataReport", "protocol": "lwm2m", "tenantId": "2000001",
        "payload": {"serviceId": "1", "serviceData": {
            "Alarm_Status": alarm_status, "Battery_Level": 87, "RSRP": -1050, "SNR": 12, "CSQ": 22, "IMEI": imei}},
    }


def _onenet_push(pid: str, name: str, alarm_status: int) -> dict:
    now_ms = int(time.time() * 1000)
    msg = {"productId": pid, "deviceName": name, "messageType": "notify", "notifyType": "property",
           "data": {"id": "42", "version": "1.0", "params": {
               "Alarm_Status": {"value": alarm_status, "time": now_ms},
               "Battery_Level": {"value": 64, "time": now_ms}}}}
    # OneNET Studio sends msg as a JSON string next to its signature and nonce.
    return {"msg": json.dumps(msg), "signature": "dGVzdA==", "nonce": "abcdefgh", "time": now_ms, "id": "1"}


@pytest.fixture(scope="module")
def hub(mosquitto, tmp_path_factory):
    proc = HubProcess(tmp_path_factory.mktemp("hub-nbiot"), mqtt_port=mosquitto.port,
                      client_id=f"hub-nbiot-{uuid.uuid4().hex[:8]}")
    proc.import_devices(DEVICES_CSV)
    proc.push_key = proc.create_api_key("ctwing-platform", role="integration")
    proc.start()
    yield proc
    proc.stop()


def _post(hub: HubProcess, platform: str, body: bytes | dict, key: str | None = "push") -> httpx.Response:
    content = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"content-type": "application/json"}
    key = hub.push_key if key == "push" else key
    if key is not None:
        headers["X-API-Key"] = key
    return httpx.post(f"{hub.url}/api/push/{platform}", content=content, headers=headers, timeout=10)


def _events(hub: HubProcess, **params) -> list[dict]:
    return hub.api.get("/api/events", params=params, timeout=5).json()


def _rejects(hub: HubProcess) -> dict[tuple[str, str], float]:
    out = {}
    for match in re.finditer(r'^carehub_ingest_rejected_total\{reason="([^"]*)",source="([^"]*)"\} (\S+)$',
                             httpx.get(f"{hub.url}/metrics", timeout=5).text, re.M):
        value = float(match.group(3))
        if not math.isnan(value):
            out[(match.group(1), match.group(2))] = value
    return out


def _pending_keys(hub: HubProcess) -> set[str]:
    return {p["device_key"] for p in hub.api.get("/api/devices/pending", timeout=5).json()}




def test_ctwing_smoke_alarm_is_recorded_before_the_200(hub):
    started = time.monotonic()
    response = _post(hub, "ctwing", _ctwing_report(SMOKE_IMEI, 1))
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] >= 1
    # Alarms are committed before the platform gets its 200: no polling needed.
    events = _events(hub, device_key=f"imei:{SMOKE_IMEI}", kind="smoke")
    assert len(events) == 1, events
    event = events[0]
    assert event["is_alarm"] and event["state"] == "active"
    assert event["device_id"] is not None, "the IMEI is registered"
    assert event["source"] == "ctwing" and event["detail"] == {"Alarm_Status": 1}
    print(f"\nCTWing smoke alarm: 200 after {elapsed * 1000:.0f} ms")
    # The readings of the same report reach the live state of the device.
    state = wait_for(lambda: next((d for d in hub.api.get("/api/devices/state").json()
                                    if d["device_id"] == event["device_id"] and d.get("battery") is not None),
                                   None), 5, "battery in live state")
    assert state["battery"] == 87.0 and "smoke" in state["alarms"]


def test_wrong_or_missing_api_key_is_401_and_records_nothing(hub):
    before = len(_events(hub, device_key=f"imei:{SMOKE_IMEI}"))
    for key in (None, "", "not-the-key", hub.push_key + "x"):
        response = _post(hub, "ctwing", _ctwing_report(SMOKE_IMEI, 1), key=key)
        assert response.status_code == 401, (key, response.status_code, response.text)
    response = _post(hub, "onenet", _onenet_push(ONENET_PID, ONENET_NAME, 1), key="not-the-key")
    assert response.status_code == 401
    time.sleep(0.3)
    assert len(_events(hub, device_key=f"imei:{SMOKE_IMEI}")) == before


@pytest.mark.parametrize(("platform", "body", "reason"), [
    ("ctwing", b"this is not json", "not_json"),
    ("ctwing", b'{"IMEI": "865067123456789", "payload": {}}', "missing_field"),
    ("ctwing", b"[1, 2, 3]", "not_object"),
    ("onenet", b'{"msg": 17}', "bad_type"),
    ("onenet", b"\xff\xfe\x00garbage", "not_json"),
])
def test_garbage_body_is_400_with_a_reason_and_counted(hub, platform, body, reason):
    before = _rejects(hub).get((reason, platform), 0.0)
    response = _post(hub, platform, body)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail.startswith("rejected:") and len(detail) > len("rejected: "), detail
    assert _rejects(hub).get((reason, platform), 0.0) == before + 1, (reason, platform, _rejects(hub))


def test_unknown_imei_is_listed_as_pending_and_its_alarm_still_recorded(hub):
    assert f"imei:{UNKNOWN_IMEI}" not in _pending_keys(hub)
    response = _post(hub, "ctwing", _ctwing_report(UNKNOWN_IMEI, 1))
    assert response.status_code == 200, response.text
    # An alarm from an unbound detector is never dropped: recorded without a device, and listed pending.
    events = _events(hub, device_key=f"imei:{UNKNOWN_IMEI}", kind="smoke")
    assert len(events) == 1 and events[0]["device_id"] is None and events[0]["is_alarm"], events
    wait_for(lambda: f"imei:{UNKNOWN_IMEI}" in _pending_keys(hub), 5, "unknown IMEI pending")
    pending = next(p for p in hub.api.get("/api/devices/pending").json()
                   if p["device_key"] == f"imei:{UNKNOWN_IMEI}")
    assert pending["source"] == "ctwing" and pending["first_topic"] == "http/ctwing"
    assert UNKNOWN_IMEI in pending["first_payload"]


def test_onenet_data_push_alarm_is_recorded_for_a_registered_device(hub):
    key = f"onenet:{ONENET_PID}/{ONENET_NAME}"
    created = hub.api.post("/api/devices", json={"kind": "smoke_detector", "keys": [key],
                                                          "name": "OneNET smoke"}, timeout=5)
    assert created.status_code == 201, created.text
    response = _post(hub, "onenet", _onenet_push(ONENET_PID, ONENET_NAME, 1))
    assert response.status_code == 200, response.text
    events = _events(hub, device_key=key, kind="smoke")
    assert len(events) == 1, events
    assert events[0]["is_alarm"] and events[0]["state"] == "active"
    assert events[0]["device_id"] == created.json()["id"] and events[0]["source"] == "onenet"
    # Alarm_Status 7 (normal) clears it.
    assert _post(hub, "onenet", _onenet_push(ONENET_PID, ONENET_NAME, 7)).status_code == 200
    wait_for(lambda: [e for e in _events(hub, device_key=key, kind="smoke") if e["state"] == "cleared"], 5,
              "cleared smoke event")
