"""Declarative profiles: a TOML file maps vendor JSON fields to canonical messages (docs/profiles.md)."""

from __future__ import annotations

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

HAZARDS = frozenset({EventKind.SMOKE, EventKind.GAS, EventKind.CO, EventKind.HEAT})
TRUE_STRINGS = frozenset({"1", "true", "on", "yes"})
FALSE_STRINGS = frozenset({"0", "false", "off", "no"})
MAX_RECORDS = 1000


class ProfileFileError(ValueError):
    """A declarative profile file that cannot be loaded; the message names the file and the problem."""


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


def _compile_topic(pattern: str, where: str) -> tuple[str, ...]:
    segs = tuple(pattern.split("/"))
    for i, seg in enumerate(segs):
        if seg == "#" and i != len(segs) - 1:
            raise ProfileFileError(f"{where}: '#' must be the last topic level in {pattern!r}")
        if ("{" in seg or "+" in seg or "#" in seg) and seg not in ("{device}", "+", "#"):
            raise ProfileFileError(f"{where}: placeholders must fill a whole topic level in {pattern!r}")
    if not segs or not segs[0] or segs[0] in ("+", "#", "{device}"):
        raise ProfileFileError(f"{where}: topic {pattern!r} must start with a literal level")
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


@dataclass(slots=True, frozen=True)
class StatusRule:
    """Online/offline from a (LWT) topic's text or a JSON field."""

    topics: tuple[tuple[str, ...], ...]
    path: tuple[str, ...]
    online: tuple[Any, ...]
    offline: tuple[Any, ...]


