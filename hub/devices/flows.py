"""Registry flows: turning a pending (unknown) device into a registered one."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from hub.devices import service
from hub.devices.keys import InvalidKeyError, normalise_key
from hub.devices.models import Device, DeviceCreate, DeviceKind


def _canonical(key: str) -> bool:
    try:
        return normalise_key(key) == key
    except InvalidKeyError:
        return False


def bind_pending(
    *,
    db_session: Session,
    device_key: str,
    kind: DeviceKind | str,
    site_id: int | None = None,
    room_id: int | None = None,
    resident_id: int | None = None,
    name: str | None = None,
    supervision_s: float | None = None,
    supervision: Mapping[str, float] | None = None,
) -> Device:
    """Register the pending device `device_key` (with the aliases its network announced) and unpend it.

    Vendor, model and name hints recorded from the first payload carry over; the caller commits and then
    refreshes any DeviceDirectory so the hot path sees the new device.
    """
    pending = service.get_pending(db_session=db_session, device_key=device_key)
    if pending is None:
        raise service.NotFoundError(f"no pending device {device_key!r}")
    if not _canonical(device_key):
        # Drivers must emit canonical keys (docs/registry.md), or the bound device would never match.
        raise service.RegistryError(f"pending key {device_key!r} is not a canonical identifier key")
    aliases = [alias for alias in dict.fromkeys(pending.aliases) if _canonical(alias)]
    taken = service.key_owners(db_session=db_session, keys=[device_key, *aliases])
    if device_key in taken:
        raise service.DuplicateKeyError(device_key, taken[device_key])
    # An alias already owned by another device stays with it: the key that sent data is what we bind.
    keys = [device_key, *(alias for alias in aliases if alias not in taken and alias != device_key)]
    device_in = DeviceCreate(
        kind=DeviceKind(kind), keys=keys, name=name if name is not None else pending.name,
        vendor=pending.vendor, model=pending.model, profile=pending.source, supervision_s=supervision_s,
        site_id=site_id, room_id=room_id, resident_id=resident_id,
    )
    return service.create_device(db_session=db_session, device_in=device_in, supervision=supervision)
