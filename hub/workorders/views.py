"""Work-order API: the scoped list, one order with its history, suggestions, lifecycle actions, photos.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, UploadFile, status
from fastapi.responses import FileResponse

from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.deps import require
from hub.devices.models import Staff
from hub.workorders import service
from hub.workorders.flows import WorkOrderFlow
from hub.workorders.models import (
    CheckInIn,
    CheckOutIn,
    DispatchIn,
    FollowUpIn,
    ReasonIn,
    Suggestion,
    WorkOrderDetail,
    WorkOrderIn,
    WorkOrderPublic,
    WorkOrderStatus,
)

PHOTO_MAX_BYTES = 10 << 20
PHOTO_SUFFIXES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/heic": ".heic"}

router = APIRouter(prefix="/api/workorders", tags=["workorders"])


def get_flow(request: Request) -> WorkOrderFlow:
    """Return the app's work-order flow (create_app puts it on app.state)."""
    return request.app.state.workorders


Flow = Annotated[WorkOrderFlow, Depends(get_flow)]
Reader = Annotated[Principal, require(Permission.WORKORDERS_READ)]
Actor = Annotated[Principal, require(Permission.WORKORDERS_ACT)]


def public(order) -> WorkOrderPublic:
    """Return the order as the API shows it."""
    return WorkOrderPublic.model_validate(order)


def _not_found(order_id: int) -> HTTPException:
    # The same answer whether the order does not exist or belongs to another site.
    return HTTPException(status.HTTP_404_NOT_FOUND, f"work order {order_id} not found")


def _run(flow: WorkOrderFlow, principal: Principal, order_id: int, action) -> WorkOrderPublic:
    try:
        order = flow.act(principal, order_id, action)
    except service.WorkOrderStateError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    if order is None:
        raise _not_found(order_id)
    return public(order)


@router.get("", response_model=list[WorkOrderPublic])
def list_orders(principal: Reader, flow: Flow,
                status_: Annotated[list[WorkOrderStatus] | None, Query(alias="status")] = None,
                alert_id: int | None = None, hazard_id: int | None = None, staff_id: int | None = None,
                limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[WorkOrderPublic]:
    """Return the caller's orders by priority then age; filter by status, alert, hazard or assignee."""
    with flow.session_factory() as session:
        return [public(o) for o in service.list_orders(db_session=session, principal=principal,
                                                       statuses=status_, alert_id=alert_id,
                                                       hazard_id=hazard_id, staff_id=staff_id, limit=limit)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WorkOrderPublic)
def create_order(body: WorkOrderIn, principal: Actor, flow: Flow) -> WorkOrderPublic:
    """Create an order by hand (naming a hazard links the hazard back to it)."""
    order = flow.create(principal, body)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "site or hazard not found")
    return public(order)


@router.get("/{order_id}", response_model=WorkOrderDetail)
def order_detail(order_id: int, principal: Reader, flow: Flow) -> WorkOrderDetail:
    """Return one order with its history (escalations included)."""
    with flow.session_factory() as session:
        order = service.get_in_scope(db_session=session, order_id=order_id, principal=principal)
        if order is None:
            raise _not_found(order_id)
        return WorkOrderDetail(**public(order).model_dump(), history=service.history(db_session=session,
                                                                                     order_id=order_id))


@router.get("/{order_id}/suggestions", response_model=list[Suggestion])
def suggestions(order_id: int, principal: Reader, flow: Flow) -> list[Suggestion]:
    """Suggest staff for the order: its roles at its site, fewest open orders, nearest when known."""
    with flow.session_factory() as session:
        order = service.get_in_scope(db_session=session, order_id=order_id, principal=principal)
        if order is None:
            raise _not_found(order_id)
        return service.suggest(db_session=session, order=order)


@router.post("/{order_id}/dispatch", response_model=WorkOrderPublic)
def dispatch(order_id: int, body: DispatchIn, principal: Actor, flow: Flow) -> WorkOrderPublic:
    """Send the order to a staff member (by id) or a named person (派单)."""

    def action(session, order, now):
        name, staff_id = body.assignee, body.staff_id
        if staff_id is not None:
            staff = session.get(Staff, staff_id)
            if staff is None or not staff.active or staff.site_id not in (None, order.site_id):
                raise service.WorkOrderStateError(f"staff {staff_id} is not active staff of this site")
            name = staff.name
        if not name:
            raise service.WorkOrderStateError("name a staff_id or an assignee")
        return service.dispatch(db_session=session, order=order, actor=principal.actor, assignee=name,
                                staff_id=staff_id, now=now)

    return _run(flow, principal, order_id, action)


