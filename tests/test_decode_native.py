"""CareHub native format v1: telemetry, events, status/LWT and the binary accel batch."""

from __future__ import annotations

import json
import struct

import numpy as np
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
from device_drivers.profiles.native import ACCEL_HEADER, NativeProfile, encode_accel_binary

RX = 1_750_077_045.0
T = 1_750_077_044.25


def decode(topic: str, payload: object) -> list:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return NativeProfile().decode(topic, raw, received_at=RX)


def test_telemetry() -> None:
    out = decode(
        "carehub/v1/wb-0007/telemetry",
        {
            "v": 1,
            "ts": T,
            "seq": 41,
            "readings": {
                "heart_rate": 72,
                "spo2": 97.5,
                "battery": 88,
                "worn": True,
                "skin_conductance": 3.1,
            },
        },
    )
    k = "ch:wb-0007"
    assert out == [
        Reading(k, "heart_rate", 72.0, "bpm", T, "native"),
        Reading(k, "spo2", 97.5, "%", T, "native"),
        Reading(k, "battery", 88.0, "%", T, "native"),
        Reading(k, "worn", 1.0, "bool", T, "native"),
        Reading(k, "skin_conductance", 3.1, "", T, "native"),
    ]


def test_event_and_status() -> None:
    out = decode(
        "carehub/v1/wb-0007/event",
        {"v": 1, "ts": T, "seq": 42, "event": "sos", "state": "momentary", "detail": {"button": 1}},
    )
    assert out == [
        DeviceEvent("ch:wb-0007", EventKind.SOS, EventState.MOMENTARY, T, "native", {"button": 1, "seq": 42})
    ]
    out = decode("carehub/v1/wb-0007/status", {"v": 1, "ts": T, "status": "offline", "reason": "lwt"})
    assert out == [DeviceStatus("ch:wb-0007", Availability.OFFLINE, T, "native", "lwt")]


def test_insane_ts_uses_arrival() -> None:
    out = decode("carehub/v1/a/telemetry", {"v": 1, "ts": 5, "seq": 1, "readings": {"battery": 1}})
    assert out[0].ts == RX


def test_binary_accel_evenly_spaced() -> None:
    counts = np.array([[0, 0, 1024], [512, -512, 1024], [-1024, 0, 0]], dtype=np.int16)
    payload = encode_accel_binary(T, 50, counts)
    assert len(payload) == ACCEL_HEADER.size + 18 == 36
    (batch,) = decode("carehub/v1/wb-0007/accel", payload)
    assert batch.device_key == "ch:wb-0007" and batch.source == "native"
    np.testing.assert_array_equal(batch.t, T + np.array([0.0, 0.02, 0.04]))
    assert batch.xyz.dtype == np.float32 and batch.xyz.shape == (3, 3)
    np.testing.assert_array_equal(batch.xyz, [[0, 0, 1], [0.5, -0.5, 1], [-1, 0, 0]])
    assert batch.ts == pytest.approx(T + 0.04)


def test_binary_accel_with_offsets() -> None:
    payload = encode_accel_binary(T, 25, np.zeros((3, 3)), offsets_ms=np.array([0, 41, 79]))
    (batch,) = decode("carehub/v1/x/accel", payload)
    np.testing.assert_allclose(batch.t, T + np.array([0.0, 0.041, 0.079]))


def test_accel_struct_layout_matches_spec() -> None:
    header = struct.pack("<2sBBdHHH", b"CA", 1, 0, T, 50, 1, 1024)
    (batch,) = decode("carehub/v1/x/accel", header + struct.pack("<3h", 0, 0, -1024))
    np.testing.assert_array_equal(batch.xyz, [[0, 0, -1]])


def test_json_accel_variant() -> None:
    (batch,) = decode("carehub/v1/x/accel", {"v": 1, "t0": T, "hz": 50, "xyz": [[0, 0, 1], [0.1, 0.2, 0.9]]})
    np.testing.assert_allclose(batch.t, [T, T + 0.02])
    np.testing.assert_allclose(batch.xyz, [[0, 0, 1], [0.1, 0.2, 0.9]], rtol=1e-6)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda p: p[:10], "bad_length"),
        (lambda p: p[:-1], "bad_length"),
        (lambda p: p[:2] + b"\x02" + p[3:], "bad_version"),
        (lambda p: p[:3] + b"\x80" + p[4:], "bad_flags"),
    ],
)
def test_binary_accel_rejects(mutate, reason: str) -> None:
    payload = encode_accel_binary(T, 50, np.zeros((4, 3)))
    with pytest.raises(DecodeError) as exc:
        decode("carehub/v1/x/accel", mutate(payload))
    assert exc.value.reason == reason


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("carehub/v2/x/telemetry", {"v": 2}, "bad_version"),
        ("carehub/v1/x/telemetry", {"v": 2, "readings": {}}, "bad_version"),
        ("carehub/v1/x/telemetry", {"v": True, "readings": {}}, "bad_version"),
        ("carehub/v1/x/telemetry", {"readings": {}}, "missing_field"),
        ("carehub/v1/x/telemetry", {"v": 1, "readings": {"Heart Rate": 1}}, "bad_metric"),
        ("carehub/v1/x/telemetry", {"v": 1, "readings": {"hr": "72"}}, "bad_type"),
        ("carehub/v1/x/event", {"v": 1, "event": "party"}, "bad_value"),
        ("carehub/v1/x/event", {"v": 1, "event": "sos", "state": "maybe"}, "bad_value"),
        ("carehub/v1/x/status", {"v": 1, "status": "sleeping"}, "bad_value"),
        ("carehub/v1/x/config", {"v": 1}, "unknown_topic"),
        ("carehub/v1/x y/telemetry", {"v": 1}, "bad_device_id"),
        ("carehub/v1/x/accel", {"v": 1, "t0": T, "hz": 50, "xyz": [[0, 0]]}, "bad_type"),
        ("carehub/v1/x/accel", b"CA", "bad_length"),
        ("carehub/v1/x/telemetry", b'{"v":1,"readings":{"hr":NaN}}', "nan"),
        ("carehub/v1/x/accel", b"CA" + b"\0" * 1_000_000, "too_large"),
    ],
)
def test_rejects(topic: str, payload: object, reason: str) -> None:
    with pytest.raises(DecodeError) as exc:
        decode(topic, payload)
    assert exc.value.reason == reason