class DeclarativeProfile:
    """A profile built from a TOML mapping; decodes JSON objects with no vendor code."""

    def __init__(self, spec: dict[str, Any], *, origin: str = "<spec>") -> None:
        where = origin
        try:
            self.name = str(spec["name"])
            self.key_prefix = str(spec.get("key_prefix", self.name))
            topics = spec["topics"]
        except KeyError as exc:
            raise ProfileFileError(f"{where}: missing key {exc.args[0]!r}") from None
        if type(topics) is not list or not topics or any(type(t) is not str for t in topics):
            raise ProfileFileError(f"{where}: topics must be a non-empty list of strings")
        self.topics = tuple(_compile_topic(t, where) for t in topics)
        self.device_path = _path(str(spec.get("device_field", "")))
        if not self.device_path and not all("{device}" in segs for segs in self.topics):
            raise ProfileFileError(f"{where}: every topic needs {{device}} unless device_field is set")
        self.time_path = _path(str(spec.get("time_field", "")))
        unit = spec.get("time_unit", "s")
        if unit not in ("s", "ms"):
            raise ProfileFileError(f"{where}: time_unit must be 's' or 'ms'")
        self.time_divisor = 1000.0 if unit == "ms" else 1.0
        self.selftest_path = _path(str(spec.get("selftest_field", "")))
        self.records_path = _path(str(spec.get("records_field", "")))
        self.readings = tuple(self._reading(r, where) for r in spec.get("readings", []))
        self.events = tuple(self._event(e, where) for e in spec.get("events", []))
        statuses = spec.get("status", [])
        if type(statuses) is dict:
            statuses = [statuses]
        self.statuses = tuple(self._status(s, where) for s in statuses)
        subs = [*self.topics, *(t for s in self.statuses for t in s.topics)]
        self.subscriptions = tuple(dict.fromkeys(
            "/".join("+" if seg == "{device}" else seg for seg in segs) for segs in subs))

    @staticmethod
    def _reading(r: dict[str, Any], where: str) -> ReadingRule:
        try:
            metric = str(r["metric"])
            unit = str(r.get("unit", CANONICAL_UNITS.get(metric, "")))
            if not unit:
                raise ProfileFileError(f"{where}: reading {metric!r} is not canonical: give its unit")
            return ReadingRule(_path(str(r["field"])), metric, unit, float(r.get("scale", 1.0)),
                               float(r.get("offset", 0.0)), bool(r.get("skip_zero", False)))
        except KeyError as exc:
            raise ProfileFileError(f"{where}: reading needs {exc.args[0]!r}") from None

    @staticmethod
    def _event(e: dict[str, Any], where: str) -> EventRule:
        try:
            kind = EventKind(e["kind"])
            state = EventState(e.get("state", "momentary"))
            otherwise = EventState(e["otherwise"]) if "otherwise" in e else None
            path = _path(str(e["field"]))
        except KeyError as exc:
            raise ProfileFileError(f"{where}: event needs {exc.args[0]!r}") from None
        except ValueError as exc:
            raise ProfileFileError(f"{where}: {exc}") from None
        conditions = [c for c in ("equals", "in", "is_true", "is_false") if c in e]
        if len(conditions) != 1:
            raise ProfileFileError(f"{where}: event on {e['field']!r} needs exactly one of equals/in/is_true/"
                                   f"is_false")
        cond = conditions[0]
        if cond == "equals":
            return EventRule(path, kind, state, equals=(e["equals"],), otherwise=otherwise)
        if cond == "in":
            if type(e["in"]) is not list:
                raise ProfileFileError(f"{where}: 'in' must be a list")
            return EventRule(path, kind, state, equals=tuple(e["in"]), otherwise=otherwise)
        return EventRule(path, kind, state, is_true=(cond == "is_true") == bool(e[cond]), otherwise=otherwise)

    def _status(self, s: dict[str, Any], where: str) -> StatusRule:
        topics = s.get("topics", [s["topic"]] if "topic" in s else [])
        if type(topics) is not list or any(type(t) is not str for t in topics):
            raise ProfileFileError(f"{where}: status topics must be strings")
        compiled = tuple(_compile_topic(t, where) for t in topics)
        if not self.device_path and not all("{device}" in segs for segs in compiled):
            raise ProfileFileError(f"{where}: status topics need {{device}}")
        path = _path(str(s.get("field", "")))
        if not compiled and not path:
            raise ProfileFileError(f"{where}: a status rule needs a topic or a field")
        online, offline = s.get("online", ["online"]), s.get("offline", ["offline"])
        return StatusRule(compiled, path, tuple(online), tuple(offline))

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
        """Decode one message according to this profile's mapping."""
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
        obj = parse_object(payload)
        key = self._key(get_path(obj, self.device_path) if self.device_path else device)
        ts = self._time(obj, received_at, max_age=86_400.0)
        out = self._fields(key, obj, ts)
        for rule in self.statuses:
            if not rule.topics:
                out.extend(self._status_value(rule, key, get_path(obj, rule.path), ts))
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
        if rule.path:
            obj = parse_object(payload)
            value = get_path(obj, rule.path)
            key = self._key(get_path(obj, self.device_path) if self.device_path else device)
        else:
            value = text(payload)
            key = self._key(device)
        out = self._status_value(rule, key, value, received_at)
        if not out:
            raise DecodeError("bad_value", f"status {str(value)[:40]!r}")
        return out

    def _status_value(self, rule: StatusRule, key: str, value: Any, ts: float) -> list[Message]:
        if value is None:
            return []
        if any(_same(value, v) for v in rule.online):
            return [DeviceStatus(key, Availability.ONLINE, ts, self.name, "device")]
        if any(_same(value, v) for v in rule.offline):
            return [DeviceStatus(key, Availability.OFFLINE, ts, self.name, "device")]
        return []


def load_profile_file(path: Path) -> DeclarativeProfile:
    """Load one TOML profile file, raising ProfileFileError with the file name on any problem."""
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileFileError(f"{path}: {exc}") from None
    try:
        return DeclarativeProfile(spec, origin=str(path))
    except ProfileFileError:
        raise
    except (TypeError, AttributeError, ValueError) as exc:  # wrong TOML shapes, e.g. a string for a table
        raise ProfileFileError(f"{path}: {exc}") from None


def load_profile_dirs(dirs: list[Path], *,
                      reserved_names: frozenset[str] = frozenset()) -> list[DeclarativeProfile]:
    """Load every *.toml in `dirs`, in directory then file-name order; a missing directory is skipped."""
    profiles: list[DeclarativeProfile] = []
    origins: dict[str, Path] = {}
    for directory in dirs:
        if not Path(directory).is_dir():
            continue
        for path in sorted(Path(directory).glob("*.toml")):
            profile = load_profile_file(path)
            if profile.name in origins or profile.name in reserved_names:
                where = origins.get(profile.name, "a built-in profile")
                raise ProfileFileError(f"{path}: profile name {profile.name!r} already used by {where}")
            origins[profile.name] = path
            profiles.append(profile)
    return profiles
