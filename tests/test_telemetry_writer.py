"""The telemetry writer against real servers (InfluxDB 1.x /write, VictoriaMetrics v2 API) and its limits."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY, generate_latest

from device_drivers.model import Availability, DeviceEvent, DeviceStatus, EventKind, EventState, Reading
from hub.config import Settings
from hub.telemetry import (
    InfluxV1Sink,
    InfluxV2Sink,
    LocalStoreSink,
    RetryableError,
    TelemetryWriter,
    make_telemetry_writer,
)
from hub.telemetry.spill import Spill
from tests import servers


def readings(n: int, *, start: int = 0, device: str = "wb", t0: float | None = None) -> list[Reading]:
    t0 = t0 if t0 is not None else time.time() - 3600
    return [Reading(f"{device}-{i % 7}", "heart_rate", 60.0 + i % 40, "bpm", t0 + i / 1000, "native")
            for i in range(start, start + n)]


def influx_count(url: str, db: str, measurement: str = "vitals", field: str = "heart_rate") -> int:
    query = f"SELECT count({field}) FROM {measurement}"
    body = httpx.get(f"{url}/query", params={"db": db, "q": query}).json()
    series = body["results"][0].get("series")
    return series[0]["values"][0][1] if series else 0


def wait_until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


class Recording:
    """Wraps a sink and records the first and last timestamp of every accepted batch, to prove order."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.batches = inner, inner.name, []

    def send(self, lines: list[str]) -> None:
        self.inner.send(lines)
        self.batches.append((int(lines[0].rsplit(" ", 1)[1]), int(lines[-1].rsplit(" ", 1)[1]), len(lines)))

    def close(self) -> None:
        self.inner.close()

    def in_order(self) -> bool:
        flat = [ts for first, last, _ in self.batches for ts in (first, last)]
        return flat == sorted(flat)


class Failing:
    """A sink that is down: every send raises RetryableError."""

    name = "down"

    def __init__(self) -> None:
        self.calls = 0

    def send(self, lines: list[str]) -> None:
        self.calls += 1
        raise RetryableError("connection refused")

    def close(self) -> None:
        pass


def test_v1_readings_events_and_statuses_land_in_influxdb1(influxdb1, tmp_path):
    db = "w_v1"
    writer = TelemetryWriter(InfluxV1Sink(influxdb1.url, database=db), spill_dir=tmp_path / "spill",
                             batch_lines=1000, flush_interval=0.1)
    writer.start()
    for r in readings(12_345):
        writer.enqueue_reading(r, {"site": "s1", "room": "r 1"})
    writer.enqueue_reading(Reading("wb-0", "heart_rate", float("nan"), "bpm", time.time(), "native"))
    writer.enqueue_event(DeviceEvent("sos-1", EventKind.SOS, EventState.ACTIVE, time.time(), "native"))
    writer.enqueue_status(DeviceStatus("sos-1", Availability.ONLINE, time.time(), "native"))
    writer.stop()
    stats = writer.stats()
    assert influx_count(influxdb1.url, db) == 12_345
    assert influx_count(influxdb1.url, db, "device_events", "value") == 1
    assert influx_count(influxdb1.url, db, "device_status", "online") == 1
    assert stats["written_total"] == 12_347
    assert stats["invalid_total"] == 1
    assert stats["batches_total"] >= 13  # ≤ 1000 lines each
    assert stats["dropped_total"] == stats["retries_total"] == stats["spill_files"] == 0


