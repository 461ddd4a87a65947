"""Declarative profiles: a TOML file maps vendor JSON fields to canonical messages (docs/profiles.md)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device_drivers.json_payload import (
    MAX_AGE_RECORD,
    device_time,
    lenient_number,
    parse_object,
    text,
)
from device_drivers.model import (
    CANONICAL_UNITS,
    Availability,
    DecodeError,
    DeviceEvent,
    DeviceStatus,
    EventKind,
    EventState,
    Message,
    Reading,
)
from device_drivers.unmapped import MAX_UNMAPPED, Unmapped

HAZARDS = frozenset({EventKind.SMOKE, EventKind.GAS, EventKind.CO, EventKind.HEAT})
TRUE_STRINGS = frozenset({"1", "true", "on", "yes"})
FALSE_STRINGS = frozenset({"0", "false", "off", "no"})
MAX_RECORDS = 1000

TOP_KEYS = ("name", "description", "key_prefix", "topics", "device_field", "time_field", "time_unit",
            "selftest_field", "records_field", "ignore", "readings", "events", "status", "push")
READING_KEYS = ("field", "metric", "unit", "scale", "offset", "skip_zero")
EVENT_KEYS = ("field", "kind", "state", "otherwise", "equals", "in", "is_true", "is_false")
STATUS_KEYS = ("topic", "topics", "field", "online", "offline")
PUSH_KEYS = ("path", "api_keys")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_PUSH_PATH = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ProfileFileError(ValueError):
    """A declarative profile file that cannot be loaded; the message names the file, line and field."""


class _Source:
    """Where a profile spec came from, to name the file, the line and the table in every error."""

    def __init__(self, origin: str, text: str = "") -> None:
        self.origin = origin
        self.lines = text.splitlines()

    def error(self, message: str, *, table: str = "", index: int | None = None, key: str = "") -> ProfileFileError:
        """Return a ProfileFileError "file:line: [[table]] #n: message" (line when the text shows it)."""
        line = self._line(table, index, key)
        where = f"{self.origin}:{line}" if line else self.origin
        if table and index is not None:
            section = f"[[{table}]] #{index + 1}: "
        else:
            section = f"[{table}]: " if table else ""
        return ProfileFileError(f"{where}: {section}{message}")

    def _line(self, table: str, index: int | None, key: str) -> int | None:
        if not self.lines:
            return None
        header = re.compile(r"^\s*\[")
        start, end = 0, next((i for i, t in enumerate(self.lines) if header.match(t)), len(self.lines))
        if table:
            own = re.compile(rf"^\s*\[\[?\s*{re.escape(table)}\s*\]\]?\s*(#.*)?$")
            hits = [i for i, t in enumerate(self.lines) if own.match(t)]
            n = index or 0
            if n >= len(hits):
                return None  # an inline table: no header to point at
            start = hits[n]
            end = next((i for i in range(start + 1, len(self.lines)) if header.match(self.lines[i])),
                       len(self.lines))
        if key:
            assign = re.compile(rf"^\s*{re.escape(key)}\s*=")
            found = next((i for i in range(start, end) if assign.match(self.lines[i])), None)
            if found is not None:
                return found + 1
        return start + 1 if table else None


def _same(a: Any, b: Any) -> bool:
    """Return True when JSON value `a` equals TOML value `b` without bool/int confusion."""
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    return a == b


def _truthy(value: Any) -> bool:
    """Return True for true, 1 and "1"/"true"/"on"/"yes" (any case)."""
    t = type(value)
    return value is True or (t is int and value == 1) or (t is str and value.lower() in TRUE_STRINGS)


def _falsy(value: Any) -> bool:
    """Return True for false, 0 and "0"/"false"/"off"/"no" (any case)."""
    t = type(value)
    return value is False or (t is int and value == 0) or (t is str and value.lower() in FALSE_STRINGS)


def _path(spec: str) -> tuple[str, ...]:
    return tuple(spec.split(".")) if spec else ()


def get_path(obj: Any, path: tuple[str, ...]) -> Any:
    """Return the value at a dotted path (digits index lists), or None when any step is missing."""
    for seg in path:
        if type(obj) is dict:
            obj = obj.get(seg)
        elif type(obj) is list and seg.isdigit() and int(seg) < len(obj):
            obj = obj[int(seg)]
        else:
            return None
    return obj


def _compile_topic(pattern: str, src: _Source, **where: Any) -> tuple[str, ...]:
    segs = tuple(pattern.split("/"))
    for i, seg in enumerate(segs):
        if seg == "#" and i != len(segs) - 1:
            raise src.error(f"'#' must be the last topic level in {pattern!r}", **where)
        if ("{" in seg or "+" in seg or "#" in seg) and seg not in ("{device}", "+", "#"):
            raise src.error(f"placeholders must fill a whole topic level in {pattern!r}", **where)
    if not segs or not segs[0] or segs[0] in ("+", "#", "{device}"):
        raise src.error(f"topic {pattern!r} must start with a literal level", **where)
    return segs


def _match(segs: tuple[str, ...], parts: list[str]) -> tuple[bool, str]:
    """Return (matched, device id from {device}) for a split topic."""
    device = ""
    for i, seg in enumerate(segs):
        if seg == "#":
            return True, device
        if i >= len(parts):
            return False, ""
        if seg == "{device}":
            device = parts[i]
        elif seg != "+" and seg != parts[i]:
            return False, ""
    return len(parts) == len(segs), device


def _known(obj: dict[str, Any], allowed: tuple[str, ...], src: _Source, **where: Any) -> None:
    """Refuse keys the format does not know: a misspelt `feild` must not silently map nothing."""
    for key in obj:
        if key not in allowed:
            raise src.error(f"unknown key {key!r} (known: {', '.join(allowed)})", key=key, **where)


def _field(obj: dict[str, Any], key: str, src: _Source, *, required: bool = False, **where: Any) -> tuple[str, ...]:
    """Return the dotted JSON path a table gives under `key` (() when absent and not required)."""
    if key not in obj:
        if required:
            raise src.error(f"needs {key!r}", **where)
        return ()
    value = obj[key]
    if type(value) is not str or not value or "" in value.split("."):
        raise src.error(f"{key} must be a dotted JSON path such as \"data.smoke\", got {value!r}", key=key, **where)
    return _path(value)


def _strings(obj: dict[str, Any], key: str, src: _Source, **where: Any) -> tuple[str, ...]:
    value = obj.get(key, [])
    if type(value) is not list or any(type(v) is not str or not v for v in value):
        raise src.error(f"{key} must be a list of non-empty strings", key=key, **where)
    return tuple(value)


def _number(obj: dict[str, Any], key: str, default: float, src: _Source, **where: Any) -> float:
    value = obj.get(key, default)
    if type(value) not in (int, float):
        raise src.error(f"{key} must be a number, got {value!r}", key=key, **where)
    return float(value)


def _flag(obj: dict[str, Any], key: str, src: _Source, **where: Any) -> bool:
    value = obj.get(key, False)
    if type(value) is not bool:
        raise src.error(f"{key} must be true or false, got {value!r}", key=key, **where)
    return value


def _with_prefixes(paths: list[tuple[str, ...]]) -> tuple[frozenset[tuple[str, ...]], frozenset[tuple[str, ...]]]:
    """Return the mapped paths and every proper prefix of them (objects the mapping reaches into)."""
    mapped = frozenset(p for p in paths if p)
    return mapped, frozenset(p[:i] for p in mapped for i in range(1, len(p)))


def _unmapped(obj: dict[str, Any], mapped: frozenset[tuple[str, ...]], prefixes: frozenset[tuple[str, ...]],
              out: Unmapped, prefix: tuple[str, ...] = (), label: str = "") -> None:
    """Add to `out` the dotted names of fields of `obj` no mapped path covers (nulls carry nothing)."""
    for name, value in obj.items():
        if value is None:
            continue
        path = (*prefix, name)
        if path in mapped:
            continue
        if path in prefixes:
            if type(value) is dict:
                _unmapped(value, mapped, prefixes, out, path, label)
                continue
            if type(value) is list:
                _unmapped({str(i): v for i, v in enumerate(value)}, mapped, prefixes, out, path, label)
                continue
        if len(out.names) >= MAX_UNMAPPED:
            return
        out.add(label + ".".join(path))


@dataclass(slots=True, frozen=True)
class ReadingRule:
    """One field mapped to one canonical metric: value * scale + offset."""

    path: tuple[str, ...]
    metric: str
    unit: str
    scale: float = 1.0
    offset: float = 0.0
    skip_zero: bool = False


@dataclass(slots=True, frozen=True)
class EventRule:
    """One field condition mapped to an event kind and state (optionally another state otherwise)."""

    path: tuple[str, ...]
    kind: EventKind
    state: EventState
    equals: tuple[Any, ...] = ()
    is_true: bool | None = None
    otherwise: EventState | None = None

    def test(self, value: Any) -> bool:
        """Return True when `value` satisfies this rule's condition."""
        if self.is_true is not None:
            return _truthy(value) if self.is_true else _falsy(value)
        return any(_same(value, v) for v in self.equals)

    @property
    def condition(self) -> str:
        """Return the condition as the profile file writes it."""
        if self.is_true is not None:
            return "is_true" if self.is_true else "is_false"
        return f"equals {self.equals[0]!r}" if len(self.equals) == 1 else f"in {list(self.equals)!r}"


