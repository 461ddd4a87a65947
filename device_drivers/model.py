"""Canonical messages every driver decodes into; units are documented in docs/model.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


class EventKind(StrEnum):
    """Things a device says happened."""

    SOS = "sos"
    FALL = "fall"
    FALL_SUSPECTED = "fall_suspected"
    SMOKE = "smoke"
    GAS = "gas"
    CO = "co"
    HEAT = "heat"
    TAMPER = "tamper"
    BATTERY_LOW = "battery_low"
    FAULT = "fault"
    SELF_TEST = "self_test"
    SILENCED = "silenced"
    PRESENCE = "presence"
    BUTTON = "button"
    CANCEL = "cancel"  # the wearer cancels a pending alarm (the hub's fall cancel window)
    CHECKIN = "checkin"
    INACTIVITY = "inactivity"
    POWER_LOSS = "power_loss"
    SUPERVISION_LOST = "supervision_lost"
    NOTICE = "notice"  # a panel event recorded for the log that asks nothing of anyone (arming, programming)


# Alarm kinds ride the never-dropped lane and are acknowledged to the broker only once recorded.
ALARM_KINDS = frozenset(
    {EventKind.SOS, EventKind.FALL, EventKind.FALL_SUSPECTED, EventKind.SMOKE, EventKind.GAS,
     EventKind.CO, EventKind.HEAT, EventKind.TAMPER}
)


# Canonical metric names and their units (docs/model.md); decoders convert device units into these.
CANONICAL_UNITS: dict[str, str] = {
    "battery": "%",
    "voltage": "V",
    "temperature": "degC",
    "device_temperature": "degC",
    "body_temperature": "degC",
    "humidity": "%",
    "heart_rate": "bpm",
    "respiration_rate": "brpm",
    "spo2": "%",
    "bp_systolic": "mmHg",
    "bp_diastolic": "mmHg",
    "steps": "count",
    "latitude": "deg",
    "longitude": "deg",
    "smoke_density": "dB/m",
    "smoke_density_raw": "raw",
    "gas_lel": "%LEL",
    "co_ppm": "ppm",
    "co2_ppm": "ppm",
    "linkquality": "lqi",
    "rssi": "dBm",
    "rsrp": "dBm",
    "snr": "dB",
    "gsm_signal": "%",
    "gps_satellites": "count",
    "location_accuracy": "m",
    "location_source": "code",
    "altitude": "m",
    "cell_mcc": "id",
    "cell_mnc": "id",
    "cell_lac": "id",
    "cell_cid": "id",
    "cell_pci": "id",
    "cell_earfcn": "id",
    "coverage_level": "level",
    "presence": "bool",
    "occupancy": "bool",
    "water_leak": "bool",
    "worn": "bool",
}
# `location_source` values: how a position was fixed (an external geolocation may refine LBS/Wi-Fi fixes).
LOCATION_SOURCES: dict[str, float] = {"gps": 1.0, "wifi": 2.0, "lbs": 3.0}


class EventState(StrEnum):
    """Whether an event starts, ends, or is a single occurrence."""

    ACTIVE = "active"
    CLEARED = "cleared"
    MOMENTARY = "momentary"


class Availability(StrEnum):
    """Reachability of a device or link."""

    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(slots=True, frozen=True)
class Reading:
    """One numeric or boolean measurement of one metric; `unit` per docs/model.md."""

    device_key: str
    metric: str
    value: float
    unit: str
    ts: float
    source: str


@dataclass(slots=True, frozen=True)
class DeviceEvent:
    """Something that happened at a device (alarm, fault, button, self-test)."""

    device_key: str
    kind: EventKind
    state: EventState
    ts: float
    source: str
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def is_alarm(self) -> bool:
        """Return True when this event must travel the never-dropped alarm lane."""
        return self.kind in ALARM_KINDS and self.state != EventState.CLEARED


@dataclass(slots=True, frozen=True)
class DeviceStatus:
    """Online/offline state of a device or a receiver link, with the reason."""

    device_key: str
    availability: Availability
    ts: float
    source: str
    reason: str = ""


@dataclass(slots=True, frozen=True)
class DeviceInfo:
    """A device announced by its network (Zigbee2MQTT bridge, HA discovery) for the pending list."""

    device_key: str
    ts: float
    source: str
    vendor: str = ""
    model: str = ""
    kind: str = ""
    name: str = ""
    aliases: tuple[str, ...] = ()
    removed: bool = False


@dataclass(slots=True, frozen=True, eq=False)
class AccelBatch:
    """A block of 3-axis wrist acceleration in g; `t` is seconds since the epoch per sample."""

    device_key: str
    t: np.ndarray
    xyz: np.ndarray  # shape (n, 3), float32, g
    source: str

    @property
    def ts(self) -> float:
        """Return the time of the last sample."""
        return float(self.t[-1]) if len(self.t) else 0.0


@dataclass(slots=True, frozen=True)
class UnmappedFields:
    """Fields of a payload that no rule of its profile maps; the hub counts them per profile and field."""

    device_key: str
    fields: tuple[str, ...]
    ts: float
    source: str


Message = Reading | DeviceEvent | DeviceStatus | DeviceInfo | AccelBatch | UnmappedFields


class DecodeError(ValueError):
    """A payload a decoder refuses; `reason` is a short stable label used in metrics."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
