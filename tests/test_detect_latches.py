"""Latched device conditions never silence a device: repeats hold, closes release, stale latches expire."""

import pytest

from device_drivers.model import DeviceEvent, EventKind, EventState
from hub import migrate
from hub.db import make_engine, make_session_factory
from hub.detect.engine import DetectionEngine
from hub.detect.latches import LATCHES_EXPIRED, expiry_table
from hub.detect.models import DetectionRecord
from hub.devices.directory import DeviceRef
from tests.clock import Clock

SMOKE_1 = DeviceRef(id=1, kind="smoke_detector", name="s1", site_id=1, room_id=21, resident_id=None,
                    supervision_s=3600.0, tags={})
SMOKE_2 = DeviceRef(id=2, kind="smoke_detector", name="s2", site_id=1, room_id=21, resident_id=None,
                    supervision_s=3600.0, tags={})


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'd.db'}"
    migrate.upgrade(url)
    db = make_engine(url)
    factory = make_session_factory(db)
    clock = Clock()
    eng = DetectionEngine(session_factory=factory, clock=clock, latch_expiry_s={"smoke": 300, "tamper": 600})
    yield eng, factory, clock
    db.dispose()


def _rows(factory):
    with factory() as session:
        return [(r.type, r.state, r.subject) for r in session.query(DetectionRecord).order_by(DetectionRecord.id)]


def _event(key, kind, clock, state=EventState.ACTIVE):
    return DeviceEvent(key, kind, state, clock.now, "ctwing")


def _closed(alert_type, *, device_key=None, subject=None, room_id=21, resident_id=None):
    return {"type": alert_type, "state": "resolved", "device_key": device_key, "subject": subject or device_key,
            "room_id": room_id, "resident_id": resident_id}


def test_a_repeated_alarm_holds_and_a_closed_alert_releases_it_without_a_restore(engine):
    eng, factory, clock = engine
    eng.on_message(_event("imei:1", EventKind.SMOKE, clock), SMOKE_1)
    clock.now += 5
    eng.on_message(_event("imei:1", EventKind.SMOKE, clock), SMOKE_1)  # "still in alarm": joins nothing new
    eng.flush()
    assert _rows(factory) == [("fire_suspected", "active", "imei:1")]
    eng.on_alert_change(_closed("fire_suspected", device_key="imei:1"), "resolved")
    clock.now += 5
    eng.on_message(_event("imei:1", EventKind.SMOKE, clock), SMOKE_1)  # a new alarm, no restore in between
    eng.flush()
    assert _rows(factory) == [("fire_suspected", "active", "imei:1")] * 2
    assert eng.latches_released == 1


def test_an_open_alert_changing_state_releases_nothing(engine):
    eng, factory, clock = engine
    eng.on_message(_event("imei:1", EventKind.GAS, clock), SMOKE_1)
    eng.on_alert_change({**_closed("gas", device_key="imei:1"), "state": "acknowledged"}, "acknowledged")
    eng.on_message(_event("imei:1", EventKind.GAS, clock), SMOKE_1)
    eng.flush()
    assert _rows(factory) == [("gas", "active", "imei:1")]


def test_a_latch_no_report_refreshes_expires_and_reports_keep_it_alive(engine):
    eng, factory, clock = engine
    expired_before = LATCHES_EXPIRED._value.get()
    eng.on_message(_event("imei:1", EventKind.SMOKE, clock), SMOKE_1)
    for _ in range(3):  # reports every 200 s keep the 300-s latch: no new detection
        clock.now += 200
        eng.tick()
        eng.on_message(_event("imei:1", EventKind.SMOKE, clock), SMOKE_1)
    eng.flush()
    assert len(_rows(factory)) == 1
    clock.now += 299
    eng.tick()
    eng.on_message(_event("imei:1", EventKind.SMOKE, clock), SMOKE_1)
    eng.flush()
    assert len(_rows(factory)) == 1, "expired early"
    clock.now += 301
    eng.tick()
    assert eng.fire.expired == 1 and len(_rows(factory)) == 1, "an expiry is not a restore: nothing recorded"
    assert LATCHES_EXPIRED._value.get() - expired_before == 1  # carehub_latches_ended_total{how="expired"}
    eng.on_message(_event("imei:1", EventKind.SMOKE, clock), SMOKE_1)
    eng.flush()
    assert _rows(factory) == [("fire_suspected", "active", "imei:1")] * 2


def test_a_momentary_alarm_while_its_flag_is_latched_is_still_an_occurrence(engine):
    eng, factory, clock = engine
    eng.on_message(_event("cid:1234:001", EventKind.GAS, clock), SMOKE_1)
    eng.on_message(_event("cid:1234:001", EventKind.GAS, clock, EventState.MOMENTARY), SMOKE_1)
    eng.flush()
    assert _rows(factory) == [("gas", "active", "cid:1234:001")] * 2


def test_a_closed_fire_alert_lets_a_room_still_in_alarm_confirm_a_new_fire(engine):
    eng, factory, clock = engine
    eng.on_message(_event("z2m:s1", EventKind.SMOKE, clock), SMOKE_1)
    eng.on_message(_event("z2m:s2", EventKind.SMOKE, clock), SMOKE_2)
    eng.flush()
    assert [r for r in _rows(factory) if r[0] == "fire"] == [("fire", "active", "room:21")]
    eng.on_alert_change(_closed("fire", subject="room:21"), "resolved")
    clock.now += 10
    eng.on_message(_event("z2m:s1", EventKind.SMOKE, clock), SMOKE_1)
    eng.on_message(_event("z2m:s2", EventKind.SMOKE, clock), SMOKE_2)
    eng.flush()
    assert [r for r in _rows(factory) if r[0] == "fire"] == [("fire", "active", "room:21")] * 2


def test_tamper_is_released_by_its_closed_alert_but_battery_low_only_by_restore_or_expiry(engine):
    eng, factory, clock = engine
    for kind in (EventKind.TAMPER, EventKind.BATTERY_LOW):
        eng.on_message(_event("z2m:s1", kind, clock), SMOKE_1)
    eng.on_alert_change(_closed("tamper", device_key="z2m:s1"), "resolved")
    eng.on_alert_change(_closed("battery_low", device_key="z2m:s1"), "resolved")
    for kind in (EventKind.TAMPER, EventKind.BATTERY_LOW):
        eng.on_message(_event("z2m:s1", kind, clock), SMOKE_1)
    eng.flush()
    assert _rows(factory) == [("tamper", "active", "z2m:s1"), ("battery_low", "active", "z2m:s1"),
                              ("tamper", "active", "z2m:s1")]
    clock.now += 86_400
    eng.tick()
    eng.on_message(_event("z2m:s1", EventKind.BATTERY_LOW, clock), SMOKE_1)
    eng.flush()
    assert _rows(factory)[-1] == ("battery_low", "active", "z2m:s1")
    assert eng.latches_expired == 2  # tamper (600 s) and battery_low (default 24 h)


def test_expiry_settings_are_checked():
    assert expiry_table({"gas": 60})[EventKind.GAS] == 60.0
    for bad, why in (({"sos": 10}, "momentary"), ({"smok": 10}, "not an event kind"), ({"gas": 0}, "positive")):
        with pytest.raises(ValueError, match=why):
            expiry_table(bad)
