"""Device simulator end to end against a real Mosquitto broker."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from firmware_sim import wire
from firmware_sim.runner import Simulator

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def subscriber(mosquitto):
    """A paho subscriber on the test broker; `.messages` is a queue of received messages."""
    got: queue.Queue = queue.Queue()
    got.backlog = []  # messages skipped by one wait, still visible to the next
    ready = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{time.monotonic_ns()}")
    client.on_message = lambda c, u, msg: got.put(msg)
    client.on_subscribe = lambda *a: ready.put(True)

    def subscribe(*topics: str) -> None:
        client.subscribe([(t, 1) for t in topics])
        ready.get(timeout=10)

    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    client.messages, client.subscribe_to = got, subscribe
    yield client
    client.disconnect()
    client.loop_stop()


def _wait_for(messages: queue.Queue, match, timeout: float = 10.0):
    """Return the first message (in arrival order) that matches; skipped ones stay for later waits.

    Messages from different simulated devices travel on different connections, so their relative
    order at the subscriber is not fixed; a skipped message must not be lost to a later wait.
    """
    backlog = messages.backlog
    for i, msg in enumerate(backlog):
        if match(msg):
            return backlog.pop(i)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = messages.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if match(msg):
            return msg
        backlog.append(msg)
    raise AssertionError("expected message not received")


def test_sos_press_reaches_subscriber_at_qos1(mosquitto, subscriber):
    subscriber.subscribe_to("zigbee2mqtt/#", "carehub/v1/+/accel")
    sim = Simulator(f"mqtt://127.0.0.1:{mosquitto.port}", residents=4, seed=21, client_prefix="t-sos")
    try:
        sim.start(realtime=False)
        incident = sim.run_scenario("sos_press", at=1)
        sim.advance(3)
        name = sim.device(incident.device_keys[0]).spec.z2m_name
        msg = _wait_for(subscriber.messages,
                        lambda m: m.topic == f"zigbee2mqtt/{name}" and b"emergency" in m.payload)
        assert json.loads(msg.payload)["action"] == "emergency" and msg.qos == 1
        reset = _wait_for(subscriber.messages, lambda m: m.topic == f"zigbee2mqtt/{name}")
        assert json.loads(reset.payload)["action"] == ""
        accel = _wait_for(subscriber.messages, lambda m: m.topic.endswith("/accel"))
        batch = wire.decode_accel(accel.payload)
        assert batch.rate_hz == 50 and 45 <= len(batch.times) <= 50
        assert abs(np.linalg.norm(batch.xyz, axis=1).mean() - 1) < 0.3
    finally:
        sim.stop()


def test_wristband_connection_loss_fires_its_will(mosquitto, subscriber):
    sim = Simulator(f"mqtt://127.0.0.1:{mosquitto.port}", residents=3, seed=22, client_prefix="t-lwt")
    try:
        sim.start(realtime=False)
        assert sim.own_connections
        incident = sim.run_scenario("device_silent", at=0)
        native_id = sim.device(incident.device_keys[0]).spec.native_id
        subscriber.subscribe_to(f"carehub/v1/{native_id}/status")
        _wait_for(subscriber.messages, lambda m: json.loads(m.payload)["status"] == "online")
        sim.advance(1)
        msg = _wait_for(subscriber.messages, lambda m: json.loads(m.payload)["status"] == "offline")
        assert json.loads(msg.payload)["reason"] == "connection_lost"  # sent by the broker, not by us
    finally:
        sim.stop()


def test_cli_runs_a_scenario_against_the_broker(mosquitto, subscriber):
    subscriber.subscribe_to("zigbee2mqtt/bridge/devices")
    proc = subprocess.run(
        [sys.executable, "-m", "firmware_sim", "--mqtt", f"mqtt://127.0.0.1:{mosquitto.port}", "--residents",
         "3", "--seed", "23", "--scenario", "sos_press", "--speed", "4", "--no-accel"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "sos_press" in proc.stdout
    devices = json.loads(_wait_for(subscriber.messages, lambda m: True).payload)
    assert any(d["definition"] and d["definition"]["model"] == "TS0215A_sos" for d in devices)
