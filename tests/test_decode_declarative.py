"""Declarative TOML profiles: the shipped ACME example and loader errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device_drivers.model import (
    Availability,
    DecodeError,
    DeviceEvent,
    DeviceStatus,
    EventKind,
    EventState,
    Reading,
)
from device_drivers.profiles.builtin import EXAMPLES_DIR, build_profiles
from device_drivers.profiles.declarative import ProfileFileError, load_profile_dirs, load_profile_file

RX = 1_750_077_050.0
T = 1_750_077_045.123
SRC = "acme_wristband"
KEY = "acme:CB3-000123"


@pytest.fixture(scope="module")
def acme():
    return load_profile_file(EXAMPLES_DIR / "acme_wristband.toml")


def decode(profile, payload: object, topic: str = "acme/careband/CB3-000123/up") -> list:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return profile.decode(topic, raw, received_at=RX)


def test_example_loads(acme) -> None:
    assert acme.name == SRC
    assert acme.subscriptions == ("acme/careband/+/up", "acme/careband/+/lwt")
    assert acme.matches("acme/careband/X/up") and acme.matches("acme/careband/X/lwt")
    assert not acme.matches("acme/careband/X/down")


def test_example_vitals(acme) -> None:
    out = decode(
        acme,
        {
            "sn": "CB3-000123",
            "t": 1_750_077_045_123,
            "kind": "vitals",
            "hr": 72,
            "spo2": 0,
            "bat": 88,
            "skin_t10": 365,
            "bp": {"sys": 128, "dia": 82},
            "gps": {"lat": 31.2304, "lon": 121.4737},
            "alarm": "none",
            "worn": 1,
        },
    )
    assert out == [
        Reading(KEY, "heart_rate", 72.0, "bpm", T, SRC),
        Reading(KEY, "battery", 88.0, "%", T, SRC),
        Reading(KEY, "body_temperature", 36.5, "degC", T, SRC),
        Reading(KEY, "bp_systolic", 128.0, "mmHg", T, SRC),
        Reading(KEY, "bp_diastolic", 82.0, "mmHg", T, SRC),
        Reading(KEY, "latitude", 31.2304, "deg", T, SRC),
        Reading(KEY, "longitude", 121.4737, "deg", T, SRC),
        Reading(KEY, "worn", 1.0, "bool", T, SRC),
    ]


def test_example_events_and_history(acme) -> None:
    assert decode(acme, {"t": 1_750_077_045_123, "alarm": "sos"}) == [
        DeviceEvent(KEY, EventKind.SOS, EventState.MOMENTARY, T, SRC, {"field": "alarm"})
    ]
    assert decode(acme, {"alarm": "lowbat", "strap_open": False}) == [
        DeviceEvent(KEY, EventKind.BATTERY_LOW, EventState.ACTIVE, RX, SRC, {"field": "alarm"}),
        DeviceEvent(KEY, EventKind.TAMPER, EventState.CLEARED, RX, SRC, {"field": "strap_open"}),
    ]
    out = decode(
        acme,
        {"kind": "history", "rec": [{"t": 1_750_070_000_000, "hr": 66}, {"t": 1_750_070_060_000, "hr": 67}]},
    )
    assert out == [
        Reading(KEY, "heart_rate", 66.0, "bpm", 1_750_070_000.0, SRC),
        Reading(KEY, "heart_rate", 67.0, "bpm", 1_750_070_060.0, SRC),
    ]


def test_example_lwt(acme) -> None:
    assert decode(acme, b"0", topic="acme/careband/CB3-000123/lwt") == [
        DeviceStatus(KEY, Availability.OFFLINE, RX, SRC, "device")
    ]
    with pytest.raises(DecodeError) as exc:
        decode(acme, b"2", topic="acme/careband/CB3-000123/lwt")
    assert exc.value.reason == "bad_value"


def test_self_test_suppresses_hazards(tmp_path: Path) -> None:
    (tmp_path / "nb.toml").write_text("""
name = "acme_smoke"
topics = ["acme/smoke/#"]
device_field = "dev.id"
selftest_field = "test"
[[events]]
field = "smoke"
is_true = true
kind = "smoke"
state = "active"
otherwise = "cleared"
[[status]]
field = "conn"
online = ["up"]
offline = ["down"]
""")
    (profile,) = load_profile_dirs([tmp_path, tmp_path / "missing"])
    assert profile.subscriptions == ("acme/smoke/#",)
    out = decode(profile, {"dev": {"id": 42}, "smoke": 1, "conn": "up"}, topic="acme/smoke/a/b")
    assert out == [
        DeviceEvent(
            "acme_smoke:42", EventKind.SMOKE, EventState.ACTIVE, RX, "acme_smoke", {"field": "smoke"}
        ),
        DeviceStatus("acme_smoke:42", Availability.ONLINE, RX, "acme_smoke", "device"),
    ]
    out = decode(profile, {"dev": {"id": 42}, "smoke": True, "test": "true"}, topic="acme/smoke/a")
    assert out == [
        DeviceEvent(
            "acme_smoke:42", EventKind.SELF_TEST, EventState.ACTIVE, RX, "acme_smoke", {"field": "test"}
        )
    ]
    with pytest.raises(DecodeError) as exc:
        decode(profile, {"smoke": True}, topic="acme/smoke/a")
    assert exc.value.reason == "bad_device_id"


def test_declarative_profiles_claim_topics_first(tmp_path: Path) -> None:
    (tmp_path / "z.toml").write_text(
        'name = "vendor_z"\ntopics = ["zigbee2mqtt/vendor/{device}"]\n'
        '[[readings]]\nfield = "b"\nmetric = "battery"\n'
    )
    profiles = build_profiles({"zigbee2mqtt": "zigbee2mqtt"}, [tmp_path])
    assert profiles.route("zigbee2mqtt/vendor/x").name == "vendor_z"
    assert profiles.route("zigbee2mqtt/other").name == "zigbee2mqtt"


def test_duplicate_and_builtin_names_rejected(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('name = "zigbee2mqtt"\ntopics = ["v/{device}"]\n')
    with pytest.raises(ProfileFileError, match="already used by a built-in"):
        build_profiles({}, [tmp_path])
    (tmp_path / "a.toml").write_text('name = "v"\ntopics = ["v/{device}"]\n')
    (tmp_path / "b.toml").write_text('name = "v"\ntopics = ["w/{device}"]\n')
    with pytest.raises(ProfileFileError, match="a.toml"):
        build_profiles({}, [tmp_path])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('topics = ["a/{device}"]', "missing key 'name'"),
        ('name = "x"\ntopics = ["a/b"]', "needs {device}"),
        ('name = "x"\ntopics = ["a/{device}x"]', "whole topic level"),
        ('name = "x"\ntopics = ["#"]\ndevice_field = "id"', "literal level"),
        (
            'name = "x"\ntopics = ["a/{device}"]\n[[readings]]\nfield = "q"\nmetric = "quality"',
            "give its unit",
        ),
        ('name = "x"\ntopics = ["a/{device}"]\n[[events]]\nfield = "q"\nkind = "party"', "party"),
        ('name = "x"\ntopics = ["a/{device}"]\n[[events]]\nfield = "q"\nkind = "sos"', "exactly one"),
        ('name = "x"\ntopics = ["a/{device}"]\nreadings = "oops"', "x.toml"),
        ("name = ", "x.toml"),
    ],
)
def test_loader_errors_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text(text)
    with pytest.raises(ProfileFileError, match=message):
        load_profile_file(path)
