"""Duty records (MISSION rule 11): roster shifts, shift handovers, the duty log and emergency calls."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base
from hub.devices.models import StaffRole

# Site columns are plain integers (as on alerts): a duty record outlives any change to the registry, and
# NULL means "every site". Records are never deleted, so nothing cascades into them.


class DutyLogKind(StrEnum):
    """What a duty-log entry is about."""

    SHIFT_START = "shift_start"
    SHIFT_END = "shift_end"
    CALL = "call"
    EVENT = "event"
    NOTE = "note"


# ---------------------------------------------------------------------------------------------- tables


class DutyShift(Base):
    """One shift of the roster: a staff member on duty in a role at a site (or every site) for a time span."""

    __tablename__ = "duty_shifts"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ck_duty_shifts_span"),
        Index("ix_duty_shifts_role_span", "role", "starts_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    role: Mapped[str] = mapped_column(String(30))
    starts_at: Mapped[float] = mapped_column(Float)
    ends_at: Mapped[float] = mapped_column(Float)  # exclusive: a shift ending at 08:00 is off duty at 08:00
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)


class Handover(Base):
    """A shift handover: the outgoing user's notes and open alerts, signed by them and then by the incoming user."""

    __tablename__ = "handovers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    created_at: Mapped[float] = mapped_column(Float)
    outgoing_by: Mapped[str] = mapped_column(String(200))  # creating the handover is the outgoing signature
    notes: Mapped[str] = mapped_column(Text, default="")
    # The open alerts in the outgoing user's scope when the handover was made; a snapshot, never refreshed.
    open_alerts: Mapped[list[dict]] = mapped_column(JSON, default=list)
    amended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    incoming_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    incoming_signed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    incoming_notes: Mapped[str] = mapped_column(Text, default="")

    @property
    def complete(self) -> bool:
        """Return whether both have signed (the record is then frozen)."""
        return self.incoming_signed_at is not None


class DutyLogEntry(Base):
    """One timestamped line of the duty log."""

    __tablename__ = "duty_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(20), default=DutyLogKind.NOTE.value)
    text: Mapped[str] = mapped_column(Text)
    alert_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class EmergencyCall(Base):
    """A call made for an emergency: who called whom, when, and how it went."""

    __tablename__ = "emergency_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    caller: Mapped[str] = mapped_column(String(200))
    callee: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    alert_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    resident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


# --------------------------------------------------------------------------------------------- schemas


class ShiftIn(BaseModel):
    """A shift to put on the roster (or the new content of one)."""

    staff_id: int
    site_id: int | None = None
    role: StaffRole
    starts_at: float
    ends_at: float
    note: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _span(self) -> ShiftIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ShiftPublic(BaseModel):
    """A roster shift as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    staff_id: int
    site_id: int | None
    role: StaffRole
    starts_at: float
    ends_at: float
    note: str
    created_by: str
    created_at: float


class OnDutyPublic(BaseModel):
    """Someone on duty now, with the shift that puts them there."""

    staff_id: int
    name: str
    phone: str
    role: StaffRole
    shift_id: int
    site_id: int | None
    starts_at: float
    ends_at: float


class HandoverIn(BaseModel):
    """A handover the outgoing user makes for a site (or, with no site, for every site)."""

    site_id: int | None = None
    notes: str = Field(default="", max_length=20_000)


class HandoverAmendIn(BaseModel):
    """New notes from the outgoing user, before the incoming user has signed."""

    notes: str = Field(max_length=20_000)


class HandoverSignIn(BaseModel):
    """The incoming user's signature, with remarks."""

    notes: str = Field(default="", max_length=20_000)


class HandoverPublic(BaseModel):
    """A handover as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    site_id: int | None
    created_at: float
    outgoing_by: str
    notes: str
    open_alerts: list[dict]
    amended_at: float | None
    incoming_by: str | None
    incoming_signed_at: float | None
    incoming_notes: str
    complete: bool


class DutyLogIn(BaseModel):
    """A line for the duty log."""

    site_id: int | None = None
    kind: DutyLogKind = DutyLogKind.NOTE
    text: str = Field(min_length=1, max_length=4000)
    alert_id: int | None = None


class DutyLogPublic(BaseModel):
    """A duty-log entry as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: float
    actor: str
    site_id: int | None
    kind: DutyLogKind
    text: str
    alert_id: int | None


class CallIn(BaseModel):
    """A call the caller made; with an alert, the site and resident default to the alert's."""

    callee: str = Field(min_length=1, max_length=200)
    outcome: str = Field(min_length=1, max_length=40, description="answered, no_answer, busy, failed, ...")
    note: str = Field(default="", max_length=4000)
    at: float | None = Field(default=None, description="when the call was made; default now")
    alert_id: int | None = None
    site_id: int | None = None
    resident_id: int | None = None


class CallPublic(BaseModel):
    """An emergency-call record as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: float
    caller: str
    callee: str
    outcome: str
    note: str
    alert_id: int | None
    site_id: int | None
    resident_id: int | None
