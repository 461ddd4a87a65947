"""Work-order API: the scoped list, one order with its history, suggestions, lifecycle actions, photos.

No `from __future__ import annotations` here: FastAPI must see the closure-local dependency aliases.
"""

import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, UploadFile, status
from fastapi.responses import FileResponse

from hub.auth.deps import Auth
from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.devices.models import Staff
from hub.workorders import service
from hub.workorders.flows import WorkOrderFlow
from hub.workorders.models import (
    CheckInIn,
    CheckOutIn,
    DispatchIn,
    FollowUpIn,
    ReasonIn,
    WorkOrderIn,
    WorkOrderPublic,
    WorkOrderStatus,
)

PHOTO_MAX_BYTES = 10 << 20
PHOTO_SUFFIXES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/heic": ".heic"}


def public(order) -> dict:
    """Return the order as the API shows it."""
    return WorkOrderPublic.model_validate(order).model_dump(mode="json")


def make_router(auth: Auth, flow: WorkOrderFlow) -> APIRouter:
    """Return the work-orders router."""
    router = APIRouter(prefix="/api/workorders", tags=["workorders"])
    Reader = Annotated[Principal, Depends(auth.require(Permission.WORKORDERS_READ))]
    Actor = Annotated[Principal, Depends(auth.require(Permission.WORKORDERS_ACT))]
    data_dir = Path(flow.settings.data_dir)

    def not_found(order_id: int) -> HTTPException:
        # The same answer whether the order does not exist or belongs to another site.
        return HTTPException(status.HTTP_404_NOT_FOUND, f"work order {order_id} not found")

    def run(principal: Principal, order_id: int, action) -> dict:
        try:
            order = flow.act(principal, order_id, action)
        except service.WorkOrderStateError as err:
            raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
        if order is None:
            raise not_found(order_id)
        return public(order)

    @router.get("")
    def list_orders(principal: Reader, status_: Annotated[list[WorkOrderStatus] | None, Query(alias="status")] = None,
                    alert_id: int | None = None, hazard_id: int | None = None, staff_id: int | None = None,
                    limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict]:
        """Return the caller's orders by priority then age; filter by status, alert, hazard or assignee."""
        with flow.session_factory() as session:
            return [public(o) for o in service.list_orders(db_session=session, principal=principal,
                                                           statuses=status_, alert_id=alert_id,
                                                           hazard_id=hazard_id, staff_id=staff_id, limit=limit)]

    @router.post("", status_code=status.HTTP_201_CREATED)
    def create_order(body: WorkOrderIn, principal: Actor) -> dict:
        """Create an order by hand (naming a hazard links the hazard back to it)."""
        order = flow.create(principal, body)
        if order is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "site or hazard not found")
        return public(order)

    @router.get("/{order_id}")
    def order_detail(order_id: int, principal: Reader) -> dict:
        """Return one order with its history (escalations included)."""
        with flow.session_factory() as session:
            order = service.get_in_scope(db_session=session, order_id=order_id, principal=principal)
            if order is None:
                raise not_found(order_id)
            return {**public(order), "history": service.history(db_session=session, order_id=order_id)}

    @router.get("/{order_id}/suggestions")
    def suggestions(order_id: int, principal: Reader) -> list[dict]:
        """Suggest staff for the order: its roles at its site, fewest open orders, nearest when known."""
        with flow.session_factory() as session:
            order = service.get_in_scope(db_session=session, order_id=order_id, principal=principal)
            if order is None:
                raise not_found(order_id)
            return [s.model_dump() for s in service.suggest(db_session=session, order=order)]

    @router.post("/{order_id}/dispatch")
    def dispatch(order_id: int, body: DispatchIn, principal: Actor) -> dict:
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

        return run(principal, order_id, action)

    @router.post("/{order_id}/accept")
    def accept(order_id: int, principal: Actor) -> dict:
        """Take the order (接单)."""
        return run(principal, order_id, lambda s, o, now: service.accept(
            db_session=s, order=o, actor=principal.actor, now=now))

    @router.post("/{order_id}/reject")
    def reject(order_id: int, body: ReasonIn, principal: Actor) -> dict:
        """Hand the order back for re-dispatch, with the reason."""
        return run(principal, order_id, lambda s, o, now: service.reject(
            db_session=s, order=o, actor=principal.actor, reason=body.reason, now=now))

    @router.post("/{order_id}/check-in")
    def check_in(order_id: int, body: CheckInIn, principal: Actor) -> dict:
        """Arrive on site (签到), optionally with the position."""
        return run(principal, order_id, lambda s, o, now: service.check_in(
            db_session=s, order=o, actor=principal.actor, now=now, lat=body.lat, lon=body.lon))

    @router.post("/{order_id}/photos")
    async def add_photo(order_id: int, file: UploadFile, principal: Actor) -> dict:
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
            target = data_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            return order

        return run(principal, order_id, action)

    @router.get("/{order_id}/photos/{index}")
    def get_photo(order_id: int, index: int, principal: Reader) -> FileResponse:
        """Return one of the order's photos."""
        with flow.session_factory() as session:
            order = service.get_in_scope(db_session=session, order_id=order_id, principal=principal)
            if order is None or not 0 <= index < len(order.photos):
                raise not_found(order_id)
            return FileResponse(data_dir / order.photos[index])

    @router.post("/{order_id}/check-out")
    def check_out(order_id: int, body: CheckOutIn, principal: Actor) -> dict:
        """Leave the site (签退) with the result; the order is completed."""
        return run(principal, order_id, lambda s, o, now: service.check_out(
            db_session=s, order=o, actor=principal.actor, result=body.result, now=now))

    @router.post("/{order_id}/follow-up-due")
    def follow_up_due(order_id: int, principal: Actor) -> dict:
        """Queue the completed order for its follow-up call (待回访)."""
        return run(principal, order_id, lambda s, o, now: service.request_follow_up(
            db_session=s, order=o, actor=principal.actor, now=now))

    @router.post("/{order_id}/follow-up")
    def follow_up(order_id: int, body: FollowUpIn, principal: Actor) -> dict:
        """Record the follow-up call's rating and comment; the order closes (已回访)."""
        return run(principal, order_id, lambda s, o, now: service.record_follow_up(
            db_session=s, order=o, actor=principal.actor, rating=body.rating, comment=body.comment, now=now))

    @router.post("/{order_id}/close")
    def close(order_id: int, principal: Actor) -> dict:
        """Close a completed order that needs no follow-up call."""
        return run(principal, order_id, lambda s, o, now: service.close(
            db_session=s, order=o, actor=principal.actor, now=now))

    @router.post("/{order_id}/cancel")
    def cancel(order_id: int, body: ReasonIn, principal: Actor) -> dict:
        """Cancel an open order, with the reason."""
        return run(principal, order_id, lambda s, o, now: service.cancel(
            db_session=s, order=o, actor=principal.actor, reason=body.reason, now=now))

    return router
