"""Telemetry to InfluxDB (v1 /write or v2 API) or, with no InfluxDB configured, a local SQLite store.

See docs/telemetry.md for the schema, the writer's guarantees and measured throughput.
"""

from hub.telemetry.influx_writer import TelemetryWriter, make_telemetry_writer
from hub.telemetry.local_store import LocalStore, LocalStoreSink
from hub.telemetry.sinks import InfluxV1Sink, InfluxV2Sink, RejectedError, RetryableError

__all__ = [
    "InfluxV1Sink",
    "InfluxV2Sink",
    "LocalStore",
    "LocalStoreSink",
    "RejectedError",
    "RetryableError",
    "TelemetryWriter",
    "make_telemetry_writer",
]
