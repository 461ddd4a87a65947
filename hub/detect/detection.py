"""The one shape every detector emits, so alerts treat falls, fire, inactivity and vitals alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class DetectionType(StrEnum):
    """What a detector concluded."""

    FALL = "fall"
    FALL_SUSPECTED = "fall_suspected"
    FIRE = "fire"
    FIRE_SUSPECTED = "fire_suspected"
    GAS = "gas"
    GAS_PREALARM = "gas_prealarm"
    CO = "co"
    HEAT = "heat"
    INACTIVITY = "inactivity"
    NOT_WORN = "not_worn"
    MISSED_CHECKIN = "missed_checkin"
    VITALS = "vitals"
    SOS = "sos"
    DEVICE_OFFLINE = "device_offline"
    BATTERY_LOW = "battery_low"
    TAMPER = "tamper"
    FAULT = "fault"


class DetectionState(StrEnum):
    """A detection starts a condition or ends it; a cancelled one is logged but raises nothing."""

    ACTIVE = "active"
    CLEARED = "cleared"
    CANCELLED = "cancelled"  # a wrist fall the resident cancelled within the cancel window


@dataclass(slots=True, frozen=True)
class Detection:
    """A conclusion with the evidence (samples or readings, features, thresholds) that led to it."""

    type: DetectionType
    subject: str  # device key, or "resident:<id>" / "room:<id>" for conclusions about a person or place
    t: float  # epoch seconds of the condition (impact, threshold crossing, deadline)
    confidence: float = 1.0
    state: DetectionState = DetectionState.ACTIVE
    device_key: str | None = None
    resident_id: int | None = None
    room_id: int | None = None
    site_id: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the detection as a JSON-ready dict (NumPy values in the evidence become plain numbers)."""
        return jsonable(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Detection:
        """Rebuild a detection saved with `to_dict`."""
        return cls(**{**data, "type": DetectionType(data["type"]), "state": DetectionState(data["state"])})


def jsonable(value: Any) -> Any:
    """Make evidence JSON-safe (NumPy scalars and arrays become plain numbers and lists)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value
