"""`carehub devices ...`: list, pending, bind, import, sites.

Every command opens the configured store (Settings.sqlalchemy_url) and upgrades it to the newest
schema first, so a fresh data directory just works.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.orm import Session

from hub import migrate
from hub.config import get_settings
from hub.db import transaction
from hub.devices import csv_import, flows, service
from hub.devices.keys import InvalidKeyError, key_warnings
from hub.devices.models import Device, DeviceKind, SiteCreate, SiteKind

# Run inside `bind`'s transaction with the new device; each returns how many open alerts it re-homed.
BoundHook = Callable[[Session, Device], int]
bound_hooks: list[BoundHook] = []

app = typer.Typer(no_args_is_help=True)
# Device keys are data, not markup: "cid:1234:003" must not become an emoji, "[x]" not a style.
_out = Console(emoji=False, markup=False, highlight=False)
_err = Console(stderr=True, emoji=False, markup=False, highlight=False)


def _table(*columns: str) -> Table:
    """Return a table whose cells wrap instead of being cut: a truncated key is a useless key."""
    table = Table()
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


@app.command("list")
def list_devices(
    site: Annotated[str, typer.Option(help="Only devices of this site (name).")] = "",
    kind: Annotated[str, typer.Option(help="Only devices of this kind.")] = "",
) -> None:
    """List registered devices."""
    factory = migrate.open_store()
    with factory() as db_session:
        site_id = None
        if site:
            found = service.get_site_by_name(db_session=db_session, name=site)
            if found is None:
                raise _fail(f"unknown site {site!r}")
            site_id = found.id
        devices = service.list_devices(db_session=db_session, site_id=site_id, kind=kind or None)
        table = _table("id", "kind", "name", "site", "room", "resident", "keys", "supervision s")
        for d in devices:
            room = f"{d.room.building.name}/{d.room.name}" if d.room else ""
            table.add_row(str(d.id), d.kind, d.name, d.site.name if d.site else "", room,
                          str(d.resident_id or ""), "\n".join(d.keys), f"{d.supervision_s:g}")
    _out.print(table)
    _out.print(f"{len(devices)} device(s)")


@app.command()
def pending(limit: Annotated[int, typer.Option(help="Show at most this many, newest first.")] = 200) -> None:
    """List unknown devices that sent data and wait to be bound."""
    factory = migrate.open_store()
    with factory() as db_session:
        rows = service.list_pending(db_session=db_session, limit=limit)
        total = service.count_pending(db_session=db_session)
    table = _table("key", "source", "first seen", "last seen", "messages", "hints", "first topic / payload")
    for p in rows:
        hints = " ".join(x for x in (p.kind, p.vendor, p.model, p.name) if x)
        payload = p.first_payload if len(p.first_payload) <= 80 else p.first_payload[:77] + "..."
        table.add_row(p.device_key, p.source, _when(p.first_seen), _when(p.last_seen), str(p.message_count),
                      hints, f"{p.first_topic}\n{payload}")
    _out.print(table)
    _out.print(f"{total} pending device(s)")


@app.command()
def bind(
    key: Annotated[str, typer.Argument(help="Pending device key, e.g. ieee:0x00124b0012345678.")],
    kind: Annotated[DeviceKind, typer.Option(help="What the device is.")],
    site: Annotated[str, typer.Option(help="Site name or id (needed for a room given by name).")] = "",
    building: Annotated[str, typer.Option(help="Building of a room given by name.")] = "main",
    room: Annotated[str, typer.Option(help="Room name in --site/--building (created if missing).")] = "",
    room_id: Annotated[int | None, typer.Option(help="Room id, instead of --room.")] = None,
    resident: Annotated[str, typer.Option(help="Resident external id or name.")] = "",
    name: Annotated[str | None, typer.Option(help="Device name (default: the announced name).")] = None,
    supervision_s: Annotated[float | None, typer.Option(help="Supervision interval, s.")] = None,
) -> None:
    """Register a pending device and bind it to a site, room and/or resident."""
    factory = migrate.open_store()
    try:
        with transaction(factory) as db_session:
            site_id = _site_id(db_session, site) if site else None
            if room:
                if site_id is None:
                    raise _fail("a room given by name needs --site")
                room_id = service.get_or_create_room(
                    db_session=db_session, site_id=site_id, building=building, name=room
                ).id
            resident_id = service.find_resident(db_session=db_session, ref=resident).id if resident else None
            device = flows.bind_pending(
                db_session=db_session, device_key=key, kind=kind, site_id=site_id, room_id=room_id,
                resident_id=resident_id, name=name, supervision_s=supervision_s,
                supervision=get_settings().supervision,
            )
            # What the device raised while pending gets its place (hub/cli.py composes: alerts), same transaction.
            rehomed = sum(hook(db_session, device) for hook in bound_hooks)
            device_id, keys = device.id, device.keys
    except (service.RegistryError, InvalidKeyError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"bound {', '.join(keys)} as device #{device_id} ({kind.value})")
    if rehomed:
        typer.echo(f"{rehomed} open alert(s) it raised while pending now belong to its site")
    for warning in (w for k in keys for w in key_warnings(k)):
        typer.echo(f"warning: {warning}", err=True)


def _site_id(db_session: Session, ref: str) -> int:
    site = (service.get_site(db_session=db_session, site_id=int(ref)) if ref.isdigit()
            else service.get_site_by_name(db_session=db_session, name=ref))
    if site is None:
        raise _fail(f"unknown site {ref!r}")
    return site.id


@app.command("import")
def import_csv(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file (docs/registry.md).")],
    require_existing: Annotated[bool, typer.Option(
        "--require-existing", help="Refuse rows whose site or room does not exist instead of creating it."
    )] = False,
) -> None:
    """Import devices from CSV; rows with errors are listed and skipped, exit code 1 if any failed."""
    try:
        with file.open(encoding="utf-8-sig", newline="") as stream:
            rows = csv_import.read_rows(stream)
    except (csv_import.CsvFormatError, UnicodeDecodeError) as exc:
        raise _fail(f"{file}: {exc}", code=2) from None
    factory = migrate.open_store()
    progress = Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=_err)
    with progress, transaction(factory) as db_session:
        task = progress.add_task("import", total=len(rows))
        report = csv_import.import_devices(
            db_session=db_session, rows=rows, create_missing=not require_existing,
            supervision=get_settings().supervision, on_row=lambda: progress.advance(task),
        )
    for error in report.errors:
        typer.echo(str(error))
    if report.created_sites:
        typer.echo(f"created site(s): {', '.join(report.created_sites)}")
    typer.echo(f"imported {report.imported} of {report.rows} row(s); {len(report.errors)} failed; "
               f"{report.created_rooms} room(s) and {len(report.created_residents)} resident(s) created")
    if report.errors:
        raise typer.Exit(1)


@app.command("add-site")
def add_site(
    name: Annotated[str, typer.Argument(help="Site name, unique.")],
    kind: Annotated[SiteKind, typer.Option(help="home, community or institution.")] = SiteKind.HOME,
    township: Annotated[str, typer.Option(help="Township (coverage reports).")] = "",
    county: Annotated[str, typer.Option(help="County (coverage reports).")] = "",
    address: Annotated[str, typer.Option(help="Street address.")] = "",
) -> None:
    """Create a site."""
    factory = migrate.open_store()
    try:
        with transaction(factory) as db_session:
            site_id = service.create_site(db_session=db_session, site_in=SiteCreate(
                name=name, kind=kind, township=township, county=county, address=address)).id
    except service.RegistryError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"created site #{site_id} {name}")


@app.command()
def sites() -> None:
    """List sites."""
    factory = migrate.open_store()
    with factory() as db_session:
        table = _table("id", "name", "kind", "township", "county", "address")
        for s in service.list_sites(db_session=db_session):
            table.add_row(str(s.id), s.name, s.kind, s.township, s.county, s.address)
    _out.print(table)