@dataclass(slots=True, frozen=True)
class StatusRule:
    """Online/offline from a (LWT) topic's text or a JSON field."""

    topics: tuple[tuple[str, ...], ...]
    path: tuple[str, ...]
    online: tuple[Any, ...]
    offline: tuple[Any, ...]


class DeclarativeProfile:
    """A profile built from a TOML mapping; decodes JSON objects (MQTT payloads, HTTP pushes) with no code."""

    def __init__(self, spec: dict[str, Any], *, origin: str = "<spec>", text: str = "") -> None:
        src = _Source(origin, text)
        self.origin = origin
        _known(spec, TOP_KEYS, src)
        if "name" not in spec:
            raise src.error("missing key 'name'")
        name = spec["name"]
        if type(name) is not str or not _NAME.fullmatch(name):
            raise src.error(f"name must be 1-64 letters, digits, '_', '.' or '-', got {name!r}", key="name")
        self.name: str = name
        self.description = spec.get("description", "")
        if type(self.description) is not str:
            raise src.error("description must be a string", key="description")
        self.key_prefix = spec.get("key_prefix", self.name)
        if type(self.key_prefix) is not str or not _NAME.fullmatch(self.key_prefix):
            raise src.error(f"key_prefix must be 1-64 letters, digits, '_', '.' or '-', got {self.key_prefix!r}",
                            key="key_prefix")
        self.push_path, self.push_keys = self._push(spec.get("push"), src)
        pushed = self.push_path is not None or bool(self.push_keys)
        if "topics" not in spec and not pushed:
            raise src.error("missing key 'topics' (MQTT topic patterns; or a [push] table for HTTP pushes)")
        topics = spec.get("topics", [])
        if type(topics) is not list or (not topics and not pushed) or any(type(t) is not str for t in topics):
            raise src.error("topics must be a non-empty list of strings", key="topics")
        self.topics = tuple(_compile_topic(t, src, key="topics") for t in topics)
        self.device_path = _field(spec, "device_field", src)
        if not self.device_path and not all("{device}" in segs for segs in self.topics):
            raise src.error("every topic needs {device} unless device_field is set", key="topics")
        if pushed and not self.device_path:
            raise src.error("HTTP pushes have no topic to take the device from: set device_field", table="push")
        self.time_path = _field(spec, "time_field", src)
        unit = spec.get("time_unit", "s")
        if unit not in ("s", "ms"):
            raise src.error("time_unit must be 's' or 'ms'", key="time_unit")
        self.time_divisor = 1000.0 if unit == "ms" else 1.0
        self.selftest_path = _field(spec, "selftest_field", src)
        self.records_path = _field(spec, "records_field", src)
        self.ignore = _strings(spec, "ignore", src)
        for key, table in (("readings", spec.get("readings", [])), ("events", spec.get("events", []))):
            if type(table) is not list or any(type(r) is not dict for r in table):
                raise src.error(f"{key} must be [[{key}]] tables", key=key)
        self.readings = tuple(self._reading(r, src, i) for i, r in enumerate(spec.get("readings", [])))
        self.events = tuple(self._event(e, src, i) for i, e in enumerate(spec.get("events", [])))
        statuses = spec.get("status", [])
        if type(statuses) is dict:
            self.statuses: tuple[StatusRule, ...] = (self._status(statuses, src, None),)
        elif type(statuses) is list and all(type(s) is dict for s in statuses):
            self.statuses = tuple(self._status(s, src, i) for i, s in enumerate(statuses))
        else:
            raise src.error("status must be a [status] table or [[status]] tables", key="status")
        subs = [*self.topics, *(t for s in self.statuses for t in s.topics)]
        self.subscriptions = tuple(dict.fromkeys(
            "/".join("+" if seg == "{device}" else seg for seg in segs) for segs in subs))
        self._compile_mapped()

    def _compile_mapped(self) -> None:
        # What the rules consume, per object the profile decodes: everything else is reported unmapped.
        rules = [*(r.path for r in self.readings), *(e.path for e in self.events), self.time_path,
                 self.selftest_path]
        self.records_label = ".".join(self.records_path) + "[]." if self.records_path else ""
        in_records = [i for i in self.ignore if self.records_label and i.startswith(self.records_label)]
        ignored = [_path(i) for i in self.ignore if i not in in_records]
        self._top = _with_prefixes([*rules, self.device_path, self.records_path, *ignored,
                                    *(s.path for s in self.statuses if not s.topics)])
        self._record = _with_prefixes([*rules, *(_path(i[len(self.records_label):]) for i in in_records)])
        self._status_object = _with_prefixes([self.device_path, *ignored,
                                              *(s.path for s in self.statuses if s.topics)])

    @staticmethod
    def _push(push: Any, src: _Source) -> tuple[str | None, tuple[str, ...]]:
        if push is None:
            return None, ()
        if type(push) is not dict:
            raise src.error("push must be a [push] table", key="push")
        _known(push, PUSH_KEYS, src, table="push")
        path = push.get("path")
        if path is not None and (type(path) is not str or not _PUSH_PATH.fullmatch(path)):
            raise src.error(f"path must be 1-64 letters, digits, '_', '.' or '-' (the URL is /api/push/p/<path>), "
                            f"got {path!r}", table="push", key="path")
        keys = _strings(push, "api_keys", src, table="push")
        if path is None and not keys:
            raise src.error("needs path and/or api_keys", table="push")
        return path, tuple(dict.fromkeys(keys))

    @staticmethod
    def _reading(r: dict[str, Any], src: _Source, index: int) -> ReadingRule:
        where: dict[str, Any] = {"table": "readings", "index": index}
        _known(r, READING_KEYS, src, **where)
        path = _field(r, "field", src, required=True, **where)
        metric = r.get("metric")
        if metric is None:
            raise src.error("reading needs 'metric'", **where)
        if type(metric) is not str or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", metric):
            raise src.error(f"metric must be a lower-case name such as \"heart_rate\", got {metric!r}",
                            key="metric", **where)
        unit = r.get("unit", CANONICAL_UNITS.get(metric, ""))
        if type(unit) is not str:
            raise src.error("unit must be a string", key="unit", **where)
        if not unit:
            raise src.error(f"reading {metric!r} is not canonical: give its unit", key="metric", **where)
        return ReadingRule(path, metric, unit, _number(r, "scale", 1.0, src, **where),
                           _number(r, "offset", 0.0, src, **where), _flag(r, "skip_zero", src, **where))

    @staticmethod
    def _event(e: dict[str, Any], src: _Source, index: int) -> EventRule:
        where: dict[str, Any] = {"table": "events", "index": index}
        _known(e, EVENT_KEYS, src, **where)
        path = _field(e, "field", src, required=True, **where)
        if "kind" not in e:
            raise src.error("event needs 'kind'", **where)
        try:
            kind = EventKind(e["kind"])
        except ValueError:
            raise src.error(f"kind {e['kind']!r} is not an event kind ({', '.join(EventKind)})", key="kind",
                            **where) from None
        states: list[EventState | None] = []
        for key, default in (("state", "momentary"), ("otherwise", None)):
            value = e.get(key, default)
            try:
                states.append(None if value is None else EventState(value))
            except ValueError:
                raise src.error(f"{key} {value!r} is not one of {', '.join(EventState)}", key=key,
                                **where) from None
        state, otherwise = states
        assert state is not None
        conditions = [c for c in ("equals", "in", "is_true", "is_false") if c in e]
        if len(conditions) != 1:
            raise src.error(f"event on {'.'.join(path)!r} needs exactly one of equals/in/is_true/is_false",
                            **where)
        cond = conditions[0]
        if cond == "equals":
            return EventRule(path, kind, state, equals=(e["equals"],), otherwise=otherwise)
        if cond == "in":
            if type(e["in"]) is not list or not e["in"]:
                raise src.error("'in' must be a non-empty list", key="in", **where)
            return EventRule(path, kind, state, equals=tuple(e["in"]), otherwise=otherwise)
        return EventRule(path, kind, state, is_true=(cond == "is_true") == _flag(e, cond, src, **where),
                         otherwise=otherwise)

    def _status(self, s: dict[str, Any], src: _Source, index: int | None) -> StatusRule:
        where: dict[str, Any] = {"table": "status", "index": index}
        _known(s, STATUS_KEYS, src, **where)
        if "topic" in s and type(s["topic"]) is not str:
            raise src.error("topic must be a string", key="topic", **where)
        topics = [s["topic"]] if "topic" in s else list(_strings(s, "topics", src, **where))
        compiled = tuple(_compile_topic(t, src, key="topic" if "topic" in s else "topics", **where) for t in topics)
        if not self.device_path and not all("{device}" in segs for segs in compiled):
            raise src.error("status topics need {device}", **where)
        path = _field(s, "field", src, **where)
        if not compiled and not path:
            raise src.error("a status rule needs a topic or a field", **where)
        values = []
        for key in ("online", "offline"):
            value = s.get(key, [key])
            if type(value) is not list or not value:
                raise src.error(f"{key} must be a non-empty list of values", key=key, **where)
            values.append(tuple(value))
        return StatusRule(compiled, path, values[0], values[1])

    def matches(self, topic: str) -> bool:
        """Return True when a data or status topic pattern matches `topic`."""
        parts = topic.split("/")
        return any(_match(segs, parts)[0] for segs in self.topics) or any(
            _match(segs, parts)[0] for s in self.statuses for segs in s.topics)

    def _key(self, device: Any) -> str:
        if type(device) is int and not isinstance(device, bool):
            device = str(device)
        if type(device) is not str or not 0 < len(device) <= 64 or any(c.isspace() for c in device):
            raise DecodeError("bad_device_id", str(device)[:64])
        return f"{self.key_prefix}:{device}"

    def decode(self, topic: str, payload: bytes, *, received_at: float) -> list[Message]:
        """Decode one MQTT message according to this profile's mapping."""
        parts = topic.split("/")
        for rule in self.statuses:
            for segs in rule.topics:
                ok, device = _match(segs, parts)
                if ok:
                    return self._status_topic(rule, device, payload, received_at)
        for segs in self.topics:
            ok, device = _match(segs, parts)
            if ok:
                break
        else:
            raise DecodeError("unknown_topic", topic[:120])
        return self._decode_object(parse_object(payload), device, received_at)

    def decode_push(self, payload: bytes, *, received_at: float) -> list[Message]:
        """Decode one HTTP push body exactly as an MQTT payload; the device id comes from device_field."""
        return self._decode_object(parse_object(payload), "", received_at)

    def _decode_object(self, obj: dict[str, Any], device: str, received_at: float) -> list[Message]:
        if self.device_path:
            device = get_path(obj, self.device_path)
            if device is None:
                raise DecodeError("bad_device_id", f"no {'.'.join(self.device_path)!r} in the payload")
        key = self._key(device)
        ts = self._time(obj, received_at, max_age=86_400.0)
        out = self._fields(key, obj, ts)
        for rule in self.statuses:
            if not rule.topics:
                out.extend(self._status_value(rule, key, get_path(obj, rule.path), ts))
        unmapped = Unmapped()
        _unmapped(obj, *self._top, unmapped)
        if self.records_path:
            records = get_path(obj, self.records_path)
            if records is not None:
                if type(records) is not list:
                    raise DecodeError("bad_type", ".".join(self.records_path))
                if len(records) > MAX_RECORDS:
                    raise DecodeError("too_large", f"{len(records)} records")
                for record in records:
                    if type(record) is not dict:
                        raise DecodeError("bad_type", "record")
                    record_ts = self._time(record, received_at, max_age=MAX_AGE_RECORD, default=ts)
                    out.extend(self._fields(key, record, record_ts))
                    _unmapped(record, *self._record, unmapped, label=self.records_label)
        out.extend(unmapped.message(key, ts, self.name))
        return out

    def _time(self, obj: dict[str, Any], received_at: float, *, max_age: float,
              default: float | None = None) -> float:
        value = get_path(obj, self.time_path) if self.time_path else None
        if value is None:
            return received_at if default is None else default
        return device_time(lenient_number(value, "time") / self.time_divisor, received_at, max_age=max_age)

    def _fields(self, key: str, obj: dict[str, Any], ts: float) -> list[Message]:
        out: list[Message] = []
        for r in self.readings:
            value = get_path(obj, r.path)
            if value is None:
                continue
            if type(value) is bool:
                v = 1.0 if value else 0.0
            else:
                v = lenient_number(value, ".".join(r.path))
            if v == 0.0 and r.skip_zero:
                continue
            out.append(Reading(key, r.metric, v * r.scale + r.offset, r.unit, ts, self.name))
        testing = bool(self.selftest_path) and _truthy(get_path(obj, self.selftest_path))
        for e in self.events:
            value = get_path(obj, e.path)
            if value is None:
                continue
            if e.test(value):
                state = e.state
            elif e.otherwise is not None:
                state = e.otherwise
            else:
                continue
            if testing and e.kind in HAZARDS:
                continue  # a test is never an alarm
            out.append(DeviceEvent(key, e.kind, state, ts, self.name, {"field": ".".join(e.path)}))
        if testing:
            out.append(DeviceEvent(key, EventKind.SELF_TEST, EventState.ACTIVE, ts, self.name,
                                   {"field": ".".join(self.selftest_path)}))
        return out

    def _status_topic(self, rule: StatusRule, device: str, payload: bytes,
                      received_at: float) -> list[Message]:
        unmapped = Unmapped()
        if rule.path:
            obj = parse_object(payload)
            value = get_path(obj, rule.path)
            key = self._key(get_path(obj, self.device_path) if self.device_path else device)
            _unmapped(obj, *self._status_object, unmapped)
        else:
            value = text(payload)
            key = self._key(device)
        out = self._status_value(rule, key, value, received_at)
        if not out:
            raise DecodeError("bad_value", f"status {str(value)[:40]!r}")
        out.extend(unmapped.message(key, received_at, self.name))
        return out

    def _status_value(self, rule: StatusRule, key: str, value: Any, ts: float) -> list[Message]:
        if value is None:
            return []
        if any(_same(value, v) for v in rule.online):
            return [DeviceStatus(key, Availability.ONLINE, ts, self.name, "device")]
        if any(_same(value, v) for v in rule.offline):
            return [DeviceStatus(key, Availability.OFFLINE, ts, self.name, "device")]
        return []

    def describe(self) -> dict[str, Any]:
        """Return what this profile maps (for `carehub profiles check` and GET /api/profiles)."""
        return {
            "name": self.name,
            "description": self.description,
            "source": self.origin,
            "key_prefix": self.key_prefix,
            "mqtt_topics": list(self.subscriptions),
            "push": {"path": self.push_path, "url": f"/api/push/p/{self.push_path}" if self.push_path else None,
                     "api_keys": list(self.push_keys)},
            "device_field": ".".join(self.device_path) or None,
            "time_field": ".".join(self.time_path) or None,
            "readings": [{"field": ".".join(r.path), "metric": r.metric, "unit": r.unit, "scale": r.scale,
                          "offset": r.offset, "skip_zero": r.skip_zero} for r in self.readings],
            "events": [{"field": ".".join(e.path), "condition": e.condition, "kind": e.kind.value,
                        "state": e.state.value, "otherwise": e.otherwise.value if e.otherwise else None}
                       for e in self.events],
            "status": [{"topics": ["/".join(t) for t in s.topics], "field": ".".join(s.path) or None,
                        "online": list(s.online), "offline": list(s.offline)} for s in self.statuses],
            "ignore": list(self.ignore),
        }


