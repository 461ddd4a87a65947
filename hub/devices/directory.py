"""In-memory device directory for the ingest hot path, and the pending list of unknown devices.

`lookup` is a plain dict read of a dict that `refresh` replaces whole (one reference swap, atomic
under the GIL), so the worker thread never takes a lock or touches the database to resolve a key.
Unknown devices are recorded once (first payload written at once), then only counted in memory and
flushed in batches: a chatty unbound device must not cost a database write per message, and a flood
of distinct hostile keys is capped instead of growing the table without bound.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session, sessionmaker

from device_drivers.model import DeviceInfo
from hub.db import transaction
from hub.devices import service
from hub.devices.models import PENDING_PAYLOAD_BYTES, Building, Device, DeviceIdentifier, PendingDevice, Room, Site
from hub.write_turn import relaxed_sync

log = logging.getLogger(__name__)

PENDING_CAP = 10_000
_KEY_MAX = 200
UNMAPPED_PER_PENDING = 50  # distinct unmapped field names kept per pending device; the rest count as `_other`


@dataclass(slots=True, frozen=True)
class DeviceRef:
    """What the hot path needs to know about a registered device; `tags` label its telemetry."""

    id: int
    kind: str
    name: str
    site_id: int | None
    room_id: int | None
    resident_id: int | None
    supervision_s: float
    # Resident is tagged by id, never by name: telemetry stores are outside the personal-data controls.
    tags: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(slots=True)
class _PendingDelta:
    count: int = 0
    last_seen: float = 0.0
    info: DeviceInfo | None = None
    unmapped: dict[str, int] | None = None


_DEVICE_COLUMNS = select(
    Device.id, Device.kind, Device.name, Device.site_id, Device.room_id, Device.resident_id, Device.supervision_s,
    Site.name, Building.name, Room.name,
).outerjoin(Site, Device.site_id == Site.id).outerjoin(Room, Device.room_id == Room.id).outerjoin(
    Building, Room.building_id == Building.id)
RELOAD_CHUNK = 500


def load_refs(db_session: Session) -> dict[str, DeviceRef]:
    """Return every identifier key of every registered device with its DeviceRef.

    Plain rows in chunks of RELOAD_CHUNK devices, with a pause between chunks: this runs beside the ingest
    threads, and building thousands of ORM objects in one go held the GIL long enough to show in the
    latency of every message waiting behind it.
    """
    by_id: dict[int, DeviceRef] = {}
    last = 0
    while True:
        rows = db_session.execute(_DEVICE_COLUMNS.where(Device.id > last).order_by(Device.id).limit(RELOAD_CHUNK)).all()
        for id_, kind, name, site_id, room_id, resident_id, supervision_s, site, building, room in rows:
            tags = {"kind": kind}
            if site is not None:
                tags["site"] = site
            if room is not None:
                tags["room"] = f"{building}/{room}"
            if resident_id is not None:
                tags["resident"] = str(resident_id)
            by_id[id_] = DeviceRef(id=id_, kind=kind, name=name, site_id=site_id, room_id=room_id,
                                   resident_id=resident_id, supervision_s=supervision_s, tags=tags)
        if len(rows) < RELOAD_CHUNK:
            break
        last = rows[-1][0]
        time.sleep(0)  # let the ingest threads run between chunks
    keys = db_session.execute(select(DeviceIdentifier.key, DeviceIdentifier.device_id)).all()
    return {key: by_id[device_id] for key, device_id in keys if device_id in by_id}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit]


class DeviceDirectory:
    """Registered devices by identifier key, plus bounded bookkeeping of unknown (pending) devices."""

    def __init__(self, session_factory: sessionmaker[Session], *, pending_cap: int = PENDING_CAP) -> None:
        self._session_factory = session_factory
        self.pending_cap = pending_cap
        self._refs: dict[str, DeviceRef] = {}
        self._fingerprint: tuple | None = None
        self._lock = threading.Lock()  # guards the pending bookkeeping below, never lookups
        self._pending_keys: set[str] = set()
        self._dirty: dict[str, _PendingDelta] = {}
        self.pending_overflow = 0  # messages from new unknown keys refused because the table is full
        self.pending_rejected = 0  # messages whose key is too long to store
        self.pending_write_errors = 0

    def lookup(self, device_key: str) -> DeviceRef | None:
        """Return the registered device known by `device_key`, or None."""
        return self._refs.get(device_key)

    def all(self) -> list[tuple[str, DeviceRef]]:
        """Return every (key, DeviceRef) pair."""
        return list(self._refs.items())

    def refresh_if_changed(self) -> bool:
        """Reload only when the registry's fingerprint changed (cheap enough to poll every few seconds)."""
        with self._session_factory() as db_session:
            fingerprint = _fingerprint(db_session)
        if fingerprint == self._fingerprint:
            return False
        self.refresh()
        return True

    def refresh(self) -> None:
        """Reload every device and the set of pending keys from the database."""
        with self._session_factory() as db_session:
            self._fingerprint = _fingerprint(db_session)
            refs = load_refs(db_session)
            pending_keys = set(db_session.scalars(select(PendingDevice.device_key)))
        self._refs = refs
        with self._lock:
            self._pending_keys = pending_keys

    @property
    def pending_count(self) -> int:
        """Return how many pending keys the directory knows of."""
        return len(self._pending_keys)

    def note_unknown(
        self,
        device_key: str,
        *,
        source: str,
        topic: str,
        payload: bytes,
        info: DeviceInfo | None,
        ts: float,
    ) -> None:
        """Record that an unregistered device sent data: first time written at once, later only counted."""
        if device_key in self._refs:
            return  # bound meanwhile; the next message resolves
        if len(device_key) > _KEY_MAX:
            self.pending_rejected += 1
            return
        with self._lock:
            if device_key in self._pending_keys:
                delta = self._dirty.get(device_key)
                if delta is None:
                    delta = self._dirty[device_key] = _PendingDelta()
                delta.count += 1
                delta.last_seen = max(delta.last_seen, ts)
                if info is not None:
                    delta.info = info
                return
            if len(self._pending_keys) >= self.pending_cap:
                self.pending_overflow += 1
                return
            self._pending_keys.add(device_key)
        try:
            self._write_first(device_key, source=source, topic=topic, payload=payload, info=info, ts=ts)
        except Exception:
            log.exception("could not record pending device %r", device_key)
            with self._lock:
                self.pending_write_errors += 1
                self._pending_keys.discard(device_key)

    def note_unmapped(self, device_key: str, fields: tuple[str, ...]) -> None:
        """Count fields a pending device sent that its profile does not map (written with the next flush)."""
        with self._lock:
            if device_key not in self._pending_keys:
                return  # registered meanwhile, refused by the cap, or its first write failed
            delta = self._dirty.get(device_key)
            if delta is None:
                delta = self._dirty[device_key] = _PendingDelta()
            if delta.unmapped is None:
                delta.unmapped = {}
            for name in fields:
                delta.unmapped[name] = delta.unmapped.get(name, 0) + 1

    def _write_first(
        self, device_key: str, *, source: str, topic: str, payload: bytes, info: DeviceInfo | None, ts: float
    ) -> None:
        with transaction(self._session_factory) as db_session:
            row = service.get_pending(db_session=db_session, device_key=device_key)
            if row is None:
                # Binary payloads (serial frames) stay readable: undecodable bytes become \xNN escapes.
                text = payload[:PENDING_PAYLOAD_BYTES].decode("utf-8", errors="backslashreplace")
                row = PendingDevice(
                    device_key=device_key, source=_cut(source, 60), first_seen=ts, last_seen=ts,
                    message_count=1, first_topic=_cut(topic, 400), first_payload=text,
                )
                db_session.add(row)
            else:  # pending from an earlier run or another process
                row.message_count += 1
                row.last_seen = max(row.last_seen, ts)
            if info is not None:
                _apply_hints(row, info)

    def flush_pending(self) -> int:
        """Write accumulated message counts, last-seen times and hints; return how many keys were written."""
        with self._lock:
            dirty, self._dirty = self._dirty, {}
        if not dirty:
            return 0
        table = PendingDevice.__table__
        update_counts = (
            table.update()
            .where(table.c.device_key == bindparam("b_key"))
            .values(
                message_count=table.c.message_count + bindparam("b_count"),
                last_seen=case((table.c.last_seen < bindparam("b_ts"), bindparam("b_ts")),
                               else_=table.c.last_seen),
            )
        )
        params = [{"b_key": k, "b_count": d.count, "b_ts": d.last_seen} for k, d in dirty.items()]
        try:
            # Counts and last-seen times: cheap to lose in a power cut, so no fsync (hub.write_turn).
            with relaxed_sync(), transaction(self._session_factory) as db_session:
                db_session.execute(update_counts, params)
                for key, delta in dirty.items():
                    if delta.info is not None or delta.unmapped:
                        row = service.get_pending(db_session=db_session, device_key=key)
                        if row is not None:
                            if delta.info is not None:
                                _apply_hints(row, delta.info)
                            if delta.unmapped:
                                row.unmapped_fields = merge_unmapped(row.unmapped_fields, delta.unmapped)
        except Exception:
            log.exception("could not flush %d pending device counters", len(dirty))
            with self._lock:
                self.pending_write_errors += 1
                for key, delta in dirty.items():  # keep the counts for the next flush
                    merged = self._dirty.setdefault(key, _PendingDelta())
                    merged.count += delta.count
                    merged.last_seen = max(merged.last_seen, delta.last_seen)
                    merged.info = merged.info or delta.info
                    if delta.unmapped:
                        merged.unmapped = merge_unmapped(merged.unmapped, delta.unmapped)
            raise
        return len(dirty)


