"""Alert API: the scoped queue, one alert with its resident card and history, actions, the SSE feed.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse

from hub.alerts import service
from hub.alerts.flows import AlertFlow, public
from hub.alerts.models import (
    AlertChange,
    AlertDetail,
    AlertPublic,
    AlertState,
    ContactCard,
    DispatchIn,
    NoteIn,
    ResidentCard,
    ResolveIn,
)
from hub.audit import service as audit
from hub.auth.deps import Auth, api_key_header, bearer
from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.deps import get_auth, require
from hub.devices.models import Resident

HEARTBEAT_S = 15.0
MASKED = "***"

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


def get_flow(request: Request) -> AlertFlow:
    """Return the app's alert flow (create_app puts it on app.state)."""
    return request.app.state.alerts


def stream_principal(request: Request, auth: Annotated[Auth, Depends(get_auth)],
                     token: Annotated[str | None, Depends(bearer)],
                     api_key: Annotated[str | None, Depends(api_key_header)]) -> Principal:
    """Return the caller, also from `?access_token=` (browsers' EventSource sends no headers); 403 without alerts."""
    principal = auth.resolve(token or request.query_params.get("access_token"), api_key)
    if not principal.can(Permission.ALERTS_READ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not read alerts")
    return principal


Flow = Annotated[AlertFlow, Depends(get_flow)]
Reader = Annotated[Principal, require(Permission.ALERTS_READ)]
Actor = Annotated[Principal, require(Permission.ALERTS_ACT)]
StreamReader = Annotated[Principal, Depends(stream_principal)]


def _not_found(alert_id: int) -> HTTPException:
    # The same answer whether the alert does not exist or is someone else's: scope is not disclosed.
    return HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id} not found")


def _run(flow: AlertFlow, principal: Principal, alert_id: int, action, change: str) -> AlertPublic:
    """Apply `action` to the alert in scope and return it (404 out of scope, 409 in the wrong state)."""
    try:
        alert = flow.act(principal, alert_id, action, change)
    except service.AlertStateError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    if alert is None:
        raise _not_found(alert_id)
    return AlertPublic.model_validate(alert)


@router.get("", response_model=list[AlertPublic])
def alert_queue(principal: Reader, flow: Flow, state: Annotated[list[AlertState] | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[AlertPublic]:
    """Return the caller's alerts; by default the open ones, by priority then age (oldest first)."""
    with flow.session_factory() as session:
        return [AlertPublic.model_validate(a)
                for a in service.queue(db_session=session, principal=principal, states=state, limit=limit)]


# The body is an event stream, not JSON: no response model.
@router.get("/stream", response_class=StreamingResponse, response_model=None,
            responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}})
async def alert_stream(request: Request, principal: StreamReader, flow: Flow) -> StreamingResponse:
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


@router.get("/{alert_id}", response_model=AlertDetail)
def alert_detail(alert_id: int, principal: Reader, flow: Flow) -> AlertDetail:
    """Return one alert with its occurrences, history and resident card (medical notes by role)."""
    with flow.session_factory() as session, session.begin():
        alert = service.get_in_scope(db_session=session, alert_id=alert_id, principal=principal)
        if alert is None:
            raise _not_found(alert_id)
        return AlertDetail(**public(alert), history=service.history(db_session=session, alert_id=alert_id),
                           resident=_resident_card(session, alert.resident_id, principal))


@router.post("/{alert_id}/acknowledge", response_model=AlertPublic)
def acknowledge(alert_id: int, principal: Actor, flow: Flow) -> AlertPublic:
    """Acknowledge the alert (stops escalation)."""
    return _run(flow, principal, alert_id, lambda s, a, now: service.acknowledge(
        db_session=s, alert=a, actor=principal.actor, now=now), AlertChange.ACKNOWLEDGED)


@router.post("/{alert_id}/dispatch", response_model=AlertPublic)
def dispatch(alert_id: int, body: DispatchIn, principal: Actor, flow: Flow) -> AlertPublic:
    """Send a responder; arrival must be confirmed in time or escalation resumes."""
    return _run(flow, principal, alert_id, lambda s, a, now: service.dispatch(
        db_session=s, alert=a, actor=principal.actor, responder=body.responder, note=body.note, now=now,
        arrival_timeout_s=flow.arrival_timeout_s), AlertChange.DISPATCHED)


@router.post("/{alert_id}/arrive", response_model=AlertPublic)
def arrive(alert_id: int, principal: Actor, flow: Flow) -> AlertPublic:
    """Confirm that the responder is with the resident."""
    return _run(flow, principal, alert_id, lambda s, a, now: service.confirm_arrival(
        db_session=s, alert=a, actor=principal.actor, now=now), AlertChange.ARRIVED)


@router.post("/{alert_id}/resolve", response_model=AlertPublic)
def resolve(alert_id: int, body: ResolveIn, principal: Actor, flow: Flow) -> AlertPublic:
    """Resolve with an outcome (P1 alerts need a note as well)."""
    return _run(flow, principal, alert_id, lambda s, a, now: service.resolve(
        db_session=s, alert=a, actor=principal.actor, outcome=body.outcome, note=body.note, now=now),
        AlertChange.RESOLVED)


@router.post("/{alert_id}/close", response_model=AlertPublic)
def close(alert_id: int, principal: Actor, flow: Flow) -> AlertPublic:
    """Close a resolved alert."""
    return _run(flow, principal, alert_id, lambda s, a, now: service.close(
        db_session=s, alert=a, actor=principal.actor, now=now), AlertChange.CLOSED)


@router.post("/{alert_id}/notes", response_model=AlertPublic)
def add_note(alert_id: int, body: NoteIn, principal: Actor, flow: Flow) -> AlertPublic:
    """Add a note to the alert's history."""
    return _run(flow, principal, alert_id, lambda s, a, now: service.add_note(
        db_session=s, alert=a, actor=principal.actor, note=body.note, now=now), AlertChange.NOTE)


def _resident_card(session, resident_id: int | None, principal: Principal) -> ResidentCard | None:
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
    return ResidentCard(id=resident.id, name=resident.name, age=resident.age(), phone=resident.phone,
                        living_situation=resident.living_situation, room_id=resident.room_id,
                        site_id=resident.site_id, medical_notes=resident.medical_notes if may_read else MASKED,
                        contacts=[ContactCard.model_validate(c) for c in resident.contacts])


def _sse(event: str, data: dict, event_id: int | None = None) -> str:
    """Return one Server-Sent Event."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
