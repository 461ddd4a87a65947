"""Measure telemetry throughput: encoding, enqueue cost, and end-to-end lines/s into a real InfluxDB.

    python bench/telemetry_writer.py                              # encoding and enqueue only
    python bench/telemetry_writer.py --v1 http://127.0.0.1:8086   # plus InfluxDB 1.x end to end

The baseline is influxdb-client's Point encoding, measured in the same run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from device_drivers.model import Reading
from hub.telemetry import line_protocol as lp
from hub.telemetry.influx_writer import TelemetryWriter
from hub.telemetry.sinks import InfluxV1Sink

TAGS = {"site": "s1", "room": "101", "resident": "r-17", "kind": "wristband"}
METRICS = ("heart_rate", "spo2", "battery", "temperature", "steps")


def sample_readings(n: int, devices: int = 500) -> list[Reading]:
    """Return n readings spread over `devices` devices and five metrics, 1 ms apart."""
    t0 = time.time() - 3600
    return [Reading(f"dev-{i % devices}", METRICS[i % 5], 50.0 + (i % 97) * 0.5, "", t0 + i / 1000, "native")
            for i in range(n)]


def bench_encode(readings: list[Reading]) -> dict[str, float]:
    """Return lines/s for our encoder and for influxdb-client's Point (the baseline)."""
    from influxdb_client import Point, WritePrecision

    cache = lp.TagCache()
    started = time.perf_counter()
    for r in readings:
        lp.encode_reading(r, TAGS, cache)
    ours = len(readings) / (time.perf_counter() - started)
    subset = readings[: max(1, len(readings) // 10)]
    started = time.perf_counter()
    for r in subset:
        point = Point(lp.measurement_for(r.metric)).tag("device", r.device_key).tag("source", r.source)
        for k, v in TAGS.items():
            point = point.tag(k, v)
        point.field(r.metric, r.value).time(round(r.ts * 1000), WritePrecision.MS).to_line_protocol()
    baseline = len(subset) / (time.perf_counter() - started)
    return {"encode_lines_per_s": ours, "point_lines_per_s": baseline, "encode_ratio": ours / baseline}


def bench_enqueue(readings: list[Reading]) -> dict[str, float]:
    """Return the mean enqueue cost in microseconds (writer not started: the pure caller cost)."""
    with tempfile.TemporaryDirectory() as tmp:
        writer = TelemetryWriter(_NullSink(), spill_dir=Path(tmp), queue_lines=len(readings) + 1)
        started = time.perf_counter()
        for r in readings:
            writer.enqueue_reading(r, TAGS)
        return {"enqueue_us": (time.perf_counter() - started) / len(readings) * 1e6}


def bench_v1(url: str, readings: list[Reading], database: str = "carehub_bench") -> dict[str, float]:
    """Return end-to-end lines/s through the writer into InfluxDB 1.x (encode, gzip, POST, ingest)."""
    with tempfile.TemporaryDirectory() as tmp:
        writer = TelemetryWriter(InfluxV1Sink(url, database=database), spill_dir=Path(tmp),
                                 queue_lines=len(readings) + 1, flush_interval=0.05)
        writer.start()
        started = time.perf_counter()
        for r in readings:
            writer.enqueue_reading(r, TAGS)
        while writer.stats()["written_total"] + writer.stats()["rejected_total"] < len(readings):
            if time.perf_counter() - started > 300:
                break
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
        stats = writer.stats()
        writer.stop()
    return {"v1_lines_per_s": stats["written_total"] / elapsed, "v1_batches": stats["batches_total"],
            "v1_spilled_bytes": stats["spill_bytes"]}


class _NullSink:
    name = "null"

    def send(self, lines: list[str]) -> None:
        pass

    def close(self) -> None:
        pass


def main() -> None:
    """Print the figures for docs/telemetry.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--v1", default="", help="InfluxDB 1.x base URL for the end-to-end run")
    args = parser.parse_args()
    readings = sample_readings(args.n)
    results = {**bench_encode(readings), **bench_enqueue(readings)}
    if args.v1:
        results.update(bench_v1(args.v1, readings))
    for key, value in results.items():
        print(f"{key:>22}: {value:,.2f}")


if __name__ == "__main__":
    main()
