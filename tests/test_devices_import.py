"""`carehub devices import FILE.csv` through the real CLI: per-row errors, valid rows imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub import migrate
from hub.cli import app
from hub.config import get_settings
from hub.db import make_engine, make_session_factory, transaction
from hub.devices import service
from hub.devices.directory import DeviceDirectory
from hub.devices.models import DeviceCreate, DeviceKind, ResidentCreate, SiteCreate

HEADER = ("site,building,room,resident,kind,vendor,model,profile,ieee_address,z2m_name,imei,cid_account,"
          "cid_zone,native_id,supervision_s,name\n")
EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "devices.csv"


@pytest.fixture
def store(tmp_path, monkeypatch):
    """Point the settings at a fresh data dir and SQLite file; yield a session factory on it."""
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    monkeypatch.setenv("CAREHUB_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("CAREHUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CAREHUB_DATABASE_URL", url)
    get_settings.cache_clear()
    migrate.upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()
    get_settings.cache_clear()


def _run(*args: str):
    return CliRunner().invoke(app, ["devices", *args])


def test_import_mixed_good_and_bad_rows(store, tmp_path) -> None:
    with transaction(store) as db_session:
        site = service.create_site(db_session=db_session, site_in=SiteCreate(name="Sunrise Home"))
        service.create_resident(db_session=db_session, resident_in=ResidentCreate(
            name="Wang Fang", external_id="R-001", site_id=site.id))
        service.create_resident(db_session=db_session, resident_in=ResidentCreate(name="Li Wei"))
        service.create_resident(db_session=db_session, resident_in=ResidentCreate(name="Li Wei"))
        service.create_device(db_session=db_session, device_in=DeviceCreate(
            kind=DeviceKind.SOS_BUTTON, keys=["ieee:0xaaaaaaaaaaaaaaaa"], site_id=site.id))
    DeviceDirectory(store).note_unknown("z2m:lotus_smoke_1", source="zigbee2mqtt", topic="zigbee2mqtt/x",
                                        payload=b"{}", info=None, ts=1.0)
    csv_file = tmp_path / "devices.csv"
    csv_file.write_text(HEADER + "\n".join([
        "Sunrise Home,A,101,R-001,sos_button,Heiman,HS1EB,zigbee2mqtt,0x00124b0012345678,,,,,,,Bed",  # 2
        "Sunrise Home,A,101,,smoke_detector,Heiman,HS1SA,zigbee2mqtt,0x00124B00ABCDEF01,,,,,,,Smoke 101",  # 3
        "Sunrise Home,,,,wristband,,,watch,,,490154203237518,,,,600,Band",  # 4
        "Sunrise Home,,,,receiver,,,contact_id,,,,1234,,,,Panel",  # 5
        "Sunrise Home,A,102,,gas_detector,,,contact_id,,,,1234,003,,,Gas 102",  # 6
        "",  # 7: blank lines are skipped, row numbers stay the file's line numbers
        "Lotus Community,,,,smoke_detector,,,zigbee2mqtt,,lotus_smoke_1,,,,,,",  # 8
        "Sunrise Home,A,101,,toaster,,,,0x00124b0012345699,,,,,,,",  # 9
        ",A,101,,sos_button,,,,0x00124b00123456aa,,,,,,,",  # 10
        "Sunrise Home,,,,sos_button,,,,0x124b00,,,,,,,",  # 11
        "Sunrise Home,,,,watch,,,,,,4901542032375x,,,,,",  # 12
        "Sunrise Home,,,,sos_button,,,,,,,12A4,001,,,",  # 13
        "Sunrise Home,,,,sos_button,,,,,,,1234,01,,,",  # 14
        "Sunrise Home,,,,sos_button,,,,,,,,,,,",  # 15
        "Sunrise Home,,,,sos_button,,,,,dup_button,,,,,,",  # 16
        "Sunrise Home,,,,sos_button,,,,,dup_button,,,,,,",  # 17
        "Sunrise Home,,,,sos_button,,,,0xAAAAAAAAAAAAAAAA,,,,,,,",  # 18
        "Sunrise Home,,,,sos_button,,,,,,,,,ch-77,-5,",  # 19
        "Sunrise Home,,,Nobody,sos_button,,,,,,,,,ch-78,,",  # 20: a new resident is registered
        "Sunrise Home,,,Li Wei,sos_button,,,,,,,,,ch-79,,",  # 21
        "Lotus Community,,,R-001,sos_button,,,,,,,,,ch-80,,",  # 22
        "Sunrise Home,B,,,sos_button,,,,,,,,,ch-81,,",  # 23
        "Sunrise Home,,,,sos_button,,,,,,,,005,ch-82,,",  # 24
    ]) + "\n", encoding="utf-8")

    result = _run("import", str(csv_file))

    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("row ")] == [
        "row 9: unknown kind 'toaster'",
        "row 10: missing site",
        "row 11: malformed IEEE address '0x124b00' (want 0x and 16 hex digits)",
        "row 12: malformed IMEI '4901542032375x' (want 14-16 digits: IMEI, or IMEISV)",
        "row 13: malformed Contact ID account '12A4' (want 4 digits of 0-9, B-F)",
        "row 14: malformed Contact ID zone '01' (want 3 digits)",
        "row 15: no identifier (one of ieee_address, z2m_name, imei, cid_account, native_id)",
        "row 16: duplicate key z2m:dup_button (also in row 17)",
        "row 17: duplicate key z2m:dup_button (also in row 16)",
        "row 18: key ieee:0xaaaaaaaaaaaaaaaa is already registered to device #1",
        "row 19: supervision_s '-5' is not a positive number of seconds",
        "row 21: resident name 'Li Wei' is ambiguous: use the external id",
        "row 22: resident 'R-001' is not at site 'Lotus Community'",
        "row 23: building without room",
        "row 24: cid_zone without cid_account",
    ]
    assert "created site(s): Lotus Community" in lines
    assert "imported 7 of 22 row(s); 15 failed; 2 room(s) and 1 resident(s) created" in lines

    get_settings.cache_clear()
    default_s = get_settings().supervision
    with store() as db_session:
        devices = {tuple(d.keys): d for d in service.list_devices(db_session=db_session)}
        assert len(devices) == 8
        assert devices[("ch:ch-78",)].resident.name == "Nobody"
        bed = devices[("ieee:0x00124b0012345678",)]
        assert (bed.kind, bed.vendor, bed.name, bed.room.building.name, bed.room.name) == (
            "sos_button", "Heiman", "Bed", "A", "101")
        assert bed.resident.external_id == "R-001" and bed.supervision_s == default_s["sos_button"]
        assert devices[("ieee:0x00124b00abcdef01",)].room_id == bed.room_id
        assert devices[("imei:490154203237518",)].supervision_s == 600.0
        assert devices[("cid:1234",)].supervision_s == default_s["receiver"]
        assert devices[("cid:1234:003",)].room.name == "102"
        lotus = devices[("z2m:lotus_smoke_1",)]
        assert lotus.site.name == "Lotus Community" and lotus.site.kind == "home" and lotus.room is None
        assert service.count_pending(db_session=db_session) == 0  # the imported key is no longer pending


def test_import_example_file_and_list(store) -> None:
    result = _run("import", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert "imported 7 of 7 row(s); 0 failed; 4 room(s) and 0 resident(s) created" in result.stdout
    listed = _run("list", "--site", "Sunrise Care Home")
    assert listed.exit_code == 0, listed.output
    assert "5 device(s)" in listed.stdout
    gas = _run("list", "--kind", "gas_detector")
    # Rich would render ":1234:" as an emoji; keys must print as data.
    assert "cid:1234" in gas.stdout and "\U0001f522" not in gas.stdout
    again = _run("import", str(EXAMPLE))  # importing twice refuses every row, imports nothing
    assert again.exit_code == 1
    assert "imported 0 of 7 row(s); 7 failed; 0 room(s) and 0 resident(s) created" in again.stdout


def test_require_existing_refuses_unknown_sites_and_rooms(store, tmp_path) -> None:
    with transaction(store) as db_session:
        site = service.create_site(db_session=db_session, site_in=SiteCreate(name="Sunrise Home"))
        service.get_or_create_room(db_session=db_session, site_id=site.id, building="main", name="101")
    csv_file = tmp_path / "devices.csv"
    csv_file.write_text(HEADER + "\n".join([
        "Nowhere,,,,sos_button,,,,,,,,,ch-1,,",
        "Sunrise Home,,101,,sos_button,,,,,,,,,ch-2,,",
        "Sunrise Home,,999,,sos_button,,,,,,,,,ch-3,,",
        "Sunrise Home,,101,Nobody,sos_button,,,,,,,,,ch-4,,",
    ]) + "\n", encoding="utf-8")
    result = _run("import", "--require-existing", str(csv_file))
    assert result.exit_code == 1
    assert "row 2: unknown site 'Nowhere'" in result.stdout
    assert "row 4: unknown room main/999 at site 'Sunrise Home'" in result.stdout
    assert "row 5: unknown resident 'Nobody'" in result.stdout
    assert "imported 1 of 4 row(s); 3 failed; 0 room(s) and 0 resident(s) created" in result.stdout


def test_bad_header_is_refused_before_anything_is_imported(store, tmp_path) -> None:
    csv_file = tmp_path / "devices.csv"
    csv_file.write_text("site,kind,imie\nSunrise,sos_button,490154203237518\n", encoding="utf-8")
    result = _run("import", str(csv_file))
    assert result.exit_code == 2
    assert "unknown column(s) imie" in result.stderr


def test_cli_pending_and_bind(store) -> None:
    directory = DeviceDirectory(store)
    directory.note_unknown("ieee:0x00124b0000000009", source="zigbee2mqtt", topic="zigbee2mqtt/hall",
                           payload=b'{"action":"sos"}', info=None, ts=1_700_000_000.0)
    assert _run("add-site", "Sunrise Home", "--kind", "institution", "--county", "Anji").exit_code == 0
    listed = _run("pending")
    assert listed.exit_code == 0 and "1 pending device(s)" in listed.stdout
    bound = _run("bind", "ieee:0x00124b0000000009", "--kind", "sos_button", "--site", "Sunrise Home",
                 "--room", "201", "--name", "Hall button")
    assert bound.exit_code == 0, bound.output
    assert "bound ieee:0x00124b0000000009 as device #1 (sos_button)" in bound.stdout
    directory.refresh()
    ref = directory.lookup("ieee:0x00124b0000000009")
    assert ref is not None and ref.tags["room"] == "main/201" and ref.name == "Hall button"
    again = _run("bind", "ieee:0x00124b0000000009", "--kind", "sos_button")
    assert again.exit_code == 1 and "no pending device" in again.stderr
