"""Tables for recorded device events and device status changes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base


class DeviceEventRecord(Base):
    """A device event as recorded by the hub (alarms are written before the broker is acknowledged)."""

    __tablename__ = "device_events"
    __table_args__ = (
        Index("ix_device_events_device_ts", "device_key", "ts"),
        Index("ix_device_events_ts", "ts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_key: Mapped[str] = mapped_column(String(200))
    device_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))
    ts: Mapped[float] = mapped_column(Float)
    received_at: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(40))
    is_alarm: Mapped[bool] = mapped_column(default=False)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    # Transport delivery (topic+payload digest+packet id): a broker redelivery is recorded once.
    delivery_key: Mapped[str | None] = mapped_column(String(120), nullable=True, index=True)
    # False from the moment an alarm is recorded until the detectors (and alerts) have taken it: a hub
    # killed in between finds it at start-up and hands it to them again.
    handled: Mapped[bool] = mapped_column(default=True, index=True)
    # The shard whose intake recorded it (None on a single hub): that shard's next holder re-runs it.
    shard: Mapped[str | None] = mapped_column(String(120), nullable=True)


class EventPublic(BaseModel):
    """A recorded device event or status change as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    device_key: str
    device_id: int | None
    kind: str
    state: str
    ts: float
    received_at: float
    source: str
    is_alarm: bool
    detail: dict