def test_v2_api_through_influxdb_client_lands_in_victoriametrics(victoriametrics, tmp_path):
    device = f"vm{uuid.uuid4().hex[:8]}"
    sink = InfluxV2Sink(victoriametrics.url, token="t", org="carehub", bucket="carehub")
    writer = TelemetryWriter(sink, spill_dir=tmp_path / "spill", batch_lines=5000, flush_interval=0.1)
    writer.start()
    for r in readings(7_000, device=device):
        writer.enqueue_reading(r, {"site": "s2"})
    writer.stop()
    assert writer.stats()["written_total"] == 7_000
    httpx.get(f"{victoriametrics.url}/internal/force_flush").raise_for_status()

    def exported() -> int:
        selector = f'{{__name__="vitals_heart_rate",site="s2",device=~"{device}-.*"}}'
        response = httpx.get(f"{victoriametrics.url}/api/v1/export", params={"match[]": selector})
        rows = [json.loads(line) for line in response.text.splitlines() if line]
        return sum(len(row["values"]) for row in rows)

    wait_until(lambda: exported() == 7_000, timeout=15)


def test_data_errors_are_counted_as_rejected_not_retried(influxdb1, tmp_path):
    db = "w_rejected"
    writer = TelemetryWriter(InfluxV1Sink(influxdb1.url, database=db), spill_dir=tmp_path / "spill",
                             batch_lines=100, flush_interval=0.05)
    writer.start()
    writer.enqueue_lines(["vitals,device=x heart_rate=1 1000", "vitals,device=x heart_rate=oops 2000"])
    wait_until(lambda: writer.stats()["rejected_total"] == 2)
    for r in readings(50):
        writer.enqueue_reading(r)
    writer.stop()
    stats = writer.stats()
    assert stats["retries_total"] == 0 and stats["spill_files"] == 0
    assert stats["written_total"] == 50
    assert influx_count(influxdb1.url, db) == 51  # InfluxDB keeps the good line of a partial write


def test_queue_is_bounded_and_enqueue_never_blocks(tmp_path):
    release = threading.Event()

    class Stuck:
        name = "stuck"

        def send(self, lines: list[str]) -> None:
            release.wait(30)

        def close(self) -> None:
            pass

    writer = TelemetryWriter(Stuck(), spill_dir=tmp_path / "spill", queue_lines=10_000, batch_lines=1000,
                             flush_interval=0.01)
    writer.start()
    batch = readings(50_000)
    started = time.perf_counter()
    for r in batch:
        writer.enqueue_reading(r)
    per_call = (time.perf_counter() - started) / len(batch)
    stats = writer.stats()
    assert stats["queue_depth"] <= 10_000
    assert stats["dropped_total"] >= 50_000 - 10_000 - 1000
    # Functional check (never waits on a stuck sink), not a speed target: blocking would cost seconds.
    assert per_call < 1e-3, f"enqueue took {per_call * 1e6:.1f} µs"
    writer.enqueue_lines(["m,device=x v=1 1"] * 20_000)
    assert writer.stats()["queue_depth"] <= 10_000
    release.set()
    writer.stop()


def test_outage_goes_to_spill_and_drops_only_at_the_spill_cap(tmp_path):
    sink = Failing()
    writer = TelemetryWriter(sink, spill_dir=tmp_path / "spill", batch_lines=500, flush_interval=0.01,
                             spill_max_bytes=200_000, spill_segment_bytes=50_000,
                             retry_base=0.05, retry_max=0.2)
    writer.start()
    for r in readings(1000):
        writer.enqueue_reading(r)
    wait_until(lambda: writer.stats()["queue_depth"] == 0)
    assert writer.stats()["dropped_total"] == 0 and writer.stats()["spill_files"] >= 1
    for r in readings(10_000, start=1000):
        writer.enqueue_reading(r)
    wait_until(lambda: writer.stats()["queue_depth"] == 0)
    time.sleep(0.5)
    writer.stop()
    stats = writer.stats()
    assert 0 < stats["spill_bytes"] <= 200_000
    assert stats["dropped_total"] > 0
    assert stats["retries_total"] >= 2 and sink.calls == stats["retries_total"]
    lines_on_disk = sum(p.read_text().count("\n") for p in (tmp_path / "spill").glob("*.lp"))
    assert lines_on_disk + stats["dropped_total"] == 11_000


