"""Ledger tables (hazards, inspection plans and tasks, complaints, device tests, abnormal events) and schemas."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base


class HazardStatus(StrEnum):
    """登记 registered → 整改中 rectifying → 待复查 awaiting re-inspection → 销号 closed → 归档 archived."""

    REGISTERED = "registered"
    RECTIFYING = "rectifying"
    AWAITING_REINSPECTION = "awaiting_reinspection"
    CLOSED = "closed"
    ARCHIVED = "archived"


OPEN_HAZARD = (HazardStatus.REGISTERED, HazardStatus.RECTIFYING, HazardStatus.AWAITING_REINSPECTION)


class HazardLevel(StrEnum):
    """Colour level; each has a rectification deadline (Settings.hazard_deadlines_h)."""

    RED = "red"
    ORANGE = "orange"
    YELLOW = "yellow"
    BLUE = "blue"  # blue or green: the lowest level, named either way by different plans


class HazardCategory(StrEnum):
    """What kind of safety a hazard is about."""

    FIRE = "fire"
    ELECTRICITY = "electricity"
    GAS = "gas"
    BUILDING = "building"
    FOOD = "food"
    CARE = "care"
    MEDICINE = "medicine"
    EMERGENCY = "emergency"


class Tier(StrEnum):
    """Who answers for an overdue hazard: escalation moves it one tier up."""

    SITE = "site"
    TOWNSHIP = "township"
    COUNTY = "county"


TIERS = (Tier.SITE, Tier.TOWNSHIP, Tier.COUNTY)


class Hazard(Base):
    """One hazard-ledger entry (隐患), from an alert, a device problem, an inspection, a complaint or by hand."""

    __tablename__ = "hazards"
    __table_args__ = (Index("ix_hazards_status", "status", "deadline_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(30), default=HazardStatus.REGISTERED.value)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(400), default="")
    evidence: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(20))  # alert, device, inspection, complaint, manual
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    room_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    device_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    alert_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    work_order_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    inspection_task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    complaint_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    treatment_plan: Mapped[str] = mapped_column(Text, default="")
    responsible_person: Mapped[str] = mapped_column(String(200), default="")
    department: Mapped[str] = mapped_column(String(200), default="")
    measures: Mapped[str] = mapped_column(Text, default="")
    deadline_at: Mapped[float] = mapped_column(Float)
    registered_at: Mapped[float] = mapped_column(Float)
    registered_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[float] = mapped_column(Float)
    rectification_started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    rectified_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    rectified_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    rectification_note: Mapped[str] = mapped_column(Text, default="")
    rectification_evidence: Mapped[list[str]] = mapped_column(JSON, default=list)
    reinspected_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    reinspected_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reinspection_passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    reinspection_note: Mapped[str] = mapped_column(Text, default="")
    reinspection_evidence: Mapped[list[str]] = mapped_column(JSON, default=list)
    failed_reinspections: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    archived_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    tier: Mapped[str] = mapped_column(String(10), default=Tier.SITE.value)
    # When the next one-tier escalation is due (the deadline, then a grace period per tier); NULL: no more.
    next_escalation_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class InspectionTemplate(Base):
    """An inspection plan: who checks what, how often (daily, weekly, monthly), with its checklist."""

    __tablename__ = "inspection_templates"
    __table_args__ = (UniqueConstraint("name", name="uq_inspection_templates_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    cadence: Mapped[str] = mapped_column(String(10))
    role: Mapped[str] = mapped_column(String(30))
    items: Mapped[list[dict]] = mapped_column(JSON, default=list)  # [{"key", "label", "category"}]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class InspectionTask(Base):
    """One inspection due at a site for one period of its template's cadence."""

    __tablename__ = "inspection_tasks"
    __table_args__ = (
        # One task per template, site and period: generating twice adds nothing.
        UniqueConstraint("template_id", "site_id", "period_start", name="uq_inspection_tasks_period"),
        Index("ix_inspection_tasks_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_id: Mapped[int] = mapped_column(Integer, index=True)
    site_id: Mapped[int] = mapped_column(Integer, index=True)
    cadence: Mapped[str] = mapped_column(String(10))
    role: Mapped[str] = mapped_column(String(30))
    period_start: Mapped[str] = mapped_column(String(10))  # local date, ISO
    period_end: Mapped[str] = mapped_column(String(10))
    due_at: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[float] = mapped_column(Float)
    done_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    done_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    results: Mapped[list[dict]] = mapped_column(JSON, default=list)
    overdue_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    escalated_to: Mapped[str | None] = mapped_column(String(30), nullable=True)  # who hears of a missed task


class Complaint(Base):
    """A complaint (投诉) with its feedback deadline of N working days."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    resident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    complainant: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(40), default="phone")
    content: Mapped[str] = mapped_column(Text)
    received_at: Mapped[float] = mapped_column(Float)
    recorded_by: Mapped[str] = mapped_column(String(200))
    feedback_due_at: Mapped[float] = mapped_column(Float)
    feedback_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    feedback_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    feedback: Mapped[str] = mapped_column(Text, default="")
    hazard_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class DeviceTest(Base):
    """A functional test of a device (test button pressed, alarm received at the centre)."""

    __tablename__ = "device_tests"
    __table_args__ = (Index("ix_device_tests_device", "device_id", "tested_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(Integer)
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tested_at: Mapped[float] = mapped_column(Float)
    tested_by: Mapped[str] = mapped_column(String(200))
    passed: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")


class AbnormalEvent(Base):
    """An abnormal-event report (异常事件报告): what happened, what was done."""

    __tablename__ = "abnormal_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    resident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    alert_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    occurred_at: Mapped[float] = mapped_column(Float)
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    actions: Mapped[str] = mapped_column(Text, default="")
    reported_by: Mapped[str] = mapped_column(String(200))
    reported_at: Mapped[float] = mapped_column(Float)


class MonthlyReport(Base):
    """The published monthly disclosure of one month: the figures as they were when published."""

    __tablename__ = "monthly_reports"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "YYYY-MM"
    figures: Mapped[dict] = mapped_column(JSON, default=dict)
    published_at: Mapped[float] = mapped_column(Float)
    published_by: Mapped[str] = mapped_column(String(200))
    late: Mapped[bool] = mapped_column(Boolean, default=False)


# --------------------------------------------------------------------------------------------- schemas


class HazardIn(BaseModel):
    """A hazard registered by hand."""

    category: HazardCategory
    level: HazardLevel
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    location: str = Field(default="", max_length=400)
    site_id: int
    room_id: int | None = None
    device_key: str | None = None
    evidence: list[str] = Field(default_factory=list)
    responsible_person: str = Field(default="", max_length=200)
    department: str = Field(default="", max_length=200)
    major: bool = False
    deadline_at: float | None = None  # default: now + the level's deadline


class HazardPublic(BaseModel):
    """A hazard as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    category: HazardCategory
    level: HazardLevel
    status: HazardStatus
    title: str
    description: str
    location: str
    evidence: list[str]
    source: str
    site_id: int | None
    room_id: int | None
    device_key: str | None
    alert_id: int | None
    work_order_id: int | None
    inspection_task_id: int | None
    complaint_id: int | None
    major: bool
    treatment_plan: str
    responsible_person: str
    department: str
    measures: str
    deadline_at: float
    registered_at: float
    registered_by: str
    rectification_started_at: float | None
    rectified_at: float | None
    rectified_by: str | None
    rectification_note: str
    rectification_evidence: list[str]
    reinspected_at: float | None
    reinspected_by: str | None
    reinspection_passed: bool | None
    reinspection_note: str
    reinspection_evidence: list[str]
    failed_reinspections: int
    closed_at: float | None
    closed_by: str | None
    archived_at: float | None
    tier: Tier
    next_escalation_at: float | None


class RectifyIn(BaseModel):
    """Start rectification: the measures, who answers for them, and by when."""

    measures: str = Field(min_length=1, max_length=4000)
    responsible_person: str = Field(min_length=1, max_length=200)
    department: str = Field(default="", max_length=200)
    deadline_at: float | None = None


class RectifiedIn(BaseModel):
    """Rectification done, with evidence; the hazard waits for re-inspection."""

    note: str = Field(min_length=1, max_length=4000)
    evidence: list[str] = Field(default_factory=list)


class ReinspectIn(BaseModel):
    """A re-inspection (复查): pass or fail, with a note and evidence."""

    passed: bool
    note: str = Field(min_length=1, max_length=4000)
    evidence: list[str] = Field(default_factory=list)


class PlanIn(BaseModel):
    """A treatment plan for a major hazard (重大隐患治理方案)."""

    treatment_plan: str = Field(min_length=1, max_length=20000)
    major: bool = True


class TemplateItem(BaseModel):
    """One checklist item."""

    key: str = Field(min_length=1, max_length=40)
    label: str = Field(min_length=1, max_length=200)
    category: HazardCategory


class TemplateIn(BaseModel):
    """An inspection plan to create or replace."""

    name: str = Field(min_length=1, max_length=200)
    cadence: str = Field(pattern="^(daily|weekly|monthly)$")
    role: str = Field(min_length=1, max_length=30)
    items: list[TemplateItem] = Field(min_length=1)
    active: bool = True


class ItemResultIn(BaseModel):
    """The result of one checklist item; a failed item becomes a hazard."""

    key: str
    ok: bool
    note: str = Field(default="", max_length=4000)
    photos: list[str] = Field(default_factory=list)
    level: HazardLevel = HazardLevel.YELLOW


class TaskResultIn(BaseModel):
    """Results for every item of an inspection task."""

    items: list[ItemResultIn] = Field(min_length=1)


class ComplaintIn(BaseModel):
    """A complaint received."""

    complainant: str = Field(min_length=1, max_length=200)
    content: str = Field(min_length=1, max_length=8000)
    channel: str = Field(default="phone", max_length=40)
    site_id: int
    resident_id: int | None = None
    received_at: float | None = None


class FeedbackIn(BaseModel):
    """The feedback given to the complainant."""

    feedback: str = Field(min_length=1, max_length=8000)


class DeviceTestIn(BaseModel):
    """A functional test of a registered device."""

    device_id: int
    passed: bool
    note: str = Field(default="", max_length=2000)
    tested_at: float | None = None


class AbnormalEventIn(BaseModel):
    """An abnormal-event report."""

    site_id: int
    resident_id: int | None = None
    alert_id: int | None = None
    occurred_at: float
    category: str = Field(min_length=1, max_length=40)
    description: str = Field(min_length=1, max_length=8000)
    actions: str = Field(default="", max_length=8000)


# ------------------------------------------------------------------------------------- response schemas
# Field order is the column order: the API answered rows of these tables column by column before.


class HazardStep(BaseModel):
    """One step of a hazard's history, from the audit log."""

    at: float
    actor: str
    action: str
    detail: dict[str, Any]


class HazardDetail(HazardPublic):
    """A hazard with every step of its history."""

    history: list[HazardStep]


class HazardListRow(BaseModel):
    """One row of the hazard list (隐患清单)."""

    id: int
    site_id: int | None
    category: str
    level: str
    title: str
    location: str
    source: str
    registered_at: float
    deadline_at: float
    status: str
    tier: str
    major: bool
    alert_id: int | None
    work_order_id: int | None


class RectificationRow(BaseModel):
    """One row of the rectification list (整改清单)."""

    id: int
    site_id: int | None
    title: str
    level: str
    measures: str
    responsible_person: str
    department: str
    deadline_at: float
    rectified_at: float | None
    rectified_by: str | None
    reinspected_at: float | None
    reinspected_by: str | None
    reinspection_passed: bool | None
    failed_reinspections: int
    status: str
    overdue: bool


class ResponsibilityRow(BaseModel):
    """One row of the responsibility list (责任清单): a responsible person and department's hazards."""

    responsible_person: str
    department: str
    open: int
    overdue: int
    closed: int
    hazard_ids: list[int]


class TemplatePublic(BaseModel):
    """An inspection plan as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    cadence: str
    role: str
    items: list[TemplateItem]
    active: bool


class TaskPublic(BaseModel):
    """An inspection task as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    template_id: int
    site_id: int
    cadence: str
    role: str
    period_start: str
    period_end: str
    due_at: float
    status: str
    created_at: float
    done_at: float | None
    done_by: str | None
    results: list[dict[str, Any]]
    overdue_at: float | None
    escalated_to: str | None


class TaskDone(TaskPublic):
    """A completed inspection task with the hazards its failed items registered."""

    hazards: list[HazardPublic]


class TasksGenerated(BaseModel):
    """How many inspection tasks a generation created."""

    created: int


class ComplaintPublic(BaseModel):
    """A complaint as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    site_id: int | None
    resident_id: int | None
    complainant: str
    channel: str
    content: str
    received_at: float
    recorded_by: str
    feedback_due_at: float
    feedback_at: float | None
    feedback_by: str | None
    feedback: str
    hazard_id: int | None


class DeviceTestPublic(BaseModel):
    """A device functional test as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    device_id: int
    site_id: int | None
    tested_at: float
    tested_by: str
    passed: bool
    note: str


class DeviceTestDue(BaseModel):
    """A device without a passed functional test in the last 7 days."""

    device_id: int
    name: str
    kind: str
    site_id: int | None
    resident_id: int | None
    last_passed_test_at: float | None
    due_at: float | None


class AbnormalEventPublic(BaseModel):
    """An abnormal-event report as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    site_id: int | None
    resident_id: int | None
    alert_id: int | None
    occurred_at: float
    category: str
    description: str
    actions: str
    reported_by: str
    reported_at: float


class AlertFigures(BaseModel):
    """A month's alerts: counts by type and outcome, answer times."""

    total: int
    by_type: dict[str, int]
    by_outcome: dict[str, int]
    answerable: int
    answered: int
    answered_60s: int
    answered_180s: int
    answered_60s_pct: float | None
    answered_180s_pct: float | None
    median_answer_s: float | None


class WorkOrderFigures(BaseModel):
    """A month's work orders: created, completed, closed, cancelled, escalated, rated."""

    created: int
    by_type: dict[str, int]
    completed: int
    closed: int
    cancelled: int
    escalated: int
    followed_up: int
    average_rating: float | None


class HazardFigures(BaseModel):
    """A month's hazards: opened, closed, overdue and open at the month's end."""

    opened: int
    opened_by_level: dict[str, int]
    closed: int
    overdue_at_end: int
    open_at_end: int


class InspectionFigures(BaseModel):
    """A month's inspection tasks: due, done in time, missed."""

    due: int
    done: int
    missed: int
    done_pct: float | None


class CoverageRow(BaseModel):
    """Monitoring and visit coverage of one township."""

    county: str
    township: str
    solitary_or_empty_nest: int
    monitored: int
    solitary_70_plus: int
    visited: int
    monitoring_pct: float | None
    monitoring_target_pct: float
    monitoring_met: bool
    visit_pct: float | None
    visit_target_pct: float
    visit_met: bool


class MonthlyFigures(BaseModel):
    """The disclosure figures of one month for the sites in scope."""

    month: str
    start: float
    end: float
    due_at: float
    alerts: AlertFigures
    workorders: WorkOrderFigures
    hazards: HazardFigures
    inspections: InspectionFigures
    coverage: list[CoverageRow]


class ReportPublished(BaseModel):
    """The answer to publishing a month's report (the figures as frozen)."""

    month: str
    published_at: float
    late: bool
    figures: dict[str, Any]  # stored JSON: a report published by an older hub may lack newer figures


class PublishedReport(BaseModel):
    """A published monthly report: who published it, when, and the figures as they were."""

    month: str
    published_at: float
    published_by: str
    late: bool
    figures: dict[str, Any]
