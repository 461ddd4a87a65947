"""Unknown devices become pending (first payload kept), are counted without a write per message, and bind."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from device_drivers.model import DeviceInfo
from hub import migrate
from hub.db import make_engine, make_session_factory, transaction
from hub.devices import flows, service
from hub.devices.directory import DeviceDirectory
from hub.devices.models import DeviceCreate, DeviceKind, SiteCreate


@pytest.fixture
def factory(tmp_path):
    url = f"sqlite:///{tmp_path / 'carehub.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def _statements(factory) -> list[str]:
    seen: list[str] = []
    event.listen(factory.kw["bind"], "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_note_unknown_twice_then_bind(factory) -> None:
    directory = DeviceDirectory(factory)
    directory.refresh()
    key = "z2m:kitchen_smoke"
    assert directory.lookup(key) is None
    directory.note_unknown(key, source="zigbee2mqtt", topic="zigbee2mqtt/kitchen_smoke",
                           payload=b'{"smoke":false,"battery":97}', info=None, ts=1000.0)
    with factory() as db_session:
        row = service.get_pending(db_session=db_session, device_key=key)
        assert (row.message_count, row.first_seen) == (1, 1000.0)
        assert row.first_topic == "zigbee2mqtt/kitchen_smoke"
        assert row.first_payload == '{"smoke":false,"battery":97}'

    statements = _statements(factory)
    info = DeviceInfo(device_key=key, ts=1005.0, source="zigbee2mqtt", vendor="Heiman", model="HS1SA",
                      kind="smoke_detector", name="kitchen smoke", aliases=("ieee:0x00124b0000000001",))
    directory.note_unknown(key, source="zigbee2mqtt", topic="zigbee2mqtt/kitchen_smoke",
                           payload=b'{"smoke":false}', info=info, ts=1005.0)
    assert statements == []  # an already-pending device costs no database write per message
    assert directory.flush_pending() == 1
    assert directory.flush_pending() == 0
    with factory() as db_session:
        row = service.get_pending(db_session=db_session, device_key=key)
        assert (row.message_count, row.first_seen, row.last_seen) == (2, 1000.0, 1005.0)
        assert (row.vendor, row.model, row.kind, row.name) == ("Heiman", "HS1SA", "smoke_detector",
                                                               "kitchen smoke")
        assert row.aliases == ["ieee:0x00124b0000000001"]
        assert row.first_payload == '{"smoke":false,"battery":97}'

    with transaction(factory) as db_session:
        site = service.create_site(db_session=db_session, site_in=SiteCreate(name="Sunrise Home"))
        room = service.get_or_create_room(db_session=db_session, site_id=site.id, building="A", name="101")
        device = flows.bind_pending(db_session=db_session, device_key=key, kind=DeviceKind.SMOKE_DETECTOR,
                                    room_id=room.id, supervision={"smoke_detector": 1800.0})
        device_id = device.id
    directory.refresh()

    for wire_key in (key, "ieee:0x00124b0000000001"):
        ref = directory.lookup(wire_key)
        assert ref is not None and ref.id == device_id
    assert ref.kind == "smoke_detector" and ref.supervision_s == 1800.0 and ref.name == "kitchen smoke"
    assert ref.site_id == site.id and ref.room_id == room.id and ref.resident_id is None
    assert ref.tags == {"kind": "smoke_detector", "site": "Sunrise Home", "room": "A/101"}
    with factory() as db_session:
        assert service.get_pending(db_session=db_session, device_key=key) is None
        device = service.get_device(db_session=db_session, device_id=device_id)
        assert (device.vendor, device.model, device.profile) == ("Heiman", "HS1SA", "zigbee2mqtt")
        assert device.keys == ["ieee:0x00124b0000000001", key]
    assert sorted(k for k, _ in directory.all()) == ["ieee:0x00124b0000000001", key]
    # A late message for the now-known key is not recorded as pending again.
    directory.note_unknown(key, source="zigbee2mqtt", topic="t", payload=b"", info=None, ts=1010.0)
    with factory() as db_session:
        assert service.count_pending(db_session=db_session) == 0


def test_bind_refuses_unknown_and_registered_keys(factory) -> None:
    with transaction(factory) as db_session, pytest.raises(service.NotFoundError):
        flows.bind_pending(db_session=db_session, device_key="z2m:nope", kind="sos_button")
    with transaction(factory) as db_session:
        service.create_device(db_session=db_session, supervision={"default": 60.0}, device_in=DeviceCreate(
            kind=DeviceKind.WATCH, keys=["imei:490154203237518"]))
    # Another hub process recorded it as pending before the registration reached it.
    DeviceDirectory(factory).note_unknown("imei:490154203237518", source="watch", topic="watch/x",
                                          payload=b"", info=None, ts=1.0)
    with transaction(factory) as db_session, pytest.raises(service.DuplicateKeyError, match="device #1"):
        flows.bind_pending(db_session=db_session, device_key="imei:490154203237518", kind="watch")


def test_flood_of_unknown_keys_is_capped_and_counted(factory) -> None:
    directory = DeviceDirectory(factory, pending_cap=5)
    directory.refresh()
    for n in range(8):
        directory.note_unknown(f"tasmota:flood{n}", source="tasmota", topic=f"tele/flood{n}/STATE",
                               payload=b"{}", info=None, ts=float(n))
    directory.note_unknown("tasmota:flood0", source="tasmota", topic="tele/flood0/STATE", payload=b"{}",
                           info=None, ts=9.0)
    directory.note_unknown("x:" + "k" * 300, source="tasmota", topic="t", payload=b"", info=None, ts=9.0)
    directory.flush_pending()
    assert directory.pending_overflow == 3 and directory.pending_rejected == 1
    with factory() as db_session:
        assert service.count_pending(db_session=db_session) == 5
        assert service.get_pending(db_session=db_session, device_key="tasmota:flood0").message_count == 2
    # A restarted hub knows the table is full without writing anything.
    restarted = DeviceDirectory(factory, pending_cap=5)
    restarted.refresh()
    assert restarted.pending_count == 5
    restarted.note_unknown("tasmota:flood9", source="tasmota", topic="t", payload=b"", info=None, ts=10.0)
    assert restarted.pending_overflow == 1


def test_first_payload_is_truncated_to_4_kib_and_binary_stays_readable(factory) -> None:
    directory = DeviceDirectory(factory)
    directory.note_unknown("ch:big", source="native", topic="carehub/big", payload=b"a" * 10_000, info=None,
                           ts=1.0)
    directory.note_unknown("cid:1234", source="contact_id", topic="/dev/ttyUSB0", payload=b"\x0a\xff18",
                           info=None, ts=1.0)
    with factory() as db_session:
        assert service.get_pending(db_session=db_session, device_key="ch:big").first_payload == "a" * 4096
        assert service.get_pending(db_session=db_session, device_key="cid:1234").first_payload == "\n\\xff18"


def test_directory_reload_in_chunks_knows_every_key(factory, monkeypatch) -> None:
    from hub.devices import directory as directory_module

    monkeypatch.setattr(directory_module, "RELOAD_CHUNK", 2)  # 5 devices: chunks of 2, 2 and 1
    with transaction(factory) as db_session:
        site = service.create_site(db_session=db_session, site_in=SiteCreate(name="Sunrise Home"))
        for i in range(5):
            service.create_device(db_session=db_session, device_in=DeviceCreate(
                kind=DeviceKind.SOS_BUTTON, keys=[f"z2m:b{i}", f"ieee:0x00124b000000000{i}"], name=f"b{i}",
                site_id=site.id))
    directory = DeviceDirectory(factory)
    directory.refresh()
    assert len(directory.all()) == 10
    assert [directory.lookup(f"ieee:0x00124b000000000{i}").name for i in range(5)] == [f"b{i}" for i in range(5)]
    assert directory.lookup("z2m:b4").tags == {"kind": "sos_button", "site": "Sunrise Home"}
