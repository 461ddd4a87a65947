"""Registry API: devices, pending devices, sites, rooms, residents, staff (thin; no auth yet).

No `from __future__ import annotations` here: FastAPI must see the closure-local `DbSession` alias.
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy.orm import Session, sessionmaker

from hub.devices import flows, service
from hub.devices.directory import DeviceDirectory
from hub.devices.models import (
    BindIn,
    Device,
    DeviceCreate,
    DeviceKind,
    DevicePublic,
    PendingPublic,
    ResidentCreate,
    ResidentPublic,
    RoomCreate,
    RoomPublic,
    SiteCreate,
    SitePublic,
    StaffCreate,
    StaffPublic,
)

# Live state of a device (online, battery, last seen...) kept in memory by the hub's health module.
LiveState = Callable[[int], Mapping[str, Any]]


def _room_public(room: Any) -> RoomPublic:
    return RoomPublic(id=room.id, name=room.name, building_id=room.building_id, building=room.building.name,
                      site_id=room.building.site_id)


def make_router(
    session_factory: sessionmaker[Session],
    *,
    directory: DeviceDirectory | None = None,
    live_state: LiveState | None = None,
    supervision: Mapping[str, float] | None = None,
) -> APIRouter:
    """Return the registry router; `directory` is refreshed after device writes; `live_state` fills `state`.

    `live_state(device_id)` is the hook for the hub's in-memory health state; the database gives the rest.
    """
    router = APIRouter(prefix="/api", tags=["registry"])

    def db_session() -> Iterator[Session]:
        # Writes commit explicitly before answering: a 201 means the row is durable.
        with session_factory() as session:
            yield session

    DbSession = Annotated[Session, Depends(db_session)]

    def device_out(device: Device) -> DevicePublic:
        state = dict(live_state(device.id)) if live_state is not None else {}
        return DevicePublic.model_validate(device).model_copy(update={"state": state})

    def devices_changed() -> None:
        if directory is not None:
            directory.refresh()

    def registry_error(exc: service.RegistryError) -> HTTPException:
        if isinstance(exc, service.NotFoundError):
            return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))

    @router.get("/devices", response_model=list[DevicePublic])
    def list_devices(
        session: DbSession, site_id: int | None = None, kind: DeviceKind | None = None
    ) -> list[DevicePublic]:
        """List registered devices with their live state."""
        devices = service.list_devices(db_session=session, site_id=site_id, kind=kind)
        return [device_out(d) for d in devices]

    @router.post("/devices", response_model=DevicePublic, status_code=status.HTTP_201_CREATED)
    def create_device(device_in: DeviceCreate, session: DbSession) -> DevicePublic:
        """Register a device."""
        try:
            device = service.create_device(db_session=session, device_in=device_in, supervision=supervision)
        except service.RegistryError as exc:
            raise registry_error(exc) from None
        session.commit()
        devices_changed()
        return device_out(device)

    @router.get("/devices/pending", response_model=list[PendingPublic])
    def list_pending(session: DbSession, limit: int = 500) -> list[PendingPublic]:
        """List unknown devices waiting to be bound, most recently seen first."""
        pending = service.list_pending(db_session=session, limit=limit)
        return [PendingPublic.model_validate(p) for p in pending]

    @router.post("/devices/pending/{device_key:path}/bind", response_model=DevicePublic,
                 status_code=status.HTTP_201_CREATED)
    def bind_pending(device_key: str, bind_in: BindIn, session: DbSession) -> DevicePublic:
        """Register a pending device and bind it to a site, room and/or resident."""
        if service.get_pending(db_session=session, device_key=device_key) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no pending device {device_key!r}")
        try:
            device = flows.bind_pending(db_session=session, device_key=device_key, supervision=supervision,
                                        **bind_in.model_dump())
        except service.RegistryError as exc:
            raise registry_error(exc) from None
        session.commit()
        devices_changed()
        return device_out(device)

    @router.get("/devices/{device_id}", response_model=DevicePublic)
    def get_device(device_id: int, session: DbSession) -> DevicePublic:
        """Return one device with its live state."""
        device = service.get_device(db_session=session, device_id=device_id)
        if device is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device #{device_id}")
        return device_out(device)

    @router.get("/sites", response_model=list[SitePublic])
    def list_sites(session: DbSession) -> list[SitePublic]:
        """List sites."""
        return [SitePublic.model_validate(s) for s in service.list_sites(db_session=session)]

    @router.post("/sites", response_model=SitePublic, status_code=status.HTTP_201_CREATED)
    def create_site(site_in: SiteCreate, session: DbSession) -> SitePublic:
        """Create a site."""
        try:
            site = service.create_site(db_session=session, site_in=site_in)
        except service.RegistryError as exc:
            raise registry_error(exc) from None
        session.commit()
        return SitePublic.model_validate(site)

    @router.get("/rooms", response_model=list[RoomPublic])
    def list_rooms(session: DbSession, site_id: int | None = None) -> list[RoomPublic]:
        """List rooms, optionally of one site."""
        return [_room_public(r) for r in service.list_rooms(db_session=session, site_id=site_id)]

    @router.post("/rooms", response_model=RoomPublic, status_code=status.HTTP_201_CREATED)
    def create_room(room_in: RoomCreate, session: DbSession) -> RoomPublic:
        """Create a room (and its building when missing); an existing room is returned as is."""
        try:
            room = service.get_or_create_room(db_session=session, site_id=room_in.site_id,
                                              building=room_in.building, name=room_in.name)
        except service.RegistryError as exc:
            raise registry_error(exc) from None
        session.commit()
        return _room_public(service.get_room(db_session=session, room_id=room.id))

    @router.get("/residents", response_model=list[ResidentPublic])
    def list_residents(session: DbSession, site_id: int | None = None) -> list[ResidentPublic]:
        """List residents with age and emergency contacts."""
        return [ResidentPublic.of(r) for r in service.list_residents(db_session=session, site_id=site_id)]

    @router.get("/residents/{resident_id}", response_model=ResidentPublic)
    def get_resident(resident_id: int, session: DbSession) -> ResidentPublic:
        """Return one resident."""
        resident = service.get_resident(db_session=session, resident_id=resident_id)
        if resident is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no resident #{resident_id}")
        return ResidentPublic.of(resident)

    @router.post("/residents", response_model=ResidentPublic, status_code=status.HTTP_201_CREATED)
    def create_resident(resident_in: ResidentCreate, session: DbSession) -> ResidentPublic:
        """Create a resident with emergency contacts."""
        try:
            resident = service.create_resident(db_session=session, resident_in=resident_in)
        except service.RegistryError as exc:
            raise registry_error(exc) from None
        session.commit()
        return ResidentPublic.of(resident)

    @router.get("/staff", response_model=list[StaffPublic])
    def list_staff(session: DbSession, site_id: int | None = None) -> list[StaffPublic]:
        """List staff, optionally those serving one site."""
        staff = service.list_staff(db_session=session, site_id=site_id)
        return [StaffPublic.model_validate(s) for s in staff]

    @router.post("/staff", response_model=StaffPublic, status_code=status.HTTP_201_CREATED)
    def create_staff(staff_in: StaffCreate, session: DbSession) -> StaffPublic:
        """Create a staff member."""
        staff = service.create_staff(db_session=session, staff_in=staff_in)
        session.commit()
        return StaffPublic.model_validate(staff)

    return router
