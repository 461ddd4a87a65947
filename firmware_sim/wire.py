"""Encoders for every wire format the simulated devices speak (see docs/simulator.md).

Each encoder is a pure function returning `(topic, payload bytes)` or payload bytes only; nothing here
knows about MQTT connections or the hub. `decode_accel` is the reference decoder of the native
binary acceleration batch, used by the tests and as executable documentation of the format.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import numpy as np

# ---------------------------------------------------------------- identifiers


def luhn_check_digit(digits: str) -> str:
    """Return the Luhn check digit that completes `digits` (as used by the 15th IMEI digit)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # doubled positions, counted from the right of the payload
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    """Return True when the last digit of `number` is its Luhn check digit."""
    return number.isdigit() and len(number) >= 2 and luhn_check_digit(number[:-1]) == number[-1]


def make_imei(tac: str, serial: int) -> str:
    """Return a 15-digit IMEI from an 8-digit type allocation code and a 6-digit serial."""
    body = f"{tac}{serial:06d}"
    if len(body) != 14 or not body.isdigit():
        raise ValueError(f"bad IMEI body {body!r}")
    return body + luhn_check_digit(body)


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


# ---------------------------------------------------------------- Zigbee2MQTT (DEVICES.md §1)

Z2M_BASE = "zigbee2mqtt"


def z2m_state(friendly_name: str, fields: dict[str, Any]) -> tuple[str, bytes]:
    """Encode a Zigbee2MQTT device state message (the full state object, as Z2M publishes it)."""
    return f"{Z2M_BASE}/{friendly_name}", _json(fields)


def z2m_availability(friendly_name: str, online: bool) -> tuple[str, bytes]:
    """Encode a device availability message (publish retained)."""
    return f"{Z2M_BASE}/{friendly_name}/availability", _json({"state": "online" if online else "offline"})


def z2m_bridge_state(online: bool) -> tuple[str, bytes]:
    """Encode the bridge state (retained; the offline form is the bridge connection's LWT)."""
    return f"{Z2M_BASE}/bridge/state", _json({"state": "online" if online else "offline"})


def z2m_bridge_event(kind: str, friendly_name: str, ieee_address: str) -> tuple[str, bytes]:
    """Encode a bridge event such as `device_joined` or `device_announce`."""
    data = {"friendly_name": friendly_name, "ieee_address": ieee_address}
    return f"{Z2M_BASE}/bridge/event", _json({"type": kind, "data": data})


def z2m_expose(name: str) -> dict[str, Any]:
    """Return a minimal Zigbee2MQTT `exposes` entry for a property name."""
    binary = {"smoke", "gas", "battery_low", "tamper", "selftest", "test", "buzzer", "heat"}
    units = {"battery": "%", "linkquality": "lqi", "gas_density": "%LEL", "smoke_density_dbm": "dB/m",
             "voltage": "mV", "device_temperature": "°C", "temperature": "°C", "smoke_density": ""}
    if name in binary:
        return {"type": "binary", "name": name, "property": name, "access": 1,
                "value_on": True, "value_off": False}
    if name in units:
        entry: dict[str, Any] = {"type": "numeric", "name": name, "property": name, "access": 1}
        if units[name]:
            entry["unit"] = units[name]
        return entry
    return {"type": "enum", "name": name, "property": name, "access": 1, "values": []}


def z2m_bridge_devices(devices: list[dict[str, Any]], coordinator_ieee: str) -> tuple[str, bytes]:
    """Encode the retained `bridge/devices` array; `devices` items carry ieee/name/model/vendor/exposes."""
    out: list[dict[str, Any]] = [{
        "ieee_address": coordinator_ieee, "type": "Coordinator", "network_address": 0,
        "friendly_name": "Coordinator", "supported": True, "interview_completed": True,
        "definition": None, "disabled": False,
    }]
    for d in devices:
        out.append({
            "ieee_address": d["ieee_address"],
            "type": d.get("type", "EndDevice"),
            "network_address": d.get("network_address", 0),
            "friendly_name": d["friendly_name"],
            "power_source": d.get("power_source", "Battery"),
            "model_id": d.get("model_id", d["model"]),
            "manufacturer": d.get("manufacturer", d["vendor"]),
            "supported": True,
            "interview_completed": True,
            "disabled": False,
            "definition": {
                "model": d["model"], "vendor": d["vendor"], "description": d.get("description", ""),
                "exposes": [z2m_expose(name) for name in d["exposes"]],
            },
        })
    return f"{Z2M_BASE}/bridge/devices", _json(out)


