"""NB-IoT detectors through CTWing and OneNET (MQTT relay and HTTP push), incl. Tuya smoke fields."""

from __future__ import annotations

import json

import pytest

from device_drivers.model import (
    Availability,
    DecodeError,
    DeviceEvent,
    DeviceStatus,
    EventKind,
    EventState,
    Reading,
    UnmappedFields,
)
from device_drivers.profiles.builtin import decode_http_push
from device_drivers.profiles.ctwing import CtwingProfile
from device_drivers.profiles.onenet import OneNetProfile

RX = 1_750_077_045.0
TS = 1_750_077_044.5
IMEI = "869975031234567"
KEY = "imei:" + IMEI


def ctwing(service_data: dict, **extra: object) -> bytes:
    env = {
        "deviceId": "a1b2c3d4e5f6" + IMEI,
        "IMEI": IMEI,
        "productId": "15012345",
        "timestamp": 1_750_077_044_500,
        "messageType": "dataReport",
        "protocol": "lwm2m",
        "tenantId": "2000001",
        "payload": {"serviceId": "1", "serviceData": service_data},
        **extra,
    }
    return json.dumps(env).encode()


def test_ctwing_smoke_alarm_report() -> None:
    out = CtwingProfile().decode(
        "ctwing/15012345",
        ctwing({"Alarm_Status": 1, "Battery_Level": 90, "RSRP": -95, "SNR": 12, "CSQ": 20, "IMEI": IMEI}),
        received_at=RX,
    )
    assert out == [
        DeviceEvent(KEY, EventKind.SMOKE, EventState.ACTIVE, TS, "ctwing", {"Alarm_Status": 1}),
        Reading(KEY, "battery", 90.0, "%", TS, "ctwing"),
        Reading(KEY, "rsrp", -95.0, "dBm", TS, "ctwing"),
        Reading(KEY, "snr", 12.0, "dB", TS, "ctwing"),
        Reading(KEY, "rssi", -73.0, "dBm", TS, "ctwing"),
    ]
    assert out[0].is_alarm


@pytest.mark.parametrize(
    ("code", "kind", "state"),
    [
        (1, EventKind.SMOKE, EventState.ACTIVE),
        (2, EventKind.SILENCED, EventState.MOMENTARY),
        (4, EventKind.BATTERY_LOW, EventState.ACTIVE),
        (5, EventKind.FAULT, EventState.ACTIVE),
        (7, EventKind.SMOKE, EventState.CLEARED),
        (10, EventKind.TAMPER, EventState.ACTIVE),
        (11, EventKind.TAMPER, EventState.CLEARED),
        (14, EventKind.SELF_TEST, EventState.MOMENTARY),
    ],
)
def test_ctwing_alarm_status_codes(code: int, kind: EventKind, state: EventState) -> None:
    out = CtwingProfile().decode("ctwing/x", ctwing({"Alarm_Status": code}), received_at=RX)
    assert out == [DeviceEvent(KEY, kind, state, TS, "ctwing", {"Alarm_Status": code})]


def test_ctwing_code_12_is_online_and_strings_are_accepted() -> None:
    out = CtwingProfile().decode(
        "ctwing/x", ctwing({"Alarm_Status": "12", "Battery_Level": "85", "RSRP": "-1050"}), received_at=RX
    )
    assert out == [
        DeviceStatus(KEY, Availability.ONLINE, TS, "ctwing", "Alarm_Status=12"),
        Reading(KEY, "battery", 85.0, "%", TS, "ctwing"),
        Reading(KEY, "rsrp", -105.0, "dBm", TS, "ctwing"),
    ]


def test_ctwing_gas_product_mapping() -> None:
    p = CtwingProfile(product_hazards={"15012345": EventKind.GAS})
    assert p.decode("ctwing/x", ctwing({"Alarm_Status": 1}), received_at=RX)[0].kind == EventKind.GAS


def test_ctwing_unknown_code_and_opaque_payload() -> None:
    p = CtwingProfile()
    with pytest.raises(DecodeError) as exc:
        p.decode("ctwing/x", ctwing({"Alarm_Status": 99}), received_at=RX)
    assert exc.value.reason == "unknown_code"
    env = json.loads(ctwing({}))
    env["payload"] = {"APPdata": "AQIDBA=="}
    with pytest.raises(DecodeError) as exc:
        p.decode("ctwing/x", json.dumps(env).encode(), received_at=RX)
    assert exc.value.reason == "opaque_payload"


def test_ctwing_online_offline_report() -> None:
    body = {
        "timestamp": 1_750_077_044_500,
        "tenantId": "2000001",
        "protocol": "lwm2m",
        "productId": "15012345",
        "messageType": "deviceOnlineOfflineReport",
        "eventType": 0,
        "deviceId": "abc",
        "IMEI": IMEI,
    }
    out = decode_http_push("ctwing", json.dumps(body).encode(), received_at=RX)
    assert out == [DeviceStatus(KEY, Availability.OFFLINE, TS, "ctwing", "platform")]


def test_ctwing_without_imei_uses_device_id_and_ignores_command_responses() -> None:
    env = {"deviceId": "dev42", "messageType": "dataReport", "payload": {"serviceData": {"Battery_Level": 5}}}
    out = CtwingProfile().decode("ctwing/x", json.dumps(env).encode(), received_at=RX)
    assert out == [Reading("ctwing:dev42", "battery", 5.0, "%", RX, "ctwing")]
    assert CtwingProfile().decode("ctwing/x", b'{"messageType":"commandResponse"}', received_at=RX) == []


