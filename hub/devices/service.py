"""Registry reads and writes; keyword-only arguments, session first; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from hub.devices.models import (
    Building,
    Device,
    DeviceCreate,
    DeviceIdentifier,
    EmergencyContact,
    PendingDevice,
    Resident,
    ResidentCreate,
    Room,
    Site,
    SiteCreate,
    Staff,
    StaffCreate,
)

DEFAULT_BUILDING = "main"


class RegistryError(ValueError):
    """A registry write that would break the registry's rules; the message says why."""


class NotFoundError(RegistryError):
    """A referenced site, room, resident, device or pending entry does not exist."""


class DuplicateKeyError(RegistryError):
    """An identifier key that already names a device."""

    def __init__(self, key: str, device_id: int) -> None:
        super().__init__(f"key {key} is already registered to device #{device_id}")
        self.key = key
        self.device_id = device_id


def default_supervision_s(kind: str, supervision: Mapping[str, float] | None = None) -> float:
    """Return the supervision interval for `kind` from Settings.supervision (or its "default")."""
    if supervision is None:
        from hub.config import get_settings

        supervision = get_settings().supervision
    return float(supervision.get(kind, supervision.get("default", 3600.0)))


# ------------------------------------------------------------------------------------------- sites


def create_site(*, db_session: Session, site_in: SiteCreate) -> Site:
    """Create a site; a name already in use is refused."""
    if get_site_by_name(db_session=db_session, name=site_in.name) is not None:
        raise RegistryError(f"site {site_in.name!r} already exists")
    site = Site(**site_in.model_dump())
    db_session.add(site)
    db_session.flush()
    return site


def get_site(*, db_session: Session, site_id: int) -> Site | None:
    """Return the site with `site_id`, or None."""
    return db_session.get(Site, site_id)


def get_site_by_name(*, db_session: Session, name: str) -> Site | None:
    """Return the site called `name`, or None."""
    return db_session.scalars(select(Site).where(Site.name == name)).one_or_none()


def list_sites(*, db_session: Session) -> list[Site]:
    """Return every site by name."""
    return list(db_session.scalars(select(Site).order_by(Site.name)))


# ------------------------------------------------------------------------------------ buildings, rooms


def get_or_create_building(*, db_session: Session, site_id: int, name: str = DEFAULT_BUILDING) -> Building:
    """Return the building `name` of a site, creating it when missing."""
    building = db_session.scalars(
        select(Building).where(Building.site_id == site_id, Building.name == name)
    ).one_or_none()
    if building is None:
        if get_site(db_session=db_session, site_id=site_id) is None:
            raise NotFoundError(f"site #{site_id} does not exist")
        building = Building(site_id=site_id, name=name)
        db_session.add(building)
        db_session.flush()
    return building


def find_room(*, db_session: Session, site_id: int, building: str, name: str) -> Room | None:
    """Return the room `name` in `building` of a site, or None."""
    return db_session.scalars(
        select(Room).join(Building).where(Building.site_id == site_id, Building.name == building,
                                          Room.name == name)
    ).one_or_none()


def get_or_create_room(*, db_session: Session, site_id: int, building: str, name: str) -> Room:
    """Return the room `name` in `building` of a site, creating building and room when missing."""
    room = find_room(db_session=db_session, site_id=site_id, building=building, name=name)
    if room is None:
        parent = get_or_create_building(db_session=db_session, site_id=site_id, name=building)
        room = Room(building_id=parent.id, name=name)
        db_session.add(room)
        db_session.flush()
    return room


def get_room(*, db_session: Session, room_id: int) -> Room | None:
    """Return the room with `room_id` (its building loaded), or None."""
    return db_session.get(Room, room_id, options=[selectinload(Room.building)])


def list_rooms(*, db_session: Session, site_id: int | None = None) -> list[Room]:
    """Return rooms (buildings loaded), optionally of one site, by building and name."""
    query = select(Room).join(Building).options(selectinload(Room.building))
    if site_id is not None:
        query = query.where(Building.site_id == site_id)
    return list(db_session.scalars(query.order_by(Building.site_id, Building.name, Room.name)))


# ------------------------------------------------------------------------------------------ residents


