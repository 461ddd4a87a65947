"""Registry API: devices, pending devices, sites, rooms, residents, staff; scoped by the caller's sites.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from sqlalchemy.orm import Session, sessionmaker

from hub.audit import service as audit
from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.deps import RegistryReader, require
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


@dataclass(slots=True)
class Registry:
    """What the registry routes need from the hub; `create_app` puts one on `app.state.registry`.

    `directory` is refreshed after device writes; `live_state(device_id)` fills a device's `state` (the hub's
    in-memory health state; the database gives the rest). `on_bound(session, device)` runs in a bind's
    transaction (the alerts a pending device raised get its place) and returns what to do after the commit
    (publish those alerts).
    """

    session_factory: sessionmaker[Session]
    directory: DeviceDirectory | None = None
    live_state: LiveState | None = None
    supervision: Mapping[str, float] | None = None
    on_bound: Callable[[Session, Device], Callable[[], None]] | None = None

    def device_out(self, device: Device) -> DevicePublic:
        """Return the device as the API shows it, with its live state."""
        state = dict(self.live_state(device.id)) if self.live_state is not None else {}
        return DevicePublic.model_validate(device).model_copy(update={"state": state})

    def devices_changed(self) -> None:
        """Refresh the device directory after a device write."""
        if self.directory is not None:
            self.directory.refresh()


router = APIRouter(prefix="/api", tags=["registry"])


def get_registry(request: Request) -> Registry:
    """Return the app's registry context (create_app puts it on app.state)."""
    return request.app.state.registry


RegistryDep = Annotated[Registry, Depends(get_registry)]


def db_session(registry: RegistryDep) -> Iterator[Session]:
    """Yield a session of the registry's database for one request."""
    # Writes commit explicitly before answering: a 201 means the row is durable.
    with registry.session_factory() as session:
        yield session


DbSession = Annotated[Session, Depends(db_session)]
Reader = RegistryReader
Writer = Annotated[Principal, require(Permission.REGISTRY_WRITE)]


def _room_public(room: Any) -> RoomPublic:
    """Return the room as the API shows it, with its building's name and site."""
    return RoomPublic(id=room.id, name=room.name, building_id=room.building_id, building=room.building.name,
                      site_id=room.building.site_id)


def _registry_error(exc: service.RegistryError) -> HTTPException:
    """Map a registry error to its answer: 422 for a missing reference, 409 for a conflict."""
    if isinstance(exc, service.NotFoundError):
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


def _masked(resident: ResidentPublic) -> ResidentPublic:
    """Return the resident with medical notes hidden (their presence still shows)."""
    return resident.model_copy(update={"medical_notes": "***" if resident.medical_notes else ""})


@router.get("/devices", response_model=list[DevicePublic])
def list_devices(principal: Reader, session: DbSession, registry: RegistryDep, site_id: int | None = None,
                 kind: DeviceKind | None = None) -> list[DevicePublic]:
    """List registered devices with their live state."""
    devices = service.list_devices(db_session=session, site_id=site_id, kind=kind)
    return [registry.device_out(d) for d in devices if principal.sees(site_id=d.site_id, resident_id=d.resident_id)]


@router.post("/devices", response_model=DevicePublic, status_code=status.HTTP_201_CREATED)
def create_device(principal: Writer, device_in: DeviceCreate, session: DbSession,
                  registry: RegistryDep) -> DevicePublic:
    """Register a device."""
    try:
        device = service.create_device(db_session=session, device_in=device_in, supervision=registry.supervision)
    except service.RegistryError as exc:
        raise _registry_error(exc) from None
    session.commit()
    registry.devices_changed()
    return registry.device_out(device)


@router.get("/devices/pending", response_model=list[PendingPublic])
def list_pending(principal: Reader, session: DbSession, limit: int = 500) -> list[PendingPublic]:
    """List unknown devices waiting to be bound, most recently seen first."""
    pending = service.list_pending(db_session=session, limit=limit)
    return [PendingPublic.model_validate(p) for p in pending]


@router.post("/devices/pending/{device_key:path}/bind", response_model=DevicePublic,
             status_code=status.HTTP_201_CREATED)
def bind_pending(principal: Writer, device_key: str, bind_in: BindIn, session: DbSession,
                 registry: RegistryDep) -> DevicePublic:
    """Register a pending device and bind it to a site, room and/or resident."""
    if service.get_pending(db_session=session, device_key=device_key) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no pending device {device_key!r}")
    try:
        device = flows.bind_pending(db_session=session, device_key=device_key, supervision=registry.supervision,
                                    **bind_in.model_dump())
    except service.RegistryError as exc:
        raise _registry_error(exc) from None
    after_commit = registry.on_bound(session, device) if registry.on_bound is not None else None
    session.commit()
    registry.devices_changed()
    if after_commit is not None:
        after_commit()
    return registry.device_out(device)


