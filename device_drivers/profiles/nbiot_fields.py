"""Vendor fields NB-IoT detectors report through CTWing and OneNET (the Alarm_Status vendor, Tuya smoke)."""

from __future__ import annotations

from typing import Any

from device_drivers.json_payload import lenient_number
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

# Alarm_Status codes of the common NB smoke vendor (DEVICES.md §3); None kind means "hazard kind"
ALARM_STATUS: dict[int, tuple[EventKind | None, EventState]] = {
    1: (None, EventState.ACTIVE),
    2: (EventKind.SILENCED, EventState.MOMENTARY),
    4: (EventKind.BATTERY_LOW, EventState.ACTIVE),
    5: (EventKind.FAULT, EventState.ACTIVE),
    7: (None, EventState.CLEARED),
    10: (EventKind.TAMPER, EventState.ACTIVE),
    11: (EventKind.TAMPER, EventState.CLEARED),
    14: (EventKind.SELF_TEST, EventState.MOMENTARY),
}
ALARM_STATUS_ONLINE = 12

# field -> (metric, unit); numeric strings are accepted because platforms stringify vendor values
READINGS: dict[str, tuple[str, str]] = {
    "Battery_Level": ("battery", "%"),
    "battery_percentage": ("battery", "%"),
    "battery": ("battery", "%"),
    "battery_value": ("battery", "%"),
    "smoke_sensor_value": ("smoke_density", "raw"),  # Tuya: vendor scale, not dB/m
    "gas_sensor_value": ("gas_lel", "%LEL"),
    "co_value": ("co_ppm", "ppm"),
    "temperature": ("temperature", "degC"),
    "Temperature": ("temperature", "degC"),
}
SIGNALS: dict[str, tuple[str, str]] = {"RSRP": ("rsrp", "dBm"), "SNR": ("snr", "dB")}
TUYA_STATUS = {
    "smoke_sensor_status": EventKind.SMOKE,
    "gas_sensor_status": EventKind.GAS,
    "co_status": EventKind.CO,
}
TUYA_FLAGS = {"temper_alarm": EventKind.TAMPER}


def _flag(value: Any, field: str) -> bool:
    """Return a Tuya/NB boolean that may arrive as true/false, 1/0 or "true"/"1"."""
    if type(value) is bool:
        return value
    if value in (0, 1, "0", "1", "true", "false"):
        return value in (1, "1", "true")
    raise DecodeError("bad_type", f"{field}: expected boolean")


def _signal(value: float) -> float:
    """Return dB(m); some modules report tenths (-1050 for -105.0 dBm)."""
    return value / 10.0 if abs(value) > 200 else value


def decode_vendor_fields(key: str, fields: dict[str, Any], *, ts: float, source: str,
                         hazard: EventKind = EventKind.SMOKE,
                         times: dict[str, float] | None = None) -> list[Message]:
    """Map known vendor fields to canonical messages; unknown fields are ignored."""
    out: list[Message] = []
    testing = _flag(fields["self_checking"], "self_checking") if "self_checking" in fields else False
    code = -1
    if fields.get("Alarm_Status") is not None:
        number = lenient_number(fields["Alarm_Status"], "Alarm_Status")
        if number != int(number):
            raise DecodeError("bad_value", "Alarm_Status")
        code = int(number)
        testing = testing or code == 14
    for name, value in fields.items():
        if value is None:
            continue
        t = times.get(name, ts) if times else ts
        if name == "Alarm_Status":
            if code == ALARM_STATUS_ONLINE:
                out.append(DeviceStatus(key, Availability.ONLINE, t, source, "Alarm_Status=12"))
                continue
            mapped = ALARM_STATUS.get(code)
            if mapped is None:
                raise DecodeError("unknown_code", f"Alarm_Status={code}")
            kind, state = mapped
            out.append(DeviceEvent(key, kind or hazard, state, t, source, {"Alarm_Status": code}))
        elif name in READINGS:
            metric, unit = READINGS[name]
            out.append(Reading(key, metric, lenient_number(value, name), unit, t, source))
        elif name in SIGNALS:
            metric, unit = SIGNALS[name]
            out.append(Reading(key, metric, _signal(lenient_number(value, name)), unit, t, source))
        elif name == "CSQ":
            csq = lenient_number(value, name)
            if 0 <= csq <= 31:  # 99 = unknown
                out.append(Reading(key, "rssi", -113.0 + 2.0 * csq, "dBm", t, source))
        elif name in TUYA_STATUS:
            if type(value) is not str:
                raise DecodeError("bad_type", name)
            if value not in ("alarm", "normal"):
                raise DecodeError("bad_value", f"{name}={value[:20]!r}")
            if testing:
                continue  # a self-check sounds the alarm: never an alarm (DEVICES.md pitfall)
            state = EventState.ACTIVE if value == "alarm" else EventState.CLEARED
            out.append(DeviceEvent(key, TUYA_STATUS[name], state, t, source, {"field": name}))
        elif name in TUYA_FLAGS:
            state = EventState.ACTIVE if _flag(value, name) else EventState.CLEARED
            out.append(DeviceEvent(key, TUYA_FLAGS[name], state, t, source, {"field": name}))
        elif name == "battery_state":
            if type(value) is not str:
                raise DecodeError("bad_type", name)
            state = EventState.ACTIVE if value == "low" else EventState.CLEARED
            out.append(DeviceEvent(key, EventKind.BATTERY_LOW, state, t, source, {"battery_state": value}))
        elif name == "muffling":
            if _flag(value, name):
                out.append(DeviceEvent(key, EventKind.SILENCED, EventState.MOMENTARY, t, source,
                                       {"field": name}))
        elif name == "self_checking":
            state = EventState.ACTIVE if testing else EventState.CLEARED
            out.append(DeviceEvent(key, EventKind.SELF_TEST, state, t, source, {"field": name}))
    return out
