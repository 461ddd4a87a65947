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
    LOCATION_SOURCES,
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
from device_drivers.profiles.nbiot_fields import CELL_IDS as CELL_ID_FIELDS
from device_drivers.profiles.nbiot_fields import CSQ_UNKNOWN, cell_id, csq_dbm, signal_dbm
from device_drivers.unmapped import Unmapped, normalize

LOCAL_TIME_FORMAT = "%d/%m/%Y %H:%M:%S"
LOCAL_TIME_MAX_AGE = 3600.0  # a local-time string off by hours means a wrong zone: trust arrival time
MAX_RECORDS = 1000

# Vendor names are matched folded (`unmapped.normalize`: case, `_`, `-` ignored): heartRate, heart_rate and
# HeartRate are one field. folded key -> (metric, unit, zero_means_unmeasured)
FIELDS: dict[str, tuple[str, str, bool]] = {
    **dict.fromkeys(("battery", "batterylevel", "batterypercent", "batterypercentage"), ("battery", "%", False)),
    **dict.fromkeys(("signalgsm", "gsmsignal"), ("gsm_signal", "%", False)),
    **dict.fromkeys(("satellites", "satellite", "satellitecount", "sats", "gpssatellites"),
                    ("gps_satellites", "count", False)),
    **dict.fromkeys(("step", "steps", "stepcount", "stepnum", "pedometer"), ("steps", "count", False)),
    **dict.fromkeys(("heartrate", "hr", "pulse", "pulserate"), ("heart_rate", "bpm", True)),
    **dict.fromkeys(("spo2", "bloodoxygen", "oxygen", "oxygensaturation", "bloodoxygensaturation"),
                    ("spo2", "%", True)),
    **dict.fromkeys(("systolic", "sbp", "highpressure", "bloodpressurehigh", "bphigh", "systolicpressure"),
                    ("bp_systolic", "mmHg", True)),
    **dict.fromkeys(("diastolic", "dbp", "lowpressure", "bloodpressurelow", "bplow", "diastolicpressure"),
                    ("bp_diastolic", "mmHg", True)),
    **dict.fromkeys(("bodytemperature", "bodytemp", "temperature", "temp"), ("body_temperature", "degC", True)),
    **dict.fromkeys(("respirationrate", "respiratoryrate", "breathrate", "breathingrate"),
                    ("respiration_rate", "brpm", True)),
    **dict.fromkeys(("accuracy", "radius", "locationaccuracy"), ("location_accuracy", "m", True)),
    **dict.fromkeys(("altitude", "alt"), ("altitude", "m", False)),
}
CELL_IDS = CELL_ID_FIELDS  # mcc, mnc, lac/tac, cid/ci/cellid/eci, pci, earfcn -> cell_* (unit "id")
LAT_KEYS = frozenset({"latitude", "lat"})
LON_KEYS = frozenset({"longitude", "lon", "lng", "long"})
# how a fix was made: a key naming the method, and the values each method goes by
SOURCE_KEYS = frozenset({"locationtype", "positiontype", "loctype", "locationsource", "positionsource",
                         "fixtype", "positioning", "locationmode", "positionmode"})
NESTED_SOURCE_KEYS = frozenset({"type", "source", "mode"})  # the same inside a location object
SOURCE_VALUES = {
    **dict.fromkeys(("gps", "gnss", "bds", "beidou", "agps"), "gps"),
    **dict.fromkeys(("wifi", "wlan"), "wifi"),
    **dict.fromkeys(("lbs", "cell", "gsm", "lte", "base", "basestation"), "lbs"),
}
BP_KEYS = frozenset({"bp", "bloodpressure"})  # "120/80", [120, 80] or {"high": 120, "low": 80}
BP_PARTS = {**dict.fromkeys(("high", "systolic", "sbp", "sys", "max"), "bp_systolic"),
            **dict.fromkeys(("low", "diastolic", "dbp", "dia", "min"), "bp_diastolic")}
