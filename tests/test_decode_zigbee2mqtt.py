"""Zigbee2MQTT decoding: DEVICES.md §1 samples, exposes-based kinds, availability and the bridge."""

from __future__ import annotations

import json

import pytest

from device_drivers.model import (
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
from device_drivers.profiles.zigbee2mqtt import Zigbee2MqttProfile, guess_kind

RX = 1_750_077_045.0
SRC = "zigbee2mqtt"


def decode(profile: Zigbee2MqttProfile, topic: str, payload: object) -> list:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return profile.decode(topic, raw, received_at=RX)


def ev(key: str, kind: EventKind, state: EventState, **detail: object) -> DeviceEvent:
    return DeviceEvent(key, kind, state, RX, SRC, dict(detail))


def rd(key: str, metric: str, value: float, unit: str) -> Reading:
    return Reading(key, metric, value, unit, RX, SRC)


def test_smoke_sample_from_devices_md() -> None:
    p = Zigbee2MqttProfile()
    out = decode(
        p,
        "zigbee2mqtt/kitchen/smoke",
        b'{"battery":96.5,"linkquality":92,"enrolled":true,"smoke":true,"battery_low":false}',
    )
    k = "z2m:kitchen/smoke"
    assert out == [
        rd(k, "battery", 96.5, "%"),
        rd(k, "linkquality", 92.0, "lqi"),
        ev(k, EventKind.SMOKE, EventState.ACTIVE, field="smoke"),
        ev(k, EventKind.BATTERY_LOW, EventState.CLEARED, field="battery_low"),
    ]
    assert out[2].is_alarm


def test_sos_button_press_then_reset() -> None:
    p = Zigbee2MqttProfile()
    k = "z2m:room12/sos"
    assert decode(
        p, "zigbee2mqtt/room12/sos", {"action": "emergency", "battery": None, "linkquality": 90}
    ) == [
        ev(k, EventKind.SOS, EventState.MOMENTARY, action="emergency"),
        rd(k, "linkquality", 90.0, "lqi"),
    ]
    assert decode(p, "zigbee2mqtt/room12/sos", {"action": "", "battery": None, "linkquality": 90}) == [
        rd(k, "linkquality", 90.0, "lqi"),
    ]


def test_plain_text_action_topic() -> None:
    p = Zigbee2MqttProfile()
    assert decode(p, "zigbee2mqtt/room12/sos/action", b"emergency") == [
        ev("z2m:room12/sos", EventKind.SOS, EventState.MOMENTARY, action="emergency")
    ]
    assert decode(p, "zigbee2mqtt/room12/sos/action", b"") == []


def test_heiman_hs1eb_any_action_is_sos_once_known() -> None:
    p = Zigbee2MqttProfile()
    devices = [
        {
            "ieee_address": "0x00124b0001",
            "type": "EndDevice",
            "friendly_name": "bed3/button",
            "definition": {
                "model": "HS1EB/HS1EB-E",
                "vendor": "HEIMAN",
                "description": "Smart emergency button",
                "exposes": [
                    {"type": "numeric", "name": "battery", "property": "battery"},
                    {
                        "type": "enum",
                        "name": "action",
                        "property": "action",
                        "values": ["off", "single", "double", "hold"],
                    },
                ],
            },
        }
    ]
    assert decode(p, "zigbee2mqtt/bridge/devices", devices) == [
        DeviceInfo(
            "z2m:bed3/button",
            RX,
            SRC,
            vendor="HEIMAN",
            model="HS1EB/HS1EB-E",
            kind="sos_button",
            name="bed3/button",
            aliases=("ieee:0x00124b0001",),
        )
    ]
    assert decode(p, "zigbee2mqtt/bed3/button", {"action": "double"}) == [
        ev("z2m:bed3/button", EventKind.SOS, EventState.MOMENTARY, action="double")
    ]


def test_unknown_button_action_is_a_button_press_flagged_unknown() -> None:
    p = Zigbee2MqttProfile()
    assert decode(p, "zigbee2mqtt/hall/switch", {"action": "single"}) == [
        ev("z2m:hall/switch", EventKind.BUTTON, EventState.MOMENTARY, action="single", kind_unknown=True)
    ]


def test_xiaomi_smoke_self_test_is_never_an_alarm() -> None:
    p = Zigbee2MqttProfile()
    payload = {
        "smoke": True,
        "battery_low": False,
        "tamper": False,
        "battery": 100,
        "smoke_density": 0,
        "selftest": "",
        "voltage": 3080,
        "test": True,
        "device_temperature": 23,
        "linkquality": 60,
    }
    k = "z2m:hall/smoke"
    assert decode(p, "zigbee2mqtt/hall/smoke", payload) == [
        ev(k, EventKind.BATTERY_LOW, EventState.CLEARED, field="battery_low"),
        ev(k, EventKind.TAMPER, EventState.CLEARED, field="tamper"),
        rd(k, "battery", 100.0, "%"),
        rd(k, "smoke_density_raw", 0.0, "raw"),
        rd(k, "voltage", 3.08, "V"),
        rd(k, "device_temperature", 23.0, "degC"),
        rd(k, "linkquality", 60.0, "lqi"),
        ev(k, EventKind.SELF_TEST, EventState.ACTIVE, field="test", suppressed={"smoke": True}),
    ]


def test_heiman_gas_false_while_test_held() -> None:
    out = decode(Zigbee2MqttProfile(), "zigbee2mqtt/gas1", {"gas": False, "test": True, "tamper": True})
    assert out == [
        ev("z2m:gas1", EventKind.TAMPER, EventState.ACTIVE, field="tamper"),
        ev("z2m:gas1", EventKind.SELF_TEST, EventState.ACTIVE, field="test", suppressed={"gas": False}),
    ]


def test_aqara_smoke_and_gas_densities() -> None:
    p = Zigbee2MqttProfile()
    out = decode(
        p, "zigbee2mqtt/aqara", {"smoke": False, "smoke_density_dbm": 0.2, "test": False, "buzzer": None}
    )
    assert out == [
        ev("z2m:aqara", EventKind.SMOKE, EventState.CLEARED, field="smoke"),
        rd("z2m:aqara", "smoke_density", 0.2, "dB/m"),
        ev("z2m:aqara", EventKind.SELF_TEST, EventState.CLEARED, field="test"),
    ]
    out = decode(p, "zigbee2mqtt/gas", {"gas": True, "gas_density": 12, "gas_sensitivity": "10%LEL"})
    assert out == [
        ev("z2m:gas", EventKind.GAS, EventState.ACTIVE, field="gas"),
        rd("z2m:gas", "gas_lel", 12.0, "%LEL"),
        UnmappedFields("z2m:gas", ("gas_sensitivity",), RX, "zigbee2mqtt"),  # a setting, not a measurement
    ]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("fall_down_status", "fall", [(EventKind.FALL, EventState.ACTIVE)]),
        ("fall_down_status", "maybe_fall", [(EventKind.FALL_SUSPECTED, EventState.ACTIVE)]),
        (
            "fall_down_status",
            "none",
            [(EventKind.FALL, EventState.CLEARED), (EventKind.FALL_SUSPECTED, EventState.CLEARED)],
        ),
        ("fall_status", "fall_alarm", [(EventKind.FALL, EventState.ACTIVE)]),
        ("fall_status", "fall_warning", [(EventKind.FALL_SUSPECTED, EventState.ACTIVE)]),
        (
            "fall_status",
            "normal",
            [(EventKind.FALL, EventState.CLEARED), (EventKind.FALL_SUSPECTED, EventState.CLEARED)],
        ),
        ("fall_status", "unknown", []),
    ],
)
def test_fall_radars(field: str, value: str, expected: list) -> None:
    out = decode(Zigbee2MqttProfile(), "zigbee2mqtt/radar", {field: value, "presence": True})
    events = [(m.kind, m.state) for m in out if isinstance(m, DeviceEvent)]
    assert events == expected
    assert rd("z2m:radar", "presence", 1.0, "bool") in out


