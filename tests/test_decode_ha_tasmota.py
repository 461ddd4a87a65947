"""Home Assistant discovery (learning state topics) and Tasmota tele/ decoding."""

from __future__ import annotations

import json
from datetime import UTC

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
from device_drivers.profiles.ha_discovery import HaDiscoveryProfile, TasmotaProfile, parse_value_template

RX = 1_750_077_045.0
SAMPLE = (
    '{"availability":[{"topic":"zigbee2mqtt/bridge/state","value_template":"{{ value_json.state }}"}],'
    '"device":{"identifiers":["zigbee2mqtt_0x00158d0001deec28"],"manufacturer":"Heiman",'
    '"model":"Combustible gas sensor","model_id":"HS3CG","name":"0x00158d0001deec28"},'
    '"device_class":"battery","payload_off":false,"payload_on":true,'
    '"state_topic":"zigbee2mqtt/0x00158d0001deec28","unique_id":"0x00158d0001deec28_battery_low_zigbee2mqtt",'
    '"value_template":"{{ value_json.battery_low }}"}'
)
CONFIG_TOPIC = "homeassistant/binary_sensor/0x00158d0001deec28/battery_low/config"
KEY = "ha:zigbee2mqtt_0x00158d0001deec28"


def test_devices_md_sample_config() -> None:
    p = HaDiscoveryProfile()
    out = p.decode(CONFIG_TOPIC, SAMPLE.encode(), received_at=RX)
    assert out == [
        DeviceInfo(
            KEY,
            RX,
            "homeassistant",
            vendor="Heiman",
            model="HS3CG",
            kind="",
            name="0x00158d0001deec28",
            aliases=("ieee:0x00158d0001deec28",),
        )
    ]
    # the learnt state topic decodes: payload_on true vs the JSON boolean, as HA compares them
    out = p.decode("zigbee2mqtt/0x00158d0001deec28", b'{"battery_low":true,"gas":false}', received_at=RX)
    assert out == [
        DeviceEvent(
            KEY,
            EventKind.BATTERY_LOW,
            EventState.ACTIVE,
            RX,
            "homeassistant",
            {"device_class": "battery", "entity": CONFIG_TOPIC},
        ),
        UnmappedFields(KEY, ("gas",), RX, "homeassistant"),  # no learnt entity reads it
    ]
    avail = p.decode("zigbee2mqtt/bridge/state", b'{"state":"offline"}', received_at=RX)
    assert avail == [DeviceStatus(KEY, Availability.OFFLINE, RX, "homeassistant", "availability")]


def test_state_topics_owned_elsewhere_are_not_subscribed() -> None:
    p = HaDiscoveryProfile(claimed_elsewhere=lambda t: t.startswith("zigbee2mqtt/"))
    p.decode(CONFIG_TOPIC, SAMPLE.encode(), received_at=RX)
    assert p.subscriptions == ("homeassistant/#",)
    assert p.matches("zigbee2mqtt/0x00158d0001deec28")


def test_esphome_style_raw_payload_and_removal() -> None:
    p = HaDiscoveryProfile()
    cfg = {
        "name": "Smoke",
        "device_class": "smoke",
        "state_topic": "kitchen-node/binary_sensor/smoke/state",
        "availability_topic": "kitchen-node/status",
        "unique_id": "kn-smoke",
        "device": {
            "identifiers": "ab12cd",
            "manufacturer": "espressif",
            "model": "esp32dev",
            "name": "kitchen",
        },
    }
    topic = "homeassistant/binary_sensor/kitchen-node/smoke/config"
    out = p.decode(topic, json.dumps(cfg).encode(), received_at=RX)
    assert out[0].kind == "smoke_detector" and out[0].device_key == "ha:ab12cd"
    assert set(p.subscriptions) == {
        "homeassistant/#",
        "kitchen-node/binary_sensor/smoke/state",
        "kitchen-node/status",
    }
    assert p.decode("kitchen-node/binary_sensor/smoke/state", b"ON", received_at=RX) == [
        DeviceEvent(
            "ha:ab12cd",
            EventKind.SMOKE,
            EventState.ACTIVE,
            RX,
            "homeassistant",
            {"device_class": "smoke", "entity": topic},
        )
    ]
    assert (
        p.decode("kitchen-node/binary_sensor/smoke/state", b"OFF", received_at=RX)[0].state
        == EventState.CLEARED
    )
    assert p.decode("kitchen-node/status", b"online", received_at=RX)[0].availability == Availability.ONLINE
    assert p.decode(topic, b"", received_at=RX) == [
        DeviceInfo("ha:ab12cd", RX, "homeassistant", removed=True)
    ]
    assert p.subscriptions == ("homeassistant/#",)
    with pytest.raises(DecodeError) as exc:
        p.decode("kitchen-node/binary_sensor/smoke/state", b"ON", received_at=RX)
    assert exc.value.reason == "unknown_topic"


