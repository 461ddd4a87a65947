"""Zigbee2MQTT: device state objects, availability, plain-text actions and the bridge's device list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from device_drivers.json_payload import (
    MAX_PAYLOAD,
    boolean,
    device_time,
    number,
    parse_json,
    parse_object,
    string,
    text,
)
from device_drivers.model import (
    Availability,
    DecodeError,
    DeviceEvent,
    DeviceInfo,
    DeviceStatus,
    EventKind,
    EventState,
    Message,
    Reading,
)
from device_drivers.unmapped import Unmapped

BRIDGE_DEVICES_LIMIT = 4 * 1024 * 1024  # the retained device list of a 200-device network is ~1-2 MB

# state key -> (metric, unit, scale); z2m reports voltage in mV
READINGS: dict[str, tuple[str, str, float]] = {
    "battery": ("battery", "%", 1.0),
    "voltage": ("voltage", "V", 0.001),
    "linkquality": ("linkquality", "lqi", 1.0),
    "temperature": ("temperature", "degC", 1.0),
    "device_temperature": ("device_temperature", "degC", 1.0),
    "humidity": ("humidity", "%", 1.0),
    "smoke_density_dbm": ("smoke_density", "dB/m", 1.0),
    "smoke_density": ("smoke_density_raw", "raw", 1.0),  # Xiaomi JTYJ: vendor units, not dB/m
    "gas_density": ("gas_lel", "%LEL", 1.0),
    "gas_value": ("gas_lel", "%LEL", 1.0),
    "co": ("co_ppm", "ppm", 1.0),
    "co2": ("co2_ppm", "ppm", 1.0),
}
BOOL_READINGS: dict[str, str] = {"presence": "presence", "occupancy": "occupancy", "water_leak": "water_leak"}
# boolean alarm/condition keys -> event kind; True is ACTIVE and False is CLEARED
BOOL_EVENTS: dict[str, EventKind] = {
    "smoke": EventKind.SMOKE,
    "gas": EventKind.GAS,
    "carbon_monoxide": EventKind.CO,
    "heat": EventKind.HEAT,
    "tamper": EventKind.TAMPER,
    "battery_low": EventKind.BATTERY_LOW,
}
# hazard flags a self-test makes the device raise; they are never alarms while a test runs
HAZARDS = frozenset({"smoke", "gas", "carbon_monoxide", "heat"})
SELF_TEST_KEYS = ("test", "selftest")
FALL_KEYS = {
    "fall_down_status": {"fall": EventKind.FALL, "maybe_fall": EventKind.FALL_SUSPECTED},
    "fall_status": {"fall_alarm": EventKind.FALL, "fall_warning": EventKind.FALL_SUSPECTED},
}
FALL_NORMAL = frozenset({"none", "normal"})
SOS_ACTIONS = frozenset({"emergency", "sos", "panic"})
# models whose every action is an SOS press (HEIMAN HS1EB: off/single/double/hold)
SOS_MODELS = frozenset({"HS1EB", "HS1EB-E", "HS1EB/HS1EB-E", "TS0215A_sos", "SOS-EF-3.0"})
IGNORED_SUFFIXES = ("/set", "/get")
# state keys consumed without a reading: bookkeeping (times, the device block `include_device_information`
# adds, IAS zone enrolment), OTA status, and keys the loop handles itself; every other key is reported unmapped
CONSUMED = frozenset({"last_seen", "elapsed", "device", "enrolled", "update", "update_available", "action", "sos",
                      *SELF_TEST_KEYS, *FALL_KEYS})

# every state key a decoder rule knows -> (rule, its table entry): one dict lookup per key on the hot path
_NUMBER, _BOOL_READING, _BOOL_EVENT = range(3)
_STATE_KEYS: dict[str, tuple[int, Any]] = {
    **{k: (_NUMBER, spec) for k, spec in READINGS.items()},
    **{k: (_BOOL_READING, metric) for k, metric in BOOL_READINGS.items()},
    **{k: (_BOOL_EVENT, kind) for k, kind in BOOL_EVENTS.items()},
}

# topic kinds cached per topic so the hot path does no string scanning after the first message
_STATE, _AVAIL, _ACTION, _IGNORE, _DEVICES, _EVENT = range(6)


def _walk_exposes(exposes: Any, props: set[str], actions: set[str]) -> None:
    if type(exposes) is not list:
        return
    for item in exposes:
        if type(item) is not dict:
            continue
        prop = item.get("property") or item.get("name")
        if type(prop) is str:
            props.add(prop)
            values = item.get("values")
            if prop == "action" and type(values) is list:
                actions.update(v for v in values if type(v) is str)
        _walk_exposes(item.get("features"), props, actions)


def guess_kind(definition: Any) -> str:
    """Return a device kind (smoke_detector, sos_button, fall_radar, ...) from a z2m definition."""
    if type(definition) is not dict:
        return ""
    props: set[str] = set()
    actions: set[str] = set()
    _walk_exposes(definition.get("exposes"), props, actions)
    model = definition.get("model")
    description = definition.get("description")
    description = description.lower() if type(description) is str else ""
    if "smoke" in props:
        return "smoke_detector"
    if "gas" in props or "gas_density" in props:
        return "gas_detector"
    if "carbon_monoxide" in props:
        return "co_detector"
    if "fall_down_status" in props or "fall_status" in props:
        return "fall_radar"
    if "action" in props and (
        model in SOS_MODELS or actions & SOS_ACTIONS or "emergency" in description or "sos" in description
    ):
        return "sos_button"
    if "action" in props:
        return "button"
    if "presence" in props or "occupancy" in props:
        return "presence_sensor"
    if "water_leak" in props:
        return "water_leak_sensor"
    if "contact" in props:
        return "contact_sensor"
    if "temperature" in props:
        return "climate_sensor"
    return ""


def _last_seen(value: Any) -> float | None:
    """Return z2m `last_seen` (epoch ms or ISO 8601) as epoch seconds, or None."""
    t = type(value)
    if t is int or t is float:
        return number(value, "last_seen") / 1000.0
    if t is str:
        try:
            dt = datetime.fromisoformat(value)
            return dt.timestamp() if dt.tzinfo is not None else None  # ISO_8601_local has no zone: skip
        except (ValueError, OverflowError, OSError):
            return None
    return None


class Zigbee2MqttProfile:
    """Decode everything Zigbee2MQTT publishes under its base topic."""

    name = "zigbee2mqtt"

    def __init__(self, root: str = "zigbee2mqtt") -> None:
        self.root = root
        self.prefix = root + "/"
        self.subscriptions = (f"{root}/#",)
        self._topics: dict[str, tuple[int, str]] = {}
        # friendly name -> kind learnt from bridge/devices and interviews; decides what an action means
        self.kinds: dict[str, str] = {}

    def matches(self, topic: str) -> bool:
        """Return True for topics under the Zigbee2MQTT base topic."""
        return topic.startswith(self.prefix)

    def _classify(self, topic: str) -> tuple[int, str]:
        cached = self._topics.get(topic)
        if cached is not None:
            return cached
        if not topic.startswith(self.prefix):
            raise DecodeError("unknown_topic", topic[:120])
        rest = topic[len(self.prefix):]
        if rest.startswith("bridge/") or rest == "bridge":
            kind = {"bridge/devices": _DEVICES, "bridge/event": _EVENT}.get(rest, _IGNORE)
            found = (kind, "")
        elif rest.endswith("/availability"):
            found = (_AVAIL, rest[: -len("/availability")])
        elif rest.endswith("/action"):
            found = (_ACTION, rest[: -len("/action")])
        elif rest.endswith(IGNORED_SUFFIXES) or "/set/" in rest or "/get/" in rest:
            found = (_IGNORE, "")  # commands to devices, not reports from them
        else:
            found = (_STATE, rest)
        if not found[1] and found[0] in (_STATE, _AVAIL, _ACTION):
            raise DecodeError("unknown_topic", topic[:120])
        if len(self._topics) < 50_000:
            self._topics[topic] = found
        return found

    def decode(self, topic: str, payload: bytes, *, received_at: float) -> list[Message]:
        """Decode one Zigbee2MQTT message into canonical messages."""
        kind, name = self._classify(topic)
        if kind != _DEVICES and len(payload) > MAX_PAYLOAD:
            raise DecodeError("too_large", f"{len(payload)} > {MAX_PAYLOAD} bytes")
        if kind == _STATE:
            return self._state(name, parse_object(payload), received_at)
        if kind == _AVAIL:
            return [self._availability(name, payload, received_at)]
        if kind == _ACTION:
            action = text(payload)
            return self._action("z2m:" + name, name, action, received_at) if action else []
        if kind == _DEVICES:
            return self._bridge_devices(payload, received_at)
        if kind == _EVENT:
            return self._bridge_event(payload, received_at)
        return []

    def _state(self, name: str, obj: dict[str, Any], received_at: float) -> list[Message]:
        key = "z2m:" + name
        ts = received_at
        seen = obj.get("last_seen")
        if seen is not None:
            ts = device_time(_last_seen(seen), received_at)
        out: list[Message] = []
        testing = obj.get("test") is True or obj.get("selftest") is True
        suppressed: dict[str, bool] = {}
        source = self.name
        unmapped = Unmapped()
        for k, v in obj.items():
            if v is None:
                continue
            rule = _STATE_KEYS.get(k)
            if rule is not None:
                what, spec = rule
                if what == _NUMBER:
                    out.append(Reading(key, spec[0], number(v, k) * spec[2], spec[1], ts, source))
                elif what == _BOOL_READING:
                    out.append(Reading(key, spec, 1.0 if boolean(v, k) else 0.0, "bool", ts, source))
                else:
                    on = boolean(v, k)
                    if testing and k in HAZARDS:
                        suppressed[k] = on  # DEVICES.md pitfall: a test is never an alarm
                        continue
                    state = EventState.ACTIVE if on else EventState.CLEARED
                    out.append(DeviceEvent(key, spec, state, ts, source, {"field": k}))
                continue
            if k == "action":
                if string(v, k):
                    out.extend(self._action(key, name, v, ts))
            elif k in FALL_KEYS:
                out.extend(self._fall(key, k, string(v, k), ts))
            elif k == "sos":
                if boolean(v, k):
                    out.append(DeviceEvent(key, EventKind.SOS, EventState.MOMENTARY, ts, self.name,
                                           {"field": k}))
            elif k not in CONSUMED:
                unmapped.add(k)
        for k in SELF_TEST_KEYS:
            v = obj.get(k)
            if type(v) is bool:  # selftest can also be a write-only trigger ("" / null): ignore those
                state = EventState.ACTIVE if v else EventState.CLEARED
                detail: dict[str, Any] = {"field": k}
                if v and suppressed:
                    detail["suppressed"] = suppressed
                out.append(DeviceEvent(key, EventKind.SELF_TEST, state, ts, self.name, detail))
                break
        if unmapped.names:
            out.extend(unmapped.message(key, ts, source))
        return out

    def _fall(self, key: str, field: str, value: str, ts: float) -> list[Message]:
        kind = FALL_KEYS[field].get(value)
        detail = {"field": field, "value": value}
        if kind is not None:
            return [DeviceEvent(key, kind, EventState.ACTIVE, ts, self.name, detail)]
        if value in FALL_NORMAL:
            cleared = EventState.CLEARED
            return [DeviceEvent(key, EventKind.FALL, cleared, ts, self.name, detail),
                    DeviceEvent(key, EventKind.FALL_SUSPECTED, cleared, ts, self.name, dict(detail))]
        return []  # "unknown": the radar has not decided

    def _action(self, key: str, name: str, action: str, ts: float) -> list[Message]:
        known = self.kinds.get(name)
        detail: dict[str, Any] = {"action": action}
        if known == "sos_button" or action in SOS_ACTIONS:
            kind = EventKind.SOS
        else:
            kind = EventKind.BUTTON
            if known is None:
                detail["kind_unknown"] = True  # not in bridge/devices yet: the binding decides
        return [DeviceEvent(key, kind, EventState.MOMENTARY, ts, self.name, detail)]

    def _availability(self, name: str, payload: bytes, received_at: float) -> DeviceStatus:
        raw = text(payload)
        if raw.startswith("{"):
            state = parse_object(payload).get("state")
        else:
            state = raw
        if state == "online":
            avail = Availability.ONLINE
        elif state == "offline":
            avail = Availability.OFFLINE
        else:
            raise DecodeError("bad_value", f"availability {str(state)[:40]!r}")
        return DeviceStatus("z2m:" + name, avail, received_at, self.name, "availability")

    def _info(self, data: dict[str, Any], received_at: float, *, removed: bool = False) -> DeviceInfo:
        name = data.get("friendly_name")
        ieee = data.get("ieee_address")
        if type(name) is not str or not name:
            if type(ieee) is not str or not ieee:
                raise DecodeError("missing_field", "friendly_name")
            name = ieee
        aliases = ("ieee:" + ieee,) if type(ieee) is str and ieee else ()
        definition = data.get("definition")
        vendor = model = kind = ""
        if type(definition) is dict:
            raw_vendor, raw_model = definition.get("vendor"), definition.get("model")
            vendor = raw_vendor if type(raw_vendor) is str else ""
            model = raw_model if type(raw_model) is str else ""
            kind = guess_kind(definition)
        if removed:
            self.kinds.pop(name, None)
        elif type(definition) is dict and len(self.kinds) < 100_000:
            self.kinds[name] = kind
        return DeviceInfo("z2m:" + name, received_at, self.name, vendor=vendor, model=model, kind=kind,
                          name=name, aliases=aliases, removed=removed)

    def _bridge_devices(self, payload: bytes, received_at: float) -> list[Message]:
        devices = parse_json(payload, limit=BRIDGE_DEVICES_LIMIT)
        if type(devices) is not list:
            raise DecodeError("not_array", type(devices).__name__)
        out: list[Message] = []
        for entry in devices:
            if type(entry) is not dict:
                raise DecodeError("bad_type", "bridge/devices entry")
            if entry.get("type") == "Coordinator":
                continue
            out.append(self._info(entry, received_at))
        return out

    def _bridge_event(self, payload: bytes, received_at: float) -> list[Message]:
        obj = parse_object(payload, limit=MAX_PAYLOAD)
        etype = obj.get("type")
        data = obj.get("data")
        if type(data) is not dict:
            raise DecodeError("bad_type", "data")
        if etype in ("device_joined", "device_interview", "device_announce"):
            return [self._info(data, received_at)]
        if etype == "device_leave":
            return [self._info(data, received_at, removed=True)]
        return []