def create_resident(*, db_session: Session, resident_in: ResidentCreate) -> Resident:
    """Create a resident with emergency contacts; the room fixes the site when the site is not given."""
    data = resident_in.model_dump(exclude={"contacts"})
    data["site_id"] = _resolve_site(db_session=db_session, site_id=data["site_id"], room_id=data["room_id"])
    if data["external_id"] and db_session.scalars(
        select(Resident.id).where(Resident.external_id == data["external_id"])
    ).first():
        raise RegistryError(f"resident external id {data['external_id']!r} already exists")
    resident = Resident(**data)
    resident.contacts = [EmergencyContact(**c.model_dump()) for c in resident_in.contacts]
    db_session.add(resident)
    db_session.flush()
    return resident


def get_resident(*, db_session: Session, resident_id: int) -> Resident | None:
    """Return the resident with `resident_id` (contacts loaded), or None."""
    return db_session.get(Resident, resident_id, options=[selectinload(Resident.contacts)])


def list_residents(*, db_session: Session, site_id: int | None = None) -> list[Resident]:
    """Return residents (contacts loaded), optionally of one site, by name."""
    query = select(Resident).options(selectinload(Resident.contacts)).order_by(Resident.name, Resident.id)
    if site_id is not None:
        query = query.where(Resident.site_id == site_id)
    return list(db_session.scalars(query))


def find_resident(*, db_session: Session, ref: str) -> Resident:
    """Return the resident whose external id, or else unique name, is `ref`."""
    by_id = db_session.scalars(select(Resident).where(Resident.external_id == ref)).one_or_none()
    if by_id is not None:
        return by_id
    by_name = list(db_session.scalars(select(Resident).where(Resident.name == ref).limit(2)))
    if not by_name:
        raise NotFoundError(f"unknown resident {ref!r}")
    if len(by_name) > 1:
        raise RegistryError(f"resident name {ref!r} is ambiguous: use the external id")
    return by_name[0]


# ---------------------------------------------------------------------------------------------- staff


def create_staff(*, db_session: Session, staff_in: StaffCreate) -> Staff:
    """Create a staff member."""
    staff = Staff(**staff_in.model_dump())
    db_session.add(staff)
    db_session.flush()
    return staff


def list_staff(*, db_session: Session, site_id: int | None = None) -> list[Staff]:
    """Return staff, optionally those of one site (staff of every site included), by name."""
    query = select(Staff).order_by(Staff.name, Staff.id)
    if site_id is not None:
        query = query.where((Staff.site_id == site_id) | Staff.site_id.is_(None))
    return list(db_session.scalars(query))


# -------------------------------------------------------------------------------------------- devices


def _resolve_site(*, db_session: Session, site_id: int | None, room_id: int | None) -> int | None:
    """Return the site implied by a room, checking it agrees with `site_id` when both are given."""
    if room_id is not None:
        room = get_room(db_session=db_session, room_id=room_id)
        if room is None:
            raise NotFoundError(f"room #{room_id} does not exist")
        if site_id is not None and site_id != room.building.site_id:
            raise RegistryError(f"room #{room_id} is not in site #{site_id}")
        return room.building.site_id
    if site_id is not None and get_site(db_session=db_session, site_id=site_id) is None:
        raise NotFoundError(f"site #{site_id} does not exist")
    return site_id


def key_owners(*, db_session: Session, keys: Iterable[str]) -> dict[str, int]:
    """Return {key: device_id} for those of `keys` that are registered."""
    keys = list(keys)
    if not keys:
        return {}
    rows = db_session.execute(
        select(DeviceIdentifier.key, DeviceIdentifier.device_id).where(DeviceIdentifier.key.in_(keys))
    )
    return {key: device_id for key, device_id in rows}


def _refuse_taken(*, db_session: Session, keys: Iterable[str]) -> None:
    owners = key_owners(db_session=db_session, keys=keys)
    if owners:
        key = min(owners)
        raise DuplicateKeyError(key, owners[key])