@router.get("/devices/{device_id}", response_model=DevicePublic)
def get_device(principal: Reader, device_id: int, session: DbSession, registry: RegistryDep) -> DevicePublic:
    """Return one device with its live state."""
    device = service.get_device(db_session=session, device_id=device_id)
    if device is None or not principal.sees(site_id=device.site_id, resident_id=device.resident_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device #{device_id}")
    return registry.device_out(device)


@router.get("/sites", response_model=list[SitePublic])
def list_sites(principal: Reader, session: DbSession) -> list[SitePublic]:
    """List sites."""
    return [SitePublic.model_validate(s) for s in service.list_sites(db_session=session)
            if principal.sees(site_id=s.id, resident_id=None)]


@router.post("/sites", response_model=SitePublic, status_code=status.HTTP_201_CREATED)
def create_site(principal: Writer, site_in: SiteCreate, session: DbSession) -> SitePublic:
    """Create a site."""
    try:
        site = service.create_site(db_session=session, site_in=site_in)
    except service.RegistryError as exc:
        raise _registry_error(exc) from None
    session.commit()
    return SitePublic.model_validate(site)


@router.get("/rooms", response_model=list[RoomPublic])
def list_rooms(principal: Reader, session: DbSession, site_id: int | None = None) -> list[RoomPublic]:
    """List rooms, optionally of one site."""
    return [_room_public(r) for r in service.list_rooms(db_session=session, site_id=site_id)
            if principal.sees(site_id=r.building.site_id, resident_id=None)]


@router.post("/rooms", response_model=RoomPublic, status_code=status.HTTP_201_CREATED)
def create_room(principal: Writer, room_in: RoomCreate, session: DbSession) -> RoomPublic:
    """Create a room (and its building when missing); an existing room is returned as is."""
    try:
        room = service.get_or_create_room(db_session=session, site_id=room_in.site_id,
                                          building=room_in.building, name=room_in.name)
    except service.RegistryError as exc:
        raise _registry_error(exc) from None
    session.commit()
    return _room_public(service.get_room(db_session=session, room_id=room.id))


@router.get("/residents", response_model=list[ResidentPublic])
def list_residents(principal: Reader, session: DbSession, site_id: int | None = None) -> list[ResidentPublic]:
    """List residents with age and emergency contacts."""
    # Lists never carry medical notes: they are read one resident at a time, and that read is audited.
    return [_masked(ResidentPublic.of(r)) for r in service.list_residents(db_session=session, site_id=site_id)
            if principal.sees(site_id=r.site_id, resident_id=r.id)]


@router.get("/residents/{resident_id}", response_model=ResidentPublic)
def get_resident(principal: Reader, resident_id: int, session: DbSession) -> ResidentPublic:
    """Return one resident."""
    resident = service.get_resident(db_session=session, resident_id=resident_id)
    if resident is None or not principal.sees(site_id=resident.site_id, resident_id=resident.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no resident #{resident_id}")
    if not principal.can(Permission.MEDICAL_READ):
        return _masked(ResidentPublic.of(resident))
    if resident.medical_notes:
        audit.append(db_session=session, actor=principal.actor, action="resident.medical_notes.read",
                     entity="resident", entity_id=resident.id)
        session.commit()
    return ResidentPublic.of(resident)


@router.post("/residents", response_model=ResidentPublic, status_code=status.HTTP_201_CREATED)
def create_resident(principal: Writer, resident_in: ResidentCreate, session: DbSession) -> ResidentPublic:
    """Create a resident with emergency contacts."""
    try:
        resident = service.create_resident(db_session=session, resident_in=resident_in)
    except service.RegistryError as exc:
        raise _registry_error(exc) from None
    session.commit()
    return ResidentPublic.of(resident)


@router.get("/staff", response_model=list[StaffPublic])
def list_staff(principal: Reader, session: DbSession, site_id: int | None = None) -> list[StaffPublic]:
    """List staff, optionally those serving one site."""
    staff = service.list_staff(db_session=session, site_id=site_id)
    return [StaffPublic.model_validate(s) for s in staff
            if s.site_id is None or principal.sees(site_id=s.site_id, resident_id=None)]


@router.post("/staff", response_model=StaffPublic, status_code=status.HTTP_201_CREATED)
def create_staff(principal: Writer, staff_in: StaffCreate, session: DbSession) -> StaffPublic:
    """Create a staff member."""
    staff = service.create_staff(db_session=session, staff_in=staff_in)
    session.commit()
    return StaffPublic.model_validate(staff)
