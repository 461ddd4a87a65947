"""Live device state and readings: what the hub holds in memory, and the embedded store's history.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from hub.deps import HubDep, RegistryReader
from hub.health.models import DeviceStatePublic, LatestReadings, ReadingHistory, ReadingPoint
from hub.health.state import health_key

router = APIRouter(prefix="/api", tags=["live"])


@router.get("/devices/state", response_model=list[DeviceStatePublic])
def devices_state(_principal: RegistryReader, hub: HubDep) -> list[DeviceStatePublic]:
    """Return live state (availability, battery, last seen, latest readings) of registered devices."""
    out, seen = [], set()
    for key, ref in hub.directory.all():
        if ref.id in seen:
            continue
        seen.add(ref.id)
        state = hub.health.state(health_key(key, ref))
        out.append(DeviceStatePublic(
            device_id=ref.id, device_key=key, name=ref.name, kind=ref.kind, site_id=ref.site_id, room_id=ref.room_id,
            resident_id=ref.resident_id, supervision_s=ref.supervision_s, **(state.as_dict() if state else {})))
    return out


@router.get("/readings/latest", response_model=LatestReadings)
def latest_readings(_principal: RegistryReader, hub: HubDep, device_key: str) -> LatestReadings:
    """Return the latest value of every metric a device reported."""
    state = hub.health.state(health_key(device_key, hub.directory.lookup(device_key)))
    if state is None:
        raise HTTPException(404, f"no readings from {device_key!r}")
    return LatestReadings(device_key=device_key, readings=state.as_dict()["readings"])


@router.get("/readings/history", response_model=ReadingHistory)
def reading_history(
    _principal: RegistryReader, hub: HubDep, device_key: str, metric: str,
    since: Annotated[float | None, Query(description="epoch seconds")] = None,
    until: Annotated[float | None, Query(description="epoch seconds")] = None,
    limit: Annotated[int, Query(le=100_000)] = 1000,
) -> ReadingHistory:
    """Return stored readings of one metric of one device, oldest first."""
    store = hub.telemetry.local_store
    if store is None:
        raise HTTPException(409, "history is served by the configured InfluxDB (query it or Grafana)")
    now = time.time()
    rows = store.history(device_key, metric, since if since is not None else now - 86_400,
                         until if until is not None else now, limit)
    return ReadingHistory(device_key=device_key, metric=metric,
                          points=[ReadingPoint(ts=ts, value=value) for ts, value in rows])
