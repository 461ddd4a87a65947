"""The embedded default: no InfluxDB configured, telemetry kept in data_dir/telemetry.db for history."""

from __future__ import annotations

import time

from device_drivers.model import Availability, DeviceEvent, DeviceStatus, EventKind, EventState, Reading
from hub.config import Settings
from hub.telemetry import LocalStore, make_telemetry_writer

T0 = 1_700_000_000.0


def test_local_writer_keeps_history_and_latest(tmp_path):
    t0 = float(int(time.time()) - 3600)  # recent: older rows would be pruned by the retention
    writer = make_telemetry_writer(Settings(data_dir=tmp_path, influx_url="", influx_flush_interval=0.05))
    store = writer.local_store
    assert store is not None and store.path == tmp_path / "telemetry.db"
    writer.start()
    for i in range(600):
        writer.enqueue_reading(Reading("wb-1", "heart_rate", 60.0 + i % 30, "bpm", t0 + i, "native"),
                               {"site": "s1"})
        writer.enqueue_reading(Reading("wb-1", "battery", 100.0 - i / 10, "%", t0 + i, "native"))
    writer.enqueue_reading(Reading("smk-1", "smoke_density", 0.2, "dB/m", t0, "zigbee2mqtt"))
    writer.enqueue_event(DeviceEvent("smk-1", EventKind.SMOKE, EventState.ACTIVE, t0 + 5, "zigbee2mqtt"))
    writer.enqueue_status(DeviceStatus("smk-1", Availability.OFFLINE, t0 + 9, "zigbee2mqtt", "lost"))
    deadline = time.monotonic() + 10
    while writer.stats()["written_total"] < 1203 and time.monotonic() < deadline:
        time.sleep(0.05)

    # Queries work while the writer is running (separate read connections, WAL).
    assert store.history("wb-1", "heart_rate", limit=3) == [
        (t0 + 597, 87.0), (t0 + 598, 88.0), (t0 + 599, 89.0)]
    assert store.history("wb-1", "heart_rate", since=t0 + 10, until=t0 + 12) == [
        (t0 + 10, 70.0), (t0 + 11, 71.0), (t0 + 12, 72.0)]
    assert len(store.history("wb-1", "battery", limit=10_000)) == 600
    assert store.latest("wb-1") == {"battery": (t0 + 599, 100.0 - 599 / 10), "heart_rate": (t0 + 599, 89.0)}
    assert store.latest("smk-1") == {"event_smoke": (t0 + 5, 1.0), "online": (t0 + 9, 0.0),
                                     "smoke_density": (t0, 0.2)}
    assert store.history("nobody", "heart_rate") == []
    writer.stop()
    assert writer.stats()["written_total"] == 1203
    assert list((tmp_path / "spill").glob("*.lp")) == []


def test_retention_prunes_old_rows_and_a_reopened_store_keeps_the_rest(tmp_path):
    store = LocalStore(tmp_path / "telemetry.db", retention_s=3600)
    store.write([("d", "temperature", round((T0 + i * 60) * 1000), 20.0 + i) for i in range(120)])
    store.write([("d", "temperature", round(T0 * 1000), 99.0)])  # same device/metric/ms replaces
    assert store.count() == 120
    assert store.history("d", "temperature", limit=1, until=T0) == [(T0, 99.0)]
    assert store.prune(now=T0 + 120 * 60) == 60
    store.close()
    reopened = LocalStore(tmp_path / "telemetry.db", retention_s=3600)
    assert reopened.count() == 60
    assert reopened.history("d", "temperature", limit=1000)[0] == (T0 + 60 * 60, 80.0)
    assert reopened.latest("d") == {"temperature": (T0 + 119 * 60, 139.0)}
    assert reopened.prune(now=T0 + 10 * 86400) == 60
    assert reopened.latest("d") == {}
