"""Detection engine: device-side signals and health become detections once per change, with evidence."""

import numpy as np
import pytest

from device_drivers.model import AccelBatch, Availability, DeviceEvent, DeviceStatus, EventKind, EventState, Reading
from hub import migrate
from hub.db import make_engine, make_session_factory
from hub.detect.engine import DetectionEngine
from hub.detect.models import DetectionRecord
from hub.devices.directory import DeviceRef

REF = DeviceRef(id=7, kind="smoke_detector", name="smoke", site_id=1, room_id=2, resident_id=3, supervision_s=60.0,
                tags={})


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'd.db'}"
    migrate.upgrade(url)
    db = make_engine(url)
    factory = make_session_factory(db)
    eng = DetectionEngine(session_factory=factory, clock=lambda: 1000.0)
    yield eng, factory
    db.dispose()


def _rows(factory):
    with factory() as session:
        return [(r.type, r.state, r.subject) for r in session.query(DetectionRecord).order_by(DetectionRecord.id)]


def test_conditions_are_detected_on_change_only(engine):
    eng, factory = engine
    for state in (EventState.CLEARED, EventState.ACTIVE, EventState.ACTIVE, EventState.CLEARED, EventState.CLEARED):
        eng.on_message(DeviceEvent("z2m:s", EventKind.BATTERY_LOW, state, 1.0, "zigbee2mqtt"), REF)
    eng.on_message(DeviceStatus("z2m:s", Availability.ONLINE, 2.0, "z2m"), REF)
    eng.on_message(DeviceStatus("z2m:s", Availability.OFFLINE, 3.0, "supervision", "silent"), REF)
    eng.on_message(DeviceStatus("z2m:s", Availability.ONLINE, 4.0, "health"), REF)
    eng.flush()
    assert _rows(factory) == [("battery_low", "active", "z2m:s"), ("battery_low", "cleared", "z2m:s"),
                              ("device_offline", "active", "z2m:s"), ("device_offline", "cleared", "z2m:s")]


def test_device_side_fall_and_every_sos_press_are_recorded_at_once(engine):
    eng, factory = engine
    eng.on_message(DeviceEvent("imei:1", EventKind.FALL, EventState.MOMENTARY, 5.0, "watch"), REF)
    eng.on_message(DeviceEvent("z2m:b", EventKind.SOS, EventState.MOMENTARY, 6.0, "zigbee2mqtt"), REF)
    eng.on_message(DeviceEvent("z2m:b", EventKind.SOS, EventState.MOMENTARY, 7.0, "zigbee2mqtt"), REF)
    # No flush(): life-safety detections are committed on the thread that found them.
    assert _rows(factory) == [("fall", "active", "imei:1"), ("sos", "active", "z2m:b"), ("sos", "active", "z2m:b")]


