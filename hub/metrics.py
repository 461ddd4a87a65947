"""Prometheus metrics for ingestion, lanes and device health."""

from __future__ import annotations

import threading

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
PROFILE_RELOADS = Counter(
    "carehub_profile_reloads_total", "Reloads of the declarative profile directories by result", ["result"]
)
PROFILES_LOADED = Gauge("carehub_profiles_loaded", "Declarative profiles currently active")
LATCHES_ENDED = Counter(
    "carehub_latches_ended_total",
    "Latched device conditions ended without a restore (expired, or released by a closed alert)", ["how"],
)
UNMAPPED_FIELDS = Counter(
    "carehub_unmapped_fields_total",
    "Payload fields no rule of their profile maps (not stored), by profile and field",
    ["profile", "field"],
)
UNDECODED_MESSAGES = Counter(
    "carehub_undecoded_messages_total", "MQTT messages on topics no profile decodes, by topic root", ["root"]
)
OTHER_LABEL = "_other"


class CappedLabels:
    """Counter children for a label whose values come from devices: at most `cap` values per group.

    Field names and topic roots are whatever devices send; a label per value would let one chatty or
    hostile device grow the metrics without bound, so values past the cap count under `_other`.
    """

    def __init__(self, counter: Counter, cap: int) -> None:
        self.counter = counter
        self.cap = cap
        self._children: dict[tuple[str, ...], object] = {}
        self._per_group: dict[tuple[str, ...], int] = {}
        self._lock = threading.Lock()

    def child(self, *labels: str):
        """Return the counter child for `labels` (the last one capped per group of the others)."""
        found = self._children.get(labels)
        if found is not None:
            return found
        with self._lock:
            found = self._children.get(labels)
            if found is None:
                group = labels[:-1]
                if self._per_group.get(group, 0) >= self.cap:
                    return self._children.get((*group, OTHER_LABEL)) or self._add((*group, OTHER_LABEL))
                self._per_group[group] = self._per_group.get(group, 0) + 1
                found = self._add(labels)
        return found

    def _add(self, labels: tuple[str, ...]):
        child = self._children[labels] = self.counter.labels(*labels)
        return child
SHARDS_HELD = Gauge("carehub_shards_held", "Shards this hub holds a lease on")
SHARD_HELD = Gauge("carehub_shard_held", "1 while this hub holds the shard's lease", ["shard"])
SHARD_LEASE_AGE = Gauge("carehub_shard_lease_age_seconds", "How long the shard's current holder has held it",
                        ["shard"])
SHARD_TAKEOVERS = Gauge("carehub_shard_takeovers", "Times a hub took the shard over from a holder whose lease ran out",
                        ["shard"])
FORWARDED = Counter("carehub_forwarded_total",
                    "Messages received outside MQTT and handed to the shard that owns the device", ["shard"])
FORWARD_FALLBACKS = Counter("carehub_forward_fallbacks_total",
                            "Forwards the broker did not take in time: the receiving hub handled them itself")
LEASES_LOST = Counter("carehub_leases_lost_total", "Leases this hub lost unrenewed (its shard's work stopped)")
