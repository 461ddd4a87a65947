"""Home Assistant MQTT discovery (configs and the state topics they announce) and Tasmota tele/ topics."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from device_drivers.json_payload import (
    MAX_PAYLOAD,
    check_size,
    device_time,
    lenient_number,
    number,
    parse_json,
    parse_object,
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

MAX_ENTITIES = 20_000  # retained configs are broker state anyone may write: bound what we learn
ABBREVIATIONS = {  # the subset of HA's discovery abbreviations this profile reads
    "stat_t": "state_topic", "val_tpl": "value_template", "dev_cla": "device_class",
    "pl_on": "payload_on", "pl_off": "payload_off", "uniq_id": "unique_id", "dev": "device",
    "avty_t": "availability_topic", "avty": "availability", "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available", "unit_of_meas": "unit_of_measurement",
    "ids": "identifiers", "mf": "manufacturer", "mdl": "model", "mdl_id": "model_id", "t": "topic",
}
BINARY_EVENTS = {
    "smoke": EventKind.SMOKE, "gas": EventKind.GAS, "carbon_monoxide": EventKind.CO, "heat": EventKind.HEAT,
    "tamper": EventKind.TAMPER, "battery": EventKind.BATTERY_LOW, "problem": EventKind.FAULT,
    "safety": EventKind.FAULT,
}
BINARY_READINGS = {"occupancy": "occupancy", "presence": "presence", "motion": "presence",
                   "moisture": "water_leak"}
SENSOR_READINGS = {  # device_class -> (metric, canonical unit)
    "battery": ("battery", "%"), "temperature": ("temperature", "degC"), "humidity": ("humidity", "%"),
    "voltage": ("voltage", "V"), "signal_strength": ("rssi", "dBm"),
    "carbon_monoxide": ("co_ppm", "ppm"), "carbon_dioxide": ("co2_ppm", "ppm"),
}
KIND_BY_CLASS = {"smoke": "smoke_detector", "gas": "gas_detector", "carbon_monoxide": "co_detector",
                 "heat": "heat_detector"}
HARMLESS_FILTERS = re.compile(r"^(float|int|is_defined|round(\(\s*\d*\s*\))?)$")
TEMPLATE_SEGMENT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]")
UNAVAILABLE = frozenset({"", "unknown", "unavailable", "None"})


def parse_value_template(template: Any) -> tuple[str, ...] | None:
    """Return the JSON path of `{{ value_json.a.b }}`, () for `{{ value }}`, None when unsupported."""
    if template is None:
        return ()
    if type(template) is not str:
        return None
    body = template.strip()
    if not (body.startswith("{{") and body.endswith("}}")):
        return None
    expr, *filters = (part.strip() for part in body[2:-2].split("|"))
    if any(not HARMLESS_FILTERS.match(f) for f in filters):
        return None
    if expr == "value":
        return ()
    if not expr.startswith("value_json"):
        return None
    rest, path, pos = expr[len("value_json"):], [], 0
    while pos < len(rest):
        m = TEMPLATE_SEGMENT.match(rest, pos)
        if m is None:
            return None
        path.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    return tuple(path) if path else None


def jinja_str(value: Any) -> str:
    """Return `value` rendered the way a Jinja template (and HA's payload_on comparison) renders it."""
    if value is True:
        return "True"
    if value is False:
        return "False"
    return str(value)


def _expand(obj: dict[str, Any]) -> dict[str, Any]:
    return {ABBREVIATIONS.get(k, k): v for k, v in obj.items()}


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if type(value) is str else ""


@dataclass(slots=True)
class _Entity:
    config_topic: str
    device_key: str
    component: str
    device_class: str
    path: tuple[str, ...] | None
    payload_on: str
    payload_off: str
    unit: str
    state_topic: str


@dataclass(slots=True)
class _Availability:
    config_topic: str
    device_key: str
    path: tuple[str, ...] | None
    available: str
    not_available: str


def _extract(path: tuple[str, ...], raw: str, parsed: Any) -> Any:
    if not path:
        return raw
    value = parsed
    for seg in path:
        if type(value) is not dict:
            return None
        value = value.get(seg)
    return value


class HaDiscoveryProfile:
    """Learn entities from `<root>/<component>/[<node_id>/]<object_id>/config`; decode their state topics."""

    name = "homeassistant"

    def __init__(self, root: str = "homeassistant",
                 claimed_elsewhere: Callable[[str], bool] | None = None) -> None:
        self.root = root
        self.prefix = root + "/"
        # a state topic another profile owns (zigbee2mqtt/..., tele/...) is decoded there natively
        self.claimed_elsewhere = claimed_elsewhere or (lambda topic: False)
        self.entities: dict[str, _Entity] = {}
        self.avail_entries: dict[str, list[_Availability]] = {}
        self.by_state_topic: dict[str, list[_Entity]] = {}
        self.by_avail_topic: dict[str, list[_Availability]] = {}

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Return the discovery filter plus learnt state/availability topics no other profile owns."""
        learnt = [t for t in (*self.by_state_topic, *self.by_avail_topic) if not self.claimed_elsewhere(t)]
        return (f"{self.root}/#", *dict.fromkeys(learnt))

    def matches(self, topic: str) -> bool:
        """Return True for discovery topics and for learnt state and availability topics."""
        return topic.startswith(self.prefix) or topic in self.by_state_topic or topic in self.by_avail_topic

    def decode(self, topic: str, payload: bytes, *, received_at: float) -> list[Message]:
        """Decode a discovery config, or a state/availability message of a learnt entity."""
        check_size(payload)
        if topic.startswith(self.prefix):
            parts = topic[len(self.prefix):].split("/")
            if parts[-1] != "config" or len(parts) not in (3, 4):
                return []  # homeassistant/status birth messages and other non-config chatter
            if not payload:
                return self._remove(topic, received_at)
            return self._config(topic, parts, parse_object(payload), received_at)
        entities = self.by_state_topic.get(topic)
        avail = self.by_avail_topic.get(topic)
        if entities is None and avail is None:
            raise DecodeError("unknown_topic", topic[:120])
        raw = text(payload, limit=MAX_PAYLOAD)
        parsed: Any = None
        if any(e.path for e in entities or ()) or any(a.path for a in avail or ()):
            parsed = parse_json(payload)
        out: list[Message] = []
        for entity in entities or ():
            out.extend(self._state(entity, _extract(entity.path or (), raw, parsed), received_at))
        if type(parsed) is dict:
            # a JSON state topic: keys no learnt entity reads are reported (their entities, if any, are not
            # of a supported kind and were reported when their config arrived)
            read = {p.path[0] for p in (*(entities or ()), *(avail or ())) if p.path}
            unmapped = Unmapped()
            unmapped.extra(parsed, read)
            owners = entities or avail
            if not owners:  # unreachable: a topic's list is deleted when its last entry goes
                raise RuntimeError(f"no learnt entity owns {topic[:120]}")
            owner = owners[0].device_key
            out.extend(unmapped.message(owner, received_at, self.name))
        for entry in avail or ():
            value = jinja_str(_extract(entry.path or (), raw, parsed))
            if value == entry.available:
                out.append(DeviceStatus(entry.device_key, Availability.ONLINE, received_at, self.name,
                                        "availability"))
            elif value == entry.not_available:
                out.append(DeviceStatus(entry.device_key, Availability.OFFLINE, received_at, self.name,
                                        "availability"))
        return out

    def _state(self, e: _Entity, value: Any, ts: float) -> list[Message]:
        if value is None:
            return []
        if e.component == "binary_sensor":
            rendered = jinja_str(value)
            if rendered == e.payload_on:
                on = True
            elif rendered == e.payload_off:
                on = False
            else:
                return []  # HA ignores values matching neither payload
            kind = BINARY_EVENTS.get(e.device_class)
            if kind is not None:
                state = EventState.ACTIVE if on else EventState.CLEARED
                return [DeviceEvent(e.device_key, kind, state, ts, self.name,
                                    {"device_class": e.device_class, "entity": e.config_topic})]
            metric = BINARY_READINGS[e.device_class]
            return [Reading(e.device_key, metric, 1.0 if on else 0.0, "bool", ts, self.name)]
        if type(value) is str and value.strip() in UNAVAILABLE:
            return []
        metric, unit = SENSOR_READINGS[e.device_class]
        number_value = lenient_number(value, e.device_class)
        if e.unit == "°F":
            number_value = (number_value - 32.0) * 5.0 / 9.0
        elif e.unit == "mV":
            number_value /= 1000.0
        return [Reading(e.device_key, metric, number_value, unit, ts, self.name)]

    def _config(self, topic: str, parts: list[str], cfg: dict[str, Any], received_at: float) -> list[Message]:
        cfg = _expand(cfg)
        component = parts[0]
        base = cfg.get("~")
        device = cfg.get("device")
        device = _expand(device) if type(device) is dict else {}
        ids = device.get("identifiers")
        if type(ids) is str:
            ids = [ids]
        ids = [i for i in ids if type(i) is str and i] if type(ids) is list else []
        if ids:
            key = "ha:" + ids[0]
        elif _str(cfg, "unique_id"):
            key = "ha:" + _str(cfg, "unique_id")
        else:
            key = "ha:" + "/".join(parts[:-1])
        aliases = tuple(dict.fromkeys(
            [*("ha:" + i for i in ids[1:]),
             *("ieee:" + i.rsplit("_", 1)[1] for i in ids if i.startswith("zigbee2mqtt_0x"))]))
        device_class = _str(cfg, "device_class")
        self._forget(topic)
        if len(self.entities) >= MAX_ENTITIES:
            raise DecodeError("too_many_entities", str(MAX_ENTITIES))

        def topic_of(value: Any) -> str:
            """Return a concrete topic with `~` expanded, or "" for absent or wildcard topics."""
            if type(value) is not str or not value:
                return ""
            if type(base) is str:
                if value.startswith("~"):
                    value = base + value[1:]
                elif value.endswith("~"):
                    value = value[:-1] + base
            return value if "+" not in value and "#" not in value else ""

        state_topic = topic_of(cfg.get("state_topic"))
        if component == "binary_sensor":
            supported = device_class in BINARY_EVENTS or device_class in BINARY_READINGS
        else:
            supported = component == "sensor" and device_class in SENSOR_READINGS
        entity = _Entity(topic, key, component, device_class, parse_value_template(cfg.get("value_template")),
                         jinja_str(cfg.get("payload_on", "ON")), jinja_str(cfg.get("payload_off", "OFF")),
                         _str(cfg, "unit_of_measurement"), state_topic)
        self.entities[topic] = entity
        if supported and state_topic and entity.path is not None:
            self.by_state_topic.setdefault(state_topic, []).append(entity)
        self._learn_availability(topic, key, cfg, topic_of)
        model = _str(device, "model_id") or _str(device, "model")
        out: list[Message] = [DeviceInfo(key, received_at, self.name, vendor=_str(device, "manufacturer"),
                                         model=model, kind=KIND_BY_CLASS.get(device_class, ""),
                                         name=_str(device, "name"), aliases=aliases)]
        if state_topic and not (supported and entity.path is not None) and not self.claimed_elsewhere(state_topic):
            # an entity whose value the hub cannot read (kind or template unsupported): say so on the device;
            # topics another profile owns are decoded, and their unknown keys reported, there
            unmapped = Unmapped()
            unmapped.add(".".join(entity.path) if entity.path else f"{component}.{parts[-2]}")
            out.extend(unmapped.message(key, received_at, self.name))
        return out

    def _learn_availability(self, topic: str, key: str, cfg: dict[str, Any],
                            topic_of: Callable[[Any], str]) -> None:
        entries = []
        default_on = jinja_str(cfg.get("payload_available", "online"))
        default_off = jinja_str(cfg.get("payload_not_available", "offline"))
        single = topic_of(cfg.get("availability_topic"))
        if single:
            entries.append(_Availability(topic, key, (), default_on, default_off))
            self.by_avail_topic.setdefault(single, []).append(entries[-1])
        listed = cfg.get("availability")
        for item in listed if type(listed) is list else ():
            if type(item) is not dict:
                continue
            item = _expand(item)
            avail_topic = topic_of(item.get("topic"))
            path = parse_value_template(item.get("value_template"))
            if not avail_topic or path is None:
                continue
            entry = _Availability(topic, key, path, jinja_str(item.get("payload_available", default_on)),
                                  jinja_str(item.get("payload_not_available", default_off)))
            entries.append(entry)
            self.by_avail_topic.setdefault(avail_topic, []).append(entry)
        if entries:
            self.avail_entries[topic] = entries

    def _forget(self, config_topic: str) -> _Entity | None:
        entity = self.entities.pop(config_topic, None)
        if entity is not None and entity.state_topic in self.by_state_topic:
            rest = [e for e in self.by_state_topic[entity.state_topic] if e.config_topic != config_topic]
            if rest:
                self.by_state_topic[entity.state_topic] = rest
            else:
                del self.by_state_topic[entity.state_topic]
        if self.avail_entries.pop(config_topic, None) is not None:
            for avail_topic in list(self.by_avail_topic):
                rest_a = [a for a in self.by_avail_topic[avail_topic] if a.config_topic != config_topic]
                if rest_a:
                    self.by_avail_topic[avail_topic] = rest_a
                else:
                    del self.by_avail_topic[avail_topic]
        return entity

    def _remove(self, config_topic: str, received_at: float) -> list[Message]:
        entity = self._forget(config_topic)
        if entity is None:
            return []
        if any(e.device_key == entity.device_key for e in self.entities.values()):
            return []  # the device still has other entities
        return [DeviceInfo(entity.device_key, received_at, self.name, removed=True)]


TASMOTA_READINGS = {
    "Temperature": ("temperature", "degC"), "Humidity": ("humidity", "%"),
    "CarbonDioxide": ("co2_ppm", "ppm"), "eCO2": ("co2_ppm", "ppm"),
}
TASMOTA_SENSOR_KEYS = frozenset({"Time", "TempUnit", "PressureUnit", "SpeedUnit"})  # units are applied, not stored
TASMOTA_STATE_KEYS = frozenset({"Time", "Uptime", "UptimeSec", "Heap", "SleepMode", "Sleep", "LoadAvg", "MqttCount",
                                "Wifi", "Berry", "Hostname", "IPAddress"})  # device bookkeeping; Wifi.Signal is read
TASMOTA_TIME_MAX_AGE = 3600.0  # Tasmota's Time is local without a zone: only trust it when close


class TasmotaProfile:
    """Decode Tasmota `<root>/<topic>/SENSOR`, `/STATE` and `/LWT` (root "tele")."""

    name = "tasmota"

    def __init__(self, root: str = "tele", tz: tzinfo | None = None) -> None:
        self.root = root
        self.prefix = root + "/"
        self.subscriptions = (f"{root}/+/SENSOR", f"{root}/+/STATE", f"{root}/+/LWT")
        self.tz = tz

    def matches(self, topic: str) -> bool:
        """Return True for topics under the Tasmota telemetry prefix."""
        return topic.startswith(self.prefix)

    def decode(self, topic: str, payload: bytes, *, received_at: float) -> list[Message]:
        """Decode one Tasmota telemetry or LWT message."""
        device, _, suffix = topic[len(self.prefix):].rpartition("/")
        if not device:
            raise DecodeError("unknown_topic", topic[:120])
        key = "tasmota:" + device
        if suffix == "LWT":
            state = text(payload)
            if state == "Online":
                return [DeviceStatus(key, Availability.ONLINE, received_at, self.name, "lwt")]
            if state == "Offline":
                return [DeviceStatus(key, Availability.OFFLINE, received_at, self.name, "lwt")]
            raise DecodeError("bad_value", f"LWT {state[:40]!r}")
        if suffix not in ("SENSOR", "STATE"):
            return []
        obj = parse_object(payload)
        ts = self._time(obj.get("Time"), received_at)
        unmapped = Unmapped()
        out: list[Message] = []
        if suffix == "STATE":
            unmapped.extra(obj, TASMOTA_STATE_KEYS)
            wifi = obj.get("Wifi")
            if type(wifi) is dict and wifi.get("Signal") is not None:
                out.append(Reading(key, "rssi", number(wifi["Signal"], "Wifi.Signal"), "dBm", ts, self.name))
            out.extend(unmapped.message(key, ts, self.name))
            return out
        fahrenheit = obj.get("TempUnit") == "F"
        seen: set[str] = set()
        for sensor, values in obj.items():
            if type(values) is not dict:
                if values is not None and sensor not in TASMOTA_SENSOR_KEYS:
                    unmapped.add(sensor)
                continue
            for field, value in values.items():
                spec = TASMOTA_READINGS.get(field)
                if spec is None or value is None:
                    if value is not None and field != "Id":  # Id: a DS18B20's ROM code, bookkeeping
                        unmapped.add(f"{sensor}.{field}")
                    continue
                v = number(value, f"{sensor}.{field}")
                if field == "Temperature" and fahrenheit:
                    v = (v - 32.0) * 5.0 / 9.0
                metric = spec[0] if spec[0] not in seen else f"{spec[0]}_{sensor.lower()}"
                seen.add(spec[0])
                out.append(Reading(key, metric, v, spec[1], ts, self.name))
        out.extend(unmapped.message(key, ts, self.name))
        return out

    def _time(self, value: Any, received_at: float) -> float:
        if type(value) is not str:
            return received_at
        try:
            dt = datetime.fromisoformat(value)
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=self.tz) if self.tz is not None else dt.astimezone()
            candidate = dt.timestamp()
        except (ValueError, OverflowError, OSError):
            return received_at
        return device_time(candidate, received_at, max_age=TASMOTA_TIME_MAX_AGE)
