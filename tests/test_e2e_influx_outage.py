"""Acceptance: "Stop InfluxDB for 60 s under load: once it is back, every reading from that minute is in
InfluxDB (counts equal), and alarms kept flowing during the outage."

A real hub process writes telemetry to the session's InfluxDB 1.x (v1 API, a database of its own) while a
publisher sends native telemetry at QoS 1 (the broker keeps everything for the hub's persistent session,
so nothing may be missing at the end). InfluxDB is stopped for the outage and restarted; SOS alarms sent
during the outage must be in the API within 1 s. CAREHUB_TELEMETRY_OUTAGE_S shortens the outage locally.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.hub_process import HubProcess

OUTAGE_S = float(os.environ.get("CAREHUB_TELEMETRY_OUTAGE_S", "60"))
DEVICES = 20
RATE_PER_DEVICE = 10  # messages per second per device: 200 msg/s in all
WARMUP_S = 3.0
SOS_EVERY_S = 10.0
SOS_MAX_S = 1.0
RUN = uuid.uuid4().hex[:6]
DATABASE = f"e2e_outage_{RUN}"
WRISTBANDS = [f"ob{RUN}-{i:02d}" for i in range(DEVICES)]
SOS_ID = f"obsos{RUN}"

DEVICES_CSV = "\n".join([
    "site,room,kind,vendor,model,profile,native_id,name",
    *(f"Outage Home,{100 + i},wristband,CareHub,WB-1,native,{dev},Wristband {i}" for i, dev in enumerate(WRISTBANDS)),
    f"Outage Home,100,sos_button,CareHub,SOS-1,native,{SOS_ID},SOS outage",
]) + "\n"


def _client(port: int, prefix: str) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         client_id=f"{prefix}-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


class Publisher(threading.Thread):
    """Sends one heart-rate reading per device every 100 ms at QoS 1; device timestamps are unique per device."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True, name="outage-publisher")
        self.client = _client(port, "outage-pub")
        self.halt = threading.Event()
        self.infos: list[mqtt.MQTTMessageInfo] = []
        self.per_device: Counter[str] = Counter()
        self.t0 = round(time.time(), 3)
        self.late_ticks = 0

    def run(self) -> None:
        started, tick = time.monotonic(), 0
        period = 1.0 / RATE_PER_DEVICE
        while not self.halt.is_set():
            ts = self.t0 + tick * period  # 100 ms apart: distinct milliseconds for every point of a series
            for i, device in enumerate(WRISTBANDS):
                payload = {"v": 1, "ts": ts, "seq": tick, "readings": {"heart_rate": 60 + (tick + i) % 40}}
                info = self.client.publish(f"carehub/v1/{device}/telemetry", json.dumps(payload), qos=1)
                assert info.rc == mqtt.MQTT_ERR_SUCCESS, info.rc
                self.infos.append(info)
                self.per_device[f"ch:{device}"] += 1
            tick += 1
            delay = started + tick * period - time.monotonic()
            if delay > 0:
                self.halt.wait(delay)
            else:
                self.late_ticks += 1

    def finish(self) -> int:
        """Stop publishing, wait until the broker has every message, and return how many were sent."""
        self.halt.set()
        self.join(10)
        for info in self.infos:
            info.wait_for_publish(60)
            assert info.is_published()
        self.client.loop_stop()
        self.client.disconnect()
        return len(self.infos)


def _influx_counts(url: str) -> dict[str, int]:
    query = 'SELECT count("heart_rate") FROM "vitals" WHERE "source" = \'native\' GROUP BY "device"'
    response = httpx.get(f"{url}/query", params={"db": DATABASE, "q": query}, timeout=10)
    response.raise_for_status()
    result = response.json()["results"][0]
    return {s["tags"]["device"]: s["values"][0][1] for s in result.get("series", [])}


def _influx_sos_count(url: str) -> int:
    query = f'SELECT count("value") FROM "device_events" WHERE "device" = \'ch:{SOS_ID}\' AND "kind" = \'sos\''
    result = httpx.get(f"{url}/query", params={"db": DATABASE, "q": query}, timeout=10).json()["results"][0]
    series = result.get("series")
    return series[0]["values"][0][1] if series else 0


def _healthz(hub: HubProcess) -> dict:
    return httpx.get(f"{hub.url}/healthz", timeout=5).json()


def _send_sos(alarms: mqtt.Client, hub: HubProcess, press: int) -> float:
    """Publish one SOS at QoS 1 and return the seconds until the API lists it."""
    payload = {"v": 1, "ts": time.time(), "seq": press, "event": "sos", "state": "momentary",
               "detail": {"press": press}}
    started = time.monotonic()
    alarms.publish(f"carehub/v1/{SOS_ID}/event", json.dumps(payload), qos=1)
    while time.monotonic() - started < 10:
        events = hub.api.get("/api/events", params={"device_key": f"ch:{SOS_ID}", "kind": "sos",
                                                             "limit": 50}, timeout=5).json()
        if any(e["detail"].get("press") == press for e in events):
            return time.monotonic() - started
        time.sleep(0.01)
    raise AssertionError(f"SOS press {press} not recorded within 10 s")


