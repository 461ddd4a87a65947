"""Bulk device import from CSV: every row validated, every failure reported by row with its reasons.

Rows are numbered like the file's lines (the header is row 1), so an installer can find them in a
spreadsheet. Valid rows are imported even when others fail; each row is its own savepoint.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.devices import keys as keyconv
from hub.devices import service
from hub.devices.models import (
    DeviceCreate,
    DeviceKind,
    LivingSituation,
    ResidentCreate,
    Site,
    SiteCreate,
    SiteKind,
)

DEVICE_COLUMNS = (
    "site", "building", "room", "resident", "kind", "vendor", "model", "profile", "ieee_address",
    "z2m_name", "imei", "cid_account", "cid_zone", "native_id", "supervision_s", "name",
)
# Only read when the row's site does not exist yet and is created by the import.
SITE_COLUMNS = ("site_kind", "township", "county", "address")
REQUIRED_COLUMNS = ("site", "kind")
_LENGTHS = {"site": 200, "building": 200, "room": 200, "vendor": 100, "model": 100, "profile": 60,
            "name": 200, "township": 100, "county": 100, "address": 400}


class CsvFormatError(ValueError):
    """The file as a whole cannot be imported (unreadable, missing or unknown columns)."""


@dataclass(slots=True, frozen=True)
class RowError:
    """Why one row was not imported."""

    row: int
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return f"row {self.row}: {'; '.join(self.reasons)}"


@dataclass(slots=True)
class ImportReport:
    """Outcome of one import."""

    rows: int = 0
    imported: int = 0
    errors: list[RowError] = field(default_factory=list)
    created_sites: list[str] = field(default_factory=list)
    created_rooms: int = 0
    created_residents: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return True when every row was imported."""
        return not self.errors


@dataclass(slots=True)
class _Row:
    row: int
    values: dict[str, str]
    keys: list[str] = field(default_factory=list)
    kind: DeviceKind | None = None
    supervision_s: float | None = None
    resident_id: int | None = None
    reasons: list[str] = field(default_factory=list)


def read_rows(stream: TextIO) -> list[tuple[int, dict[str, str]]]:
    """Return (row number, {column: stripped value}) for every non-blank row; check the header."""
    reader = csv.DictReader(stream)
    header = [name.strip() for name in reader.fieldnames or []]
    if not header:
        raise CsvFormatError("the file is empty: want a header row")
    reader.fieldnames = header
    allowed = set(DEVICE_COLUMNS) | set(SITE_COLUMNS)
    unknown = [name for name in header if name not in allowed]
    if unknown:
        raise CsvFormatError(f"unknown column(s) {', '.join(unknown)}; allowed: {', '.join(DEVICE_COLUMNS)}"
                             f" (and {', '.join(SITE_COLUMNS)} for new sites)")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise CsvFormatError(f"missing required column(s) {', '.join(missing)}")
    rows = []
    for record in reader:
        if None in record:
            values = {"__extra__": "x"}  # more cells than header columns: flagged in validation
            values.update({k: (v or "").strip() for k, v in record.items() if k is not None})
        else:
            values = {k: (v or "").strip() for k, v in record.items()}
        if any(values.values()):
            rows.append((reader.line_num, values))
    return rows


def _check_row(row: _Row) -> None:
    """Validate one row without the database: kind, identifiers, numbers, lengths."""
    v = row.values
    if v.pop("__extra__", None):
        row.reasons.append("more cells than header columns")
    if not v.get("site"):
        row.reasons.append("missing site")
    kind = v.get("kind", "")
    if not kind:
        row.reasons.append("missing kind")
    else:
        try:
            row.kind = DeviceKind(kind)
        except ValueError:
            row.reasons.append(f"unknown kind {kind!r}")
    for column, limit in _LENGTHS.items():
        if len(v.get(column, "")) > limit:
            row.reasons.append(f"{column} longer than {limit} characters")
    if v.get("building") and not v.get("room"):
        row.reasons.append("building without room")
    if v.get("site_kind") and v["site_kind"] not in set(SiteKind):
        row.reasons.append(f"unknown site_kind {v['site_kind']!r}")
    if v.get("supervision_s"):
        try:
            row.supervision_s = float(v["supervision_s"])
        except ValueError:
            row.supervision_s = None
        if row.supervision_s is None or not row.supervision_s > 0 or row.supervision_s == float("inf"):
            row.reasons.append(f"supervision_s {v['supervision_s']!r} is not a positive number of seconds")
    converters: list[tuple[str, Callable[[str], str]]] = [
        ("ieee_address", keyconv.ieee_key),
        ("z2m_name", keyconv.z2m_key),
        ("imei", keyconv.imei_key),
        ("native_id", keyconv.native_key),
    ]
    for column, convert in converters:
        if v.get(column):
            try:
                row.keys.append(convert(v[column]))
            except keyconv.InvalidKeyError as exc:
                row.reasons.append(str(exc))
    if v.get("cid_account"):
        try:
            row.keys.append(keyconv.cid_key(v["cid_account"], v.get("cid_zone") or None))
        except keyconv.InvalidKeyError as exc:
            row.reasons.append(str(exc))
    elif v.get("cid_zone"):
        row.reasons.append("cid_zone without cid_account")
    identifier_columns = ("ieee_address", "z2m_name", "imei", "cid_account", "native_id")
    if not any(v.get(column) for column in identifier_columns):
        row.reasons.append(f"no identifier (one of {', '.join(identifier_columns)})")


