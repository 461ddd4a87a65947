"""Operations endpoints outside /api: liveness with the state of the ingest lanes, and Prometheus metrics.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from hub.deps import HubDep

router = APIRouter(tags=["operations"])


class ClusterHealth(BaseModel):
    """This hub's part in the cluster."""

    hub_id: str
    in_touch: bool  # the last lease renewal reached the database within the TTL
    shards_held: list[str]
    members: list[str]


class Health(BaseModel):
    """Liveness of the hub and the state of its intake (summed over the shards it holds, in a cluster)."""

    status: str
    mqtt_connected: bool
    alarm_lane: int
    telemetry_lane: int
    alarms_recorded: int
    telemetry: dict[str, Any]
    receivers: list[dict[str, Any]]
    dc09: dict[str, Any] | None
    cluster: ClusterHealth | None = None


class Ready(BaseModel):
    """Whether a load balancer may send this hub requests, and why not."""

    ready: bool
    reason: str


def _cluster(hub) -> ClusterHealth | None:
    coordinator = hub.cluster
    if coordinator is None:
        return None
    return ClusterHealth(hub_id=coordinator.store.hub_id, in_touch=coordinator.in_touch(),
                         shards_held=coordinator.held(), members=list(coordinator.members))


@router.get("/healthz", response_model=Health)
def healthz(hub: HubDep) -> Health:
    """Report liveness and the state of the ingest lanes; in a cluster, which shards this hub holds."""
    pipelines = hub.running_pipelines()
    sessions = [p.mqtt for p in pipelines if p.mqtt]
    return Health(status="ok", mqtt_connected=bool(sessions) and all(m.connected.is_set() for m in sessions),
                  alarm_lane=sum(len(p.alarm_lane) for p in pipelines),
                  telemetry_lane=sum(len(p.telemetry_lane) for p in pipelines),
                  alarms_recorded=sum(p.recorder.recorded for p in pipelines),
                  telemetry=hub.telemetry.stats(), receivers=[r.stats() for r in hub.receivers],
                  dc09=hub.dc09.stats() if hub.dc09 else None, cluster=_cluster(hub))


@router.get("/readyz", response_model=Ready, responses={503: {"model": Ready}})
def readyz(hub: HubDep) -> Response:
    """200 when this hub can serve the API (database reachable; in a cluster, in touch with it), else 503."""
    try:
        with hub.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:
        return _ready(False, f"database unreachable: {type(err).__name__}")
    if hub.cluster is not None and not hub.cluster.in_touch():
        return _ready(False, "no lease renewal reached the database within the TTL")
    return _ready(True, "")


def _ready(ready: bool, reason: str) -> Response:
    body = Ready(ready=ready, reason=reason).model_dump_json()
    return Response(body, status_code=200 if ready else 503, media_type="application/json")


@router.get("/metrics", include_in_schema=False)
def prometheus_metrics() -> Response:
    """Expose Prometheus metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
