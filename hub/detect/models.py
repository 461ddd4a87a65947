"""Table of detections: what the detectors concluded, with their evidence, for alerts and auditors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base


class DetectionRecord(Base):
    """One detection as emitted (the alerts domain turns these into alerts)."""

    __tablename__ = "detections"
    __table_args__ = (Index("ix_detections_t", "t"), Index("ix_detections_subject", "subject"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))
    t: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    device_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    room_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    recorded_at: Mapped[float] = mapped_column(Float)
    # The shard whose detectors concluded it (None on a single hub): its next holder resumes its conditions.
    shard: Mapped[str | None] = mapped_column(String(120), nullable=True)


class DetectorSnapshot(Base):
    """Detector state that cannot be rebuilt from a few seconds of data (learned baselines, timers)."""

    __tablename__ = "detector_snapshots"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    data: Mapped[dict] = mapped_column(JSON)
    saved_at: Mapped[float] = mapped_column(Float)


class DetectionPublic(BaseModel):
    """A detection with its evidence as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str
    state: str
    subject: str
    t: float
    confidence: float
    device_key: str | None
    resident_id: int | None
    room_id: int | None
    site_id: int | None
    recorded_at: float
    evidence: dict