def test_tasmota_abbreviated_sensor_config() -> None:
    p = HaDiscoveryProfile()
    cfg = {
        "name": "Temp",
        "~": "tele/tasmota_ABC/",
        "stat_t": "~SENSOR",
        "dev_cla": "temperature",
        "unit_of_meas": "°F",
        "val_tpl": "{{value_json['AM2301'].Temperature | float}}",
        "uniq_id": "ABC_temp",
        "dev": {"ids": ["ABC"], "mf": "Tasmota"},
    }
    p.decode("homeassistant/sensor/ABC/temp/config", json.dumps(cfg).encode(), received_at=RX)
    out = p.decode("tele/tasmota_ABC/SENSOR", b'{"AM2301":{"Temperature":98.6}}', received_at=RX)
    assert out == [Reading("ha:ABC", "temperature", pytest.approx(37.0), "degC", RX, "homeassistant")]


def test_second_entity_keeps_device() -> None:
    p = HaDiscoveryProfile()
    base = {"device": {"identifiers": ["dev1"]}, "state_topic": "s/dev1"}
    p.decode(
        "homeassistant/binary_sensor/dev1/a/config",
        json.dumps({**base, "device_class": "gas", "value_template": "{{ value_json.gas }}"}).encode(),
        received_at=RX,
    )
    p.decode(
        "homeassistant/sensor/dev1/b/config",
        json.dumps(
            {**base, "device_class": "battery", "value_template": "{{ value_json.battery }}"}
        ).encode(),
        received_at=RX,
    )
    out = p.decode("s/dev1", b'{"gas":"ON","battery":"77"}', received_at=RX)
    assert [type(m).__name__ for m in out] == ["DeviceEvent", "Reading"]
    assert out[1].value == 77.0
    assert p.decode("homeassistant/binary_sensor/dev1/a/config", b"", received_at=RX) == []
    assert p.decode("homeassistant/sensor/dev1/b/config", b"", received_at=RX)[0].removed


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("{{ value_json.battery_low }}", ("battery_low",)),
        ("{{value_json.a.b}}", ("a", "b")),
        ("{{ value_json['x y'] }}", ("x y",)),
        ('{{ value_json["k"] | int }}', ("k",)),
        ("{{ value }}", ()),
        (None, ()),
        ("{{ value_json.a | lower }}", None),
        ("{% if value_json.a %}ON{% endif %}", None),
        ("{{ value_json }}", None),
    ],
)
def test_value_templates(template: str | None, path: tuple[str, ...] | None) -> None:
    assert parse_value_template(template) == path


def test_homeassistant_status_birth_message() -> None:
    assert HaDiscoveryProfile().decode("homeassistant/status", b"online", received_at=RX) == []


def test_bad_config_rejected() -> None:
    with pytest.raises(DecodeError) as exc:
        HaDiscoveryProfile().decode(CONFIG_TOPIC, b"[]", received_at=RX)
    assert exc.value.reason == "not_object"


def test_tasmota_sensor_lwt_and_state() -> None:
    p = TasmotaProfile(tz=UTC)
    out = p.decode(
        "tele/tasmota_1A2B3C/SENSOR",
        b'{"Time":"2025-06-16T12:30:40","AM2301":{"Temperature":22.1,"Humidity":45.0,"DewPoint":9.7},'
        b'"DS18B20":{"Id":"01144A0CB2AA","Temperature":21.5},"TempUnit":"C"}',
        received_at=RX,
    )
    k, t = "tasmota:tasmota_1A2B3C", 1_750_077_040.0
    assert out == [
        Reading(k, "temperature", 22.1, "degC", t, "tasmota"),
        Reading(k, "humidity", 45.0, "%", t, "tasmota"),
        Reading(k, "temperature_ds18b20", 21.5, "degC", t, "tasmota"),
        UnmappedFields(k, ("AM2301.DewPoint",), t, "tasmota"),
    ]
    assert p.decode("tele/tasmota_1A2B3C/LWT", b"Offline", received_at=RX) == [
        DeviceStatus(k, Availability.OFFLINE, RX, "tasmota", "lwt")
    ]
    assert (
        p.decode("tele/tasmota_1A2B3C/LWT", b"Online", received_at=RX)[0].availability == Availability.ONLINE
    )
    state = p.decode(
        "tele/tasmota_1A2B3C/STATE",
        b'{"Time":"2020-01-01T00:00:00","Wifi":{"RSSI":80,"Signal":-60}}',
        received_at=RX,
    )
    assert state == [Reading(k, "rssi", -60.0, "dBm", RX, "tasmota")]  # stale clock: arrival time
    assert p.decode("tele/tasmota_1A2B3C/INFO1", b"{}", received_at=RX) == []
    with pytest.raises(DecodeError) as exc:
        p.decode("tele/tasmota_1A2B3C/LWT", b"Sleeping", received_at=RX)
    assert exc.value.reason == "bad_value"
