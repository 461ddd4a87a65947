"""Notification, delivery-attempt and family-link tables, and how the API shows them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base


class DeliveryState(StrEnum):
    """Where a notification is in its delivery."""

    PENDING = "pending"  # waiting for its next attempt (first, retry, or after quiet hours)
    SENDING = "sending"  # handed to apprise; a crash here re-sends it at start (at-least-once)
    SENT = "sent"
    FAILED = "failed"  # attempts exhausted or the address is unusable


class RecipientKind(StrEnum):
    """Who a notification is for."""

    STAFF = "staff"
    CONTACT = "contact"  # a resident's emergency contact (family)


class FamilyAnswer(StrEnum):
    """What a family member can answer from the link in their message."""

    HANDLING = "handling"  # "I'm handling it"
    CALL_ME = "call_me"  # "please call me"


class FamilyAnswerIn(BaseModel):
    """A family member's answer to an alert."""

    answer: FamilyAnswer


class Notification(Base):
    """One message to one address of one recipient, created by an escalation step."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # alert:run:repeat:step:kind:recipient:address — unique, so a step's messages are never created twice.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    recipient_kind: Mapped[str] = mapped_column(String(20))
    recipient_id: Mapped[int] = mapped_column(Integer)
    recipient_name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(10))
    priority: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(400))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default=DeliveryState.PENDING.value, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, index=True)
    deferred_reason: Mapped[str] = mapped_column(String(100), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class DeliveryAttempt(Base):
    """One try at delivering a notification, successful or not."""

    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    at: Mapped[float] = mapped_column(Float)
    ok: Mapped[bool] = mapped_column()
    error: Mapped[str] = mapped_column(Text, default="")
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)


class FamilyLink(Base):
    """A tokenised link a family contact answers an alert from (only the token's digest is stored)."""

    __tablename__ = "family_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(Integer)
    contact_name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    answers: Mapped[list] = mapped_column(JSON, default=list)


class AttemptPublic(BaseModel):
    """A delivery attempt as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    at: float
    ok: bool
    error: str
    duration_s: float


class NotificationPublic(BaseModel):
    """A notification as the API shows it (the address is masked: it may hold a token)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    alert_id: int
    step: int
    action: str
    recipient_kind: RecipientKind
    recipient_id: int
    recipient_name: str
    channel: str
    language: str
    title: str
    state: DeliveryState
    attempts: int
    next_attempt_at: float
    deferred_reason: str
    last_error: str
    created_at: float
    sent_at: float | None


class NotificationDetail(NotificationPublic):
    """A notification with its delivery attempts, oldest first."""

    attempts_log: list[AttemptPublic]
