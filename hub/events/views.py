"""Events API: recorded device events and status changes, newest first.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from hub.deps import RegistryReader, SessionDep
from hub.events.models import DeviceEventRecord, EventPublic

router = APIRouter(prefix="/api", tags=["events"])


@router.get("/events", response_model=list[EventPublic])
def recent_events(
    _principal: RegistryReader, session: SessionDep, device_key: str | None = None, kind: str | None = None,
    alarms_only: bool = False, since: float | None = None, limit: Annotated[int, Query(le=5000)] = 100,
) -> list[EventPublic]:
    """Return recorded device events, newest first."""
    query = select(DeviceEventRecord).order_by(DeviceEventRecord.id.desc()).limit(limit)
    if device_key:
        query = query.where(DeviceEventRecord.device_key == device_key)
    if kind:
        query = query.where(DeviceEventRecord.kind == kind)
    if alarms_only:
        query = query.where(DeviceEventRecord.is_alarm.is_(True))
    if since is not None:
        query = query.where(DeviceEventRecord.ts >= since)
    return [EventPublic.model_validate(row) for row in session.scalars(query)]
