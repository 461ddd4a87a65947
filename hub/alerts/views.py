"""Alert API: the scoped queue, one alert with its resident card and history, actions, the SSE feed.

No `from __future__ import annotations` here: FastAPI must see the closure-local dependency aliases.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse

from hub.alerts import service
from hub.alerts.flows import AlertFlow, public
from hub.alerts.models import AlertChange, AlertState, DispatchIn, NoteIn, ResolveIn
from hub.audit import service as audit
from hub.auth.deps import Auth
from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.devices.models import Resident

HEARTBEAT_S = 15.0
MASKED = "***"


def make_router(auth: Auth, flow: AlertFlow) -> APIRouter:
    """Return the alerts router."""
    router = APIRouter(prefix="/api/alerts", tags=["alerts"])
    Reader = Annotated[Principal, Depends(auth.require(Permission.ALERTS_READ))]
    Actor = Annotated[Principal, Depends(auth.require(Permission.ALERTS_ACT))]

    def not_found(alert_id: int) -> HTTPException:
        # The same answer whether the alert does not exist or is someone else's: scope is not disclosed.
        return HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id} not found")

    def run(principal: Principal, alert_id: int, action, change: str) -> dict:
        try:
            alert = flow.act(principal, alert_id, action, change)
        except service.AlertStateError as err:
            raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
        if alert is None:
            raise not_found(alert_id)
        return public(alert)

    @router.get("")
    def alert_queue(principal: Reader, state: Annotated[list[AlertState] | None, Query()] = None,
                    limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict]:
        """Return the caller's alerts; by default the open ones, by priority then age (oldest first)."""
        with flow.session_factory() as session:
            return [public(a) for a in service.queue(db_session=session, principal=principal, states=state,
                                                     limit=limit)]

    @router.get("/stream")
    async def alert_stream(request: Request,
                           principal: Annotated[Principal, Depends(auth.stream())]) -> StreamingResponse:
        """Server-Sent Events: a `snapshot` of the open queue, then an `alert` event per change in scope."""
        sub = flow.bus.subscribe(principal)

        def snapshot() -> list[dict]:
            with flow.session_factory() as session:
                return [public(a) for a in service.queue(db_session=session, principal=principal, limit=None)]

        initial = await asyncio.to_thread(snapshot)

        async def events() -> AsyncIterator[str]:
            try:
                yield _sse("snapshot", {"alerts": initial})
                while True:
                    try:
                        item = await asyncio.wait_for(sub.queue.get(), HEARTBEAT_S)
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield ": keep-alive\n\n"
                        continue
                    yield _sse(item["event"], item["data"], item.get("id"))
                    if item["event"] == "resync":
                        return  # the console reconnects and starts again from a fresh snapshot
            finally:
                flow.bus.unsubscribe(sub)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @router.get("/{alert_id}")
    def alert_detail(alert_id: int, principal: Reader) -> dict:
        """Return one alert with its occurrences, history and resident card (medical notes by role)."""
        with flow.session_factory() as session, session.begin():
            alert = service.get_in_scope(db_session=session, alert_id=alert_id, principal=principal)
            if alert is None:
                raise not_found(alert_id)
            out = public(alert)
            out["history"] = service.history(db_session=session, alert_id=alert_id)
            out["resident"] = _resident_card(session, alert.resident_id, principal)
        return out

    @router.post("/{alert_id}/acknowledge")
    def acknowledge(alert_id: int, principal: Actor) -> dict:
        """Acknowledge the alert (stops escalation)."""
        return run(principal, alert_id, lambda s, a, now: service.acknowledge(
            db_session=s, alert=a, actor=principal.actor, now=now), AlertChange.ACKNOWLEDGED)

    @router.post("/{alert_id}/dispatch")
    def dispatch(alert_id: int, body: DispatchIn, principal: Actor) -> dict:
        """Send a responder; arrival must be confirmed in time or escalation resumes."""
        return run(principal, alert_id, lambda s, a, now: service.dispatch(
            db_session=s, alert=a, actor=principal.actor, responder=body.responder, note=body.note, now=now,
            arrival_timeout_s=flow.arrival_timeout_s), AlertChange.DISPATCHED)

    @router.post("/{alert_id}/arrive")
    def arrive(alert_id: int, principal: Actor) -> dict:
        """Confirm that the responder is with the resident."""
        return run(principal, alert_id, lambda s, a, now: service.confirm_arrival(
            db_session=s, alert=a, actor=principal.actor, now=now), AlertChange.ARRIVED)

    @router.post("/{alert_id}/resolve")
    def resolve(alert_id: int, body: ResolveIn, principal: Actor) -> dict:
        """Resolve with an outcome (P1 alerts need a note as well)."""
        return run(principal, alert_id, lambda s, a, now: service.resolve(
            db_session=s, alert=a, actor=principal.actor, outcome=body.outcome, note=body.note, now=now),
            AlertChange.RESOLVED)

    @router.post("/{alert_id}/close")
    def close(alert_id: int, principal: Actor) -> dict:
        """Close a resolved alert."""
        return run(principal, alert_id, lambda s, a, now: service.close(
            db_session=s, alert=a, actor=principal.actor, now=now), AlertChange.CLOSED)

    @router.post("/{alert_id}/notes")
    def add_note(alert_id: int, body: NoteIn, principal: Actor) -> dict:
        """Add a note to the alert's history."""
        return run(principal, alert_id, lambda s, a, now: service.add_note(
            db_session=s, alert=a, actor=principal.actor, note=body.note, now=now), AlertChange.NOTE)

    return router


def _resident_card(session, resident_id: int | None, principal: Principal) -> dict | None:
    """Return who the resident is; reading medical notes is itself audited, and masked without the right."""
    if resident_id is None:
        return None
    resident = session.get(Resident, resident_id)
    if resident is None:
        return None
    may_read = principal.can(Permission.MEDICAL_READ)
    if may_read and resident.medical_notes:
        audit.append(db_session=session, actor=principal.actor, action="resident.medical_notes.read",
                     entity="resident", entity_id=resident.id)
    return {"id": resident.id, "name": resident.name, "age": resident.age(), "phone": resident.phone,
            "living_situation": resident.living_situation, "room_id": resident.room_id, "site_id": resident.site_id,
            "medical_notes": resident.medical_notes if may_read else MASKED,
            "contacts": [{"name": c.name, "relation": c.relation, "phone": c.phone, "order": c.order}
                         for c in resident.contacts]}


def _sse(event: str, data: dict, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
