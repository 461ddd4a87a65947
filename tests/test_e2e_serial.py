"""End to end over a real pty pair: a simulated Contact ID receiver talks to a real hub process.

The receiver end writes Sur-Gard records; the hub (CAREHUB_SERIAL_PORTS) must ACK a valid record only
once the alarm is recorded, NAK a corrupted one without recording anything, and resynchronise after
line noise.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from device_drivers import contact_id
from firmware_sim.receiver import SimulatedReceiver
from tests.hub_process import HubProcess, wait_for

ACCOUNT, ZONE = "1234", "007"
ZONE_KEY = f"cid:{ACCOUNT}:{ZONE}"

DEVICES_CSV = "\n".join([
    "site,room,kind,vendor,model,cid_account,cid_zone,name",
    f"Serial Home,101,sos_button,Generic,Pendant,{ACCOUNT},{ZONE},Pendant zone 7",
]) + "\n"




@pytest.fixture
def serial_hub(mosquitto, pty_pair, tmp_path):
    hub = HubProcess(tmp_path / "hub-serial", mqtt_port=mosquitto.port,
                     client_id=f"hub-serial-{uuid.uuid4().hex[:8]}",
                     extra_env={"CAREHUB_SERIAL_PORTS": json.dumps([pty_pair.hub_end])})
    hub.import_devices(DEVICES_CSV)
    hub.start()
    try:
        # pyserial flushes the input buffer when it opens the port: write only once the hub has it open.
        wait_for(lambda: _receiver_stats(hub).get("port_open"), 10, "hub opened the serial port")
        yield hub
    finally:
        hub.stop()


def _receiver_stats(hub: HubProcess) -> dict:
    receivers = httpx.get(f"{hub.url}/healthz", timeout=5).json()["receivers"]
    return receivers[0] if receivers else {}


def _zone_events(hub: HubProcess) -> list[dict]:
    return hub.api.get("/api/events", params={"device_key": ZONE_KEY, "limit": 1000}, timeout=5).json()


def test_receiver_records_are_acked_after_recording_naked_when_corrupt_and_found_after_noise(serial_hub,
                                                                                            pty_pair):
    hub = serial_hub
    with SimulatedReceiver(pty_pair.device_end, retries=0) as rx:
        # 1. A valid personal-emergency record (MLR2 layout): ACK, and the SOS is in the API, bound.
        started = time.monotonic()
        assert rx.send_event(ACCOUNT, "101", "E", "01", ZONE), f"not ACKed: {rx.responses}"
        ack_s = time.monotonic() - started
        assert rx.responses == [contact_id.ACK]
        # The ACK goes out only after the recorder committed, so the event must already be there.
        events = _zone_events(hub)
        sos = [e for e in events if e["kind"] == "sos" and e["detail"]["event_code"] == "101"]
        assert len(sos) == 1, events
        assert sos[0]["is_alarm"] and sos[0]["state"] == "momentary"  # a press: nothing restores it
        assert sos[0]["device_id"] is not None, "zone 007 of account 1234 is registered"
        assert sos[0]["source"] == "contact_id"
        print(f"\nvalid record ACKed after {ack_s * 1000:.0f} ms")

        # 2. The checksum-carrying layout with a wrong checksum digit: NAK, nothing recorded.
        good = contact_id.format_record(ACCOUNT, "E", "100", "01", ZONE, with_checksum=True)[:-1]
        bad_digit = b"1" if good[-1:] != b"1" else b"2"
        bad = good[:-1] + bad_digit
        assert not contact_id.verify_checksum(bad[5:].decode())
        assert rx.send_raw(bad) == contact_id.NAK
        time.sleep(0.5)  # give a wrongly recorded event the time to show up
        assert not [e for e in _zone_events(hub) if e["detail"].get("event_code") == "100"]
        assert _receiver_stats(hub)["naks_by_reason"] == {"bad_checksum": 1}

        # 3. Line noise (with a fake record start), then a valid record with checksum: ACK and recorded.
        rx.send_noise(b"\r\n\x00\xff~~5011 18")
        started = time.monotonic()
        assert rx.send_event(ACCOUNT, "100", "E", "01", ZONE, with_checksum=True), f"not ACKed: {rx.responses}"
        medical = [e for e in _zone_events(hub) if e["detail"].get("event_code") == "100"]
        assert len(medical) == 1, medical
        assert medical[0]["kind"] == "sos" and medical[0]["device_id"] == sos[0]["device_id"]
        assert medical[0]["detail"]["checksum_verified"] is True
        print(f"record after noise ACKed after {(time.monotonic() - started) * 1000:.0f} ms")

    stats = _receiver_stats(hub)
    assert stats["records_ok"] == 2 and stats["acks"] == 2 and stats["late_acks"] == 0, stats
    assert stats["noise_bytes"] > 0, stats
    assert rx.responses == [contact_id.ACK, contact_id.NAK, contact_id.ACK]
    # Exactly two alarm events for the zone: nothing duplicated, nothing from the corrupted record.
    assert len([e for e in _zone_events(hub) if e["is_alarm"]]) == 2


PANEL_CSV = "\n".join([
    "site,room,kind,vendor,model,cid_account,cid_zone,name,supervision_s",
    f"Serial Home,101,receiver,Generic,Panel,{ACCOUNT},,Panel,86400",
    f"Serial Home,101,sos_button,Generic,Pendant,{ACCOUNT},{ZONE},Pendant zone 7,86400",
]) + "\n"


@pytest.fixture
def watched_hub(mosquitto, pty_pair, tmp_path):
    hub = HubProcess(tmp_path / "hub-watched", mqtt_port=mosquitto.port,
                     client_id=f"hub-watched-{uuid.uuid4().hex[:8]}",
                     extra_env={"CAREHUB_SERIAL_PORTS": json.dumps([pty_pair.hub_end]),
                                "CAREHUB_RECEIVER_HEARTBEAT_TIMEOUT": "2"})
    hub.import_devices(PANEL_CSV)
    hub.start()
    try:
        wait_for(lambda: _receiver_stats(hub).get("port_open"), 10, "hub opened the serial port")
        yield hub
    finally:
        hub.stop()


def _alerts(hub: HubProcess) -> list[dict]:
    return hub.api.get("/api/alerts", timeout=5).json()


def test_system_inactivity_of_the_panel_alerts_and_the_receiver_link_is_no_pending_device(watched_hub, pty_pair):
    hub = watched_hub
    devices = {d["name"]: d["id"] for d in hub.api.get("/api/devices", timeout=5).json()}
    with SimulatedReceiver(pty_pair.device_end, retries=0) as rx:
        assert rx.send_heartbeat()
        # 654 system inactivity is a panel event: zone 000 is the panel `cid:1234`, not a zone "000".
        assert rx.send_event(ACCOUNT, "654", "E", "01", "000"), f"not ACKed: {rx.responses}"
    event = wait_for(lambda: [e for e in hub.api.get(
        "/api/events", params={"device_key": f"cid:{ACCOUNT}", "limit": 100}, timeout=5).json()
        if e["detail"].get("event_code") == "654"], 5, "654 recorded for the panel")[0]
    assert event["kind"] == "inactivity" and event["device_id"] == devices["Panel"], event
    inactivity = wait_for(lambda: [a for a in _alerts(hub) if a["type"] == "inactivity"], 5, "inactivity alert")
    assert inactivity[0]["device_key"] == f"cid:{ACCOUNT}" and inactivity[0]["priority"] == 2
    assert inactivity[0]["site_id"] is not None  # the bound panel's place travels with the alert

    # No heartbeat for 2 s: the link is down, an alert of its own, and still no pending device.
    offline = wait_for(lambda: [a for a in _alerts(hub) if a["type"] == "device_offline"], 8, "link-down alert")
    assert offline[0]["device_key"].startswith("receiver:")
    time.sleep(1.0)  # a wrongly noted pending row would be written at once; leave it the time
    pending = [p["device_key"] for p in hub.api.get("/api/devices/pending", timeout=5).json()]
    assert not [key for key in pending if key.startswith("receiver:") or key.startswith("cid:")], pending
