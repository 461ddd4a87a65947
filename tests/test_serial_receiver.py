"""ContactIdReceiver over real socat pseudo-terminals, driven by the simulated Sur-Gard receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from device_drivers.contact_id import ACK, NAK
from device_drivers.model import Availability, DeviceEvent, DeviceStatus, EventKind, EventState, Message
from device_drivers.transports.contact_id_receiver import ContactIdReceiver
from firmware_sim.receiver import SimulatedReceiver
from tests import servers
from tests.clock import Clock


class Inbox:
    """Thread-safe collector for on_message with a wait helper."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.fail = False
        self._cond = threading.Condition()

    def __call__(self, messages: list[Message]) -> None:
        if self.fail and any(isinstance(m, DeviceEvent) for m in messages):
            raise RuntimeError("database down")
        with self._cond:
            self.messages.extend(messages)
            self._cond.notify_all()

    def events(self) -> list[DeviceEvent]:
        with self._cond:
            return [m for m in self.messages if isinstance(m, DeviceEvent)]

    def statuses(self) -> list[DeviceStatus]:
        with self._cond:
            return [m for m in self.messages if isinstance(m, DeviceStatus)]

    def wait_for(self, predicate: Callable[[Inbox], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                assert left > 0, f"timed out; got {self.messages}"
                self._cond.wait(min(left, 0.05))


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def hub(pty_pair: servers.PtyPair, inbox: Inbox) -> Iterator[ContactIdReceiver]:
    receiver = ContactIdReceiver(pty_pair.hub_end, on_message=inbox, receiver_id="mlr2-a")
    receiver.start()
    # pyserial flushes the input buffer when it opens the port: write only once the hub side is open.
    deadline = time.monotonic() + 5
    while not receiver.stats()["port_open"] and time.monotonic() < deadline:
        time.sleep(0.01)
    yield receiver
    receiver.stop()


@pytest.fixture
def device(pty_pair: servers.PtyPair) -> Iterator[SimulatedReceiver]:
    sim = SimulatedReceiver(pty_pair.device_end, ack_timeout=2.0)
    yield sim
    sim.close()


def test_valid_record_yields_event_then_ack(hub: ContactIdReceiver, device: SimulatedReceiver,
                                            inbox: Inbox) -> None:
    assert device.send_raw(b"5011 181234E10101007") == ACK
    events = inbox.events()
    assert len(events) == 1  # on_message returned before the ACK was written
    event = events[0]
    assert event.device_key == "cid:1234:007"
    assert (event.kind, event.state) == (EventKind.SOS, EventState.MOMENTARY)  # a press
    assert event.detail["receiver"] == "01" and event.detail["raw"] == "5011 181234E10101007"
    assert hub.stats()["records_ok"] == 1


def test_checksum_layout_is_verified(hub: ContactIdReceiver, device: SimulatedReceiver, inbox: Inbox) -> None:
    assert device.send_event("1234", "111", "E", "01", "003", with_checksum=True)
    assert inbox.events()[0].kind == EventKind.SMOKE
    assert inbox.events()[0].detail["checksum_verified"] is True


def test_bad_checksum_yields_nak_and_no_event(hub: ContactIdReceiver, device: SimulatedReceiver,
                                              inbox: Inbox) -> None:
    assert device.send_raw(b"5011 1234181131010157") == NAK
    assert device.send_raw(b"5011 181234X10101007") == NAK
    time.sleep(0.2)
    assert inbox.events() == []
    assert hub.stats()["naks_by_reason"] == {"bad_checksum": 1, "bad_qualifier": 1}


def test_noise_between_records_does_not_lose_the_next(hub: ContactIdReceiver, device: SimulatedReceiver,
                                                      inbox: Inbox) -> None:
    assert device.send_event("1234", "101", "E", "01", "001")
    device.send_noise(b"\r\n\x00\xff\xfe~~5011 18123")  # stray bytes and a truncated record
    assert device.send_event("1234", "101", "R", "01", "001")
    device.send_noise(b"\x14")  # an empty record (lone DC4) is framing: ignored, not NAKed
    device.send_noise(b"\r\n")
    assert device.send_event("1234", "162", "E", "02", "004")
    assert [(e.kind, e.state) for e in inbox.events()] == [
        (EventKind.SOS, EventState.MOMENTARY),
        (EventKind.SOS, EventState.CLEARED),
        (EventKind.CO, EventState.ACTIVE),
    ]
    stats = hub.stats()
    assert stats["noise_bytes"] >= 14 and stats["records_ok"] == 3
    assert device.responses == [ACK, ACK, ACK]  # first try each time: no NAK, no retry


def test_heartbeat_is_acked_and_brings_link_up(hub: ContactIdReceiver, device: SimulatedReceiver,
                                               inbox: Inbox) -> None:
    assert device.send_heartbeat()
    assert hub.stats()["heartbeats"] == 1 and hub.stats()["link_up"]
    assert inbox.statuses()[-1].availability == Availability.ONLINE
    assert inbox.statuses()[-1].device_key == "receiver:mlr2-a"
    assert inbox.events() == []


def test_callback_failure_naks_and_receiver_retry_delivers(hub: ContactIdReceiver, device: SimulatedReceiver,
                                                            inbox: Inbox) -> None:
    inbox.fail = True
    assert device.send_raw(b"5011 181234E10101007") == NAK
    inbox.fail = False
    assert device.send_event("1234", "101", "E", "01", "007")
    assert len(inbox.events()) == 1
    assert hub.stats()["naks_by_reason"] == {"callback_error": 1}


def test_supervision_with_injected_clock(pty_pair: servers.PtyPair, device: SimulatedReceiver,
                                         inbox: Inbox) -> None:
    clock = Clock(1000.0)
    hub = ContactIdReceiver(pty_pair.hub_end, on_message=inbox, clock=clock)
    hub.start()
    try:
        assert device.send_heartbeat()
        clock.now += 89.0
        time.sleep(0.3)
        assert [s.availability for s in inbox.statuses()] == [Availability.ONLINE]
        clock.now += 1.5  # 90.5 s since the heartbeat
        inbox.wait_for(lambda i: i.statuses()[-1].availability == Availability.OFFLINE)
        down = inbox.statuses()[-1]
        assert down.device_key == "receiver:ttyHUB" and down.reason == "no heartbeat for 90 s"
        assert not hub.stats()["link_up"]
        assert device.send_heartbeat()
        assert [s.availability for s in inbox.statuses()] == [
            Availability.ONLINE, Availability.OFFLINE, Availability.ONLINE]
        # The link is no registered device: "supervision lost" and its restore carry the alert.
        assert [(e.device_key, e.kind, e.state) for e in inbox.events()] == [
            ("receiver:ttyHUB", EventKind.SUPERVISION_LOST, EventState.ACTIVE),
            ("receiver:ttyHUB", EventKind.SUPERVISION_LOST, EventState.CLEARED)]
    finally:
        hub.stop()


def test_supervision_in_real_time(pty_pair: servers.PtyPair, device: SimulatedReceiver, inbox: Inbox) -> None:
    hub = ContactIdReceiver(pty_pair.hub_end, on_message=inbox, heartbeat_timeout=1.5)
    hub.start()
    try:
        assert device.send_heartbeat()
        sent = time.monotonic()
        inbox.wait_for(lambda i: i.statuses()[-1].availability == Availability.OFFLINE, timeout=4)
        assert 1.4 <= time.monotonic() - sent <= 2.5
        assert inbox.statuses()[-1].reason == "no heartbeat for 1.5 s"
    finally:
        hub.stop()


def test_reconnects_when_the_port_comes_back(pty_pair: servers.PtyPair, hub: ContactIdReceiver,
                                             device: SimulatedReceiver, inbox: Inbox, tmp_path) -> None:
    assert device.send_event("1234", "101", "E", "01", "001")
    device.close()
    pty_pair.stop()  # socat exits: both ptys and their links vanish
    inbox.wait_for(lambda i: i.statuses()[-1].reason == "port lost")
    assert not hub.stats()["port_open"]
    again = servers.start_pty_pair(tmp_path / "pty")  # same link paths
    try:
        assert again.hub_end == pty_pair.hub_end
        with SimulatedReceiver(again.device_end, ack_timeout=2.0, retries=5) as sim:
            assert sim.send_event("1234", "101", "R", "01", "001")
        zone = [e for e in inbox.events() if e.device_key == "cid:1234:001"]
        assert [e.state for e in zone] == [EventState.MOMENTARY, EventState.CLEARED]
        link = [e.state for e in inbox.events() if e.kind == EventKind.SUPERVISION_LOST]
        assert link == [EventState.ACTIVE, EventState.CLEARED]  # port lost, then back
        assert hub.stats()["reconnects"] == 1
        assert inbox.statuses()[-1].availability == Availability.ONLINE
    finally:
        again.stop()
