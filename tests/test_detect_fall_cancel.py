"""Fall cancel window: a wrist fall is held, then raised, or cancelled by a press or by recovery (fake clock)."""

from __future__ import annotations

import numpy as np
import pytest

from device_drivers.model import AccelBatch, DeviceEvent, EventKind, EventState
from hub import migrate
from hub.alerts.bus import AlertBus
from hub.alerts.flows import AlertFlow
from hub.alerts.models import Alert
from hub.db import make_engine, make_session_factory
from hub.detect.engine import DetectionEngine
from hub.detect.models import DetectionRecord
from hub.devices.directory import DeviceRef
from tests.test_fall_detector import IMPACT_S, fall_stream

T0 = 1_700_000_000.0
BAND = "ch:wb-1"
REF = DeviceRef(id=7, kind="wristband", name="band", site_id=1, room_id=2, resident_id=3, supervision_s=900.0,
                tags={})
BUTTON_REF = DeviceRef(id=8, kind="button", name="wall button", site_id=1, room_id=2, resident_id=3,
                       supervision_s=3600.0, tags={})
HELD_AT = T0 + 8.0  # the 1-s batch [7, 8) completes the 2.5 s post window of the impact at 5.4 s


class Hub:
    """A detection engine with alerts on a fresh database, driven by a fake clock one batch at a time."""

    def __init__(self, url: str, window_s: float = 30.0) -> None:
        self.db = make_engine(url)
        self.factory = make_session_factory(self.db)
        self.now = [T0]
        clock = lambda: self.now[0]  # noqa: E731
        # Timer thread parked (3600 s): the test calls tick() itself at the instants it checks.
        self.eng = DetectionEngine(session_factory=self.factory, clock=clock, tick_interval=3600,
                                   accel_flush_s=3600, fall_cancel_window_s=window_s)
        self.eng.alerts = AlertFlow(session_factory=self.factory, bus=AlertBus(), clock=clock)

    def feed(self, t: np.ndarray, xyz: np.ndarray, start_s: int, end_s: int) -> None:
        """Send the 1-s batches [start_s, end_s) of a stream (seconds from T0), each when it ends."""
        for k in range(start_s, end_s):
            sel = (t >= k) & (t < k + 1)
            self.now[0] = T0 + k + 1
            self.eng.on_message(AccelBatch(BAND, T0 + t[sel], xyz[sel].astype(np.float32), "native"), REF)
            self.eng.flush_accel()
            self.eng.tick()

    def at(self, t: float) -> None:
        """Move the clock to `t` and run the timers."""
        self.now[0] = t
        self.eng.tick()

    def falls(self) -> list[DetectionRecord]:
        with self.factory() as session:
            return list(session.query(DetectionRecord).filter(DetectionRecord.type == "fall")
                        .order_by(DetectionRecord.id))

    def alerts(self) -> list[str]:
        with self.factory() as session:
            return [a.type for a in session.query(Alert)]


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'cancel.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def hub(url):
    h = Hub(url)
    yield h
    h.db.dispose()


