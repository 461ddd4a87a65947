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
from device_drivers.unmapped import Unmapped, normalize

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

# Vendor names are matched folded (`unmapped.normalize`: case, `_`, `-` ignored): vendors and platforms
# spell the same field Battery_Level, batteryLevel and battery_level.
# folded field -> (metric, unit); numeric strings are accepted because platforms stringify vendor values
READINGS: dict[str, tuple[str, str]] = {
    "batterylevel": ("battery", "%"),
    "batterypercentage": ("battery", "%"),
    "batterypercent": ("battery", "%"),
    "battery": ("battery", "%"),
    "batteryvalue": ("battery", "%"),
    "smokesensorvalue": ("smoke_density", "raw"),  # Tuya: vendor scale, not dB/m
    "smokevalue": ("smoke_density", "raw"),
    "smokeconcentration": ("smoke_density", "raw"),
    "gassensorvalue": ("gas_lel", "%LEL"),
    "gasvalue": ("gas_lel", "%LEL"),
    "gasconcentration": ("gas_lel", "%LEL"),
    "covalue": ("co_ppm", "ppm"),
    "coconcentration": ("co_ppm", "ppm"),
    "temperature": ("temperature", "degC"),
    "humidity": ("humidity", "%"),
    "ecl": ("coverage_level", "level"),  # NB-IoT coverage enhancement level 0-2 (2: deep indoor, battery drain)
}
VOLTAGES = frozenset({"batteryvoltage", "voltage", "batvoltage"})  # V; values above 100 are mV
SIGNALS = frozenset({"rsrp", "rssi", "snr", "sinr"})
# serving cell identity, for an external cell geolocation; decimal numbers or hex strings ("0x1A2B", "1a2b")
CELL_IDS: dict[str, str] = {
    "mcc": "cell_mcc", "mnc": "cell_mnc", "lac": "cell_lac", "tac": "cell_lac", "cellid": "cell_cid",
    "cid": "cell_cid", "ci": "cell_cid", "eci": "cell_cid", "pci": "cell_pci", "earfcn": "cell_earfcn",
}
# identifiers and bookkeeping the envelope or the hub already has: consumed, not stored
BOOKKEEPING = frozenset({"imei", "imsi", "iccid", "deviceid", "timestamp", "time", "ts", "seq", "sn", "msgid",
                         "messageid", "serviceid"})
TUYA_STATUS = {
    "smoke_sensor_status": EventKind.SMOKE,
    "gas_sensor_status": EventKind.GAS,
    "co_status": EventKind.CO,
}
TUYA_FLAGS = {"temper_alarm": EventKind.TAMPER}
CSQ_UNKNOWN = 99


def _flag(value: Any, field: str) -> bool:
    """Return a Tuya/NB boolean that may arrive as true/false, 1/0 or "true"/"1"."""
    if type(value) is bool:
        return value
    if value in (0, 1, "0", "1", "true", "false"):
        return value in (1, "1", "true")
    raise DecodeError("bad_type", f"{field}: expected boolean")


def signal_dbm(metric: str, value: float) -> float | None:
    """Return RSRP/RSSI in dBm or SNR in dB as the canonical sign and scale, None when implausible.

    RSRP and RSSI are negative dBm: some platforms send the magnitude (105 for -105 dBm) and some
    modules tenths (-1050); a magnitude over 200 is tenths. SNR/SINR may be negative; over 50 in
    magnitude it is tenths (125 for 12.5 dB).
    """
    if metric == "snr":
        snr = value / 10.0 if abs(value) > 50 else value
        return snr if -30.0 <= snr <= 50.0 else None
    dbm = value / 10.0 if abs(value) > 200 else value
    dbm = -abs(dbm)
    low = -160.0 if metric == "rsrp" else -150.0
    return dbm if low <= dbm <= -20.0 else None


