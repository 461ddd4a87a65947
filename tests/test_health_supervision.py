"""Device health: supervision intervals, availability and battery, driven by a fake clock."""

from device_drivers.model import Availability, DeviceEvent, DeviceStatus, EventKind, EventState, Reading
from hub.health.state import DeviceHealth
from tests.clock import Clock


def test_silent_device_goes_offline_only_after_its_interval():
    clock = Clock(1_000_000.0)
    health = DeviceHealth(clock)
    health.apply("device:1", Reading("z2m:sos", "battery", 90.0, "%", clock.now, "zigbee2mqtt"))
    supervised = [("device:1", "z2m:sos", 60.0)]
    clock.now += 59.0
    assert health.supervise(supervised) == []
    clock.now += 2.0
    [status] = health.supervise(supervised)
    assert status.availability == Availability.OFFLINE and status.device_key == "z2m:sos"
    assert "60 s" in status.reason
    clock.now += 100
    assert health.supervise(supervised) == [], "offline is reported once, not every tick"


def test_device_sending_again_comes_back_online():
    clock = Clock(1_000_000.0)
    health = DeviceHealth(clock)
    supervised = [("device:1", "z2m:sos", 10.0)]
    clock.now += 11
    assert len(health.supervise(supervised)) == 1
    derived = health.apply("device:1", Reading("z2m:sos", "linkquality", 80.0, "lqi", clock.now, "z2m"))
    assert [type(m) for m in derived] == [DeviceStatus]
    assert derived[0].availability == Availability.ONLINE
    assert health.state("device:1").availability == Availability.ONLINE


def test_never_seen_device_gets_grace_from_hub_start():
    clock = Clock(1_000_000.0)
    health = DeviceHealth(clock)
    clock.now += 30
    assert health.supervise([("device:2", "imei:1", 60.0)]) == []
    clock.now += 31
    assert len(health.supervise([("device:2", "imei:1", 60.0)])) == 1


def test_battery_threshold_derives_battery_low_once_and_clears():
    clock = Clock(1_000_000.0)
    health = DeviceHealth(clock, battery_low_percent=20)
    assert health.apply("k", Reading("k", "battery", 50.0, "%", clock.now, "s")) == []
    [low] = health.apply("k", Reading("k", "battery", 19.0, "%", clock.now, "s"))
    assert low.kind == EventKind.BATTERY_LOW and low.state == EventState.ACTIVE
    assert health.apply("k", Reading("k", "battery", 18.0, "%", clock.now, "s")) == []
    [ok] = health.apply("k", Reading("k", "battery", 90.0, "%", clock.now, "s"))
    assert ok.state == EventState.CLEARED


def test_availability_and_flags_follow_messages():
    clock = Clock(1_000_000.0)
    health = DeviceHealth(clock)
    health.apply("k", DeviceStatus("k", Availability.OFFLINE, clock.now, "z2m", "availability offline"))
    assert health.state("k").availability == Availability.OFFLINE
    health.apply("k", DeviceEvent("k", EventKind.TAMPER, EventState.ACTIVE, clock.now, "z2m"))
    health.apply("k", DeviceEvent("k", EventKind.SMOKE, EventState.ACTIVE, clock.now, "z2m"))
    state = health.state("k")
    assert state.tamper and "smoke" in state.alarms and state.availability == Availability.ONLINE
