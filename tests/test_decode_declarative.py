"""Declarative TOML profiles: the shipped ACME example, HTTP push bindings, unmapped fields, loader errors."""

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
    UnmappedFields,
)
from device_drivers.profiles.builtin import EXAMPLES_DIR, build_profiles
from device_drivers.profiles.declarative import (
    MAX_UNMAPPED,
    ProfileFileError,
    load_profile_dirs,
    load_profile_file,
    load_profile_text,
)

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


NB_SMOKE = """
name = "acme_nb_smoke"
key_prefix = "imei"
device_field = "imei"
time_field = "ts"
ignore = ["type", "meta.fw"]

[push]
path = "acme-smoke"
api_keys = ["acme-cloud"]

[[events]]
field = "data.smoke"
equals = 1
kind = "smoke"
state = "active"
otherwise = "cleared"

[[readings]]
field = "data.bat"
metric = "battery"
"""
IMEI_KEY = "imei:865067101234563"


def test_push_profile_decodes_a_body_like_an_mqtt_payload() -> None:
    profile = load_profile_text(NB_SMOKE, "nb.toml")
    assert (profile.push_path, profile.push_keys, profile.subscriptions) == ("acme-smoke", ("acme-cloud",), ())
    assert not profile.matches("acme-smoke")
    body = {"imei": "865067101234563", "ts": T, "type": "report", "data": {"smoke": 1, "bat": 87}}
    assert profile.decode_push(json.dumps(body).encode(), received_at=RX) == [
        Reading(IMEI_KEY, "battery", 87.0, "%", T, "acme_nb_smoke"),
        DeviceEvent(IMEI_KEY, EventKind.SMOKE, EventState.ACTIVE, T, "acme_nb_smoke", {"field": "data.smoke"}),
    ]
    for raw, reason in [(b"[1]", "not_object"), (b"{", "not_json"), (b'{"data": {"smoke": 1}}', "bad_device_id"),
                        (b'{"imei": "x y", "data": {}}', "bad_device_id")]:
        with pytest.raises(DecodeError) as exc:
            profile.decode_push(raw, received_at=RX)
        assert exc.value.reason == reason, raw
    with pytest.raises(DecodeError, match="no 'imei' in the payload"):
        profile.decode_push(b'{"data": {"smoke": 1}}', received_at=RX)


def test_profile_set_maps_push_paths_and_keys(tmp_path: Path) -> None:
    (tmp_path / "nb.toml").write_text(NB_SMOKE)
    profiles = build_profiles({}, [tmp_path])
    assert profiles.push_paths["acme-smoke"].name == "acme_nb_smoke"
    assert profiles.push_keys["acme-cloud"].name == "acme_nb_smoke"
    assert "acme-smoke" not in profiles.push_keys