def test_wrist_fall_from_accel_batches_is_a_detection_with_evidence(engine):
    eng, factory = engine
    rate, t0 = 50, 1_700_000_000.0
    quiet = np.tile([0.0, 0.0, 1.0], (rate * 4, 1))
    free = np.tile([0.0, 0.0, 0.2], (rate // 5, 1))
    impact = np.tile([3.0, 4.0, 2.0], (3, 1))
    lying = np.tile([1.0, 0.0, 0.05], (rate * 8, 1))
    xyz = np.vstack([quiet, free, impact, lying]).astype(np.float32)
    t = t0 + np.arange(len(xyz)) / rate
    for start in range(0, len(xyz), rate):
        eng.on_message(AccelBatch("ch:wb", t[start:start + rate], xyz[start:start + rate], "native"), REF)
    assert _rows(factory) == [] and len(eng._accel) == -(-len(xyz) // rate)  # queued for one update_many
    eng.flush_accel()
    with factory() as session:
        rows = session.query(DetectionRecord).all()
    # A "fall" waits for its cancel window (tests/test_detect_fall_cancel.py); "fall_suspected" never does.
    found = [(r.type, r.t, r.evidence, r.resident_id) for r in rows]
    found += [(d.type, d.t, d.evidence, d.resident_id) for d in eng.cancel.held()]
    assert [f[0] for f in found] in (["fall"], ["fall_suspected"])
    type_, t_, evidence, resident_id = found[0]
    impact_t = t0 + (len(quiet) + len(free)) / rate
    assert abs(t_ - impact_t) < 0.2
    assert evidence["detector"] == "wrist_fall" and evidence["features"]
    assert resident_id == 3


def test_accel_batches_are_fed_in_one_call_when_the_queue_is_full(tmp_path):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    migrate.upgrade(url)
    db = make_engine(url)
    eng = DetectionEngine(session_factory=make_session_factory(db), clock=lambda: 1000.0, accel_max_batches=3)
    calls = []
    update_many = eng.fall.update_many
    eng.fall.update_many = lambda batches: calls.append(len(batches)) or update_many(batches)
    xyz = np.tile([0.0, 0.0, 1.0], (50, 1)).astype(np.float32)
    for i in range(7):
        eng.on_message(AccelBatch(f"ch:wb{i}", 1000.0 + np.arange(50) / 50, xyz, "native"), REF)
    assert calls == [3, 3] and len(eng._accel) == 1
    eng.flush_accel()
    assert calls == [3, 3, 1] and eng.fall.n_seen[eng.fall.slot("ch:wb6")] > 0
    db.dispose()


def test_wristband_movement_is_one_activity_per_batch(engine):
    eng, _ = engine
    sources = []
    activity = eng.inactivity.activity

    def counted(rid, t=None, source="motion"):
        sources.append(str(source))
        return activity(rid, t, source)

    eng.inactivity.activity = counted
    t = 1000.0 + np.arange(50) / 50
    still = np.tile([0.0, 0.0, 1.0], (50, 1)).astype(np.float32)
    swing = np.c_[0.3 * np.sin(6 * t), np.zeros(50), 1.0 + 0.2 * np.cos(6 * t)].astype(np.float32)
    eng.on_message(AccelBatch("ch:wb", t, swing, "native"), REF)
    eng.flush_accel()
    assert sources == ["wristband"]
    eng.on_message(AccelBatch("ch:wb", t + 10, still, "native"), REF)
    eng.flush_accel()
    assert sources == ["wristband"]  # a still band is no activity
    # The band was off long enough to be not_worn (the fixture's clock stands still, so set the flag),
    # then it moves again: putting it back on is the activity, recorded once.
    eng.inactivity.nw_active[eng.inactivity.slot(REF.resident_id)] = True
    sources.clear()
    eng.on_message(AccelBatch("ch:wb", t + 4000, swing, "native"), REF)
    eng.flush_accel()
    assert sources == ["wristband_on"]
    assert eng.inactivity.state(REF.resident_id)["last_source"] == "wristband_on"


def test_inactivity_state_survives_a_restart_through_the_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'snap.db'}"
    migrate.upgrade(url)
    db = make_engine(url)
    factory = make_session_factory(db)
    now = [1_700_000_000.0]
    first = DetectionEngine(session_factory=factory, clock=lambda: now[0], tick_interval=3600)
    first.start()
    first.on_message(DeviceEvent("z2m:b", EventKind.BUTTON, EventState.MOMENTARY, now[0], "zigbee2mqtt"), REF)
    first.stop()
    second = DetectionEngine(session_factory=factory, clock=lambda: now[0], tick_interval=3600)
    second.start()
    assert second.inactivity.is_registered(REF.resident_id)
    assert second.inactivity.snapshot() == first.inactivity.snapshot()
    second.stop()
    db.dispose()


def test_a_condition_active_before_a_restart_can_still_clear_after_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'cond.db'}"
    migrate.upgrade(url)
    db = make_engine(url)
    factory = make_session_factory(db)
    first = DetectionEngine(session_factory=factory, clock=lambda: 1000.0, tick_interval=3600)
    first.start()
    first.on_message(DeviceStatus("z2m:s", Availability.OFFLINE, 3.0, "z2m", "leave"), REF)
    first.on_message(DeviceEvent("z2m:s", EventKind.BATTERY_LOW, EventState.ACTIVE, 3.0, "zigbee2mqtt"), REF)
    first.on_message(DeviceEvent("z2m:s", EventKind.BATTERY_LOW, EventState.CLEARED, 4.0, "zigbee2mqtt"), REF)
    first.stop()
    second = DetectionEngine(session_factory=factory, clock=lambda: 1000.0, tick_interval=3600)
    second.start()
    second.on_message(DeviceStatus("z2m:s", Availability.ONLINE, 5.0, "z2m"), REF)
    second.on_message(DeviceEvent("z2m:s", EventKind.BATTERY_LOW, EventState.CLEARED, 5.0, "zigbee2mqtt"), REF)
    second.stop()
    assert _rows(factory)[-1] == ("device_offline", "cleared", "z2m:s")
    assert [r for r in _rows(factory) if r[0] == "battery_low"] == [("battery_low", "active", "z2m:s"),
                                                                     ("battery_low", "cleared", "z2m:s")]
    db.dispose()


def test_a_shard_s_next_holder_confirms_a_fire_the_last_holder_saw_begin(tmp_path):
    url = f"sqlite:///{tmp_path / 'fire.db'}"
    migrate.upgrade(url)
    db = make_engine(url)
    factory = make_session_factory(db)
    other = DeviceRef(id=8, kind="smoke_detector", name="smoke 2", site_id=1, room_id=2, resident_id=3,
                      supervision_s=60.0, tags={})
    first = DetectionEngine(session_factory=factory, clock=lambda: 1000.0, tick_interval=3600, shard="north")
    first.start()
    first.on_message(DeviceEvent("z2m:s1", EventKind.SMOKE, EventState.ACTIVE, 1000.0, "zigbee2mqtt"), REF)
    first.abandon()  # the holder dies: nothing more is written by it
    for shard, confirms in (("south", False), ("north", True)):  # only the shard's own state is taken over
        nxt = DetectionEngine(session_factory=factory, clock=lambda: 1010.0, tick_interval=3600, shard=shard)
        nxt.start()
        nxt.on_message(DeviceEvent("z2m:s2", EventKind.SMOKE, EventState.ACTIVE, 1010.0, "zigbee2mqtt"), other)
        nxt.abandon()
        fires = [r for r in _rows(factory) if r[0] == "fire"]
        assert fires == ([("fire", "active", "room:2")] if confirms else []), shard
    db.dispose()


def test_the_fire_snapshot_keeps_only_what_an_incident_needs():
    from hub.detect.fire import FireGasDetector

    fire = FireGasDetector(lambda: 5000.0)
    for n in range(500):  # quiet detectors reporting readings leave nothing to save
        fire.update(Reading(f"z2m:t{n}", "temperature", 21.0, "°C", 4990.0 + n / 100, "zigbee2mqtt"), REF)
    fire.update(DeviceEvent("z2m:s1", EventKind.SMOKE, EventState.ACTIVE, 4999.0, "zigbee2mqtt",
                            {"smoke_density": np.float32(0.4)}), REF)
    saved = fire.snapshot()
    assert list(saved["devices"]) == ["z2m:s1"] and not fire.dirty
    again = FireGasDetector(lambda: 5001.0)
    again.restore(saved)
    assert again.devices["z2m:s1"].criteria == fire.devices["z2m:s1"].criteria
    assert again.devices["z2m:s1"].ref == REF and again.snapshot() == saved
    with pytest.raises(ValueError):
        again.restore({"version": 99})
