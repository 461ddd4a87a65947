"""Work-order table, statuses, types and schemas."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base


class WorkOrderStatus(StrEnum):
    """Where a work order is: 待派单 → 已派单 → 已接单 → 服务中 → 已完成 → 待回访 → 已关闭 (or cancelled)."""

    PENDING = "pending"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    IN_SERVICE = "in_service"
    COMPLETED = "completed"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"
    CANCELLED = "cancelled"


# Someone still has to act: these count as load and run SLA timers.
OPEN_STATUSES = (WorkOrderStatus.PENDING, WorkOrderStatus.DISPATCHED, WorkOrderStatus.ACCEPTED,
                 WorkOrderStatus.IN_SERVICE)
UNACCEPTED_STATUSES = (WorkOrderStatus.PENDING, WorkOrderStatus.DISPATCHED)


class WorkOrderType(StrEnum):
    """What the order asks a person to do."""

    ONSITE_CHECK = "onsite_check"  # go to the resident (SOS, fall)
    SAFETY_CHECK = "safety_check"  # safety officer: fire/gas/CO check and evacuation
    PHONE_CHECK = "phone_check"  # call first, visit when nobody answers (inactivity)
    MAINTENANCE = "maintenance"  # repair, battery, re-mount a device
    MEDICAL_FOLLOW_UP = "medical_follow_up"  # vitals out of range
    SERVICE = "service"  # any other service by hand


class WorkOrder(Base):
    """One piece of work for a person, with its timers, check-in/out and follow-up."""

    __tablename__ = "work_orders"
    __table_args__ = (Index("ix_work_orders_status", "status", "priority", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(30))
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=WorkOrderStatus.PENDING.value)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20))  # "alert", "hazard" or "manual"
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    room_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    device_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Links: the alert that caused the order and the hazard it works on (the hazard links back).
    alert_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    hazard_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)  # staff roles that may take it
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    assignee: Mapped[str | None] = mapped_column(String(200), nullable=True)
    assignee_staff_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    dispatched_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    dispatched_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    accepted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    accepted_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reject_count: Mapped[int] = mapped_column(Integer, default=0)
    check_in_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    check_in_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    check_in_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)  # paths under the data directory
    check_out_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    result: Mapped[str] = mapped_column(Text, default="")
    completed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    follow_up_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    follow_up_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    follow_up_comment: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    cancelled_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    # SLA frozen onto the order when it is created, so a later settings change does not move running timers.
    sla_accept_s: Mapped[float] = mapped_column(Float)
    sla_finish_s: Mapped[float] = mapped_column(Float)
    accept_due_at: Mapped[float] = mapped_column(Float)
    finish_due_at: Mapped[float] = mapped_column(Float)
    # Set when the current breach escalated: one escalation per breach however often the checker runs.
    accept_escalated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finish_escalated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    escalations: Mapped[list[dict]] = mapped_column(JSON, default=list)


class WorkOrderIn(BaseModel):
    """A work order created by hand."""

    type: WorkOrderType
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    priority: int = Field(default=2, ge=1, le=3)
    site_id: int
    room_id: int | None = None
    resident_id: int | None = None
    device_key: str | None = None
    alert_id: int | None = None
    hazard_id: int | None = None


class WorkOrderPublic(BaseModel):
    """A work order as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    type: WorkOrderType
    priority: int
    status: WorkOrderStatus
    title: str
    description: str
    source: str
    site_id: int | None
    room_id: int | None
    resident_id: int | None
    device_key: str | None
    alert_id: int | None
    hazard_id: int | None
    roles: list[str]
    created_by: str
    created_at: float
    updated_at: float
    assignee: str | None
    assignee_staff_id: int | None
    dispatched_at: float | None
    accepted_at: float | None
    accepted_by: str | None
    reject_count: int
    check_in_at: float | None
    check_in_lat: float | None
    check_in_lon: float | None
    photos: list[str]
    check_out_at: float | None
    duration_s: float | None
    result: str
    follow_up_at: float | None
    rating: int | None
    follow_up_comment: str
    closed_at: float | None
    cancelled_at: float | None
    cancel_reason: str
    accept_due_at: float
    finish_due_at: float
    escalations: list[dict]


class WorkOrderDetail(WorkOrderPublic):
    """One order with its timeline from the audit log (escalations included), oldest first."""

    history: list[dict]


class DispatchIn(BaseModel):
    """Whom the order goes to: a staff member by id, or a name for someone outside the registry."""

    staff_id: int | None = None
    assignee: str | None = Field(default=None, max_length=200)


class CheckInIn(BaseModel):
    """Arrival on site, with the phone's position when it has one."""

    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class ReasonIn(BaseModel):
    """Why an order is rejected or cancelled."""

    reason: str = Field(min_length=1, max_length=2000)


class CheckOutIn(BaseModel):
    """What was done on site."""

    result: str = Field(min_length=1, max_length=4000)


class FollowUpIn(BaseModel):
    """The resident's or family's rating (1-5) and comment from the follow-up call."""

    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=4000)


class Suggestion(BaseModel):
    """A staff member who could take the order, best first."""

    staff_id: int
    name: str
    role: str
    site_id: int | None
    load: int
    distance_km: float | None