def load_profile_text(text: str, origin: str) -> DeclarativeProfile:
    """Load one profile from TOML text, raising ProfileFileError naming `origin` (and the line) on any problem."""
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileFileError(f"{origin}: {exc}") from None
    try:
        return DeclarativeProfile(spec, origin=origin, text=text)
    except ProfileFileError:
        raise
    except (TypeError, AttributeError, ValueError) as exc:  # a TOML shape no check above foresaw
        raise ProfileFileError(f"{origin}: {exc}") from None


def load_profile_file(path: Path) -> DeclarativeProfile:
    """Load one TOML profile file, raising ProfileFileError with the file name on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileFileError(f"{path}: {exc}") from None
    return load_profile_text(text, str(path))


def check_unique(profiles: list[DeclarativeProfile], *, reserved_names: frozenset[str] = frozenset()) -> None:
    """Raise ProfileFileError naming both files when two profiles share a name, push path or push API key."""
    seen: dict[tuple[str, str], str] = {}
    for profile in profiles:
        if profile.name in reserved_names:
            raise ProfileFileError(f"{profile.origin}: profile name {profile.name!r} already used by a built-in "
                                   "profile")
        claims = [("profile name", profile.name)] + ([("push path", profile.push_path)] if profile.push_path else [])
        claims += [("push API key", key) for key in profile.push_keys]
        for claim in claims:
            if claim in seen:
                raise ProfileFileError(f"{profile.origin}: {claim[0]} {claim[1]!r} already used by {seen[claim]}")
            seen[claim] = profile.origin


def profile_files(dirs: list[Path]) -> list[Path]:
    """Return the *.toml files of `dirs` in directory then file-name order; a missing directory is skipped."""
    return [path for directory in dirs if Path(directory).is_dir() for path in sorted(Path(directory).glob("*.toml"))]


def load_profile_dirs(dirs: list[Path], *,
                      reserved_names: frozenset[str] = frozenset()) -> list[DeclarativeProfile]:
    """Load every *.toml in `dirs`, in directory then file-name order; a missing directory is skipped."""
    profiles = [load_profile_file(path) for path in profile_files(dirs)]
    check_unique(profiles, reserved_names=reserved_names)
    return profiles