@pytest.mark.parametrize("payload", [b"online", b'{"state":"online"}'])
def test_availability_both_forms(payload: bytes) -> None:
    out = decode(Zigbee2MqttProfile(), "zigbee2mqtt/floor2/room3/smoke/availability", payload)
    assert out == [DeviceStatus("z2m:floor2/room3/smoke", Availability.ONLINE, RX, SRC, "availability")]


def test_availability_offline_and_garbage() -> None:
    p = Zigbee2MqttProfile()
    assert (
        decode(p, "zigbee2mqtt/a/availability", b'{"state":"offline"}')[0].availability
        == Availability.OFFLINE
    )
    with pytest.raises(DecodeError) as exc:
        decode(p, "zigbee2mqtt/a/availability", b"maybe")
    assert exc.value.reason == "bad_value"


def test_commands_and_bridge_state_carry_nothing() -> None:
    p = Zigbee2MqttProfile()
    assert decode(p, "zigbee2mqtt/lamp/set", {"state": "ON"}) == []
    assert decode(p, "zigbee2mqtt/lamp/get", {"state": ""}) == []
    assert decode(p, "zigbee2mqtt/bridge/state", b'{"state":"online"}') == []
    assert decode(p, "zigbee2mqtt/bridge/logging", {"level": "info", "message": "x"}) == []


