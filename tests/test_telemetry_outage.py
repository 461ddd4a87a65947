"""Acceptance: InfluxDB 1.x goes away for 60 s under steady load; afterwards every reading is there, in order.

The test owns its InfluxDB (it stops and restarts it) so the session server stays untouched.
CAREHUB_TELEMETRY_OUTAGE_S shortens the outage for quick local runs; CI uses the default 60 s.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from device_drivers.model import Reading
from hub.telemetry import InfluxV1Sink, TelemetryWriter
from tests import servers

OUTAGE_S = float(os.environ.get("CAREHUB_TELEMETRY_OUTAGE_S", "60"))
RATE_PER_S = 300
DB = "outage"


@pytest.fixture(scope="module")
def own_influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    """An InfluxDB 1.x this module may stop and restart."""
    server = servers.start_influxdb1(tmp_path_factory.mktemp("influxdb1-outage"))
    yield server
    server.stop()


class Recording:
    """Wraps a sink and records the first and last timestamp of each accepted batch."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.batches = inner, inner.name, []

    def send(self, lines: list[str]) -> None:
        self.inner.send(lines)
        self.batches.append((int(lines[0].rsplit(" ", 1)[1]), int(lines[-1].rsplit(" ", 1)[1])))

    def close(self) -> None:
        self.inner.close()


class Producer(threading.Thread):
    """Enqueues heart-rate readings at a steady rate with strictly increasing timestamps."""

    def __init__(self, writer: TelemetryWriter) -> None:
        super().__init__(daemon=True)
        self.writer, self.produced, self.costs = writer, 0, []
        self.halt = threading.Event()
        self.t0 = time.time() - 600

    def run(self) -> None:
        started = time.monotonic()
        while not self.halt.is_set():
            due = int((time.monotonic() - started) * RATE_PER_S)
            while self.produced < due:
                i = self.produced
                reading = Reading(f"wb-{i % 10}", "heart_rate", float(i), "bpm", self.t0 + i / 1000, "native")
                t = time.perf_counter()
                self.writer.enqueue_reading(reading, {"site": "s1"})
                self.costs.append(time.perf_counter() - t)
                self.produced += 1
            time.sleep(0.01)


def influx_count(url: str) -> int:
    body = httpx.get(f"{url}/query", params={"db": DB, "q": "SELECT count(heart_rate) FROM vitals"}).json()
    series = body["results"][0].get("series")
    return series[0]["values"][0][1] if series else 0


def wait_until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.timeout(OUTAGE_S + 120)
def test_outage_spills_then_replays_everything_in_order(own_influxdb, tmp_path):
    spill_dir = tmp_path / "spill"
    sink = Recording(InfluxV1Sink(own_influxdb.url, database=DB, timeout=2.0))
    writer = TelemetryWriter(sink, spill_dir=spill_dir, batch_lines=5000, flush_interval=0.2,
                             spill_segment_bytes=256 * 1024, retry_base=0.2, retry_max=2.0)
    writer.start()
    producer = Producer(writer)
    producer.start()
    time.sleep(3)
    assert writer.stats()["written_total"] > 0

    own_influxdb.stop()
    deadline = time.monotonic() + OUTAGE_S
    peak_queue = peak_files = 0.0
    while time.monotonic() < deadline:
        stats = writer.stats()
        peak_queue = max(peak_queue, stats["queue_depth"])
        peak_files = max(peak_files, stats["spill_files"])
        time.sleep(0.25)
    during = writer.stats()
    assert during["spill_bytes"] > 0 and during["retries_total"] > 0
    assert peak_files >= 2 if OUTAGE_S >= 30 else peak_files >= 1
    assert peak_queue < 2 * RATE_PER_S  # batches go to disk: memory stays small during the outage

    own_influxdb.restart()
    time.sleep(3)
    producer.halt.set()
    producer.join()
    produced = producer.produced
    wait_until(lambda: writer.stats()["written_total"] == produced and writer.stats()["spill_files"] == 0, 60)
    writer.stop()

    assert produced >= RATE_PER_S * (OUTAGE_S + 5)
    assert influx_count(own_influxdb.url) == produced
    stats = writer.stats()
    assert stats["dropped_total"] == stats["rejected_total"] == stats["invalid_total"] == 0
    assert list(spill_dir.glob("*.lp")) == []
    flat = [ts for first, last in sink.batches for ts in (first, last)]
    assert flat == sorted(flat), "replay must be oldest first, before newer data"
    assert statistics.median(producer.costs) < 1e-3  # never waits on the dead server (would be seconds)
