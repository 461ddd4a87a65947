"""The HTTP API: creates the app and mounts every domain's router, operations (health, metrics) and the console."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from hub.alerts.kpi_views import make_router as make_kpis_router
from hub.alerts.views import make_router as make_alerts_router
from hub.auth.deps import Auth
from hub.auth.ratelimit import LoginRateLimiter
from hub.auth.roles import Permission
from hub.auth.security import load_or_create_secret
from hub.auth.service import TokenPolicy
from hub.auth.views import make_router as make_auth_router
from hub.console import make_router as make_console_router
from hub.detect.views import router as detections_router
from hub.devices import service as registry
from hub.devices.views import make_router as make_devices_router
from hub.duty.views import make_router as make_duty_router
from hub.escalation.views import make_router as make_escalation_router
from hub.events.views import router as events_router
from hub.health.views import router as devices_state_router
from hub.ingest.views import router as ingest_router
from hub.ledgers.flows import LedgerFlow, link_order_to_hazard
from hub.ledgers.views import make_router as make_ledgers_router
from hub.notifications.views import make_router as make_notifications_router
from hub.ops import router as ops_router
from hub.profiles.views import make_router as make_profiles_router
from hub.workorders.flows import WorkOrderFlow
from hub.workorders.views import router as workorders_router

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
    for router in (devices_state_router, events_router, detections_router, ingest_router, workorders_router):
        app.include_router(router)
    app.include_router(make_profiles_router(hub, auth))
    app.include_router(make_devices_router(hub.session_factory, directory=hub.directory,
                                           live_state=hub.live_state, supervision=hub.settings.supervision,
                                           reader=auth.require(Permission.REGISTRY_READ),
                                           writer=auth.require(Permission.REGISTRY_WRITE),
                                           on_bound=hub.alerts.rehome_bound))
    app.state.workorders = WorkOrderFlow(session_factory=hub.session_factory, settings=hub.settings,
                                         clock=hub.alerts.clock, hazard_link=link_order_to_hazard)
    app.include_router(make_ledgers_router(auth, LedgerFlow(session_factory=hub.session_factory,
                                                            settings=hub.settings, clock=hub.alerts.clock)))
    app.include_router(ops_router)
    app.include_router(make_console_router())
    return app


def make_auth(hub: Hub) -> Auth:
    """Build the app's authentication from the hub's settings."""
    settings = hub.settings
    policy = TokenPolicy(secret=load_or_create_secret(settings.auth_secret, settings.data_dir),
                         access_ttl_s=settings.access_token_ttl_s, refresh_ttl_s=settings.refresh_token_ttl_s)
    return Auth(hub.session_factory, policy, LoginRateLimiter(settings.login_attempts, settings.login_window_s))
