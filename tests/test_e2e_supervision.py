"""Acceptance: an SOS button or receiver that goes silent past its interval is reported offline within 10 s
of the deadline (real Mosquitto, a real hub process, a real pty pair for the receiver)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import httpx
import pytest

from firmware_sim.receiver import SimulatedReceiver
from tests.hub_process import HubProcess, wait_for

SUPERVISION_S = 4.0
MAX_LAG_S = 10.0
RUN = uuid.uuid4().hex[:6]  # retained availability topics must not leak between runs on the shared broker
SOS_NAME = f"sup{RUN}/room7/sos"
SMOKE_NAME = f"sup{RUN}/room7/smoke"

DEVICES_CSV = "\n".join([
    "site,room,kind,vendor,model,profile,z2m_name,supervision_s,name",
    f"Supervised Home,7,sos_button,TuYa,TS0215A_sos,zigbee2mqtt,{SOS_NAME},{SUPERVISION_S:g},SOS room 7",
    f"Supervised Home,7,smoke_detector,HEIMAN,HS1SA,zigbee2mqtt,{SMOKE_NAME},3600,Smoke room 7",
]) + "\n"


@pytest.fixture(scope="module")
def hub(mosquitto, tmp_path_factory):
    proc = HubProcess(tmp_path_factory.mktemp("hub-supervision"), mqtt_port=mosquitto.port,
                      client_id=f"hub-sup-{RUN}")
    proc.import_devices(DEVICES_CSV)
    proc.start()
    yield proc
    proc.stop()


def _pub(port: int, topic: str, payload: str, retain: bool = False) -> None:
    subprocess.run(["mosquitto_pub", "-p", str(port), "-q", "1", "-t", topic, "-m", payload,
                    *(["-r"] if retain else [])], check=True, timeout=10)


def _device_state(hub: HubProcess, name: str) -> dict:
    return next(d for d in hub.api.get("/api/devices/state", timeout=5).json() if d["name"] == name)


def _availability_events(hub: HubProcess, device_id: int, state: str, since: float) -> list[dict]:
    events = hub.api.get("/api/events", params={"kind": "availability", "since": since, "limit": 1000},
                       timeout=5).json()
    return [e for e in events if e["device_id"] == device_id and e["state"] == state]




def test_silent_sos_button_is_reported_offline_within_10_s_of_its_deadline(hub, mosquitto):
    _pub(mosquitto.port, f"zigbee2mqtt/{SOS_NAME}", '{"battery":95,"voltage":3000,"linkquality":80}')
    state = wait_for(lambda: (s := _device_state(hub, "SOS room 7"))["availability"] == "online"
                      and s["battery"] == 95 and s, 5, "SOS button online")
    device_id, last_seen = state["device_id"], state["last_seen"]
    assert state["supervision_s"] == SUPERVISION_S
    deadline = last_seen + SUPERVISION_S

    # Stay silent; the hub must notice on its own.
    events = wait_for(lambda: _availability_events(hub, device_id, "offline", last_seen), SUPERVISION_S + MAX_LAG_S
                       + 5, "offline availability event", interval=0.05)
    seen_at = time.time()
    assert len(events) == 1, events
    offline = events[0]
    lag_detect, lag_seen = offline["ts"] - deadline, seen_at - deadline
    print(f"\nSOS button: supervision {SUPERVISION_S:g} s; offline detected {lag_detect:+.2f} s after the "
          f"deadline, visible in the API {lag_seen:+.2f} s after it")
    assert offline["ts"] > deadline, "reported offline before the supervision interval ran out"
    assert seen_at <= deadline + MAX_LAG_S
    assert offline["source"] == "supervision" and offline["device_key"] == f"z2m:{SOS_NAME}"
    assert offline["is_alarm"] is False and "silent" in offline["detail"]["reason"]
    assert _device_state(hub, "SOS room 7")["availability"] == "offline"

    # It speaks again: an "online" availability event, and it is online in the live state.
    spoke = time.time()
    _pub(mosquitto.port, f"zigbee2mqtt/{SOS_NAME}", '{"battery":94,"voltage":3000,"linkquality":78}')
    online = wait_for(lambda: _availability_events(hub, device_id, "online", offline["ts"]), 5, "online event")
    print(f"SOS button: back online in the API after {time.time() - spoke:.2f} s")
    assert len(online) == 1 and online[0]["ts"] >= offline["ts"], online
    assert _device_state(hub, "SOS room 7")["availability"] == "online"


def test_zigbee2mqtt_availability_offline_is_the_device_state(hub, mosquitto):
    topic = f"zigbee2mqtt/{SMOKE_NAME}/availability"
    _pub(mosquitto.port, topic, '{"state":"online"}', retain=True)
    state = wait_for(lambda: (s := _device_state(hub, "Smoke room 7"))["availability"] == "online" and s, 5,
                      "smoke detector online")
    since = time.time() - 1
    _pub(mosquitto.port, topic, '{"state":"offline"}', retain=True)
    state = wait_for(lambda: (s := _device_state(hub, "Smoke room 7"))["availability"] == "offline" and s, 5,
                      "smoke detector offline")
    assert state["reason"] == "availability"
    events = wait_for(lambda: _availability_events(hub, state["device_id"], "offline", since), 5, "offline event")
    assert events[0]["source"] == "zigbee2mqtt"
    # Legacy plain-text form brings it back.
    _pub(mosquitto.port, topic, "online", retain=True)
    wait_for(lambda: _device_state(hub, "Smoke room 7")["availability"] == "online", 5, "smoke detector online")
    _pub(mosquitto.port, topic, "", retain=True)  # clear the retained message on the shared broker


def test_silent_receiver_link_is_reported_offline_within_10_s_of_its_heartbeat_deadline(mosquitto, pty_pair,
                                                                                         tmp_path):
    heartbeat_timeout = 3.0
    proc = HubProcess(tmp_path / "hub-receiver", mqtt_port=mosquitto.port, client_id=f"hub-rx-{RUN}",
                      extra_env={"CAREHUB_SERIAL_PORTS": json.dumps([pty_pair.hub_end]),
                                 "CAREHUB_RECEIVER_HEARTBEAT_TIMEOUT": str(heartbeat_timeout)})
    proc.start()
    try:
        wait_for(lambda: httpx.get(f"{proc.url}/healthz").json()["receivers"][0]["port_open"], 10, "port open")
        key = "receiver:" + pty_pair.hub_end.rsplit("/", 1)[1]

        def link_events(state: str, since: float) -> list[dict]:
            events = proc.api.get("/api/events", params={"device_key": key, "kind": "availability",
                                                                  "since": since}).json()
            return [e for e in events if e["state"] == state]

        with SimulatedReceiver(pty_pair.device_end, retries=0) as rx:
            sent = time.time()
            assert rx.send_heartbeat()
            acked = time.time()
            wait_for(lambda: link_events("online", sent - 1), 5, "receiver link online")
            # The receiver now stays silent: no heartbeat, no record.
            events = wait_for(lambda: link_events("offline", sent), heartbeat_timeout + MAX_LAG_S + 5,
                               "receiver link offline")
            seen_at = time.time()
            earliest, latest = sent + heartbeat_timeout, acked + heartbeat_timeout
            print(f"\nreceiver link: heartbeat timeout {heartbeat_timeout:g} s; offline detected "
                  f"{events[0]['ts'] - latest:+.2f} s after the deadline, visible {seen_at - latest:+.2f} s after it")
            assert events[0]["ts"] >= earliest, "reported offline before the heartbeat deadline"
            assert seen_at <= earliest + MAX_LAG_S
            assert "no heartbeat" in events[0]["detail"]["reason"]
            assert not httpx.get(f"{proc.url}/healthz").json()["receivers"][0]["link_up"]

            # A heartbeat brings the link back.
            back = time.time()
            assert rx.send_heartbeat()
            wait_for(lambda: link_events("online", back - 0.01), 5, "receiver link online again")
            assert httpx.get(f"{proc.url}/healthz").json()["receivers"][0]["link_up"]
    finally:
        proc.stop()
