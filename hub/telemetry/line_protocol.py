"""The telemetry schema and its InfluxDB line-protocol encoding (precision: milliseconds).

Schema (documented in docs/telemetry.md):
- one measurement per domain, chosen from the reading's metric (`MEASUREMENT_BY_METRIC`, else `sensor`);
  the field key is the metric name and the value is always a float;
- `device_events`: one point per DeviceEvent, tags `kind` and `state`, field `value=1` (the device's own
  `kind` tag becomes `device_kind` there);
- `device_status`: one point per DeviceStatus, tags `availability` (and `reason`), field `online` 1/0;
- `accel`: optional per-batch summaries of wrist acceleration (`accel_samples`, `accel_rms_g`,
  `accel_peak_g`);
- tags on every point: `device` (device_key), `source` (driver), plus the hub's per-device tags
  (`site`, `room`, `resident`, `kind`, ...). Empty tag values are left out (line protocol forbids them).

Encoding is plain string formatting: no per-line objects, because it runs for every reading.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from device_drivers.model import AccelBatch, Availability, DeviceEvent, DeviceStatus, EventState, Reading

PRECISION = "ms"

MEASUREMENT_BY_METRIC: dict[str, str] = {
    **dict.fromkeys(
        ("heart_rate", "spo2", "bp_systolic", "bp_diastolic", "body_temperature", "respiration_rate",
         "hrv", "blood_glucose"),
        "vitals",
    ),
    **dict.fromkeys(
        ("smoke_density", "smoke_density_dbm", "gas_lel", "gas_density", "co_ppm", "co2_ppm",
         "temperature", "humidity", "device_temperature", "illuminance", "pressure"),
        "environment",
    ),
    **dict.fromkeys(("battery", "linkquality", "rssi", "snr", "voltage", "signal"), "device"),
    **dict.fromkeys(
        ("steps", "presence", "occupancy", "motion", "calories", "distance", "sleep"), "activity"
    ),
    **dict.fromkeys(("latitude", "longitude", "altitude", "accuracy"), "location"),
}
DEFAULT_MEASUREMENT = "sensor"
EVENTS_MEASUREMENT = "device_events"
STATUS_MEASUREMENT = "device_status"
ACCEL_MEASUREMENT = "accel"

# Line protocol escaping: measurement escapes comma and space; tag keys/values and field keys also
# escape '='. Newlines cannot be represented anywhere in a line, so they become spaces.
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\ ", "\r": r"\ "})
_KEY_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "=": r"\=", "\n": r"\ ", "\r": r"\ "})
_STRING_ESCAPES = str.maketrans({'"': r"\"", "\\": r"\\", "\n": " ", "\r": " "})
_MAX_TAG_CACHE = 65_536


def escape_measurement(name: str) -> str:
    """Escape a measurement name for line protocol."""
    return name.translate(_MEASUREMENT_ESCAPES)


def escape_key(text: str) -> str:
    """Escape a tag key, tag value or field key for line protocol."""
    # A trailing backslash would escape the separator that follows it.
    return text.translate(_KEY_ESCAPES).rstrip("\\")


def escape_string_field(text: str) -> str:
    """Quote and escape a string field value for line protocol."""
    return f'"{text.translate(_STRING_ESCAPES)}"'


def measurement_for(metric: str) -> str:
    """Return the measurement a metric belongs to."""
    return MEASUREMENT_BY_METRIC.get(metric, DEFAULT_MEASUREMENT)


def ts_ms(ts: float) -> int:
    """Return seconds since the epoch as integer milliseconds (the schema's precision)."""
    return round(ts * 1000.0)


def format_float(value: float) -> str | None:
    """Return a float field value, or None for NaN/inf which line protocol cannot carry."""
    value = float(value)
    if math.isfinite(value):
        return repr(value)
    return None


class TagCache:
    """Escaped `,k=v,...` tag suffixes per (device, source, tags), so encoding a reading is one f-string."""

    def __init__(self) -> None:
        self._cache: dict[tuple, str] = {}
        # The hub passes the same tags dict (DeviceRef.tags) for every reading of a device: a hit by
        # identity skips building and hashing a tuple of its items. The entry holds the dict, so its
        # id cannot be reused while cached; a tags dict is never changed after it is built.
        self._by_identity: dict[tuple[str, str, int], tuple[Mapping[str, str] | None, str]] = {}

    def tags(self, device_key: str, source: str, tags: Mapping[str, str] | None) -> str:
        """Return the escaped tag suffix for a device, its driver and the hub's tags."""
        identity = (device_key, source, id(tags))
        hit = self._by_identity.get(identity)
        if hit is not None and hit[0] is tags:
            return hit[1]
        key = (device_key, source, tuple(tags.items()) if tags else None)
        cached = self._cache.get(key)
        if cached is None:
            cached = _build_tags(device_key, source, tags)
            if len(self._cache) >= _MAX_TAG_CACHE:
                self._cache.clear()
            self._cache[key] = cached
        if len(self._by_identity) >= _MAX_TAG_CACHE:
            self._by_identity.clear()
        self._by_identity[identity] = (tags, cached)
        return cached


def _build_tags(device_key: str, source: str, tags: Mapping[str, str] | None) -> str:
    merged = {"device": device_key, "source": source}
    if tags:
        for k, v in tags.items():
            if k not in ("device", "source"):
                merged[k] = str(v)
    parts = []
    for k in sorted(merged):  # InfluxDB prefers sorted tag keys
        value = escape_key(merged[k])
        key = escape_key(k)
        if value and key:
            parts.append(f",{key}={value}")
    return "".join(parts)


_DEFAULT_CACHE = TagCache()


def encode_reading(reading: Reading, tags: Mapping[str, str] | None = None,
                   cache: TagCache = _DEFAULT_CACHE) -> str | None:
    """Return the line for a reading, or None when its value is NaN/inf."""
    value = float(reading.value)
    if not math.isfinite(value):
        return None
    parts = _METRIC_PARTS.get(reading.metric)
    if parts is None:
        parts = _metric_parts(reading.metric)
    return (f"{parts[0]}{cache.tags(reading.device_key, reading.source, tags)} "
            f"{parts[1]}{value!r} {round(reading.ts * 1000.0)}")


_METRIC_PARTS: dict[str, tuple[str, str]] = {}


def _metric_parts(metric: str) -> tuple[str, str]:
    """Return (measurement, escaped field key with its '=') for a metric, cached."""
    parts = (MEASUREMENT_BY_METRIC.get(metric, DEFAULT_MEASUREMENT), escape_key(metric) + "=")
    if len(_METRIC_PARTS) < _MAX_TAG_CACHE:
        _METRIC_PARTS[metric] = parts
    return parts


def encode_event(event: DeviceEvent, tags: Mapping[str, str] | None = None,
                 cache: TagCache = _DEFAULT_CACHE) -> str:
    """Return the line for a device event: kind and state as tags, value=1."""
    state = event.state.value if isinstance(event.state, EventState) else str(event.state)
    if tags and "kind" in tags:
        # `kind` here is the event's kind; a repeated tag key makes InfluxDB refuse the line, so the
        # device's kind (a per-device tag) is carried as `device_kind` on event points.
        tags = {("device_kind" if k == "kind" else k): v for k, v in tags.items()}
    return (f"{EVENTS_MEASUREMENT}{cache.tags(event.device_key, event.source, tags)}"
            f",kind={escape_key(str(event.kind))},state={escape_key(state)} value=1.0 {ts_ms(event.ts)}")


def encode_status(status: DeviceStatus, tags: Mapping[str, str] | None = None,
                  cache: TagCache = _DEFAULT_CACHE) -> str:
    """Return the line for a device status: availability (and reason) as tags, online 1/0."""
    online = 1.0 if status.availability == Availability.ONLINE else 0.0
    availability = str(status.availability)
    extra = f",availability={escape_key(availability)}"
    reason = escape_key(status.reason[:64]) if status.reason else ""
    if reason:
        extra += f",reason={reason}"
    return (f"{STATUS_MEASUREMENT}{cache.tags(status.device_key, status.source, tags)}{extra}"
            f" online={online!r} {ts_ms(status.ts)}")


def encode_accel_summary(batch: AccelBatch, tags: Mapping[str, str] | None = None,
                         cache: TagCache = _DEFAULT_CACHE) -> str | None:
    """Return one summary line for an acceleration block (raw samples stay out of InfluxDB)."""
    if not len(batch.t):
        return None
    magnitude = np.linalg.norm(np.asarray(batch.xyz, dtype=np.float64), axis=1)
    rms = float(np.sqrt(np.mean(magnitude * magnitude)))
    peak = float(magnitude.max())
    if not (math.isfinite(rms) and math.isfinite(peak)):
        return None
    return (f"{ACCEL_MEASUREMENT}{cache.tags(batch.device_key, batch.source, tags)}"
            f" accel_samples={float(len(batch.t))!r},accel_rms_g={rms!r},accel_peak_g={peak!r}"
            f" {ts_ms(batch.ts)}")
