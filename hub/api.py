"""The HTTP API: mounts every domain's router plus health, metrics, readings, events and NB-IoT push."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select

from device_drivers.model import DecodeError
from device_drivers.profiles.builtin import decode_http_push
from hub.alerts.kpi_views import make_router as make_kpis_router
from hub.alerts.views import make_router as make_alerts_router
from hub.auth.deps import Auth
from hub.auth.ratelimit import LoginRateLimiter
from hub.auth.roles import Permission
from hub.auth.security import load_or_create_secret
from hub.auth.service import TokenPolicy
from hub.auth.views import make_router as make_auth_router
from hub.console import make_router as make_console_router
from hub.detect.models import DetectionRecord
from hub.devices import service as registry
from hub.devices.views import make_router as make_devices_router
from hub.duty.views import make_router as make_duty_router
from hub.escalation.views import make_router as make_escalation_router
from hub.events.models import DeviceEventRecord
from hub.ingest.processor import health_key
from hub.ingest.views import make_router as make_ingest_router
from hub.ledgers.flows import LedgerFlow, link_order_to_hazard
from hub.ledgers.views import make_router as make_ledgers_router
from hub.notifications.views import make_router as make_notifications_router
from hub.profiles.views import make_router as make_profiles_router
from hub.workorders.flows import WorkOrderFlow
from hub.workorders.views import make_router as make_workorders_router

if TYPE_CHECKING:
    from hub.runtime import Hub


def create_app(hub: Hub) -> FastAPI:
    """Build the FastAPI application for a running hub."""
    app = FastAPI(title="CareHub", version="0.1.0",
                  description="IoT monitoring hub for smart elderly care. OpenAPI is the integrators' contract.")
    app.state.hub = hub
    auth = make_auth(hub)
    app.state.auth = auth
    app.include_router(make_auth_router(
        auth, relatives=lambda session, ids: registry.relatives(db_session=session, resident_ids=ids)))
    app.include_router(make_alerts_router(auth, hub.alerts))
    app.include_router(make_kpis_router(auth, hub.session_factory, clock=hub.alerts.clock))
    app.include_router(make_duty_router(auth, hub.session_factory, clock=hub.alerts.clock,
                                        timezone=hub.settings.timezone))
    app.include_router(make_notifications_router(auth, hub.alerts, timezone=hub.settings.timezone))
    app.include_router(make_escalation_router(auth, hub.session_factory, hub.alerts.clock))
    app.include_router(_live_router(hub, auth))
    app.include_router(make_ingest_router(hub.router, auth))
    app.include_router(make_profiles_router(hub, auth))
    app.include_router(make_devices_router(hub.session_factory, directory=hub.directory,
                                           live_state=hub.live_state, supervision=hub.settings.supervision,
                                           reader=auth.require(Permission.REGISTRY_READ),
                                           writer=auth.require(Permission.REGISTRY_WRITE),
                                           on_bound=hub.alerts.rehome_bound))
    app.include_router(make_workorders_router(auth, WorkOrderFlow(session_factory=hub.session_factory,
                                                                  settings=hub.settings, clock=hub.alerts.clock,
                                                                  hazard_link=link_order_to_hazard)))
    app.include_router(make_ledgers_router(auth, LedgerFlow(session_factory=hub.session_factory,
                                                            settings=hub.settings, clock=hub.alerts.clock)))
    app.include_router(_ops_router(hub))
    app.include_router(make_console_router())
    return app


def make_auth(hub: Hub) -> Auth:
    """Build the app's authentication from the hub's settings."""
    settings = hub.settings
    policy = TokenPolicy(secret=load_or_create_secret(settings.auth_secret, settings.data_dir),
                         access_ttl_s=settings.access_token_ttl_s, refresh_ttl_s=settings.refresh_token_ttl_s)
    return Auth(hub.session_factory, policy, LoginRateLimiter(settings.login_attempts, settings.login_window_s))


def _ops_router(hub: Hub) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    def healthz() -> dict:
        """Report liveness and the state of the ingest lanes."""
        mqtt = hub.mqtt
        return {
            "status": "ok",
            "mqtt_connected": bool(mqtt and mqtt.connected.is_set()),
            "alarm_lane": len(hub.alarm_lane),
            "telemetry_lane": len(hub.telemetry_lane),
            "alarms_recorded": hub.recorder.recorded,
            "telemetry": hub.telemetry.stats(),
            "receivers": [r.stats() for r in hub.receivers],
            "dc09": hub.dc09.stats() if hub.dc09 else None,
        }

    @router.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        """Expose Prometheus metrics."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def _live_router(hub: Hub, auth: Auth) -> APIRouter:
    reader = [Depends(auth.require(Permission.REGISTRY_READ))]
    router = APIRouter(prefix="/api", tags=["live"])

    @router.get("/devices/state", dependencies=reader)
    def devices_state() -> list[dict]:
        """Return live state (availability, battery, last seen, latest readings) of registered devices."""
        out, seen = [], set()
        for key, ref in hub.directory.all():
            if ref.id in seen:
                continue
            seen.add(ref.id)
            state = hub.health.state(health_key(key, ref))
            out.append({"device_id": ref.id, "device_key": key, "name": ref.name, "kind": ref.kind,
                        "site_id": ref.site_id, "room_id": ref.room_id, "resident_id": ref.resident_id,
                        "supervision_s": ref.supervision_s, **(state.as_dict() if state else {})})
        return out

    @router.get("/readings/latest", dependencies=reader)
    def latest_readings(device_key: str) -> dict:
        """Return the latest value of every metric a device reported."""
        ref = hub.directory.lookup(device_key)
        state = hub.health.state(health_key(device_key, ref))
        if state is None:
            raise HTTPException(404, f"no readings from {device_key!r}")
        return {"device_key": device_key, "readings": state.as_dict()["readings"]}

    @router.get("/readings/history", dependencies=reader)
    def reading_history(
        device_key: str, metric: str,
        since: Annotated[float | None, Query(description="epoch seconds")] = None,
        until: Annotated[float | None, Query(description="epoch seconds")] = None,
        limit: Annotated[int, Query(le=100_000)] = 1000,
    ) -> dict:
        """Return stored readings of one metric of one device, oldest first."""
        store = hub.telemetry.local_store
        if store is None:
            raise HTTPException(409, "history is served by the configured InfluxDB (query it or Grafana)")
        now = time.time()
        rows = store.history(device_key, metric, since if since is not None else now - 86_400,
                             until if until is not None else now, limit)
        return {"device_key": device_key, "metric": metric,
                "points": [{"ts": ts, "value": value} for ts, value in rows]}

    @router.get("/events", dependencies=reader)
    def recent_events(
        device_key: str | None = None, kind: str | None = None, alarms_only: bool = False,
        since: float | None = None, limit: Annotated[int, Query(le=5000)] = 100,
    ) -> list[dict]:
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
        with hub.session_factory() as session:
            rows = session.scalars(query).all()
        return [{"id": r.id, "device_key": r.device_key, "device_id": r.device_id, "kind": r.kind,
                 "state": r.state, "ts": r.ts, "received_at": r.received_at, "source": r.source,
                 "is_alarm": r.is_alarm, "detail": r.detail} for r in rows]

    @router.get("/detections", tags=["detections"], dependencies=reader)
    def recent_detections(
        type: str | None = None, subject: str | None = None, since: float | None = None,
        limit: Annotated[int, Query(le=5000)] = 100,
    ) -> list[dict]:
        """Return detections (falls, fire, inactivity, device health) with their evidence, newest first."""
        query = select(DetectionRecord).order_by(DetectionRecord.id.desc()).limit(limit)
        if type:
            query = query.where(DetectionRecord.type == type)
        if subject:
            query = query.where(DetectionRecord.subject == subject)
        if since is not None:
            query = query.where(DetectionRecord.t >= since)
        with hub.session_factory() as session:
            rows = session.scalars(query).all()
        return [{"id": r.id, "type": r.type, "state": r.state, "subject": r.subject, "t": r.t,
                 "confidence": r.confidence, "device_key": r.device_key, "resident_id": r.resident_id,
                 "room_id": r.room_id, "site_id": r.site_id, "recorded_at": r.recorded_at,
                 "evidence": r.evidence} for r in rows]

    @router.post("/push/{platform}", tags=["nb-iot"], dependencies=[Depends(auth.require(Permission.PUSH))])
    async def nbiot_push(platform: str, request: Request) -> dict:
        """Accept an NB-IoT platform push (CTWing dataReport, OneNET OneJSON); needs an integration API key."""
        if platform not in ("ctwing", "onenet"):
            raise HTTPException(404, f"unknown platform {platform!r}")
        body = await request.body()
        try:
            messages = decode_http_push(platform, body, received_at=time.time())
        except DecodeError as err:
            hub.router.reject(err.reason, platform, "http", body[:256], err.detail)
            raise HTTPException(400, f"rejected: {err}") from err
        topic = f"http/{platform}"
        # Alarms are recorded before the platform gets its 200, so a retry is the platform's job on error.
        ok = await _run_blocking(hub.router.receive_decoded, "http", platform, topic, messages,
                                 payload=body, wait=5.0)
        if not ok:
            raise HTTPException(503, "not recorded; retry")
        return {"accepted": len(messages)}

    return router


async def _run_blocking(fn, *args, **kwargs):
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args, **kwargs)