def test_bridge_event_samples() -> None:
    p = Zigbee2MqttProfile()
    joined = {
        "type": "device_joined",
        "data": {"friendly_name": "0x90fd9ffffe6494fc", "ieee_address": "0x90fd9ffffe6494fc"},
    }
    assert decode(p, "zigbee2mqtt/bridge/event", joined) == [
        DeviceInfo(
            "z2m:0x90fd9ffffe6494fc", RX, SRC, name="0x90fd9ffffe6494fc", aliases=("ieee:0x90fd9ffffe6494fc",)
        )
    ]
    leave = {"type": "device_leave", "data": {"ieee_address": "0x90fd9ffffe6494fc", "friendly_name": "hall"}}
    assert decode(p, "zigbee2mqtt/bridge/event", leave) == [
        DeviceInfo("z2m:hall", RX, SRC, name="hall", aliases=("ieee:0x90fd9ffffe6494fc",), removed=True)
    ]
    interview = {
        "type": "device_interview",
        "data": {
            "friendly_name": "sos1",
            "ieee_address": "0x01",
            "status": "successful",
            "supported": True,
            "definition": {
                "model": "TS0215A_sos",
                "vendor": "Tuya",
                "description": "SOS button",
                "exposes": [
                    {"type": "enum", "property": "action", "name": "action", "values": ["emergency"]}
                ],
            },
        },
    }
    assert decode(p, "zigbee2mqtt/bridge/event", interview)[0].kind == "sos_button"
    assert decode(p, "zigbee2mqtt/bridge/event", {"type": "device_renamed", "data": {}}) == []


def test_bridge_devices_skips_coordinator_and_handles_unsupported() -> None:
    devices = [
        {"ieee_address": "0x00", "type": "Coordinator", "friendly_name": "Coordinator", "definition": None},
        {"ieee_address": "0x02", "type": "EndDevice", "friendly_name": "mystery", "definition": None},
    ]
    assert decode(Zigbee2MqttProfile(), "zigbee2mqtt/bridge/devices", devices) == [
        DeviceInfo("z2m:mystery", RX, SRC, name="mystery", aliases=("ieee:0x02",))
    ]


@pytest.mark.parametrize(
    ("exposes", "model", "kind"),
    [
        (["smoke", "battery_low", "battery", "linkquality"], "HS1SA", "smoke_detector"),
        (["gas", "battery_low", "tamper"], "HS1CG", "gas_detector"),
        (["gas", "gas_density", "selftest", "test", "state"], "JT-BZ-01AQ/A", "gas_detector"),
        (["presence", "occupancy", "fall_down_status"], "MIR-HE200-TY", "fall_radar"),
        (["occupancy", "fall_status"], "HS2FD", "fall_radar"),
        (["battery", "voltage", "action"], "TS0215A_sos", "sos_button"),
        (["action", "battery"], "WXKG11LM", "button"),
        (["presence"], "ZG-204Z", "presence_sensor"),
        ([], "X", ""),
    ],
)
def test_guess_kind_from_exposes(exposes: list[str], model: str, kind: str) -> None:
    definition = {"model": model, "exposes": [{"type": "binary", "property": e, "name": e} for e in exposes]}
    assert guess_kind(definition) == kind


def test_nested_exposes_features() -> None:
    definition = {"model": "X", "exposes": [{"type": "switch", "features": [{"property": "smoke"}]}]}
    assert guess_kind(definition) == "smoke_detector"


def test_last_seen_used_when_sane() -> None:
    p = Zigbee2MqttProfile()
    out = p.decode("zigbee2mqtt/a", b'{"battery":50,"last_seen":1750077040000}', received_at=RX)
    assert out[0].ts == 1_750_077_040.0
    out = p.decode("zigbee2mqtt/a", b'{"battery":50,"last_seen":"2025-06-16T12:30:41+00:00"}', received_at=RX)
    assert out[0].ts == 1_750_077_041.0
    out = p.decode("zigbee2mqtt/a", b'{"battery":50,"last_seen":12}', received_at=RX)
    assert out[0].ts == RX


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{", "not_json"),
        (b"[1,2]", "not_object"),
        (b'{"smoke":"yes"}', "bad_type"),
        (b'{"battery":"full"}', "bad_type"),
        (b'{"battery":NaN}', "nan"),
        (b'{"battery":Infinity}', "nan"),
        (b'{"battery":1e999}', "nan"),
        (b'{"battery":-Infinity}', "nan"),
        (b"\xff\xfe\x00", "not_json"),
    ],
)
def test_rejects(payload: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as exc:
        Zigbee2MqttProfile().decode("zigbee2mqtt/a", payload, received_at=RX)
    assert exc.value.reason == reason


def test_too_large() -> None:
    with pytest.raises(DecodeError) as exc:
        Zigbee2MqttProfile().decode("zigbee2mqtt/a", b'{"a":"' + b"x" * 1_000_000 + b'"}', received_at=RX)
    assert exc.value.reason == "too_large"


def test_topic_without_name_is_unknown() -> None:
    with pytest.raises(DecodeError) as exc:
        Zigbee2MqttProfile().decode("zigbee2mqtt//availability", b"online", received_at=RX)
    assert exc.value.reason == "unknown_topic"


def test_custom_root() -> None:
    p = Zigbee2MqttProfile("z2m-site7")
    assert p.subscriptions == ("z2m-site7/#",)
    assert p.matches("z2m-site7/x") and not p.matches("zigbee2mqtt/x")