def test_ctwing_stale_timestamp_falls_back_to_arrival() -> None:
    out = CtwingProfile().decode("ctwing/x", ctwing({"Battery_Level": 50}, timestamp=1000), received_at=RX)
    assert out[0].ts == RX


def test_tuya_smoke_fields() -> None:
    out = CtwingProfile().decode(
        "ctwing/x",
        ctwing(
            {
                "smoke_sensor_status": "alarm",
                "smoke_sensor_value": 38,
                "battery_percentage": 80,
                "battery_state": "low",
                "temper_alarm": False,
                "muffling": True,
            }
        ),
        received_at=RX,
    )
    assert out == [
        DeviceEvent(KEY, EventKind.SMOKE, EventState.ACTIVE, TS, "ctwing", {"field": "smoke_sensor_status"}),
        Reading(KEY, "smoke_density", 38.0, "raw", TS, "ctwing"),
        Reading(KEY, "battery", 80.0, "%", TS, "ctwing"),
        DeviceEvent(KEY, EventKind.BATTERY_LOW, EventState.ACTIVE, TS, "ctwing", {"battery_state": "low"}),
        DeviceEvent(KEY, EventKind.TAMPER, EventState.CLEARED, TS, "ctwing", {"field": "temper_alarm"}),
        DeviceEvent(KEY, EventKind.SILENCED, EventState.MOMENTARY, TS, "ctwing", {"field": "muffling"}),
    ]


def test_tuya_self_check_suppresses_the_alarm() -> None:
    out = CtwingProfile().decode(
        "ctwing/x", ctwing({"smoke_sensor_status": "alarm", "self_checking": True}), received_at=RX
    )
    assert out == [
        DeviceEvent(KEY, EventKind.SELF_TEST, EventState.ACTIVE, TS, "ctwing", {"field": "self_checking"})
    ]


def test_onenet_property_post() -> None:
    body = {
        "id": "123",
        "version": "1.0",
        "params": {
            "Alarm_Status": {"value": 1, "time": 1_750_077_040_000},
            "Battery_Level": {"value": 77, "time": 1_750_077_041_000},
            "unknown_prop": {"value": "x"},
        },
    }
    out = OneNetProfile().decode(
        "$sys/Pq1A2b/smoke-0042/thing/property/post", json.dumps(body).encode(), received_at=RX
    )
    k = "onenet:Pq1A2b/smoke-0042"
    assert out == [
        DeviceEvent(k, EventKind.SMOKE, EventState.ACTIVE, 1_750_077_040.0, "onenet", {"Alarm_Status": 1}),
        Reading(k, "battery", 77.0, "%", 1_750_077_041.0, "onenet"),
        UnmappedFields(k, ("unknown_prop",), RX, "onenet"),
    ]


def test_onenet_event_post_and_chatter() -> None:
    p = OneNetProfile()
    body = {"id": "9", "version": "1.0", "params": {"alarm": {"value": {"smoke_sensor_status": "normal"}}}}
    out = p.decode("$sys/P/d1/thing/event/post", json.dumps(body).encode(), received_at=RX)
    assert out == [
        DeviceEvent(
            "onenet:P/d1", EventKind.SMOKE, EventState.CLEARED, RX, "onenet", {"field": "smoke_sensor_status"}
        )
    ]
    assert p.decode("$sys/P/d1/thing/property/post/reply", b'{"id":"1","code":200}', received_at=RX) == []
    with pytest.raises(DecodeError) as exc:
        p.decode("$sys/P/d1/thing/property/post", b'{"id":"1"}', received_at=RX)
    assert exc.value.reason == "missing_field"


def test_onenet_http_push_notify_and_lifecycle() -> None:
    msg = {
        "messageType": "notify",
        "notifyType": "property",
        "productId": "Pq1A2b",
        "deviceName": "smoke-0042",
        "data": {"id": "1", "params": {"Battery_Level": {"value": 66, "time": 1_750_077_040_000}}},
    }
    body = {"msg": json.dumps(msg), "signature": "x", "time": 1, "id": "a", "nonce": "n"}
    assert decode_http_push("onenet", json.dumps(body).encode(), received_at=RX) == [
        Reading("onenet:Pq1A2b/smoke-0042", "battery", 66.0, "%", 1_750_077_040.0, "onenet")
    ]
    life = {
        "msg": {"messageType": "lifeCycle", "productId": "P", "deviceName": "d", "data": {"status": "online"}}
    }
    assert decode_http_push("onenet", json.dumps(life).encode(), received_at=RX) == [
        DeviceStatus("onenet:P/d", Availability.ONLINE, RX, "onenet", "platform")
    ]


def test_http_push_rejects() -> None:
    with pytest.raises(DecodeError) as exc:
        decode_http_push("aliyun", b"{}", received_at=RX)
    assert exc.value.reason == "unknown_platform"
    with pytest.raises(DecodeError) as exc:
        decode_http_push(
            "ctwing", b'{"messageType":"dataReport","IMEI":"1","payload":{"x":NaN}}', received_at=RX
        )
    assert exc.value.reason == "nan"
    with pytest.raises(DecodeError) as exc:
        decode_http_push("onenet", b"{" * 2_000_000, received_at=RX)
    assert exc.value.reason == "too_large"