# ---------------------------------------------------------------- elderly watch JSON (DEVICES.md §4)

WATCH_BASE = "watch"


def watch_time(ts: float, tz: tzinfo | None = None) -> str:
    """Format an epoch time as the watches do: `dd/mm/yyyy HH:MM:SS` in local time."""
    return datetime.fromtimestamp(ts, tz).strftime("%d/%m/%Y %H:%M:%S")


def watch_heartbeat(imei: str, *, ts: float, battery: int, signal: int, satellites: int, steps: int,
                    working_mode: int = 2, tz: tzinfo | None = None) -> tuple[str, bytes]:
    """Encode the watch heartbeat/status message."""
    body = {"IMEI": imei, "signalGSM": signal, "battery": battery, "satellites": satellites,
            "workingMode": working_mode, "timeStamps": watch_time(ts, tz), "step": steps}
    return f"{WATCH_BASE}/{imei}/heartbeat", _json(body)


def watch_vitals(imei: str, records: list[dict[str, Any]]) -> tuple[str, bytes]:
    """Encode a batch of vital-sign records (`time` epoch s, heartRate, sbp, dbp, bodyTemperature, spo2)."""
    return f"{WATCH_BASE}/{imei}/vitals", _json({"IMEI": imei, "num_datas": len(records), "data": records})


def watch_alarm(imei: str, status: str, *, ts: float, battery: int, location: dict[str, Any],
                tz: tzinfo | None = None) -> tuple[str, bytes]:
    """Encode an SOS (`status` "SOS", channel sos) or fall (`status` "FALL DOWN", channel fall) alarm."""
    channel = "sos" if status == "SOS" else "fall"
    body = {"IMEI": imei, "status": status, "timeStamps": watch_time(ts, tz), "battery": battery,
            "location": location}
    return f"{WATCH_BASE}/{imei}/{channel}", _json(body)


# ---------------------------------------------------------------- CTWing NB-IoT (DEVICES.md §3)

CTWING_BASE = "ctwing"

# Alarm_Status codes of the common NB smoke vendor.
CT_ALARM, CT_SILENCED, CT_LOW_VOLTAGE, CT_FAULT, CT_NORMAL = 1, 2, 4, 5, 7
CT_TAMPER, CT_TAMPER_RESTORED, CT_ONLINE, CT_TEST = 10, 11, 12, 14


def ctwing_data_report(*, product_id: str, device_id: str, imei: str, ts: float, service_id: str,
                       service_data: dict[str, Any], up_sn: int, tenant_id: str = "10086001",
                       imsi: str = "undefined") -> tuple[str, bytes]:
    """Encode a CTWing/AEP `dataReport` push as the platform forwards it over MQTT."""
    body = {
        "upPacketSN": up_sn, "upDataSN": -1, "topic": "v1/up/ad", "timestamp": int(ts * 1000),
        "tenantId": tenant_id, "serviceId": "", "protocol": "lwm2m", "productId": product_id,
        "payload": {"serviceId": service_id, "serviceData": service_data},
        "messageType": "dataReport", "deviceType": "", "deviceId": device_id, "assocAssetId": "",
        "IMSI": imsi, "IMEI": imei,
    }
    return f"{CTWING_BASE}/{product_id}/{device_id}", _json(body)


# ---------------------------------------------------------------- CareHub native v1

NATIVE_BASE = "carehub/v1"


