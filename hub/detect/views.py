"""Detections API: what the detectors concluded, with the evidence, newest first.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from hub.deps import RegistryReader, SessionDep
from hub.detect.models import DetectionPublic, DetectionRecord

router = APIRouter(prefix="/api", tags=["detections"])


@router.get("/detections", response_model=list[DetectionPublic])
def recent_detections(
    _principal: RegistryReader, session: SessionDep, type: str | None = None, subject: str | None = None,
    since: float | None = None, limit: Annotated[int, Query(le=5000)] = 100,
) -> list[DetectionPublic]:
    """Return detections (falls, fire, inactivity, device health) with their evidence, newest first."""
    query = select(DetectionRecord).order_by(DetectionRecord.id.desc()).limit(limit)
    if type:
        query = query.where(DetectionRecord.type == type)
    if subject:
        query = query.where(DetectionRecord.subject == subject)
    if since is not None:
        query = query.where(DetectionRecord.t >= since)
    return [DetectionPublic.model_validate(row) for row in session.scalars(query)]
