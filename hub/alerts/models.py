"""Alert tables, statuses and schemas."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base
from hub.devices.models import LivingSituation


class AlertState(StrEnum):
    """Where an alert is in its lifecycle."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATES = (AlertState.NEW, AlertState.ACKNOWLEDGED, AlertState.DISPATCHED)


class AlertChange(StrEnum):
    """What happened to an alert: the live feed's `change`, and what alert hooks and listeners react to."""

    RAISED = "raised"
    REPEATED = "repeated"
    CLEARED = "cleared"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    ARRIVED = "arrived"
    RESOLVED = "resolved"
    CLOSED = "closed"
    NOTE = "note"
    ESCALATED = "escalated"
    HELP_NOT_ARRIVED = "help_not_arrived"
    REHOMED = "rehomed"


class Outcome(StrEnum):
    """How an alert ended (the false-alarm rate and the monthly disclosure count these)."""

    GENUINE = "genuine"
    FALSE_ALARM = "false_alarm"
    TEST = "test"
    DUPLICATE = "duplicate"
    RESIDENT_OK_BY_PHONE = "resident_ok_by_phone"
    RESTORED = "restored"  # a device condition that cleared before anyone acted (P3 only)


class Alert(Base):
    """One alert; repeats of the same type for the same resident or device join it while it is open."""

    __tablename__ = "alerts"
    __table_args__ = (
        # Set while the alert is open, NULL after: the database itself refuses a second open alert.
        UniqueConstraint("open_key", name="uq_alerts_open_key"),
        Index("ix_alerts_queue", "state", "priority", "created_at"),
        Index("ix_alerts_next_escalation", "next_escalation_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    priority: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default=AlertState.NEW.value)
    subject: Mapped[str] = mapped_column(String(200))
    open_key: Mapped[str | None] = mapped_column(String(260), nullable=True)
    resident_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    device_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    room_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_at: Mapped[float] = mapped_column(Float)  # when the condition happened (detection time)
    last_at: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)  # when the hub raised it: answer times count from here
    updated_at: Mapped[float] = mapped_column(Float)
    acknowledged_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    dispatched_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    dispatched_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    responder: Mapped[str | None] = mapped_column(String(200), nullable=True)
    arrival_due_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    arrived_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(30), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    cleared_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # the device reported "restored"
    detection_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Escalation: the policy frozen onto the alert when escalation started, the next step and when it is due.
    escalation: Mapped[dict] = mapped_column(JSON, default=dict)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class AlertOccurrence(Base):
    """One trigger that raised or joined an alert (the first one included)."""

    __tablename__ = "alert_occurrences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    detection_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    t: Mapped[float] = mapped_column(Float)
    recorded_at: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    device_key: Mapped[str | None] = mapped_column(String(200), nullable=True)


class AlertPublic(BaseModel):
    """An alert as the API and the live feed show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str
    priority: int
    state: AlertState
    subject: str
    resident_id: int | None
    device_key: str | None
    site_id: int | None
    room_id: int | None
    count: int
    first_at: float
    last_at: float
    created_at: float
    updated_at: float
    acknowledged_at: float | None
    acknowledged_by: str | None
    dispatched_at: float | None
    responder: str | None
    arrival_due_at: float | None
    arrived_at: float | None
    resolved_at: float | None
    resolved_by: str | None
    outcome: Outcome | None
    note: str
    closed_at: float | None
    cleared_at: float | None
    escalation_step: int
    next_escalation_at: float | None


class AlertHistoryEntry(BaseModel):
    """One audited step of an alert's timeline."""

    at: float
    actor: str
    action: str
    detail: dict[str, Any]


class ContactCard(BaseModel):
    """An emergency contact as the duty room sees it on an alert."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    relation: str
    phone: str
    order: int


class ResidentCard(BaseModel):
    """Who the alert is about; `medical_notes` is masked ("***") for roles that may not read them."""

    id: int
    name: str
    age: int | None
    phone: str
    living_situation: LivingSituation
    room_id: int | None
    site_id: int | None
    medical_notes: str
    contacts: list[ContactCard]


class AlertDetail(AlertPublic):
    """One alert with its timeline and its resident card (None for an alert about a device)."""

    history: list[AlertHistoryEntry]
    resident: ResidentCard | None


class DispatchIn(BaseModel):
    """Who is sent to the resident."""

    responder: str = Field(min_length=1, max_length=200)
    note: str = ""


class ResolveIn(BaseModel):
    """How the alert ended; P1 alerts need both an outcome and a note."""

    outcome: Outcome
    note: str = Field(default="", max_length=4000)


class NoteIn(BaseModel):
    """A free-text note."""

    note: str = Field(default="", max_length=4000)


# ------------------------------------------------------------------------------------------------ KPIs
# Field order follows hub.alerts.kpis, so the report's JSON keys keep their order.


class AnswerShare(BaseModel):
    """The share of alerts acknowledged within a threshold, against the code of practice's target."""

    threshold_s: float
    target: float
    counted: int
    within: int
    share: float | None
    meets_target: bool | None


class KpiFigures(BaseModel):
    """Answer and arrival figures of one group of alerts; the shares follow kpis.ANSWER_TARGETS."""

    alerts: int
    acknowledged: int
    ack_p50_s: float | None
    ack_p90_s: float | None
    within_60s: AnswerShare
    within_180s: AnswerShare
    arrivals: int
    arrival_p50_s: float | None
    arrival_p90_s: float | None


class _SiteKey(BaseModel):
    site_id: int | None


class _OperatorKey(BaseModel):
    operator: str


# The key base comes last so its field comes first (pydantic collects fields from the last base on).
class SiteKpis(KpiFigures, _SiteKey):
    """The figures of one site."""


class OperatorKpis(KpiFigures, _OperatorKey):
    """The figures of the alerts one operator acknowledged."""


class DeviceFalseAlarms(BaseModel):
    """False alarms among one device's judged, resolved alerts."""

    device_key: str
    resolved: int
    false_alarms: int
    rate: float


class TypeFalseAlarms(BaseModel):
    """False alarms among one alert type's judged, resolved alerts."""

    type: str
    resolved: int
    false_alarms: int
    rate: float


class KpiReport(BaseModel):
    """KPIs for alerts raised in [since, until), overall, per site and per operator, with false-alarm rates."""

    since: float
    until: float
    now: float
    percentiles: str
    overall: KpiFigures
    by_site: list[SiteKpis]
    by_operator: list[OperatorKpis]
    false_alarms_by_device: list[DeviceFalseAlarms]
    false_alarms_by_type: list[TypeFalseAlarms]
