"""The HTTP API: creates the app and mounts every domain's router, operations (health, metrics) and the console."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from hub.alerts.kpi_views import router as kpis_router
from hub.alerts.views import router as alerts_router
from hub.auth.deps import Auth
from hub.auth.ratelimit import LoginRateLimiter
from hub.auth.security import load_or_create_secret
from hub.auth.service import TokenPolicy
from hub.auth.views import router as auth_router
from hub.cluster.views import router as cluster_router
from hub.console import make_router as make_console_router
from hub.detect.views import router as detections_router
from hub.devices import service as registry
from hub.devices.views import Registry
from hub.devices.views import router as registry_router
from hub.duty.views import DutyContext
from hub.duty.views import router as duty_router
from hub.escalation.views import EscalationContext
from hub.escalation.views import router as escalation_router
from hub.events.views import router as events_router
from hub.health.views import router as devices_state_router
from hub.ingest.views import router as ingest_router
from hub.ledgers.flows import LedgerFlow, link_order_to_hazard
from hub.ledgers.report_views import router as reports_router
from hub.ledgers.views import router as ledgers_router
from hub.notifications.views import NotificationContext
from hub.notifications.views import router as notifications_router
from hub.ops import router as ops_router
from hub.profiles.views import router as profiles_router
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
    # /api/auth/me names a family user's relatives through the registry (hub.auth does not import hub.devices).
    app.state.relatives = lambda session, ids: registry.relatives(db_session=session, resident_ids=ids)
    app.include_router(auth_router)
    app.state.alerts = hub.alerts  # the alert routes and the KPIs: its session factory, bus and clock
    app.include_router(alerts_router)
    app.include_router(kpis_router)
    app.state.duty = DutyContext(session_factory=hub.session_factory, clock=hub.alerts.clock,
                                 timezone=hub.settings.timezone)
    app.include_router(duty_router)
    app.state.notifications = NotificationContext(alerts=hub.alerts, timezone=hub.settings.timezone)
    app.include_router(notifications_router)
    app.state.escalation = EscalationContext(session_factory=hub.session_factory, clock=hub.alerts.clock)
    app.include_router(escalation_router)
    for router in (devices_state_router, events_router, detections_router, ingest_router, workorders_router):
        app.include_router(router)
    app.state.registry = Registry(session_factory=hub.session_factory, directory=hub.directory,
                                  live_state=hub.live_state, supervision=hub.settings.supervision,
                                  on_bound=hub.alerts.rehome_bound)
    app.include_router(profiles_router)
    app.include_router(registry_router)
    app.state.workorders = WorkOrderFlow(session_factory=hub.session_factory, settings=hub.settings,
                                         clock=hub.alerts.clock, hazard_link=link_order_to_hazard)
    app.state.ledgers = LedgerFlow(session_factory=hub.session_factory, settings=hub.settings, clock=hub.alerts.clock)
    app.include_router(ledgers_router)
    app.include_router(reports_router)
    app.include_router(cluster_router)
    app.include_router(ops_router)
    app.include_router(make_console_router())
    return app


def make_auth(hub: Hub) -> Auth:
    """Build the app's authentication from the hub's settings."""
    settings = hub.settings
    policy = TokenPolicy(secret=load_or_create_secret(settings.auth_secret, settings.data_dir),
                         access_ttl_s=settings.access_token_ttl_s, refresh_ttl_s=settings.refresh_token_ttl_s)
    return Auth(hub.session_factory, policy, LoginRateLimiter(settings.login_attempts, settings.login_window_s))
