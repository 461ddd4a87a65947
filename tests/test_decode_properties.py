"""Properties of every decoder (issue 11): garbage in, DecodeError or canonical messages out, nothing else;
every top-level field of a JSON object is either consumed by a rule of its profile or reported unmapped.

"Consumed" is what each decoder's own tables say it reads (docs/profiles.md "Unmapped fields"); the point
of the property is the converse: a key none of them knows — any random key — must come back in an
`UnmappedFields` message, never vanish. Receivers (Contact ID, SIA DC-09) are driven through their
public parse functions only.
"""

from __future__ import annotations

import json
import math
import os
import tomllib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_drivers import contact_id, sia_dc09
from device_drivers.model import (
    AccelBatch,
    Availability,
    DecodeError,
    DeviceEvent,
    DeviceInfo,
    DeviceStatus,
    EventKind,
    EventState,
    Reading,
    UnmappedFields,
)
from device_drivers.profiles import ctwing, ha_discovery, native, nbiot_fields, onenet, watch, zigbee2mqtt
from device_drivers.profiles.builtin import EXAMPLES_DIR, build_profiles, decode_http_push
from device_drivers.unmapped import MAX_UNMAPPED, normalize

RX = 1_750_077_045.0
IMEI = "865067123456785"
HA_STATE = "esp/kitchen/state"
HA_CONFIG = ("homeassistant/binary_sensor/esp1/smoke/config", json.dumps({
    "device_class": "smoke", "state_topic": HA_STATE, "value_template": "{{ value_json.smoke }}",
    "payload_on": True, "payload_off": False, "device": {"identifiers": ["esp1"]}}).encode())
ACME = tomllib.loads((EXAMPLES_DIR / "acme_wristband.toml").read_text(encoding="utf-8"))


def _acme_known() -> frozenset[str]:
    """Top-level keys the sample declarative profile reads, from its file (not from its code)."""
    paths = [r["field"] for r in ACME.get("readings", ())] + [e["field"] for e in ACME.get("events", ())]
    paths += [s["field"] for s in ACME.get("status", ()) if "field" in s and "topic" not in s]
    paths += [ACME[k] for k in ("time_field", "selftest_field", "records_field", "device_field") if k in ACME]
    paths += ACME.get("ignore", [])
    return frozenset(p.split(".")[0] for p in paths)


def _watch_known(key: str) -> bool:
    folded = normalize(key)
    return folded in watch.FIELDS or folded in watch.LAT_KEYS or folded in watch.LON_KEYS or any(
        folded in table for table in (watch.CELL_IDS, watch.BP_KEYS, watch.WORN_KEYS, watch.SOURCE_KEYS,
                                      watch.LOCATION_OBJECTS, watch.BOOKKEEPING)) or folded in ("rssi", "csq")


def _nbiot_known(key: str) -> bool:
    folded = normalize(key)
    return folded == "alarmstatus" or key in nbiot_fields.TUYA_STATUS or key in nbiot_fields.TUYA_FLAGS or (
        key in ("battery_state", "muffling", "self_checking")) or any(
        folded in table for table in (nbiot_fields.READINGS, nbiot_fields.VOLTAGES, nbiot_fields.SIGNALS,
                                      nbiot_fields.CELL_IDS, nbiot_fields.BOOKKEEPING)) or folded == "csq"


Z2M_KNOWN = frozenset(zigbee2mqtt._STATE_KEYS) | zigbee2mqtt.CONSUMED
# topic -> does the decoder consume this top-level key (given its value)? Topics absent here decode device
# descriptions or availability consumed as a whole (z2m bridge, HA discovery configs): no field is data.
KNOWN = {
    "carehub/v1/wb-1/telemetry": lambda k, v: k in native.CHANNEL_KEYS["telemetry"],
    "carehub/v1/wb-1/event": lambda k, v: k in native.CHANNEL_KEYS["event"],
    "carehub/v1/wb-1/status": lambda k, v: k in native.CHANNEL_KEYS["status"],
    "carehub/v1/wb-1/accel": lambda k, v: k in native.CHANNEL_KEYS["accel"],
    "zigbee2mqtt/room/smoke": lambda k, v: k in Z2M_KNOWN,
    HA_STATE: lambda k, v: k == "smoke",
    "tele/tasmota_1/SENSOR": lambda k, v: k in ha_discovery.TASMOTA_SENSOR_KEYS or type(v) is dict,
    "tele/tasmota_1/STATE": lambda k, v: k in ha_discovery.TASMOTA_STATE_KEYS,
    "ctwing/15012345": lambda k, v: k in ctwing.ENVELOPE_KEYS,
    "$sys/pid/dev/thing/property/post": lambda k, v: k in onenet.ONEJSON_KEYS,
    f"watch/{IMEI}/up": lambda k, v: _watch_known(k),
    "acme/careband/CB3-1/up": lambda k, v: k in _acme_known(),
}
TOPICS = [*KNOWN, "zigbee2mqtt/room/smoke/availability", "zigbee2mqtt/room/sos/action", "zigbee2mqtt/bridge/devices",
          "zigbee2mqtt/bridge/event", HA_CONFIG[0], "homeassistant/sensor/esp1/bat/config", "tele/tasmota_1/LWT",
          "$sys/pid/dev/thing/event/post", "acme/careband/CB3-1/lwt"]

