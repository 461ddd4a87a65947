"""Prometheus metrics for ingestion, lanes and device health."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("carehub_ingest_messages_total", "Transport messages received", ["transport", "profile"])
REJECTED = Counter(
    "carehub_ingest_rejected_total", "Messages rejected by reason and source", ["reason", "source"]
)
CANONICAL = Counter("carehub_canonical_messages_total", "Canonical messages decoded", ["type"])
ALARMS_RECORDED = Counter("carehub_alarms_recorded_total", "Alarm events durably recorded", ["kind"])
ALARM_REDELIVERIES = Counter(
    "carehub_alarm_redeliveries_total", "Broker redeliveries of alarms already recorded (not re-recorded)"
)
TELEMETRY_LANE_DROPS = Counter(
    "carehub_telemetry_lane_dropped_total", "Non-alarm messages dropped because the telemetry lane was full"
)
LANE_DEPTH = Gauge("carehub_lane_depth", "Items waiting in an ingest lane", ["lane"])
UNKNOWN_DEVICE_MESSAGES = Counter(
    "carehub_unknown_device_messages_total", "Messages from devices not in the registry (listed as pending)"
)
EVENT_LATENCY = Histogram(
    "carehub_receive_to_event_seconds",
    "From receipt by the hub to the event being recorded/processed",
    ["lane"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
DEVICES_OFFLINE = Gauge("carehub_devices_offline", "Registered devices currently offline")
