"""Elderly watches: heartbeat sample (local time), vitals, batched records, SOS, fall, online/offline."""

from __future__ import annotations

import json
from datetime import UTC, timedelta, timezone

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
from device_drivers.profiles.watch import WatchProfile

RX = 1_750_077_050.0
HEARTBEAT = (
    b'{"IMEI":"865067123456789","signalGSM":80,"battery":67,"satellites":4,"workingMode":2,'
    b'"timeStamps":"16/06/2025 12:30:45","step":999}'
)
KEY = "imei:865067123456789"


def decode(payload: object, topic: str = "watch/865067123456789/up", tz: timezone = UTC) -> list:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return WatchProfile(tz=tz).decode(topic, raw, received_at=RX)


def test_heartbeat_sample_local_time_in_configured_zone() -> None:
    t = 1_750_077_045.0  # 16/06/2025 12:30:45 read as UTC
    assert decode(HEARTBEAT) == [
        Reading(KEY, "gsm_signal", 80.0, "%", t, "watch"),
        Reading(KEY, "battery", 67.0, "%", t, "watch"),
        Reading(KEY, "gps_satellites", 4.0, "count", t, "watch"),
        Reading(KEY, "steps", 999.0, "count", t, "watch"),
        UnmappedFields(KEY, ("workingMode",), t, "watch"),
    ]


def test_heartbeat_in_wrong_zone_falls_back_to_arrival_time() -> None:
    out = decode(HEARTBEAT, tz=timezone(timedelta(hours=8)))  # 8 h in the past: not trusted
    assert {m.ts for m in out} == {RX}


def test_vitals_with_gps_and_zero_means_unmeasured() -> None:
    payload = {
        "IMEI": "865067123456789",
        "heartRate": 72,
        "systolic": 128,
        "diastolic": 82,
        "bodyTemperature": 36.6,
        "bloodOxygen": 0,
        "latitude": 31.2304,
        "longitude": 121.4737,
    }
    assert decode(payload) == [
        Reading(KEY, "heart_rate", 72.0, "bpm", RX, "watch"),
        Reading(KEY, "bp_systolic", 128.0, "mmHg", RX, "watch"),
        Reading(KEY, "bp_diastolic", 82.0, "mmHg", RX, "watch"),
        Reading(KEY, "body_temperature", 36.6, "degC", RX, "watch"),
        Reading(KEY, "latitude", 31.2304, "deg", RX, "watch"),
        Reading(KEY, "longitude", 121.4737, "deg", RX, "watch"),
    ]


def test_lbs_cells_and_bp_string() -> None:
    out = decode(
        {
            "imei": "865067123456789",
            "MCC": 460,
            "MNC": 0,
            "LAC": 4301,
            "CID": 20986,
            "bloodPressure": "120/80",
        }
    )
    assert [(m.metric, m.value) for m in out] == [
        ("cell_mcc", 460.0),
        ("cell_mnc", 0.0),
        ("cell_lac", 4301.0),
        ("cell_cid", 20986.0),
        ("bp_systolic", 120.0),
        ("bp_diastolic", 80.0),
    ]


def test_batched_records_use_their_epoch_timestamps() -> None:
    payload = {
        "IMEI": "865067123456789",
        "num_datas": 2,
        "data": [
            {"timestamp": 1_750_070_000, "heartRate": 66, "spo2": 97},
            {"timestamp": 1_750_073_600_000, "heartRate": 70},
        ],
    }
    assert decode(payload) == [
        Reading(KEY, "heart_rate", 66.0, "bpm", 1_750_070_000.0, "watch"),
        Reading(KEY, "spo2", 97.0, "%", 1_750_070_000.0, "watch"),
        Reading(KEY, "heart_rate", 70.0, "bpm", 1_750_073_600.0, "watch"),
    ]


def test_record_count_mismatch_rejected() -> None:
    with pytest.raises(DecodeError) as exc:
        decode({"IMEI": "865067123456789", "num_datas": 3, "data": [{"heartRate": 60}]})
    assert exc.value.reason == "count_mismatch"


@pytest.mark.parametrize(
    ("status", "kind", "state"),
    [
        ("SOS", EventKind.SOS, EventState.MOMENTARY),
        ("FALL DOWN", EventKind.FALL, EventState.MOMENTARY),
    ],
)
def test_sos_and_fall(status: str, kind: EventKind, state: EventState) -> None:
    out = decode({"IMEI": "865067123456789", "status": status, "latitude": 0, "longitude": 0})
    assert out == [DeviceEvent(KEY, kind, state, RX, "watch", {"status": status})]
    assert out[0].is_alarm


def test_alarm_with_nested_location() -> None:
    out = decode(
        {
            "IMEI": "865067123456789",
            "status": "SOS",
            "battery": 50,
            "location": {"lat": 31.2, "lon": 121.4, "MCC": 460, "status": "x"},
        }
    )
    assert [(type(m).__name__, getattr(m, "metric", "")) for m in out] == [
        ("Reading", "battery"),
        ("Reading", "cell_mcc"),
        ("Reading", "latitude"),
        ("Reading", "longitude"),
        ("DeviceEvent", ""),
    ]


def test_online_offline_and_imei_from_topic() -> None:
    assert decode({"status": "offline"}, topic="watch/865067123456789/status") == [
        DeviceStatus(KEY, Availability.OFFLINE, RX, "watch", "device")
    ]
    assert (
        decode({"status": "online"}, topic="watch/865067123456789/status")[0].availability
        == Availability.ONLINE
    )


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"battery": 50}, "missing_field"),
        ({"IMEI": "865067123456789", "status": "DANCING"}, "unknown_status"),
        ({"IMEI": "865067123456789", "latitude": 95, "longitude": 10}, "out_of_range"),
        ({"IMEI": "865067123456789", "battery": "lots"}, "bad_type"),
        ({"IMEI": "865067123456789", "data": {}}, "bad_type"),
    ],
)
def test_rejects(payload: dict, reason: str) -> None:
    with pytest.raises(DecodeError) as exc:
        decode(payload, topic="watch/x/up")
    assert exc.value.reason == reason
