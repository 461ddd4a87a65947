"""CareHub native format v1 (docs/protocol.md): telemetry, events, status/LWT and binary accel batches."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from device_drivers.json_payload import (
    MAX_AGE_RECORD,
    check_size,
    device_time,
    number,
    parse_object,
    require,
    string,
)
from device_drivers.model import (
    CANONICAL_UNITS,
    AccelBatch,
    Availability,
    DecodeError,
    DeviceEvent,
    DeviceStatus,
    EventKind,
    EventState,
    Message,
    Reading,
)
from device_drivers.unmapped import Unmapped

ACCEL_HEADER = struct.Struct("<2sBBdHHH")  # magic, version, flags, t0, rate_hz, n, scale: 18 bytes
ACCEL_MAGIC = b"CA"
ACCEL_FLAG_OFFSETS = 0x01
ACCEL_MAX_SAMPLES = 1000  # 10 s at 100 Hz; larger batches delay fall detection anyway
ACCEL_MAX_HZ = 1000
CHANNELS = frozenset({"telemetry", "event", "status", "accel"})
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")
_EVENT_KINDS = {k.value: k for k in EventKind}
_EVENT_STATES = {s.value: s for s in EventState}
# top-level keys per channel (docs/protocol.md); any other key is reported unmapped
CHANNEL_KEYS = {
    "telemetry": frozenset({"v", "ts", "seq", "readings"}),
    "event": frozenset({"v", "ts", "seq", "event", "state", "detail"}),
    "status": frozenset({"v", "ts", "seq", "status", "reason"}),
    "accel": frozenset({"v", "ts", "seq", "t0", "hz", "xyz"}),
}


def _metric_ok(name: str) -> bool:
    return 0 < len(name) <= 64 and name[0].isascii() and name[0].isalpha() and all(
        c.isascii() and (c.isalnum() or c == "_") for c in name) and name == name.lower()


def _version(obj: dict[str, Any]) -> None:
    v = require(obj, "v")
    if type(v) is not int or v != 1:
        raise DecodeError("bad_version", repr(v)[:20])


class NativeProfile:
    """Decode `<root>/v1/<device_id>/<channel>` messages from CareHub-native devices and the simulator."""

    name = "native"

    def __init__(self, root: str = "carehub") -> None:
        self.root = root
        self.prefix = root + "/"
        self.subscriptions = (f"{root}/+/+/+",)

    def matches(self, topic: str) -> bool:
        """Return True for topics under the native root."""
        return topic.startswith(self.prefix)

    def decode(self, topic: str, payload: bytes, *, received_at: float) -> list[Message]:
        """Decode one native message into canonical messages."""
        parts = topic[len(self.prefix):].split("/")
        if len(parts) != 3 or not topic.startswith(self.prefix):
            raise DecodeError("unknown_topic", topic[:120])
        version, device_id, channel = parts
        if version != "v1":
            raise DecodeError("bad_version", version[:20])
        if not 0 < len(device_id) <= 64 or not _ID_CHARS.issuperset(device_id):
            raise DecodeError("bad_device_id", device_id[:64])
        key = "ch:" + device_id
        check_size(payload)
        if channel == "accel":
            if payload[:2] == ACCEL_MAGIC:
                return [decode_accel_binary(key, payload, received_at=received_at, source=self.name)]
            obj = parse_object(payload)
            batch = self._accel_json(key, obj, received_at)
            return _with_unmapped([batch], obj, channel, key, batch.ts, self.name)
        if channel not in CHANNELS:
            raise DecodeError("unknown_topic", channel[:40])
        obj = parse_object(payload)
        _version(obj)
        ts = received_at
        raw_ts = obj.get("ts")
        if raw_ts is not None:
            ts = device_time(number(raw_ts, "ts"), received_at)
        if channel == "telemetry":
            out = self._telemetry(key, obj, ts)
        elif channel == "event":
            out = [self._event(key, obj, ts)]
        else:
            out = [self._status(key, obj, ts)]
        return _with_unmapped(out, obj, channel, key, ts, self.name)

    def _telemetry(self, key: str, obj: dict[str, Any], ts: float) -> list[Message]:
        readings = require(obj, "readings")
        if type(readings) is not dict:
            raise DecodeError("bad_type", "readings")
        out: list[Message] = []
        for metric, value in readings.items():
            if value is None:
                continue
            if not _metric_ok(metric):
                raise DecodeError("bad_metric", metric[:64])
            if type(value) is bool:
                number_value = 1.0 if value else 0.0
            else:
                number_value = number(value, metric)
            out.append(Reading(key, metric, number_value, CANONICAL_UNITS.get(metric, ""), ts, self.name))
        return out

    def _event(self, key: str, obj: dict[str, Any], ts: float) -> DeviceEvent:
        kind = _EVENT_KINDS.get(string(require(obj, "event"), "event"))
        if kind is None:
            raise DecodeError("bad_value", f"event {obj['event'][:40]!r}")
        state = _EVENT_STATES.get(string(obj.get("state", "momentary"), "state"))
        if state is None:
            raise DecodeError("bad_value", f"state {obj['state'][:40]!r}")
        detail = obj.get("detail", {})
        if type(detail) is not dict:
            raise DecodeError("bad_type", "detail")
        seq = obj.get("seq")
        if seq is not None:
            if type(seq) is not int:
                raise DecodeError("bad_type", "seq")
            detail = {**detail, "seq": seq}  # lets the hub drop a QoS 1 redelivery of the same press
        return DeviceEvent(key, kind, state, ts, self.name, detail)

    def _status(self, key: str, obj: dict[str, Any], ts: float) -> DeviceStatus:
        status = string(require(obj, "status"), "status")
        if status == "online":
            avail = Availability.ONLINE
        elif status == "offline":
            avail = Availability.OFFLINE
        else:
            raise DecodeError("bad_value", f"status {status[:40]!r}")
        reason = string(obj.get("reason", ""), "reason")[:200]
        return DeviceStatus(key, avail, ts, self.name, reason)

    def _accel_json(self, key: str, obj: dict[str, Any], received_at: float) -> AccelBatch:
        _version(obj)
        hz = number(require(obj, "hz"), "hz")
        if not 0 < hz <= ACCEL_MAX_HZ:
            raise DecodeError("bad_value", "hz")
        rows = require(obj, "xyz")
        if type(rows) is not list or not 0 < len(rows) <= ACCEL_MAX_SAMPLES:
            raise DecodeError("bad_length", "xyz")
        flat: list[float] = []
        for row in rows:
            if type(row) is not list or len(row) != 3:
                raise DecodeError("bad_type", "xyz row")
            flat.extend(number(c, "xyz") for c in row)
        xyz = np.asarray(flat, dtype=np.float32).reshape(-1, 3)
        if not np.isfinite(xyz).all():
            raise DecodeError("out_of_range", "xyz")
        n = len(rows)
        t0 = _accel_t0(number(require(obj, "t0"), "t0"), (n - 1) / hz, received_at)
        t = t0 + np.arange(n, dtype=np.float64) / hz
        return AccelBatch(key, t, xyz, self.name)


def _with_unmapped(out: list[Message], obj: dict[str, Any], channel: str, key: str, ts: float,
                   source: str) -> list[Message]:
    """Append an UnmappedFields for top-level keys the channel does not define (telemetry names are all kept)."""
    known = CHANNEL_KEYS[channel]
    if all(k in known for k in obj):
        return out
    unmapped = Unmapped()
    unmapped.extra(obj, known)
    return out + unmapped.message(key, ts, source)


def _accel_t0(t0: float, span: float, received_at: float) -> float:
    """Return t0, or a t0 that ends the batch at arrival when the device clock is not sane."""
    sane = device_time(t0, received_at, max_age=MAX_AGE_RECORD)
    return t0 if sane == t0 else received_at - span


def decode_accel_binary(key: str, payload: bytes, *, received_at: float,
                        source: str = "native") -> AccelBatch:
    """Decode one binary accel batch (`CA` header, int16 xyz) into an AccelBatch in g."""
    if len(payload) < ACCEL_HEADER.size:
        raise DecodeError("bad_length", f"{len(payload)} < header")
    magic, version, flags, t0, rate_hz, n, scale = ACCEL_HEADER.unpack_from(payload)
    if magic != ACCEL_MAGIC:
        raise DecodeError("bad_magic", repr(magic))
    if version != 1:
        raise DecodeError("bad_version", str(version))
    if flags & ~ACCEL_FLAG_OFFSETS:
        raise DecodeError("bad_flags", hex(flags))
    if not 0 < n <= ACCEL_MAX_SAMPLES:
        raise DecodeError("bad_length", f"n={n}")
    if not 0 < rate_hz <= ACCEL_MAX_HZ or scale == 0:
        raise DecodeError("bad_value", f"rate_hz={rate_hz} scale={scale}")
    if t0 - t0 != 0.0:
        raise DecodeError("nan", "t0")
    has_offsets = bool(flags & ACCEL_FLAG_OFFSETS)
    expected = ACCEL_HEADER.size + (2 * n if has_offsets else 0) + 6 * n
    if len(payload) != expected:
        raise DecodeError("bad_length", f"{len(payload)} != {expected}")
    pos = ACCEL_HEADER.size
    if has_offsets:
        offsets = np.frombuffer(payload, dtype="<u2", count=n, offset=pos).astype(np.float64)
        pos += 2 * n
        if n > 1 and (np.diff(offsets) < 0).any():
            raise DecodeError("bad_value", "offsets not monotonic")
        rel = offsets / 1000.0
    else:
        rel = np.arange(n, dtype=np.float64) / rate_hz
    t = _accel_t0(t0, float(rel[-1]), received_at) + rel
    counts = np.frombuffer(payload, dtype="<i2", count=3 * n, offset=pos).reshape(n, 3)
    xyz = counts.astype(np.float32) / np.float32(scale)
    return AccelBatch(key, t, xyz, source)


def encode_accel_binary(t0: float, rate_hz: int, xyz_counts: np.ndarray, *, scale: int = 1024,
                        offsets_ms: np.ndarray | None = None) -> bytes:
    """Return the binary accel payload for int16 counts (n, 3); the reference encoder for tests and docs."""
    counts = np.asarray(xyz_counts, dtype="<i2").reshape(-1, 3)
    n = len(counts)
    flags = ACCEL_FLAG_OFFSETS if offsets_ms is not None else 0
    head = ACCEL_HEADER.pack(ACCEL_MAGIC, 1, flags, t0, rate_hz, n, scale)
    body = np.asarray(offsets_ms, dtype="<u2").tobytes() if offsets_ms is not None else b""
    return head + body + counts.tobytes()