@pytest.fixture
def hub(mosquitto, influxdb1, tmp_path):
    proc = HubProcess(tmp_path / "hub-outage", mqtt_port=mosquitto.port, client_id=f"hub-outage-{RUN}",
                      extra_env={"CAREHUB_INFLUX_URL": influxdb1.url, "CAREHUB_INFLUX_API": "v1",
                                 "CAREHUB_INFLUX_DATABASE": DATABASE})
    proc.import_devices(DEVICES_CSV)
    proc.start()
    yield proc
    proc.stop()


@pytest.mark.slow
@pytest.mark.timeout(OUTAGE_S + 180)
def test_influx_outage_under_load_loses_no_reading_and_alarms_keep_flowing(hub, influxdb1, mosquitto):
    publisher = Publisher(mosquitto.port)
    alarms = _client(mosquitto.port, "outage-sos")
    try:
        publisher.start()
        # Warm-up: the path into InfluxDB works (the hub created its database) before the outage.
        deadline = time.monotonic() + 30
        while sum(_influx_counts(influxdb1.url).values()) == 0:
            assert time.monotonic() < deadline, "no reading reached InfluxDB during the warm-up"
            time.sleep(0.2)
        time.sleep(WARMUP_S)

        influxdb1.stop()
        outage_started = time.monotonic()
        sos_latencies: list[float] = []
        peak = Counter()
        next_sos, press = outage_started + SOS_EVERY_S / 2, 0
        while (now := time.monotonic()) < outage_started + OUTAGE_S:
            if now >= next_sos:
                assert influxdb1.proc.poll() is not None, "InfluxDB must be down while the alarm is sent"
                press += 1
                latency = _send_sos(alarms, hub, press)
                sos_latencies.append(latency)
                assert latency <= SOS_MAX_S, f"SOS {press} took {latency:.3f} s during the InfluxDB outage"
                next_sos += SOS_EVERY_S
            stats = _healthz(hub)["telemetry"]
            for name in ("queue_depth", "spill_files", "spill_bytes"):
                peak[name] = max(peak[name], stats[name])
            time.sleep(0.25)
        during = _healthz(hub)
        outage_s = time.monotonic() - outage_started
    finally:
        if influxdb1.proc.poll() is not None:
            influxdb1.restart()  # the session's InfluxDB must come back whatever happened
    restarted = time.monotonic()
    try:
        time.sleep(1.0)  # a little load after the restart too
    finally:
        published = publisher.finish()
        alarms.loop_stop()
        alarms.disconnect()

    assert during["telemetry"]["retries_total"] > 0 and peak["spill_bytes"] > 0, during
    assert sos_latencies and len(sos_latencies) >= int(OUTAGE_S // SOS_EVERY_S)

    # Replay: the spill drains and every reading published is in InfluxDB, per device.
    counts: dict[str, int] = {}
    deadline = time.monotonic() + 90
    while True:
        health = _healthz(hub)
        stats = health["telemetry"]
        drained = stats["spill_files"] == 0 and stats["queue_depth"] == 0 and health["telemetry_lane"] == 0
        if drained:
            counts = _influx_counts(influxdb1.url)
            if sum(counts.values()) == published:
                break
        assert time.monotonic() < deadline, (
            f"not replayed after 90 s: published {published}, in InfluxDB {sum(counts.values())}, {stats}")
        time.sleep(0.25)
    replayed_s = time.monotonic() - restarted

    print(f"\noutage {outage_s:.1f} s; published {published} readings at QoS 1 "
          f"({DEVICES} devices x {RATE_PER_DEVICE}/s, {publisher.late_ticks} late ticks); "
          f"in InfluxDB {sum(counts.values())}; replay done {replayed_s:.1f} s after the restart\n"
          f"during the outage: peak spill {peak['spill_bytes'] / 1024:.0f} KiB in {peak['spill_files']:.0f} "
          f"file(s), peak queue {peak['queue_depth']:.0f}, retries {during['telemetry']['retries_total']:.0f}\n"
          f"SOS during the outage: {len(sos_latencies)} presses, API latency max {max(sos_latencies) * 1000:.0f} ms,"
          f" mean {sum(sos_latencies) / len(sos_latencies) * 1000:.0f} ms")

    assert published >= DEVICES * RATE_PER_DEVICE * (OUTAGE_S + WARMUP_S) * 0.9
    assert counts == dict(publisher.per_device), "per-device counts in InfluxDB differ from what was published"
    final = _healthz(hub)["telemetry"]
    assert final["dropped_total"] == final["rejected_total"] == final["invalid_total"] == 0, final
    assert final["spill_bytes"] == 0
    assert not list((hub.workdir / "spill").glob("*.lp"))
    # Every SOS was recorded exactly once, and its point reached InfluxDB too (after the replay).
    events = hub.api.get("/api/events", params={"device_key": f"ch:{SOS_ID}", "kind": "sos"}).json()
    assert sorted(e["detail"]["press"] for e in events) == list(range(1, len(sos_latencies) + 1))
    assert _influx_sos_count(influxdb1.url) == len(sos_latencies)