def create_device(
    *, db_session: Session, device_in: DeviceCreate, supervision: Mapping[str, float] | None = None
) -> Device:
    """Register a device with its identifier keys; pending entries under those keys are removed."""
    _refuse_taken(db_session=db_session, keys=device_in.keys)
    site_id = _resolve_site(db_session=db_session, site_id=device_in.site_id, room_id=device_in.room_id)
    resident = None
    if device_in.resident_id is not None:
        resident = get_resident(db_session=db_session, resident_id=device_in.resident_id)
        if resident is None:
            raise NotFoundError(f"resident #{device_in.resident_id} does not exist")
        site_id = site_id if site_id is not None else resident.site_id
    supervision_s = device_in.supervision_s or default_supervision_s(device_in.kind, supervision)
    device = Device(
        name=device_in.name, kind=device_in.kind.value, vendor=device_in.vendor, model=device_in.model,
        profile=device_in.profile, supervision_s=supervision_s, site_id=site_id,
        room_id=device_in.room_id, resident_id=device_in.resident_id,
    )
    device.identifiers = [DeviceIdentifier(key=key) for key in device_in.keys]
    db_session.add(device)
    db_session.execute(delete(PendingDevice).where(PendingDevice.device_key.in_(device_in.keys)))
    db_session.flush()
    return device


def add_identifier(*, db_session: Session, device_id: int, key: str) -> DeviceIdentifier:
    """Give a device one more identifier key (already canonical)."""
    _refuse_taken(db_session=db_session, keys=[key])
    identifier = DeviceIdentifier(key=key, device_id=device_id)
    db_session.add(identifier)
    db_session.execute(delete(PendingDevice).where(PendingDevice.device_key == key))
    db_session.flush()
    return identifier


def _device_options() -> list:
    return [
        selectinload(Device.identifiers),
        selectinload(Device.site),
        selectinload(Device.room).selectinload(Room.building),
    ]


def get_device(*, db_session: Session, device_id: int) -> Device | None:
    """Return the device with `device_id` (identifiers, site and room loaded), or None."""
    return db_session.get(Device, device_id, options=_device_options())


def get_device_by_key(*, db_session: Session, key: str) -> Device | None:
    """Return the device that owns identifier `key`, or None."""
    device_id = db_session.scalar(select(DeviceIdentifier.device_id).where(DeviceIdentifier.key == key))
    return None if device_id is None else get_device(db_session=db_session, device_id=device_id)


def list_devices(
    *, db_session: Session, site_id: int | None = None, kind: str | None = None
) -> list[Device]:
    """Return devices (identifiers, site and room loaded), optionally filtered, by id."""
    query = select(Device).options(*_device_options()).order_by(Device.id)
    if site_id is not None:
        query = query.where(Device.site_id == site_id)
    if kind is not None:
        query = query.where(Device.kind == kind)
    return list(db_session.scalars(query))


# -------------------------------------------------------------------------------------------- pending


def get_pending(*, db_session: Session, device_key: str) -> PendingDevice | None:
    """Return the pending entry for `device_key`, or None."""
    return db_session.scalars(
        select(PendingDevice).where(PendingDevice.device_key == device_key)
    ).one_or_none()


def list_pending(*, db_session: Session, limit: int | None = None) -> list[PendingDevice]:
    """Return pending devices, most recently seen first."""
    query = select(PendingDevice).order_by(PendingDevice.last_seen.desc(), PendingDevice.id)
    if limit is not None:
        query = query.limit(limit)
    return list(db_session.scalars(query))


def count_pending(*, db_session: Session) -> int:
    """Return how many devices are pending."""
    return db_session.scalar(select(func.count()).select_from(PendingDevice)) or 0


def delete_pending(*, db_session: Session, device_key: str) -> bool:
    """Delete the pending entry for `device_key`; return whether there was one."""
    result = db_session.execute(delete(PendingDevice).where(PendingDevice.device_key == device_key))
    return bool(result.rowcount)


def relatives(*, db_session: Session, resident_ids: frozenset[int]) -> list[dict]:
    """Return id and name of the given residents (a family user's own relatives), for their pages."""
    if not resident_ids:
        return []
    rows = db_session.execute(select(Resident.id, Resident.name).where(Resident.id.in_(sorted(resident_ids)))
                              .order_by(Resident.id))
    return [{"id": rid, "name": name} for rid, name in rows]
