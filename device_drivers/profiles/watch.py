"""Elderly watches and wristbands: heartbeat, vital signs, batched records, SOS, fall, online/offline."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from device_drivers.json_payload import (
    MAX_AGE_RECORD,
    device_time,
    epoch_seconds,
    lenient_number,
    parse_local_time,
    parse_object,
)
from device_drivers.model import (
    Availability,
    DecodeError,
    DeviceEvent,
    DeviceStatus,
    EventKind,
    EventState,
    Message,
    Reading,
)
from device_drivers.profiles.ctwing import imei_key

LOCAL_TIME_FORMAT = "%d/%m/%Y %H:%M:%S"
LOCAL_TIME_MAX_AGE = 3600.0  # a local-time string off by hours means a wrong zone: trust arrival time
MAX_RECORDS = 1000

# vendor key -> (metric, unit, zero_means_unmeasured)
FIELDS: dict[str, tuple[str, str, bool]] = {
    "battery": ("battery", "%", False),
    "signalGSM": ("gsm_signal", "%", False),
    "satellites": ("gps_satellites", "count", False),
    "step": ("steps", "count", False),
    "steps": ("steps", "count", False),
    "heartRate": ("heart_rate", "bpm", True),
    "heart_rate": ("heart_rate", "bpm", True),
    "heartrate": ("heart_rate", "bpm", True),
    "bloodOxygen": ("spo2", "%", True),
    "spo2": ("spo2", "%", True),
    "SpO2": ("spo2", "%", True),
    "systolic": ("bp_systolic", "mmHg", True),
    "sbp": ("bp_systolic", "mmHg", True),
    "diastolic": ("bp_diastolic", "mmHg", True),
    "dbp": ("bp_diastolic", "mmHg", True),
    "bodyTemperature": ("body_temperature", "degC", True),
    "body_temperature": ("body_temperature", "degC", True),
    "temperature": ("body_temperature", "degC", True),
    "MCC": ("cell_mcc", "id", False),
    "MNC": ("cell_mnc", "id", False),
    "LAC": ("cell_lac", "id", False),
    "CID": ("cell_cid", "id", False),
    "mcc": ("cell_mcc", "id", False),
    "mnc": ("cell_mnc", "id", False),
    "lac": ("cell_lac", "id", False),
    "cid": ("cell_cid", "id", False),
}
LAT_KEYS = ("latitude", "lat")
LON_KEYS = ("longitude", "lon", "lng")
POSITION_KEYS = frozenset(LAT_KEYS + LON_KEYS)
STATUS_EVENTS = {
    "SOS": (EventKind.SOS, EventState.MOMENTARY),
    "FALL DOWN": (EventKind.FALL, EventState.MOMENTARY),
    "LOW BATTERY": (EventKind.BATTERY_LOW, EventState.ACTIVE),
}
STATUS_AVAILABILITY = {"online": Availability.ONLINE, "offline": Availability.OFFLINE}
STATUS_BENIGN = frozenset({"", "normal", "ok"})
RECORD_TIME_KEYS = ("timestamp", "time", "ts")


class WatchProfile:
    """Decode watch/wristband JSON on `<root>/<IMEI>/<channel>` (the payload's IMEI wins)."""

    name = "watch"

    def __init__(self, root: str = "watch", tz: tzinfo | None = None) -> None:
        self.root = root
        self.prefix = root + "/"
        self.subscriptions = (f"{root}/#",)
        self.tz = tz  # zone of `timeStamps` local times; None: the hub host's zone

    def matches(self, topic: str) -> bool:
        """Return True for topics under the watch root."""
        return topic.startswith(self.prefix)

    def decode(self, topic: str, payload: bytes, *, received_at: float) -> list[Message]:
        """Decode one watch message into canonical messages."""
        obj = parse_object(payload)
        key = imei_key(obj.get("IMEI")) or imei_key(obj.get("imei"))
        if key is None:
            key = next((k for k in map(imei_key, topic[len(self.prefix):].split("/")) if k), None)
        if key is None:
            raise DecodeError("missing_field", "IMEI")
        ts = received_at
        stamp = obj.get("timeStamps")
        if type(stamp) is str:
            ts = device_time(parse_local_time(stamp, LOCAL_TIME_FORMAT, self.tz), received_at,
                             max_age=LOCAL_TIME_MAX_AGE)
        else:
            ts = self._record_time(obj, received_at, default=received_at)
        out = self._fields(key, obj, ts)
        if "data" in obj or "num_datas" in obj:
            out.extend(self._records(key, obj, received_at))
        return out

    def _record_time(self, obj: dict[str, Any], received_at: float, *, default: float) -> float:
        for name in RECORD_TIME_KEYS:
            if obj.get(name) is not None:
                return device_time(epoch_seconds(obj[name], name), received_at, max_age=MAX_AGE_RECORD)
        return default

    def _records(self, key: str, obj: dict[str, Any], received_at: float) -> list[Message]:
        data = obj.get("data")
        count = obj.get("num_datas")
        if type(data) is not list:
            raise DecodeError("bad_type", "data")
        if count is not None and (type(count) is not int or count != len(data)):
            raise DecodeError("count_mismatch", f"num_datas={str(count)[:12]} len={len(data)}")
        if len(data) > MAX_RECORDS:
            raise DecodeError("too_large", f"{len(data)} records")
        out: list[Message] = []
        for record in data:
            if type(record) is not dict:
                raise DecodeError("bad_type", "data[]")
            out.extend(self._fields(key, record, self._record_time(record, received_at, default=received_at)))
        return out

    def _fields(self, key: str, obj: dict[str, Any], ts: float) -> list[Message]:
        out: list[Message] = []
        for name, value in obj.items():
            spec = FIELDS.get(name)
            if spec is None or value is None:
                continue
            number = lenient_number(value, name)
            if number == 0.0 and spec[2]:
                continue  # watches send 0 for "not measured / not worn"
            out.append(Reading(key, spec[0], number, spec[1], ts, self.name))
        bp = obj.get("bloodPressure")
        if type(bp) is str and "/" in bp:
            high, _, low = bp.partition("/")
            systolic, diastolic = lenient_number(high, "bloodPressure"), lenient_number(low, "bloodPressure")
            out.append(Reading(key, "bp_systolic", systolic, "mmHg", ts, self.name))
            out.append(Reading(key, "bp_diastolic", diastolic, "mmHg", ts, self.name))
        out.extend(self._position(key, obj, ts))
        location = obj.get("location")
        if type(location) is dict:  # alarms nest the GPS or LBS fix: {"location": {"lat":..,"lon":..}}
            fix = {k: v for k, v in location.items() if k in FIELDS or k in POSITION_KEYS}
            out.extend(self._fields(key, fix, ts))
        status = obj.get("status")
        if status is not None:
            if type(status) is not str:
                raise DecodeError("bad_type", "status")
            if status.lower() not in STATUS_BENIGN:
                out.append(self._status(key, status, ts))
        return out

    def _position(self, key: str, obj: dict[str, Any], ts: float) -> list[Message]:
        lat = next((obj[k] for k in LAT_KEYS if obj.get(k) is not None), None)
        lon = next((obj[k] for k in LON_KEYS if obj.get(k) is not None), None)
        if lat is None or lon is None:
            return []
        la, lo = lenient_number(lat, "latitude"), lenient_number(lon, "longitude")
        if la == 0.0 and lo == 0.0:
            return []  # no fix
        if not (-90.0 <= la <= 90.0 and -180.0 <= lo <= 180.0):
            raise DecodeError("out_of_range", "position")
        return [Reading(key, "latitude", la, "deg", ts, self.name),
                Reading(key, "longitude", lo, "deg", ts, self.name)]

    def _status(self, key: str, status: str, ts: float) -> Message:
        event = STATUS_EVENTS.get(status.upper())
        if event is not None:
            return DeviceEvent(key, event[0], event[1], ts, self.name, {"status": status})
        avail = STATUS_AVAILABILITY.get(status.lower())
        if avail is not None:
            return DeviceStatus(key, avail, ts, self.name, "device")
        raise DecodeError("unknown_status", status[:40])