def test_spill_survives_a_restart_and_is_replayed_first(influxdb1, tmp_path):
    db, spill = "w_restart", tmp_path / "spill"
    dead = InfluxV1Sink(f"http://127.0.0.1:{servers.free_port()}", database=db, timeout=1.0)
    first = TelemetryWriter(dead, spill_dir=spill, batch_lines=300, flush_interval=0.01,
                            spill_segment_bytes=20_000, retry_base=5.0)
    first.start()
    for r in readings(3_000):
        first.enqueue_reading(r)
    first.stop()
    assert first.stats()["written_total"] == 0
    segments = sorted(spill.glob("*.lp"))
    assert len(segments) >= 2
    with segments[-1].open("ab") as fh:  # a crash mid-append leaves a torn last line
        fh.write(b"vitals,device=torn heart_rate=1")

    sink = Recording(InfluxV1Sink(influxdb1.url, database=db))
    second = TelemetryWriter(sink, spill_dir=spill, batch_lines=1000, flush_interval=0.05)
    assert second.stats()["spill_files"] == len(segments)
    second.start()
    for r in readings(2_000, start=3_000):
        second.enqueue_reading(r)
    wait_until(lambda: second.stats()["written_total"] == 5_000)
    second.stop()
    assert influx_count(influxdb1.url, db) == 5_000
    assert sink.in_order()
    assert list(spill.glob("*.lp")) == []
    assert second.spill.torn_lines == 1


def test_prometheus_metrics_are_labelled_per_writer(tmp_path):
    a = TelemetryWriter(Failing(), spill_dir=tmp_path / "a", name="metrics-a", queue_lines=1)
    b = TelemetryWriter(Failing(), spill_dir=tmp_path / "b", name="metrics-b")
    a.enqueue_reading(readings(1)[0])
    a.enqueue_reading(readings(1)[0])
    text = generate_latest(REGISTRY).decode()
    assert 'carehub_telemetry_queue_depth{writer="metrics-a"} 1.0' in text
    assert 'carehub_telemetry_dropped_total{writer="metrics-a"} 1.0' in text
    assert 'carehub_telemetry_spill_bytes{writer="metrics-b"} 0.0' in text
    assert 'carehub_telemetry_written_total{writer="metrics-b"} 0.0' in text
    del a, b


@pytest.mark.parametrize(
    ("url", "api", "token", "expected"),
    [("", "auto", "", LocalStoreSink),
     ("http://127.0.0.1:8086", "auto", "", InfluxV1Sink),
     ("http://127.0.0.1:8086", "auto", "tok", InfluxV2Sink),
     ("http://127.0.0.1:8086", "v1", "tok", InfluxV1Sink),
     ("http://127.0.0.1:8086", "v2", "", InfluxV2Sink)],
)
def test_factory_picks_the_sink(tmp_path: Path, url, api, token, expected):
    settings = Settings(data_dir=tmp_path, influx_url=url, influx_api=api, influx_token=token,
                        influx_batch_lines=123)
    writer = make_telemetry_writer(settings)
    assert isinstance(writer.sink, expected)
    assert writer.batch_lines == 123
    assert writer.spill.directory == tmp_path / "spill"
    assert (writer.local_store is not None) == (expected is LocalStoreSink)
    writer.stop()  # never started: releases the sink


def test_spill_segments_are_ordered_rotated_and_a_vanished_one_is_skipped(tmp_path):
    spill = Spill(tmp_path, segment_bytes=10)
    for i in range(3):
        assert spill.append([f"m,device=d v={i} {i}"])
    assert spill.files == 3
    first, second = sorted(tmp_path.glob("*.lp"))[:2]
    first.unlink()
    path, lines = spill.oldest()
    assert path == second and lines == ["m,device=d v=1 1"]
    spill.remove(path)
    assert spill.oldest()[1] == ["m,device=d v=2 2"]  # the active segment is sealed and replayed
    assert Spill(tmp_path).files == 1  # a restart finds what is left