def _check_against_db(*, db_session: Session, rows: list[_Row], create_missing: bool) -> None:
    """Validate rows against the registry: keys already registered, sites and residents that exist."""
    owners = service.key_owners(db_session=db_session, keys=[key for row in rows for key in row.keys])
    sites: dict[str, Site | None] = {}
    for row in rows:
        for key in row.keys:
            if key in owners:
                row.reasons.append(f"key {key} is already registered to device #{owners[key]}")
        site_name = row.values.get("site", "")
        if site_name and site_name not in sites:
            sites[site_name] = service.get_site_by_name(db_session=db_session, name=site_name)
        site = sites.get(site_name)
        if site_name and site is None and not create_missing:
            row.reasons.append(f"unknown site {site_name!r}")
        room_name = row.values.get("room")
        if site is not None and room_name and not create_missing:
            building = row.values.get("building") or service.DEFAULT_BUILDING
            if service.find_room(db_session=db_session, site_id=site.id, building=building,
                                 name=room_name) is None:
                row.reasons.append(f"unknown room {building}/{room_name} at site {site_name!r}")
        if row.values.get("resident"):
            try:
                resident = service.find_resident(db_session=db_session, ref=row.values["resident"])
            except service.NotFoundError as exc:
                if not create_missing:
                    row.reasons.append(str(exc))
            except service.RegistryError as exc:
                row.reasons.append(str(exc))
            else:
                row.resident_id = resident.id
                if resident.site_id is not None and (site is None or resident.site_id != site.id):
                    row.reasons.append(f"resident {row.values['resident']!r} is not at site {site_name!r}")


def _mark_duplicates(rows: list[_Row]) -> None:
    """Fail every row that shares a key with another row: which of them is right is the user's call."""
    rows_by_key: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        for key in dict.fromkeys(row.keys):
            rows_by_key[key].append(row.row)
    for row in rows:
        for key in dict.fromkeys(row.keys):
            others = [str(n) for n in rows_by_key[key] if n != row.row]
            if others:
                row.reasons.append(f"duplicate key {key} (also in row {', '.join(others)})")


def import_devices(
    *,
    db_session: Session,
    rows: Iterable[tuple[int, Mapping[str, str]]],
    create_missing: bool = True,
    supervision: Mapping[str, float] | None = None,
    on_row: Callable[[], None] | None = None,
) -> ImportReport:
    """Validate and import device rows (from read_rows); missing sites and rooms are created unless told not.

    `on_row` is called once per row when its outcome is known (drives a progress bar). The caller
    commits; rows that failed leave nothing behind.
    """
    parsed = [_Row(row=number, values=dict(values)) for number, values in rows]
    report = ImportReport(rows=len(parsed))
    for row in parsed:
        _check_row(row)
    _mark_duplicates(parsed)
    _check_against_db(db_session=db_session, rows=parsed, create_missing=create_missing)
    for row in parsed:
        if not row.reasons:
            _import_row(db_session=db_session, row=row, supervision=supervision, report=report)
        if row.reasons:
            report.errors.append(RowError(row.row, tuple(row.reasons)))
        if on_row is not None:
            on_row()
    return report


def _import_row(
    *, db_session: Session, row: _Row, supervision: Mapping[str, float] | None, report: ImportReport
) -> None:
    v = row.values
    savepoint = db_session.begin_nested()
    try:
        site = service.get_site_by_name(db_session=db_session, name=v["site"])
        new_site = site is None
        if site is None:
            site = service.create_site(db_session=db_session, site_in=SiteCreate(
                name=v["site"], kind=SiteKind(v.get("site_kind") or SiteKind.HOME),
                township=v.get("township", ""), county=v.get("county", ""), address=v.get("address", ""),
            ))
        room_id = None
        new_room = False
        if v.get("room"):
            building = v.get("building") or service.DEFAULT_BUILDING
            room = service.find_room(db_session=db_session, site_id=site.id, building=building,
                                     name=v["room"])
            new_room = room is None
            room = room or service.get_or_create_room(
                db_session=db_session, site_id=site.id, building=building, name=v["room"]
            )
            room_id = room.id
        if row.resident_id is None and v.get("resident"):
            row.resident_id = _find_or_create_resident(db_session=db_session, name=v["resident"], site=site,
                                                       room_id=room_id, report=report)
        assert row.kind is not None  # rows with an unknown kind never get here
        service.create_device(db_session=db_session, supervision=supervision, device_in=DeviceCreate(
            kind=row.kind, keys=row.keys, name=v.get("name", ""), vendor=v.get("vendor", ""),
            model=v.get("model", ""), profile=v.get("profile", ""), supervision_s=row.supervision_s,
            site_id=site.id, room_id=room_id, resident_id=row.resident_id,
        ))
        savepoint.commit()
    except (service.RegistryError, IntegrityError) as exc:
        savepoint.rollback()
        row.reasons.append(str(exc).splitlines()[0])
        return
    report.imported += 1
    if new_site:
        report.created_sites.append(v["site"])
    report.created_rooms += int(new_room)


def _find_or_create_resident(*, db_session: Session, name: str, site: Site, room_id: int | None,
                             report: ImportReport) -> int:
    """Return the resident named on a device row, registering a minimal one when it is new."""
    try:
        return service.find_resident(db_session=db_session, ref=name).id
    except service.NotFoundError:
        pass
    situation = LivingSituation.INSTITUTION if site.kind == SiteKind.INSTITUTION else LivingSituation.ALONE
    resident = service.create_resident(db_session=db_session, resident_in=ResidentCreate(
        name=name, site_id=site.id, room_id=room_id, living_situation=situation))
    report.created_residents.append(name)
    return resident.id
