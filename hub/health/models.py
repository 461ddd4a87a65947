"""Schemas of the live device state the API shows (the state itself lives in memory, hub.health.state)."""

from pydantic import BaseModel, ConfigDict, Field


class ReadingValue(BaseModel):
    """The latest value of one metric."""

    value: float
    unit: str
    ts: float


class DeviceStatePublic(BaseModel):
    """A registered device with its live state (the state fields are empty until it is heard)."""

    device_id: int
    device_key: str
    name: str
    kind: str
    site_id: int | None
    room_id: int | None
    resident_id: int | None
    supervision_s: float
    last_seen: float | None = None
    availability: str | None = None
    reason: str | None = None
    battery: float | None = None
    battery_low: bool | None = None
    tamper: bool | None = None
    fault: bool | None = None
    alarms: list[str] = Field(default_factory=list)
    readings: dict[str, ReadingValue] = Field(default_factory=dict)
    unmapped_fields: dict[str, int] = Field(default_factory=dict)


class LatestReadings(BaseModel):
    """The latest value of every metric one device reported."""

    device_key: str
    readings: dict[str, ReadingValue]


class ReadingPoint(BaseModel):
    """One stored reading."""

    model_config = ConfigDict(frozen=True)

    ts: float
    value: float


class ReadingHistory(BaseModel):
    """Stored readings of one metric of one device, oldest first."""

    device_key: str
    metric: str
    points: list[ReadingPoint]