def csq_dbm(csq: float) -> float | None:
    """Return the RSSI in dBm of a 3GPP CSQ 0-31 (-113 + 2 CSQ); None for 99 (unknown) or out of range."""
    return -113.0 + 2.0 * csq if 0 <= csq <= 31 and csq == int(csq) else None


def cell_id(value: Any) -> float | None:
    """Return a cell identity given as a JSON integer, a decimal string or a hex string ("0x1A2B", "1a2b").

    None when it is neither: a cell id is a diagnostic, so a value that does not parse is counted as
    unmapped and never rejects the message (an SOS carrying it must still be heard).
    """
    if type(value) is str:
        raw = value.strip()
        prefixed = raw[:2].lower() == "0x"
        digits = raw[2:] if prefixed else raw
        if not digits.isascii() or not digits.isalnum():
            return None
        try:
            number = int(digits, 16 if prefixed or not digits.isdigit() else 10)
        except ValueError:
            return None
        return float(number) if number < 2**53 else None
    if type(value) is int and 0 <= value < 2**53:
        return float(value)
    if type(value) is float and value.is_integer() and 0 <= value < 2**53:
        return value
    return None


def decode_vendor_fields(key: str, fields: dict[str, Any], *, ts: float, source: str,
                         hazard: EventKind = EventKind.SMOKE,
                         times: dict[str, float] | None = None,
                         unmapped: Unmapped | None = None) -> list[Message]:
    """Map known vendor fields to canonical messages; report every other field into `unmapped`."""
    out: list[Message] = []
    testing = _flag(fields["self_checking"], "self_checking") if "self_checking" in fields else False
    code = -1
    status_name = next((n for n in fields if normalize(n) == "alarmstatus"), None)
    if status_name is not None and fields[status_name] is not None:
        number = lenient_number(fields[status_name], status_name)
        if number != int(number):
            raise DecodeError("bad_value", "Alarm_Status")
        code = int(number)
        testing = testing or code == 14
    for name, value in fields.items():
        if value is None:
            continue
        t = times.get(name, ts) if times else ts
        folded = normalize(name)
        if name == status_name:
            if code == ALARM_STATUS_ONLINE:
                out.append(DeviceStatus(key, Availability.ONLINE, t, source, "Alarm_Status=12"))
                continue
            mapped = ALARM_STATUS.get(code)
            if mapped is None:
                raise DecodeError("unknown_code", f"Alarm_Status={code}")
            kind, state = mapped
            out.append(DeviceEvent(key, kind or hazard, state, t, source, {"Alarm_Status": code}))
        elif folded in READINGS:
            metric, unit = READINGS[folded]
            out.append(Reading(key, metric, lenient_number(value, name), unit, t, source))
        elif folded in VOLTAGES:
            volts = lenient_number(value, name)
            out.append(Reading(key, "voltage", volts / 1000.0 if volts > 100 else volts, "V", t, source))
        elif folded in SIGNALS:
            metric = "snr" if folded in ("snr", "sinr") else folded
            level = signal_dbm(metric, lenient_number(value, name))
            if level is not None:
                out.append(Reading(key, metric, level, "dB" if metric == "snr" else "dBm", t, source))
            elif unmapped is not None:
                unmapped.add(name)  # implausible even after sign and scale: counted, not stored
        elif folded == "csq":
            csq = lenient_number(value, name)
            rssi = csq_dbm(csq)
            if rssi is not None:
                out.append(Reading(key, "rssi", rssi, "dBm", t, source))
            elif csq != CSQ_UNKNOWN and unmapped is not None:
                unmapped.add(name)
        elif folded in CELL_IDS:
            ident = cell_id(value)
            if ident is not None:
                out.append(Reading(key, CELL_IDS[folded], ident, "id", t, source))
            elif unmapped is not None and value != "":  # "" is how vendors say "no cell fix"
                unmapped.add(name)
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
        elif folded not in BOOKKEEPING and unmapped is not None:
            unmapped.add(name)
    return out