WORN_KEYS = frozenset({"worn", "wearing", "wear", "iswearing", "wearstate", "wearstatus"})
# objects that carry a GPS, Wi-Fi or LBS fix: {"location": {"lat": .., "lon": .., "type": "GPS"}}
LOCATION_OBJECTS = frozenset({"location", "gps", "lbs", "position", "pos", "cell", "gnss"})
# identity, times, framing and message type: consumed, never stored
BOOKKEEPING = frozenset({"imei", "timestamps", "timestamp", "time", "ts", "datetime", "type", "msgtype",
                         "messagetype", "cmd", "command", "msgid", "id", "seq", "sn", "numdatas", "data", "status"})
STATUS_EVENTS = {
    "SOS": (EventKind.SOS, EventState.MOMENTARY),
    "FALL DOWN": (EventKind.FALL, EventState.MOMENTARY),
    "LOW BATTERY": (EventKind.BATTERY_LOW, EventState.ACTIVE),
}
STATUS_AVAILABILITY = {"online": Availability.ONLINE, "offline": Availability.OFFLINE}
STATUS_BENIGN = frozenset({"", "normal", "ok"})
RECORD_TIME_KEYS = ("timestamp", "time", "ts")
HEMISPHERES = {"N": 1.0, "S": -1.0, "E": 1.0, "W": -1.0}


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
        unmapped = Unmapped()
        out = self._fields(key, obj, ts, unmapped)
        if "data" in obj or "num_datas" in obj:
            out.extend(self._records(key, obj, received_at, unmapped))
        out.extend(unmapped.message(key, ts, self.name))
        return out

    def _record_time(self, obj: dict[str, Any], received_at: float, *, default: float) -> float:
        for name in RECORD_TIME_KEYS:
            if obj.get(name) is not None:
                return device_time(epoch_seconds(obj[name], name), received_at, max_age=MAX_AGE_RECORD)
        return default

    def _records(self, key: str, obj: dict[str, Any], received_at: float, unmapped: Unmapped) -> list[Message]:
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
            record_ts = self._record_time(record, received_at, default=received_at)
            out.extend(self._fields(key, record, record_ts, unmapped))
        return out

    def _fields(self, key: str, obj: dict[str, Any], ts: float, unmapped: Unmapped,
                prefix: str = "") -> list[Message]:
        """Map one object's fields (the top level, a record or a location object); report the rest."""
        out: list[Message] = []
        lat = lon = None
        for name, value in obj.items():
            if value is None:
                continue
            folded = normalize(name)
            spec = FIELDS.get(folded)
            if spec is not None:
                number = lenient_number(value, name)
                if number == 0.0 and spec[2]:
                    continue  # watches send 0 for "not measured / not worn"
                out.append(Reading(key, spec[0], number, spec[1], ts, self.name))
            elif folded in LAT_KEYS:
                lat = (name, value)
            elif folded in LON_KEYS:
                lon = (name, value)
            elif folded in CELL_IDS:
                ident = cell_id(value)
                if ident is not None:
                    out.append(Reading(key, CELL_IDS[folded], ident, "id", ts, self.name))
                elif value != "":  # "" is how vendors say "no cell fix"
                    unmapped.add(prefix + name)
            elif folded == "rssi" or folded == "csq":
                level = lenient_number(value, name)
                dbm = signal_dbm("rssi", level) if folded == "rssi" else csq_dbm(level)
                if dbm is not None:
                    out.append(Reading(key, "rssi", dbm, "dBm", ts, self.name))
                elif folded == "rssi" or level != CSQ_UNKNOWN:
                    unmapped.add(prefix + name)
            elif folded in BP_KEYS:
                out.extend(self._blood_pressure(key, name, value, ts, unmapped, prefix))
            elif folded in WORN_KEYS:
                worn = _worn(value)
                if worn is None:
                    unmapped.add(prefix + name)
                else:
                    out.append(Reading(key, "worn", worn, "bool", ts, self.name))
            elif folded in SOURCE_KEYS or (prefix and folded in NESTED_SOURCE_KEYS):
                source = SOURCE_VALUES.get(normalize(value)) if type(value) is str else None
                if source is None:
                    unmapped.add(prefix + name)  # a vendor's own code (1, 2...) says nothing we can trust
                else:
                    out.append(Reading(key, "location_source", LOCATION_SOURCES[source], "code", ts, self.name))
            elif folded in LOCATION_OBJECTS and not prefix:
                if type(value) is dict:  # alarms nest the GPS or LBS fix: {"location": {"lat":..,"lon":..}}
                    out.extend(self._fields(key, value, ts, unmapped, prefix=name + "."))
                elif type(value) is str and value.count(",") == 1:  # "31.2304,121.4737"
                    la, _, lo = value.partition(",")
                    out.extend(self._position(key, (name, la), (name, lo), ts, unmapped, prefix))
                else:
                    unmapped.add(name)
            elif folded not in BOOKKEEPING:
                unmapped.add(prefix + name)
        if lat is not None or lon is not None:
            out.extend(self._position(key, lat, lon, ts, unmapped, prefix))
        status = obj.get("status") if not prefix else None
        if status is not None:
            if type(status) is not str:
                raise DecodeError("bad_type", "status")
            if status.lower() not in STATUS_BENIGN:
                out.append(self._status(key, status, ts))
        return out

    def _blood_pressure(self, key: str, name: str, value: Any, ts: float, unmapped: Unmapped,
                        prefix: str) -> list[Message]:
        """Map "120/80", [120, 80] or {"high": 120, "low": 80} (also systolic/diastolic, sbp/dbp, sys/dia)."""
        parts: dict[str, Any] = {}
        if type(value) is str and value.count("/") == 1:
            parts["bp_systolic"], _, parts["bp_diastolic"] = value.partition("/")
        elif type(value) is list and len(value) == 2:
            parts["bp_systolic"], parts["bp_diastolic"] = value
        elif type(value) is dict:
            for part, part_value in value.items():
                metric = BP_PARTS.get(normalize(part))
                if metric is None:
                    if part_value is not None:
                        unmapped.add(f"{prefix}{name}.{part}")
                else:
                    parts[metric] = part_value
        else:
            unmapped.add(prefix + name)
            return []
        out: list[Message] = []
        for metric, part_value in parts.items():
            if part_value is None:
                continue
            mmhg = lenient_number(part_value.strip() if type(part_value) is str else part_value, name)
            if mmhg != 0.0:  # 0: not measured
                out.append(Reading(key, metric, mmhg, "mmHg", ts, self.name))
        return out

    def _position(self, key: str, lat: tuple[str, Any] | None, lon: tuple[str, Any] | None, ts: float,
                  unmapped: Unmapped, prefix: str) -> list[Message]:
        if lat is None or lon is None:
            half = lat or lon
            if half is None:  # callers pass at least one of the two
                raise ValueError("_position needs a latitude or a longitude")
            unmapped.add(prefix + half[0])  # half a position cannot be stored
            return []
        la, lo = _coordinate(lat[1], "latitude", "NS"), _coordinate(lon[1], "longitude", "EW")
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


def _coordinate(value: Any, field: str, hemispheres: str) -> float:
    """Return a WGS84 coordinate from a number, a numeric string or one with a hemisphere ("22.54N", "W 0.12")."""
    if type(value) is str:
        text = value.strip().upper()
        for letter in hemispheres:
            if text[:1] == letter or text[-1:] == letter:
                body = text[1:] if text[:1] == letter else text[:-1]
                return HEMISPHERES[letter] * abs(lenient_number(body.strip(), field))
    return lenient_number(value, field)


def _worn(value: Any) -> float | None:
    """Return 1.0 (on the wrist) or 0.0 for true/false, 1/0 or "1"/"0"; None for anything else."""
    if value in (True, 1, "1", "true", "on", "yes"):
        return 1.0
    if value in (False, 0, "0", "false", "off", "no"):
        return 0.0
    return None
