"""Strict JSON and value helpers shared by the payload decoders; every failure is a DecodeError."""

from __future__ import annotations

import json
import math
from datetime import datetime, tzinfo
from typing import Any

import orjson

from device_drivers.model import DecodeError

MAX_PAYLOAD = 64 * 1024  # one device message; anything larger is a fault or an attack
SKEW_FUTURE = 300.0  # device clocks may run up to 5 min ahead of the hub
MAX_AGE_LIVE = 86_400.0  # a live message older than a day has a broken clock (or tz): use arrival time
MAX_AGE_RECORD = 30 * 86_400.0  # batched records may be replayed from device flash after an outage
MIN_EPOCH = 946_684_800.0  # 2000-01-01: earlier device times mean "clock never set"


def _reject_constant(name: str) -> Any:
    raise DecodeError("nan", name)


# One strict decoder: `json.loads(..., parse_constant=...)` builds a new decoder on every call.
_STRICT = json.JSONDecoder(parse_constant=_reject_constant)


def check_size(payload: bytes, limit: int = MAX_PAYLOAD) -> None:
    """Raise too_large when `payload` exceeds `limit` bytes."""
    if len(payload) > limit:
        raise DecodeError("too_large", f"{len(payload)} > {limit} bytes")


def parse_json(payload: bytes | str, *, limit: int = MAX_PAYLOAD) -> Any:
    """Parse `payload` as strict JSON (no NaN/Infinity, size-capped) and return the value."""
    if len(payload) > limit:
        raise DecodeError("too_large", f"{len(payload)} > {limit} bytes")
    try:
        # orjson is ~7x faster on the hot path. It refuses more than the standard parser (NaN, 1e999,
        # lone surrogates, UTF-16, nesting over 1,024), so whatever it refuses is parsed again the
        # standard way: the result and the reject reason stay what they always were. One difference:
        # integers beyond 64 bits come back as floats.
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        pass
    try:
        if not isinstance(payload, str):
            payload = payload.decode(json.detect_encoding(payload), "surrogatepass")
        return _STRICT.decode(payload)
    except DecodeError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, >4300-digit ints, deep nesting
        raise DecodeError("not_json", str(exc)[:80]) from None


def parse_object(payload: bytes, *, limit: int = MAX_PAYLOAD) -> dict[str, Any]:
    """Parse `payload` as a strict JSON object and return it."""
    obj = parse_json(payload, limit=limit)
    if type(obj) is not dict:
        raise DecodeError("not_object", type(obj).__name__)
    return obj


def text(payload: bytes, *, limit: int = 256) -> str:
    """Decode a short plain-text payload (availability, LWT, action) and return it stripped."""
    if len(payload) > limit:
        raise DecodeError("too_large", f"{len(payload)} > {limit} bytes")
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise DecodeError("not_text", "invalid UTF-8") from None


def number(value: Any, field: str) -> float:
    """Return `value` (a JSON int/float, not bool) as a finite float."""
    t = type(value)
    if t is float:
        if value - value != 0.0:  # inf or nan from an exponent overflow such as 1e999
            raise DecodeError("nan", field)
        return value
    if t is int:
        try:
            return float(value)
        except OverflowError:
            raise DecodeError("out_of_range", field) from None
    raise DecodeError("bad_type", f"{field}: expected number, got {t.__name__}")


def lenient_number(value: Any, field: str) -> float:
    """Return a number or a numeric string (as NB-IoT platforms send them) as a finite float."""
    if type(value) is str:
        try:
            f = float(value)
        except ValueError:
            raise DecodeError("bad_type", f"{field}: not numeric") from None
        if not math.isfinite(f):
            raise DecodeError("nan", field)
        return f
    return number(value, field)


def boolean(value: Any, field: str) -> bool:
    """Return `value` when it is a JSON boolean."""
    if type(value) is not bool:
        raise DecodeError("bad_type", f"{field}: expected boolean, got {type(value).__name__}")
    return value


def string(value: Any, field: str) -> str:
    """Return `value` when it is a JSON string."""
    if type(value) is not str:
        raise DecodeError("bad_type", f"{field}: expected string, got {type(value).__name__}")
    return value


def require(obj: dict[str, Any], key: str) -> Any:
    """Return obj[key], raising missing_field when it is absent or null."""
    value = obj.get(key)
    if value is None:
        raise DecodeError("missing_field", key)
    return value


def device_time(candidate: float | None, received_at: float, *, max_age: float = MAX_AGE_LIVE) -> float:
    """Return the device's epoch-seconds time when sane, else `received_at`."""
    if candidate is None or candidate < MIN_EPOCH:
        return received_at
    if candidate > received_at + SKEW_FUTURE or candidate < received_at - max_age:
        return received_at
    return candidate


def epoch_seconds(value: Any, field: str) -> float:
    """Return a JSON epoch timestamp in seconds; values above 1e11 are taken as milliseconds."""
    t = number(value, field)
    return t / 1000.0 if t > 1e11 else t


def parse_local_time(value: str, fmt: str, tz: tzinfo | None) -> float | None:
    """Return epoch seconds for a local-time string in `fmt` (None tz: the host's zone), or None."""
    try:
        dt = datetime.strptime(value, fmt)
    except ValueError:
        return None
    try:
        return dt.replace(tzinfo=tz).timestamp() if tz is not None else dt.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