# realistic keys of every profile, vendor spellings included, mixed with random ones below
REALISTIC = sorted({
    *native.CHANNEL_KEYS["telemetry"], *native.CHANNEL_KEYS["event"], *native.CHANNEL_KEYS["status"], "t0", "hz",
    "xyz", *Z2M_KNOWN, "sensitivity", "buzzer", "IMEI", "imei", "timeStamps", "status", "num_datas", "data",
    "heartRate", "hr", "pulse", "spo2", "SpO2", "bloodOxygen", "blood_oxygen", "oxygen", "bp", "bloodPressure",
    "sbp", "dbp", "systolic", "diastolic", "highPressure", "lowPressure", "lat", "lon", "lng", "latitude",
    "longitude", "location", "gps", "lbs", "locationType", "accuracy", "MCC", "MNC", "LAC", "CID", "mcc", "cid",
    "rssi", "csq", "wearing", "signalGSM", "battery", "step", "workingMode", "messageType", "deviceId", "productId",
    "timestamp", "payload", "serviceData", "tenantId", "eventType", "Alarm_Status", "Battery_Level", "RSRP",
    "SNR", "CSQ", "ECL", "PCI", "cellId", "smoke_sensor_status", "self_checking", "params", "id", "version",
    "value", "time", "Time", "Wifi", "Signal", "AM2301", "Temperature", "TempUnit", "Uptime", "POWER", "smoke",
    "sn", "t", "alarm", "rec", "strap_open", "kind",
})
SCALARS = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10)
    | st.sampled_from(["SOS", "FALL DOWN", "online", "alarm", "normal", "120/80", "0x1A2B", "22.5N", "GPS",
                       "LBS", "dataReport", "1", "", "16/06/2025 12:30:45", IMEI])
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(REALISTIC) | st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)
KEYS = st.sampled_from(REALISTIC) | st.text(min_size=1, max_size=10)
OBJECTS = st.dictionaries(KEYS, VALUES, max_size=12)
MESSAGE_TYPES = Reading | DeviceEvent | DeviceStatus | DeviceInfo | AccelBatch | UnmappedFields
# 250 examples per property keep the file under ~15 s; CAREHUB_PROPERTY_EXAMPLES=5000 for a deep run
FAST = settings(max_examples=int(os.environ.get("CAREHUB_PROPERTY_EXAMPLES", "250")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def profiles():
    profile_set = build_profiles({}, [EXAMPLES_DIR])
    profile_set.route(HA_CONFIG[0]).decode(*HA_CONFIG, received_at=RX)
    return profile_set


PROFILES = profiles()


def check(result: object) -> list[UnmappedFields]:
    """Assert a decode result is a list of well-formed canonical messages; return its UnmappedFields."""
    assert type(result) is list
    unmapped = []
    for m in result:
        assert isinstance(m, MESSAGE_TYPES), m
        assert isinstance(m.device_key, str) and m.device_key and math.isfinite(m.ts)
        if isinstance(m, Reading):
            assert type(m.value) is float and math.isfinite(m.value), m
        elif isinstance(m, DeviceEvent):
            assert isinstance(m.kind, EventKind) and isinstance(m.state, EventState) and type(m.detail) is dict
        elif isinstance(m, DeviceStatus):
            assert isinstance(m.availability, Availability)
        elif isinstance(m, AccelBatch):
            assert m.xyz.dtype == np.float32 and m.xyz.shape == (len(m.t), 3) and np.isfinite(m.t).all()
        elif isinstance(m, UnmappedFields):
            assert m.fields and all(type(f) is str and f for f in m.fields), m
            assert len(set(m.fields)) == len(m.fields) <= MAX_UNMAPPED
            unmapped.append(m)
    assert len(unmapped) <= 1, "one UnmappedFields per payload"
    return unmapped


def decode(topic: str, payload: bytes) -> list | None:
    """Decode with the profile that owns `topic`; None for a DecodeError (the only exception allowed)."""
    if topic == HA_STATE:
        PROFILES.route(HA_CONFIG[0]).decode(*HA_CONFIG, received_at=RX)  # fuzzed configs may have replaced it
    profile = PROFILES.route(topic)
    assert profile is not None, topic
    try:
        return profile.decode(topic, payload, received_at=RX)
    except DecodeError as exc:
        assert exc.reason and " " not in exc.reason
        return None


def assert_every_field_accounted(obj: dict, result: list, known) -> None:
    """Every non-null key of `obj` is consumed (`known`) or reported, itself or as `key.<inner>`."""
    [unmapped] = check(result) or [None]
    reported = set(unmapped.fields) if unmapped else set()
    if len(reported) == MAX_UNMAPPED:
        return  # capped: the hub counts the first 64 names of a payload
    for key, value in obj.items():
        if value is None or known(key, value):
            continue
        name = key or "_empty"
        assert name[:100] in reported or any(f.startswith(name + ".") for f in reported), (key, reported)


@FAST
@given(st.sampled_from(TOPICS), st.binary(max_size=400))
def test_arbitrary_bytes_give_canonical_messages_or_decode_error(topic: str, payload: bytes) -> None:
    result = decode(topic, payload)
    if result is not None:
        check(result)


@FAST
@given(st.sampled_from(sorted(KNOWN)), OBJECTS)
def test_every_top_level_field_is_mapped_or_reported(topic: str, obj: dict) -> None:
    if topic.startswith("watch/"):
        obj = {"IMEI": IMEI, **obj}
    elif topic.startswith("carehub/"):
        obj = {"v": 1, **obj}
    elif topic.startswith("ctwing/"):
        obj = {"messageType": "dataReport", "IMEI": IMEI, "payload": {"serviceData": {}}, **obj}
    result = decode(topic, json.dumps(obj).encode())
    if result is not None:
        assert_every_field_accounted(obj, result, KNOWN[topic])


@FAST
@given(OBJECTS, OBJECTS)
def test_nb_iot_vendor_fields_are_mapped_or_reported(service: dict, params: dict) -> None:
    env = {"messageType": "dataReport", "IMEI": IMEI, "timestamp": 1_750_077_044_000,
           "payload": {"serviceData": service}}
    for result in (decode("ctwing/15012345", json.dumps(env).encode()), _push("ctwing", env)):
        if result is not None:
            assert_every_field_accounted(service, result, lambda k, v: _nbiot_known(k))
    body = {"id": "1", "params": {k: {"value": v} for k, v in params.items()}}
    push = {"msg": {"messageType": "notify", "productId": "p", "deviceName": "d", "data": body}}
    for result in (decode("$sys/p/d/thing/property/post", json.dumps(body).encode()), _push("onenet", push)):
        if result is not None:
            # an object value is an event's output: its keys are the vendor fields
            flat = {k: v for k, v in params.items() if type(v) is not dict}
            assert_every_field_accounted(flat, result, lambda k, v: _nbiot_known(k))


@FAST
@given(st.lists(OBJECTS, min_size=1, max_size=3))
def test_watch_history_record_fields_are_mapped_or_reported(records: list) -> None:
    obj = {"IMEI": IMEI, "num_datas": len(records), "data": records}
    result = decode(f"watch/{IMEI}/up", json.dumps(obj).encode())
    if result is not None:
        for record in records:
            assert_every_field_accounted(record, result, lambda k, v: _watch_known(k))


def _push(platform: str, body: dict) -> list | None:
    try:
        return decode_http_push(platform, json.dumps(body).encode(), received_at=RX)
    except DecodeError:
        return None


CID_CHARS = st.text(alphabet="0123456789ABCDEF \x14@RPE18", max_size=24)


@FAST
@given(st.binary(max_size=64) | CID_CHARS.map(str.encode))
def test_contact_id_records_give_events_or_decode_error(raw: bytes) -> None:
    try:
        record = contact_id.parse_record(raw)
    except DecodeError:
        return
    if isinstance(record, contact_id.ReceiverRecord):
        check([contact_id.record_event(record, ts=RX)])


@FAST
@given(st.text(alphabet="0123456789ABCDEF", min_size=14, max_size=18))
def test_contact_id_messages_give_events_or_decode_error(message: str) -> None:
    try:
        parsed = contact_id.parse_message(message)
    except DecodeError:
        return
    check([contact_id.to_event(parsed, ts=RX)])


DC09_BODIES = st.sampled_from(['"ADM-CID"', '"SIA-DCS"', '"NULL"', '"*ADM-CID"']).flatmap(
    lambda token: st.builds(lambda tail: token + tail, st.text(max_size=60)))


@FAST
@given(st.binary(max_size=120) | DC09_BODIES.map(lambda body: _dc09(body)))
def test_sia_dc09_frames_give_events_or_decode_error(frame: bytes) -> None:
    try:
        parsed = sia_dc09.parse_frame(frame)
    except DecodeError:
        return
    check(sia_dc09.to_events(parsed, ts=RX))


def _dc09(body: str) -> bytes:
    """Wrap a body in a DC-09 frame with a correct CRC and length, so the parser gets past the framing."""
    data = body.encode("latin-1", "replace")
    return b"\n" + f"{sia_dc09.crc16_arc(data):04X}0{len(data):03X}".encode() + data + b"\r"