def merge_unmapped(counts: dict[str, int] | None, more: dict[str, int]) -> dict[str, int]:
    """Return unmapped-field counts plus `more`, keeping at most UNMAPPED_PER_PENDING names (then `_other`)."""
    merged = dict(counts or {})
    for name, n in more.items():
        if name not in merged and len(merged) >= UNMAPPED_PER_PENDING:
            name = "_other"
        merged[name] = merged.get(name, 0) + n
    return merged


def _apply_hints(row: PendingDevice, info: DeviceInfo) -> None:
    """Copy what a network announced about a device onto its pending row."""
    if info.vendor:
        row.vendor = _cut(info.vendor, 100)
    if info.model:
        row.model = _cut(info.model, 100)
    if info.kind:
        row.kind = _cut(info.kind, 30)
    if info.name:
        row.name = _cut(info.name, 200)
    if info.aliases:
        aliases = [a for a in dict.fromkeys([*(row.aliases or []), *info.aliases]) if a != row.device_key]
        row.aliases = [a for a in aliases if len(a) <= _KEY_MAX][:20]


def _fingerprint(db_session) -> tuple:
    """Counts and highest ids of devices, identifiers and pending rows: they change when another process
    imports, binds or deletes devices."""
    return (
        db_session.execute(select(func.count(Device.id), func.max(Device.id))).one(),
        db_session.execute(select(func.count()).select_from(DeviceIdentifier)).scalar(),
        db_session.execute(select(func.count()).select_from(PendingDevice)).scalar(),
    )
