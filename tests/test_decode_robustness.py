"""Every profile survives garbage: only lists of canonical messages or DecodeError come out."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_drivers.model import (
    AccelBatch,
    Availability,
    DecodeError,
    DeviceEvent,
    DeviceInfo,
    DeviceStatus,
    EventKind,
    EventState,
    Reading,
    UnmappedFields,
)
from device_drivers.profiles.builtin import EXAMPLES_DIR, build_profiles, decode_http_push

RX = 1_750_077_045.0
HA_CONFIG = json.dumps(
    {
        "device_class": "smoke",
        "state_topic": "esp/smoke/state",
        "availability_topic": "esp/status",
        "value_template": "{{ value_json.smoke }}",
        "payload_on": True,
        "payload_off": False,
        "device": {"identifiers": ["esp1"]},
    }
).encode()
HA_SENSOR = json.dumps(
    {
        "device_class": "battery",
        "state_topic": "esp/bat",
        "device": {"identifiers": ["esp1"]},
        "unit_of_measurement": "%",
    }
).encode()

TOPICS = [
    "carehub/v1/wb-1/telemetry",
    "carehub/v1/wb-1/event",
    "carehub/v1/wb-1/status",
    "carehub/v1/wb-1/accel",
    "carehub/v9/wb-1/telemetry",
    "carehub/v1/wb-1/other",
    "zigbee2mqtt/room/smoke",
    "zigbee2mqtt/room/smoke/availability",
    "zigbee2mqtt/room/sos/action",
    "zigbee2mqtt/bridge/devices",
    "zigbee2mqtt/bridge/event",
    "zigbee2mqtt/bridge/state",
    "zigbee2mqtt/lamp/set",
    "homeassistant/binary_sensor/esp1/smoke/config",
    "homeassistant/sensor/esp1/bat/config",
    "homeassistant/status",
    "esp/smoke/state",
    "esp/status",
    "esp/bat",
    "tele/tasmota_1/SENSOR",
    "tele/tasmota_1/STATE",
    "tele/tasmota_1/LWT",
    "ctwing/15012345",
    "$sys/pid/dev/thing/property/post",
    "$sys/pid/dev/thing/event/post",
    "watch/865067123456789/up",
    "acme/careband/CB3-1/up",
    "acme/careband/CB3-1/lwt",
]
# topics whose payload is parsed as JSON (commands, bridge/state and HA birth messages carry nothing)
JSON_TOPICS = [
    t
    for t in TOPICS
    if not t.endswith(
        (
            "/action",
            "/LWT",
            "/lwt",
            "/availability",
            "esp/status",
            "/v9/wb-1/telemetry",
            "/other",
            "bridge/state",
            "/set",
            "homeassistant/status",
            "esp/bat",
        )
    )
]
KEYS = [
    "v",
    "ts",
    "seq",
    "readings",
    "event",
    "state",
    "detail",
    "status",
    "reason",
    "t0",
    "hz",
    "xyz",
    "battery",
    "voltage",
    "linkquality",
    "smoke",
    "gas",
    "tamper",
    "battery_low",
    "test",
    "selftest",
    "action",
    "fall_down_status",
    "fall_status",
    "presence",
    "last_seen",
    "smoke_density_dbm",
    "type",
    "data",
    "friendly_name",
    "ieee_address",
    "definition",
    "exposes",
    "model",
    "vendor",
    "messageType",
    "IMEI",
    "deviceId",
    "timestamp",
    "payload",
    "serviceData",
    "Alarm_Status",
    "Battery_Level",
    "RSRP",
    "CSQ",
    "APPdata",
    "smoke_sensor_status",
    "self_checking",
    "battery_state",
    "muffling",
    "params",
    "value",
    "time",
    "msg",
    "productId",
    "deviceName",
    "eventType",
    "heartRate",
    "timeStamps",
    "num_datas",
    "latitude",
    "longitude",
    "bloodPressure",
    "Time",
    "Wifi",
    "Signal",
    "AM2301",
    "Temperature",
    "TempUnit",
    "sn",
    "t",
    "hr",
    "alarm",
    "rec",
    "bp",
    "sys",
    "gps",
    "lat",
    "strap_open",
    "heart_rate",
    "spo2",
    "sos",
    "co",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "emergency",
            "fall",
            "online",
            "offline",
            "alarm",
            "normal",
            "SOS",
            "FALL DOWN",
            "1",
            "dataReport",
            "notify",
            "lifeCycle",
            "device_joined",
            "device_leave",
            "sos",
            "active",
            "16/06/2025 12:30:45",
            "865067123456789",
            "{{ value_json.x }}",
        ]
    )
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=30,
)


def seed_ha(profile_set) -> None:
    """Teach the HA profile its two entities again (fuzzed config topics may have replaced them)."""
    for topic, body in (
        ("homeassistant/binary_sensor/esp1/smoke/config", HA_CONFIG),
        ("homeassistant/sensor/esp1/bat/config", HA_SENSOR),
    ):
        profile_set.route(topic).decode(topic, body, received_at=RX)


def profiles():
    profile_set = build_profiles({}, [EXAMPLES_DIR])
    seed_ha(profile_set)
    return profile_set


PROFILES = profiles()


def check(result: object) -> None:
    """Assert that a decode result is a list of well-formed canonical messages."""
    assert type(result) is list
    for m in result:
        assert isinstance(m, Reading | DeviceEvent | DeviceStatus | DeviceInfo | AccelBatch | UnmappedFields), m
        assert isinstance(m.device_key, str) and m.device_key
        assert math.isfinite(m.ts)
        if isinstance(m, Reading):
            assert type(m.value) is float and math.isfinite(m.value), m
        elif isinstance(m, DeviceEvent):
            assert isinstance(m.kind, EventKind) and isinstance(m.state, EventState)
            assert type(m.detail) is dict
        elif isinstance(m, DeviceStatus):
            assert isinstance(m.availability, Availability)
        elif isinstance(m, UnmappedFields):
            assert m.fields and all(type(f) is str and f for f in m.fields), m
        elif isinstance(m, AccelBatch):
            assert m.xyz.dtype == np.float32 and m.xyz.shape == (len(m.t), 3)
            assert np.isfinite(m.t).all()


def run(topic: str, payload: bytes) -> None:
    if topic.startswith("esp/"):
        seed_ha(PROFILES)
    profile = PROFILES.route(topic)
    assert profile is not None, topic
    try:
        result = profile.decode(topic, payload, received_at=RX)
    except DecodeError as exc:
        assert exc.reason and " " not in exc.reason
        return
    check(result)


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.sampled_from(TOPICS), st.binary(max_size=600))
def test_arbitrary_bytes(topic: str, payload: bytes) -> None:
    run(topic, payload)


@FAST
@given(st.sampled_from(TOPICS), JSON_VALUES)
def test_arbitrary_json(topic: str, value: object) -> None:
    run(topic, json.dumps(value).encode())


@FAST
@given(st.sampled_from(["telemetry", "event", "status"]), JSON_VALUES, JSON_VALUES)
def test_native_envelopes_with_arbitrary_content(channel: str, inner: object, ts: object) -> None:
    body = {"v": 1, "ts": ts, "seq": 1, "readings": inner, "event": inner, "status": inner, "detail": inner}
    run(f"carehub/v1/wb-1/{channel}", json.dumps(body).encode())


@FAST
@given(
    st.sampled_from(["dataReport", "eventReport", "deviceOnlineOfflineReport", "other"]),
    JSON_VALUES,
    st.dictionaries(st.sampled_from(KEYS), JSON_VALUES, max_size=6),
)
def test_ctwing_envelopes_with_arbitrary_service_data(mtype: str, event_type: object, service: dict) -> None:
    env = {
        "messageType": mtype,
        "IMEI": "869975031234567",
        "eventType": event_type,
        "timestamp": 1_750_077_044_000,
        "payload": {"serviceData": service},
    }
    run("ctwing/x", json.dumps(env).encode())
    try:
        check(decode_http_push("ctwing", json.dumps(env).encode(), received_at=RX))
    except DecodeError:
        pass


@FAST
@given(
    st.dictionaries(
        st.sampled_from(KEYS) | st.text(max_size=6),
        st.fixed_dictionaries({"value": JSON_VALUES}, optional={"time": JSON_VALUES}) | JSON_VALUES,
        max_size=6,
    ),
    JSON_VALUES,
)
def test_onenet_params_and_push(params: dict, lifecycle: object) -> None:
    run("$sys/p/d/thing/property/post", json.dumps({"id": "1", "params": params}).encode())
    for msg in (
        {"messageType": "notify", "productId": "p", "deviceName": "d", "data": {"params": params}},
        {"messageType": "lifeCycle", "productId": "p", "deviceName": "d", "data": {"status": lifecycle}},
    ):
        for body in ({"msg": msg}, {"msg": json.dumps(msg)}):
            try:
                check(decode_http_push("onenet", json.dumps(body).encode(), received_at=RX))
            except DecodeError:
                pass


@FAST
@given(
    st.integers(0, 3),
    st.integers(0, 255),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(0, 65535),
    st.integers(0, 40),
    st.integers(0, 65535),
    st.binary(max_size=400),
)
def test_binary_accel_headers(
    version: int, flags: int, t0: float, hz: int, n: int, scale: int, body: bytes
) -> None:
    import struct

    payload = struct.pack("<2sBBdHHH", b"CA", version, flags, t0, hz, n, scale) + body
    run("carehub/v1/wb-1/accel", payload)


@FAST
@given(
    st.lists(
        st.fixed_dictionaries(
            {"friendly_name": st.text(max_size=8), "ieee_address": SCALARS},
            optional={"definition": JSON_VALUES, "type": SCALARS},
        ),
        max_size=5,
    )
)
def test_bridge_devices_lists(devices: list) -> None:
    run("zigbee2mqtt/bridge/devices", json.dumps(devices).encode())


@pytest.mark.parametrize("topic", [t for t in TOPICS if "/v9/" not in t and not t.endswith("/other")])
def test_one_megabyte_is_too_large(topic: str) -> None:
    payload = b'{"a":"' + b"x" * 1_048_576 + b'"}'
    if topic == "zigbee2mqtt/bridge/devices":
        payload = b"[" + b"0," * 2_500_000 + b"0]"  # the device list has a larger (4 MiB) cap
    profile_set = profiles()
    with pytest.raises(DecodeError) as exc:
        profile_set.route(topic).decode(topic, payload, received_at=RX)
    assert exc.value.reason == "too_large"


@pytest.mark.parametrize("topic", JSON_TOPICS)
@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_rejected(topic: str, constant: bytes) -> None:
    profile_set = profiles()
    with pytest.raises(DecodeError) as exc:
        profile_set.route(topic).decode(topic, b'{"battery":' + constant + b"}", received_at=RX)
    assert exc.value.reason == "nan"


@pytest.mark.parametrize("constant", [b"NaN", b"inf", b"-Infinity"])
def test_raw_sensor_nan_rejected(constant: bytes) -> None:
    with pytest.raises(DecodeError) as exc:
        profiles().route("esp/bat").decode("esp/bat", constant, received_at=RX)
    assert exc.value.reason == "nan"


def test_deep_nesting_is_not_json() -> None:
    with pytest.raises(DecodeError) as exc:
        PROFILES.route("zigbee2mqtt/a").decode("zigbee2mqtt/a", b"[" * 60_000, received_at=RX)
    assert exc.value.reason == "not_json"