def native_telemetry(device_id: str, *, ts: float, seq: int, readings: dict[str, float]) -> tuple[str, bytes]:
    """Encode a native telemetry message."""
    return f"{NATIVE_BASE}/{device_id}/telemetry", _json({"v": 1, "ts": round(ts, 3), "seq": seq,
                                                          "readings": readings})


def native_event(device_id: str, *, ts: float, seq: int, event: str, state: str,
                 detail: dict[str, Any] | None = None) -> tuple[str, bytes]:
    """Encode a native event message (state momentary, active or cleared)."""
    body = {"v": 1, "ts": round(ts, 3), "seq": seq, "event": event, "state": state, "detail": detail or {}}
    return f"{NATIVE_BASE}/{device_id}/event", _json(body)


def native_status(device_id: str, *, ts: float, online: bool, reason: str = "") -> tuple[str, bytes]:
    """Encode a native status message (also used as the connection's MQTT will)."""
    body = {"v": 1, "ts": round(ts, 3), "status": "online" if online else "offline", "reason": reason}
    return f"{NATIVE_BASE}/{device_id}/status", _json(body)


def native_accel_topic(device_id: str) -> str:
    """Return the topic of a device's binary acceleration batches."""
    return f"{NATIVE_BASE}/{device_id}/accel"


ACCEL_HEADER = struct.Struct("<2sBBdHHH")
ACCEL_MAGIC = b"CA"
ACCEL_VERSION = 1
ACCEL_FLAG_OFFSETS = 0x01
COUNTS_PER_G = 1024


def encode_accel(t0: float, rate_hz: int, counts: np.ndarray, offsets_ms: np.ndarray | None = None,
                 scale: int = COUNTS_PER_G) -> bytes:
    """Encode one batch: header, optional u16 ms offsets, then n×3 interleaved int16 counts.

    `counts` is an (n, 3) int16 array already scaled by `scale` counts per g (see `to_counts`).
    """
    n = counts.shape[0]
    flags = ACCEL_FLAG_OFFSETS if offsets_ms is not None else 0
    head = ACCEL_HEADER.pack(ACCEL_MAGIC, ACCEL_VERSION, flags, t0, rate_hz, n, scale)
    body = counts.astype("<i2", copy=False).tobytes()
    if offsets_ms is None:
        return head + body
    return head + offsets_ms.astype("<u2", copy=False).tobytes() + body


def to_counts(g: np.ndarray, scale: int = COUNTS_PER_G) -> np.ndarray:
    """Quantise acceleration in g to int16 counts, saturating like a ±32 g sensor register."""
    return np.clip(np.rint(g * scale), -32768, 32767).astype("<i2")


@dataclass(slots=True, frozen=True)
class AccelBatch:
    """A decoded native acceleration batch: sample times (epoch s) and (n, 3) samples in g."""

    t0: float
    rate_hz: int
    times: np.ndarray
    xyz: np.ndarray


def decode_accel(payload: bytes) -> AccelBatch:
    """Decode a native acceleration batch; raise ValueError on anything malformed."""
    if len(payload) < ACCEL_HEADER.size:
        raise ValueError("short accel header")
    magic, version, flags, t0, rate, n, scale = ACCEL_HEADER.unpack_from(payload)
    if magic != ACCEL_MAGIC or version != ACCEL_VERSION or scale == 0 or rate == 0:
        raise ValueError("bad accel header")
    pos = ACCEL_HEADER.size
    if flags & ACCEL_FLAG_OFFSETS:
        offsets = np.frombuffer(payload, "<u2", n, pos).astype(np.float64) / 1000.0
        pos += 2 * n
    else:
        offsets = np.arange(n) / rate
    if len(payload) != pos + 6 * n:
        raise ValueError("accel length mismatch")
    xyz = np.frombuffer(payload, "<i2", 3 * n, pos).reshape(n, 3).astype(np.float64) / scale
    return AccelBatch(t0, rate, t0 + offsets, xyz)