def lying(seconds: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """The synthetic fall at IMPACT_S, then lying still on the side until `seconds`."""
    return fall_stream(rate_hz=50.0, seconds=seconds)


def walking(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Upright arm swing at 0.9 Hz with a 1.8 Hz step bounce: |a| spread about 0.2 g, peaks under 1.4 g."""
    w = 2 * np.pi * t
    xyz = np.c_[0.3 * np.sin(0.9 * w), 0.2 * np.cos(0.9 * w), 1.0 + 0.3 * np.sin(1.8 * w)]
    return xyz + rng.normal(0, 0.02, xyz.shape)


def test_a_wrist_fall_is_held_then_raised_exactly_at_the_end_of_the_window(hub):
    t, xyz = lying()
    hub.feed(t, xyz, 0, 8)
    assert [d.type for d in hub.eng.cancel.held()] == ["fall"] and hub.falls() == []
    assert abs(hub.eng.cancel.held()[0].t - (T0 + IMPACT_S)) <= 0.1
    hub.feed(t, xyz, 8, 37)
    hub.at(HELD_AT + 30.0 - 0.001)
    assert hub.falls() == [] and hub.alerts() == []
    hub.at(HELD_AT + 30.0)
    [row] = hub.falls()
    assert row.state == "active" and row.resident_id == 3
    window = row.evidence["cancel_window"]
    assert window == {"window_s": 30.0, "held_at": HELD_AT, "due_at": HELD_AT + 30.0, "outcome": "raised",
                      "decided_at": HELD_AT + 30.0}
    assert row.evidence["features"] and row.evidence["detector"] == "wrist_fall"
    assert hub.alerts() == ["fall"]
    assert hub.eng.cancel.held() == []


@pytest.mark.parametrize(("device", "ref", "kind"), [
    (BAND, REF, EventKind.BUTTON),  # the band's own key
    (BAND, REF, EventKind.CANCEL),  # the native protocol's explicit "cancel"
    ("z2m:wall-button", BUTTON_REF, EventKind.BUTTON),  # another device of the same resident
])
def test_a_button_press_within_the_window_cancels_the_fall(hub, device, ref, kind):
    t, xyz = lying()
    hub.feed(t, xyz, 0, 18)
    hub.now[0] = HELD_AT + 10.0
    hub.eng.on_message(DeviceEvent(device, kind, EventState.MOMENTARY, HELD_AT + 9.8, "native"), ref)
    [row] = hub.falls()
    assert row.state == "cancelled"
    window = row.evidence["cancel_window"]
    assert window["outcome"] == "cancelled" and window["reason"] == "button"
    assert window["device_key"] == device and window["event"] == str(kind) and window["decided_at"] == HELD_AT + 10
    hub.feed(t, xyz, 18, 45)
    hub.at(HELD_AT + 60.0)
    assert [r.state for r in hub.falls()] == ["cancelled"]
    assert hub.alerts() == []


def test_an_sos_or_a_press_older_than_the_impact_does_not_cancel(hub):
    t, xyz = lying()
    hub.feed(t, xyz, 0, 12)
    hub.eng.on_message(DeviceEvent(BAND, EventKind.SOS, EventState.MOMENTARY, HELD_AT + 3.0, "native"), REF)
    # A press from before the fall, delivered late (QoS 1 redelivery), must not hide it.
    hub.eng.on_message(DeviceEvent(BAND, EventKind.BUTTON, EventState.MOMENTARY, T0 + 2.0, "native"), REF)
    hub.feed(t, xyz, 12, 40)
    assert [(r.state, r.evidence["cancel_window"]["outcome"]) for r in hub.falls()] == [("active", "raised")]
    assert sorted(hub.alerts()) == ["fall", "sos"]


def test_a_press_before_the_hub_concluded_cancels_the_fall_when_it_is_detected(hub):
    t, xyz = lying()
    hub.feed(t, xyz, 0, 7)  # impact at 5.4 s; the post window is not complete yet
    hub.eng.on_message(DeviceEvent(BAND, EventKind.CANCEL, EventState.MOMENTARY, T0 + 6.5, "native"), REF)
    hub.feed(t, xyz, 7, 8)
    [row] = hub.falls()
    assert row.state == "cancelled" and row.evidence["cancel_window"]["before_detection"] is True
    assert hub.eng.cancel.held() == [] and hub.alerts() == []


def test_getting_up_and_walking_cancels_the_fall_as_recovery(hub):
    t, xyz = lying()
    walk = t >= 15.0  # lies still until 7 s after the detection, then walks away
    xyz[walk] = walking(t[walk], np.random.default_rng(5))
    hub.feed(t, xyz, 0, 22)
    assert hub.falls() == []  # 7 s of walking is not yet obvious recovery
    hub.feed(t, xyz, 22, 23)
    [row] = hub.falls()
    assert row.state == "cancelled"
    window = row.evidence["cancel_window"]
    assert window["reason"] == "recovery" and window["moving_s"] >= 8.0 and window["decided_at"] == T0 + 23
    hub.feed(t, xyz, 23, 45)
    assert [r.state for r in hub.falls()] == ["cancelled"] and hub.alerts() == []


def test_a_few_seconds_of_struggling_on_the_floor_is_not_recovery(hub):
    t, xyz = lying()
    struggle = (t >= 12.0) & (t < 17.0)
    xyz[struggle] = walking(t[struggle], np.random.default_rng(6))
    hub.feed(t, xyz, 0, 40)
    assert [(r.state, r.evidence["cancel_window"]["outcome"]) for r in hub.falls()] == [("active", "raised")]


def test_window_zero_records_the_fall_at_once(url):
    h = Hub(url, window_s=0.0)
    t, xyz = lying()
    h.feed(t, xyz, 0, 8)
    [row] = h.falls()
    assert row.state == "active" and "cancel_window" not in row.evidence and row.recorded_at == HELD_AT
    assert h.alerts() == ["fall"]
    h.db.dispose()


def test_a_held_fall_survives_a_crash_and_is_raised_on_its_original_deadline(url):
    first = Hub(url)
    t, xyz = lying()
    first.feed(t, xyz, 0, 18)
    assert len(first.eng.cancel.held()) == 1
    # Crash: no stop(). The hold was committed when it began.
    second = Hub(url)
    second.now[0] = HELD_AT + 12.0
    second.eng.start()
    assert [d.type for d in second.eng.cancel.held()] == ["fall"]
    second.at(HELD_AT + 29.9)
    assert second.falls() == []
    second.at(HELD_AT + 30.0)
    [row] = second.falls()
    assert row.state == "active" and row.evidence["cancel_window"]["restored_at"] == HELD_AT + 12.0
    assert row.evidence["cancel_window"]["due_at"] == HELD_AT + 30.0 and row.resident_id == 3
    assert second.alerts() == ["fall"]
    second.eng.stop()
    # A third start has nothing left to raise.
    third = Hub(url)
    third.now[0] = HELD_AT + 100.0
    third.eng.start()
    third.eng.stop()
    assert len(third.falls()) == 1
    for h in (first, second, third):
        h.db.dispose()


def test_a_deadline_that_passed_while_the_hub_was_down_raises_at_start_and_a_cancel_still_works_after(url):
    first = Hub(url)
    first.eng.start()
    t, xyz = lying()
    first.feed(t, xyz, 0, 9)
    first.eng.stop()  # an orderly stop keeps the hold too
    second = Hub(url)
    second.now[0] = HELD_AT + 5.0
    second.eng.start()
    second.eng.on_message(DeviceEvent(BAND, EventKind.BUTTON, EventState.MOMENTARY, HELD_AT + 5.0, "native"), REF)
    assert [r.state for r in second.falls()] == ["cancelled"]
    second.eng.stop()

    third = Hub(url)
    third.eng.start()
    third.feed(t, xyz, 0, 9)  # the same stream again: a second fall, held at HELD_AT
    third.eng.stop()
    fourth = Hub(url)
    fourth.now[0] = HELD_AT + 300.0  # down for the whole window
    fourth.eng.start()
    assert [r.state for r in fourth.falls()] == ["cancelled", "active"]
    assert fourth.falls()[-1].recorded_at == HELD_AT + 300.0 and fourth.alerts() == ["fall"]
    fourth.eng.stop()
    for h in (first, second, third, fourth):
        h.db.dispose()
