"""Escalation policy table and the step schema."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import JSON, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base


class StepAction(StrEnum):
    """What one escalation step does."""

    NOTIFY_ON_DUTY = "notify_on_duty"  # staff on duty at the site in `role` (operators by default)
    NOTIFY_SUPERVISOR = "notify_supervisor"  # supervisors on duty at the site
    NOTIFY_FAMILY = "notify_family"  # the resident's emergency contacts in order, `seconds` apart
    CALL_EMERGENCY = "call_emergency"  # record a call to emergency services and tell the duty room to make it
    WAIT = "wait"  # wait `seconds` after the previous step's due time
    REPEAT = "repeat"  # start again from the first step, at most `times` times


class Step(BaseModel):
    """One step of a policy."""

    action: StepAction
    seconds: float = Field(default=0.0, ge=0)
    role: str = "operator"
    number: str = "120"
    times: int = Field(default=1, ge=0, le=20)


class PolicyIn(BaseModel):
    """A policy to create or replace: for one site (or all) and one alert type (or all)."""

    name: str = Field(min_length=1, max_length=200)
    site_id: int | None = None
    alert_type: str | None = Field(default=None, max_length=40)
    steps: list[Step] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _one_repeat_at_the_end(self) -> PolicyIn:
        repeats = [i for i, s in enumerate(self.steps) if s.action == StepAction.REPEAT]
        if repeats and repeats != [len(self.steps) - 1]:
            raise ValueError("'repeat' may only be the last step")
        return self


class PolicyPublic(PolicyIn):
    """A stored policy."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    updated_at: float


class EscalationPolicy(Base):
    """Steps for alerts of one type (or all types) at one site (or all sites)."""

    __tablename__ = "escalation_policies"
    __table_args__ = (UniqueConstraint("site_id", "alert_type", name="uq_escalation_policy_scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    alert_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    steps: Mapped[list] = mapped_column(JSON)
    updated_at: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[str] = mapped_column(String(200), default="")