@router.post("/{order_id}/accept", response_model=WorkOrderPublic)
def accept(order_id: int, principal: Actor, flow: Flow) -> WorkOrderPublic:
    """Take the order (接单)."""
    return _run(flow, principal, order_id, lambda s, o, now: service.accept(
        db_session=s, order=o, actor=principal.actor, now=now))


@router.post("/{order_id}/reject", response_model=WorkOrderPublic)
def reject(order_id: int, body: ReasonIn, principal: Actor, flow: Flow) -> WorkOrderPublic:
    """Hand the order back for re-dispatch, with the reason."""
    return _run(flow, principal, order_id, lambda s, o, now: service.reject(
        db_session=s, order=o, actor=principal.actor, reason=body.reason, now=now))


@router.post("/{order_id}/check-in", response_model=WorkOrderPublic)
def check_in(order_id: int, body: CheckInIn, principal: Actor, flow: Flow) -> WorkOrderPublic:
    """Arrive on site (签到), optionally with the position."""
    return _run(flow, principal, order_id, lambda s, o, now: service.check_in(
        db_session=s, order=o, actor=principal.actor, now=now, lat=body.lat, lon=body.lon))


@router.post("/{order_id}/photos", response_model=WorkOrderPublic)
async def add_photo(order_id: int, file: UploadFile, principal: Actor, flow: Flow) -> WorkOrderPublic:
    """Attach a photo (JPEG, PNG, WebP or HEIC, at most 10 MiB) taken on site."""
    suffix = PHOTO_SUFFIXES.get(file.content_type or "")
    if suffix is None:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "a photo must be JPEG, PNG, WebP or HEIC")
    content = await file.read(PHOTO_MAX_BYTES + 1)
    if len(content) > PHOTO_MAX_BYTES:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "a photo may be at most 10 MiB")
    relative = Path("uploads") / "workorders" / str(order_id) / f"{uuid.uuid4().hex}{suffix}"

    def action(session, order, now):
        # Written inside the transaction: a refused action leaves no orphan file behind.
        order = service.add_photo(db_session=session, order=order, actor=principal.actor,
                                  path=relative.as_posix(), now=now)
        target = Path(flow.settings.data_dir) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        return order

    return _run(flow, principal, order_id, action)


@router.get("/{order_id}/photos/{index}")
def get_photo(order_id: int, index: int, principal: Reader, flow: Flow) -> FileResponse:
    """Return one of the order's photos."""
    with flow.session_factory() as session:
        order = service.get_in_scope(db_session=session, order_id=order_id, principal=principal)
        if order is None or not 0 <= index < len(order.photos):
            raise _not_found(order_id)
        return FileResponse(Path(flow.settings.data_dir) / order.photos[index])


@router.post("/{order_id}/check-out", response_model=WorkOrderPublic)
def check_out(order_id: int, body: CheckOutIn, principal: Actor, flow: Flow) -> WorkOrderPublic:
    """Leave the site (签退) with the result; the order is completed."""
    return _run(flow, principal, order_id, lambda s, o, now: service.check_out(
        db_session=s, order=o, actor=principal.actor, result=body.result, now=now))


@router.post("/{order_id}/follow-up-due", response_model=WorkOrderPublic)
def follow_up_due(order_id: int, principal: Actor, flow: Flow) -> WorkOrderPublic:
    """Queue the completed order for its follow-up call (待回访)."""
    return _run(flow, principal, order_id, lambda s, o, now: service.request_follow_up(
        db_session=s, order=o, actor=principal.actor, now=now))


@router.post("/{order_id}/follow-up", response_model=WorkOrderPublic)
def follow_up(order_id: int, body: FollowUpIn, principal: Actor, flow: Flow) -> WorkOrderPublic:
    """Record the follow-up call's rating and comment; the order closes (已回访)."""
    return _run(flow, principal, order_id, lambda s, o, now: service.record_follow_up(
        db_session=s, order=o, actor=principal.actor, rating=body.rating, comment=body.comment, now=now))


@router.post("/{order_id}/close", response_model=WorkOrderPublic)
def close(order_id: int, principal: Actor, flow: Flow) -> WorkOrderPublic:
    """Close a completed order that needs no follow-up call."""
    return _run(flow, principal, order_id, lambda s, o, now: service.close(
        db_session=s, order=o, actor=principal.actor, now=now))


@router.post("/{order_id}/cancel", response_model=WorkOrderPublic)
def cancel(order_id: int, body: ReasonIn, principal: Actor, flow: Flow) -> WorkOrderPublic:
    """Cancel an open order, with the reason."""
    return _run(flow, principal, order_id, lambda s, o, now: service.cancel(
        db_session=s, order=o, actor=principal.actor, reason=body.reason, now=now))
