"""Operations endpoints outside /api: liveness with the state of the ingest lanes, and Prometheus metrics.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from hub.deps import HubDep

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    """Liveness of the hub and the state of its intake."""

    status: str
    mqtt_connected: bool
    alarm_lane: int
    telemetry_lane: int
    alarms_recorded: int
    telemetry: dict[str, Any]
    receivers: list[dict[str, Any]]
    dc09: dict[str, Any] | None


@router.get("/healthz", response_model=Health)
def healthz(hub: HubDep) -> Health:
    """Report liveness and the state of the ingest lanes."""
    mqtt = hub.mqtt
    return Health(status="ok", mqtt_connected=bool(mqtt and mqtt.connected.is_set()), alarm_lane=len(hub.alarm_lane),
                  telemetry_lane=len(hub.telemetry_lane), alarms_recorded=hub.recorder.recorded,
                  telemetry=hub.telemetry.stats(), receivers=[r.stats() for r in hub.receivers],
                  dc09=hub.dc09.stats() if hub.dc09 else None)


@router.get("/metrics", include_in_schema=False)
def prometheus_metrics() -> Response:
    """Expose Prometheus metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