def test_push_path_and_key_claimed_twice_names_both_files(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(NB_SMOKE)
    (tmp_path / "b.toml").write_text(NB_SMOKE.replace('"acme_nb_smoke"', '"other"').replace('"acme-cloud"', '"k2"'))
    with pytest.raises(ProfileFileError, match=r"b\.toml: push path 'acme-smoke' already used by .*a\.toml"):
        load_profile_dirs([tmp_path])
    (tmp_path / "b.toml").write_text(NB_SMOKE.replace('"acme_nb_smoke"', '"other"').replace('"acme-smoke"', '"p2"'))
    with pytest.raises(ProfileFileError, match=r"b\.toml: push API key 'acme-cloud' already used by .*a\.toml"):
        load_profile_dirs([tmp_path])


def test_unmapped_fields_are_listed_once_per_payload() -> None:
    text = NB_SMOKE.replace('ignore = ["type", "meta.fw"]',
                            'records_field = "rec"\nignore = ["type", "meta.fw", "rec[].seq"]')
    profile = load_profile_text(text, "nb.toml")
    body = {"imei": "865067101234563", "type": "report", "rsrp": -95, "empty": None,
            "meta": {"fw": "1.2", "hw": "B"}, "data": {"smoke": 0, "bat": 80, "snr": 12, "cells": [1, 2]},
            "rec": [{"data": {"bat": 79}, "seq": 1, "q": 2}, {"seq": 2, "q": 3, "z": 1}]}
    out = profile.decode_push(json.dumps(body).encode(), received_at=RX)
    assert out[-1] == UnmappedFields(IMEI_KEY, ("rsrp", "meta.hw", "data.snr", "data.cells", "rec[].q", "rec[].z"),
                                     RX, "acme_nb_smoke")
    assert not any(isinstance(m, UnmappedFields) for m in out[:-1])
    fully_mapped = {"imei": "865067101234563", "type": "x", "data": {"smoke": 1}}
    assert not any(isinstance(m, UnmappedFields)
                   for m in profile.decode_push(json.dumps(fully_mapped).encode(), received_at=RX))


def test_unmapped_fields_follow_list_indices_and_are_capped(tmp_path: Path) -> None:
    profile = load_profile_text('name = "l"\ntopics = ["l/{device}"]\n[[readings]]\nfield = "d.0.hr"\n'
                                'metric = "heart_rate"\n', "l.toml")
    out = decode(profile, {"d": [{"hr": 70, "x": 1}, {"hr": 71}], "gps": "none"}, topic="l/a")
    assert out == [Reading("l:a", "heart_rate", 70.0, "bpm", RX, "l"),
                   UnmappedFields("l:a", ("d.0.x", "d.1", "gps"), RX, "l")]
    (unmapped,) = decode(profile, {f"f{i}": i for i in range(500)}, topic="l/a")
    assert len(unmapped.fields) == MAX_UNMAPPED and unmapped.fields[0] == "f0"


def test_status_topic_json_reports_unmapped_fields() -> None:
    profile = load_profile_text('name = "s"\ntopics = ["s/{device}/up"]\n[[status]]\ntopic = "s/{device}/conn"\n'
                                'field = "c"\nonline = ["up"]\noffline = ["down"]\n', "s.toml")
    assert decode(profile, {"c": "up", "why": "boot"}, topic="s/a/conn") == [
        DeviceStatus("s:a", Availability.ONLINE, RX, "s", "device"), UnmappedFields("s:a", ("why",), RX, "s")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\ntopics = ["a/{device}"]\ntime_feild = "t"', r"x\.toml:3: unknown key 'time_feild'"),
        ('name = "x"\ntopics = ["a/{device}"]\n\n[[events]]\nfield = "a"\nequals = 1\nkind = "sos"\n\n[[events]]\n'
         'field = "b"\nequals = 1\nkind = "smoek"', r"x\.toml:12: \[\[events\]\] #2: kind 'smoek' is not an event"),
        ('name = "x"\ntopics = ["a/{device}"]\n[[readings]]\nfield = "a"\nmetric = "battery"\nscale = "ten"',
         r"x\.toml:6: \[\[readings\]\] #1: scale must be a number"),
        ('name = "x"\ntopics = ["a/{device}"]\n[[readings]]\nfeild = "a"\nmetric = "battery"',
         r"x\.toml:4: \[\[readings\]\] #1: unknown key 'feild'"),
        ('name = "x"\ntopics = ["a/{device}"]\n[[readings]]\nfield = "a..b"\nmetric = "battery"',
         r"x\.toml:4: .*dotted JSON path"),
        ('name = "x"\n[push]\npath = "p"', r"x\.toml:2: \[push\]: .*set device_field"),
        ('name = "x"\ndevice_field = "id"\n[push]\npath = "a/b"', r"x\.toml:4: \[push\]: path must be"),
        ('name = "x"\ndevice_field = "id"\n[push]\napi_keys = "k"', r"x\.toml:4: \[push\]: api_keys must be a list"),
        ('name = "x"\ndevice_field = "id"\n[push]\n', r"\[push\]: needs path and/or api_keys"),
        ('name = "x"\ndevice_field = "id"', "missing key 'topics'"),
        ('name = "x y"\ntopics = ["a/{device}"]', r"x\.toml:1: name must be"),
        ('name = "x"\ntopics = ["a/{device}"]\n[[events]]\nfield = "a"\nis_true = "yes"\nkind = "sos"',
         "is_true must be true or false"),
        ('name = "x"\ntopics = ["a/{device}"]\n[status]\ntopic = "a/{device}/s"\nonline = "1"',
         r"x\.toml:5: \[status\]: online must be a non-empty list"),
    ],
)
def test_loader_errors_name_the_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text(text)
    with pytest.raises(ProfileFileError, match=message):
        load_profile_file(path)
