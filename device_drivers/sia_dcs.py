"""SIA-DCS event blocks (SIA DC-03 data as DC-09 carries it, e.g. `Nri1/FA01`) and their event table (pure).

A block is an optional `N` (new event), then `/`-separated fields: modifiers `ri<area>`, `id<user>`,
`ti<hh:mm>` (and any other two lower-case letters with a value), and events: two upper-case letters
and an address, optionally followed by `^text^`; a bare address repeats the event code before it
(`NFA01/02` is a fire alarm on zones 01 and 02). The table mirrors the Contact ID one
(device_drivers/contact_id.py) and is listed in docs/serial.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from device_drivers import contact_id
from device_drivers.model import DecodeError, DeviceEvent, EventKind, EventState

_A, _C, _M = EventState.ACTIVE, EventState.CLEARED, EventState.MOMENTARY
_S, _SM, _HE, _GA = EventKind.SOS, EventKind.SMOKE, EventKind.HEAT, EventKind.GAS
_TA, _FA, _BA, _PW = EventKind.TAMPER, EventKind.FAULT, EventKind.BATTERY_LOW, EventKind.POWER_LOSS
_SU, _IN, _TE, _NO = EventKind.SUPERVISION_LOST, EventKind.INACTIVITY, EventKind.SELF_TEST, EventKind.NOTICE


@dataclass(slots=True, frozen=True)
class SiaCode:
    """What one SIA event code means: description, kind, state, and whether its address is a zone."""

    description: str
    kind: EventKind
    state: EventState
    zone: bool = True  # False: the address is a user, area, line or device number; the panel reports it


def _zone_family(letter: str, name: str, kind: EventKind) -> dict[str, SiaCode]:
    """Return the codes SIA gives every zone type: alarm, restores, trouble, bypass, supervisory, test."""
    alarm_state = _M if kind == _S else _A  # a press is an occurrence; a detector's alarm is a condition
    bypass = _NO if letter == "B" else _FA  # a bypassed burglary zone is routine; a bypassed fire zone is not
    return {
        f"{letter}A": SiaCode(f"{name} alarm", kind, alarm_state),
        f"{letter}H": SiaCode(f"{name} alarm restore", kind, _C),
        f"{letter}R": SiaCode(f"{name} restoral", kind, _C),
        f"{letter}T": SiaCode(f"{name} trouble", _FA, _A),
        f"{letter}J": SiaCode(f"{name} trouble restore", _FA, _C),
        f"{letter}B": SiaCode(f"{name} bypass", bypass, _A if bypass == _FA else _M),
        f"{letter}U": SiaCode(f"{name} unbypass", bypass, _C if bypass == _FA else _M),
        f"{letter}S": SiaCode(f"{name} supervisory", _FA, _A),
        f"{letter}X": SiaCode(f"{name} test", _TE, _M),
    }


CODES: dict[str, SiaCode] = {
    **_zone_family("F", "fire", _SM), **_zone_family("G", "gas", _GA), **_zone_family("K", "heat", _HE),
    **_zone_family("M", "medical", _S), **_zone_family("P", "panic", _S), **_zone_family("H", "holdup", _S),
    **_zone_family("Q", "emergency", _S), **_zone_family("B", "burglary", _S), **_zone_family("U", "untyped zone", _S),
    **_zone_family("S", "sprinkler", _SM), **_zone_family("W", "water", _FA), **_zone_family("Z", "freeze", _FA),
    # fire, burglary and untyped extras
    "FC": SiaCode("fire cancel", _NO, _M, zone=False), "FG": SiaCode("unverified fire", _SM, _A),
    "FI": SiaCode("fire test begin", _TE, _M, zone=False), "FK": SiaCode("fire test end", _TE, _M, zone=False),
    "FL": SiaCode("fire alarm silenced", EventKind.SILENCED, _M), "FM": SiaCode("fire alarm, cross point", _SM, _A),
    "FQ": SiaCode("fire supervisory trouble restore", _FA, _C), "FV": SiaCode("fire supervision restore", _FA, _C),
    "FW": SiaCode("fire supervisory trouble", _FA, _A), "FY": SiaCode("missing fire trouble", _SU, _A),
    "FZ": SiaCode("missing fire supervision", _SU, _A),
    "BC": SiaCode("burglary cancel", _NO, _M, zone=False), "BD": SiaCode("swinger trouble", _FA, _A),
    "BE": SiaCode("swinger trouble restore", _FA, _C), "BG": SiaCode("unverified burglary", _NO, _M),
    "BM": SiaCode("burglary alarm, cross point", _S, _M), "BV": SiaCode("burglary verified", _S, _M, zone=False),
    "BZ": SiaCode("missing supervision", _SU, _A),
    "UY": SiaCode("untyped missing trouble", _SU, _A), "UZ": SiaCode("untyped missing alarm", _SU, _A),
    # tamper, RF and expansion devices
    "TA": SiaCode("tamper alarm", _TA, _A), "TR": SiaCode("tamper restoral", _TA, _C),
    "TH": SiaCode("tamper alarm restore", _TA, _C), "TT": SiaCode("tamper trouble", _TA, _A),
    "TJ": SiaCode("tamper trouble restore", _TA, _C), "TB": SiaCode("tamper bypass", _FA, _A),
    "TU": SiaCode("tamper unbypass", _FA, _C), "JA": SiaCode("user code tamper", _TA, _A, zone=False),
    "JC": SiaCode("user code tamper cancelled", _TA, _C, zone=False),
    "XQ": SiaCode("RF interference", _TA, _A, zone=False),
    "XH": SiaCode("RF interference restoral", _TA, _C, zone=False),
    "XS": SiaCode("RF receiver tamper", _TA, _A, zone=False),
    "XJ": SiaCode("RF receiver tamper restoral", _TA, _C, zone=False),
    "XT": SiaCode("transmitter battery trouble", _BA, _A), "XR": SiaCode("transmitter battery restoral", _BA, _C),
    "XL": SiaCode("low RF signal / connection lost", _SU, _A), "XC": SiaCode("connection restored", _SU, _C),
    "EM": SiaCode("expansion device missing", _SU, _A, zone=False),
    "EN": SiaCode("expansion device missing restore", _SU, _C, zone=False),
    "ET": SiaCode("expansion device trouble", _FA, _A, zone=False),
    "ER": SiaCode("expansion device restoral", _FA, _C, zone=False),
    "ES": SiaCode("expansion device tamper", _TA, _A, zone=False),
    "EJ": SiaCode("expansion device tamper restore", _TA, _C, zone=False),
    # power, battery, communication, system
    "AT": SiaCode("AC trouble", _PW, _A, zone=False), "AR": SiaCode("AC restoral", _PW, _C, zone=False),
    "RR": SiaCode("power up", _PW, _C, zone=False),
    "YT": SiaCode("system battery trouble", _BA, _A, zone=False),
    "YR": SiaCode("system battery restoral", _BA, _C, zone=False),
    "YM": SiaCode("system battery missing", _BA, _A, zone=False),
    "YP": SiaCode("power supply trouble", _FA, _A, zone=False),
    "YQ": SiaCode("power supply restored", _FA, _C, zone=False),
    "YI": SiaCode("overcurrent trouble", _FA, _A, zone=False),
    "YJ": SiaCode("overcurrent restore", _FA, _C, zone=False),
    "YC": SiaCode("communications fail", _FA, _A, zone=False),
    "YS": SiaCode("communications trouble", _FA, _A, zone=False),
    "YK": SiaCode("communications restoral", _FA, _C, zone=False),
    "LT": SiaCode("phone line trouble", _FA, _A, zone=False), "LR": SiaCode("phone line restoral", _FA, _C, zone=False),
    "NT": SiaCode("network failure", _FA, _A, zone=False), "NR": SiaCode("network restoral", _FA, _C, zone=False),
    "YA": SiaCode("bell fault", _FA, _A, zone=False), "YH": SiaCode("bell restored", _FA, _C, zone=False),
    "YF": SiaCode("parameter checksum fail", _FA, _A, zone=False),
    "YU": SiaCode("diagnostic error", _FA, _A, zone=False),
    "YX": SiaCode("service required", _FA, _A, zone=False), "YZ": SiaCode("service completed", _FA, _C, zone=False),
    "YG": SiaCode("parameter changed", _NO, _M, zone=False), "YW": SiaCode("watchdog reset", _NO, _M, zone=False),
    "YY": SiaCode("status report", _NO, _M, zone=False), "YN": SiaCode("invalid report", _NO, _M, zone=False),
    # tests
    "RP": SiaCode("automatic test", _TE, _M, zone=False), "RX": SiaCode("manual test", _TE, _M, zone=False),
    "RY": SiaCode("test off normal", _TE, _M), "TX": SiaCode("test report", _TE, _M, zone=False),
    "TS": SiaCode("test start", _TE, _M, zone=False), "TE": SiaCode("test end", _TE, _M, zone=False),
    "TC": SiaCode("all points tested", _TE, _M, zone=False), "TP": SiaCode("walk test point", _TE, _M),
    "XX": SiaCode("fail to test", _SU, _A, zone=False),
    # activity monitoring
    "NA": SiaCode("no activity", _IN, _A), "NS": SiaCode("activity resumed", _IN, _C),
    "JK": SiaCode("latchkey alert", _IN, _A, zone=False), "OI": SiaCode("fail to open", _IN, _A, zone=False),
    "CT": SiaCode("late to open", _IN, _A, zone=False),
    # access
    "DF": SiaCode("door forced", _S, _M, zone=False), "DD": SiaCode("access denied", _NO, _M, zone=False),
    "DG": SiaCode("access granted", _NO, _M, zone=False), "DK": SiaCode("access lockout", _NO, _M, zone=False),
    # programming, schedules, log
    **{code: SiaCode(name, _NO, _M, zone=False) for code, name in (
        ("JD", "date changed"), ("JT", "time changed"), ("JL", "log threshold"), ("JO", "log overflow"),
        ("JR", "schedule executed"), ("JS", "schedule changed"), ("JP", "user on premises"),
        ("JV", "user code changed"), ("JX", "user code deleted"), ("JY", "user code added"),
        ("LB", "local programming begin"), ("LX", "local programming ended"), ("RB", "remote program begin"),
        ("RS", "remote program success"),
    )},
    # open/close: reports, not conditions
    **{code: SiaCode(name, _NO, _M, zone=False) for code, name in (
        ("OP", "opening report"), ("CL", "closing report"), ("OA", "automatic opening"),
        ("CA", "automatic closing"), ("CP", "automatic closing"), ("OQ", "remote opening"),
        ("CQ", "remote closing"), ("OR", "disarm from alarm"), ("OS", "opening keyswitch"),
        ("CS", "closing keyswitch"), ("OG", "open area"), ("CG", "close area"), ("OK", "early open"),
        ("CK", "early close"), ("OJ", "late open"), ("CJ", "late close"), ("OH", "early to open from alarm"),
        ("OL", "late to open from alarm"), ("CF", "forced closing"), ("CR", "recent closing"),
        ("CE", "closing extend"), ("OC", "cancel report"), ("CI", "fail to close"), ("OT", "late to close"),
        ("CD", "closing delinquent"),
    )},
}
OPEN_CLOSE = frozenset(c for c in CODES if c[0] in "OC" and CODES[c].kind == _NO)

_EVENT = re.compile(r"(?P<code>[A-Z]{2})(?P<addr>[0-9A-Za-z]{0,6})(?:\^(?P<text>[^^]*)\^)?")
_ADDR = re.compile(r"(?P<addr>[0-9]{1,6})(?:\^(?P<text>[^^]*)\^)?")
_MODIFIER = re.compile(r"(?P<name>[a-z]{2})(?P<value>[0-9A-Za-z:.\-]*)")


@dataclass(slots=True, frozen=True)
class SiaEvent:
    """One event of a block: its code, address, and the modifiers (area `ri`, user `id`, time `ti`) before it."""

    code: str
    address: str
    text: str = ""
    modifiers: dict[str, str] = field(default_factory=dict)


def parse_block(data: str) -> list[SiaEvent]:
    """Parse the data of a SIA-DCS block (without `[` `]` and the `#acct|` prefix) or raise DecodeError."""
    if data.startswith("N"):
        try:
            return _parse_fields(data[1:])
        except DecodeError:
            pass  # no `N` header after all: "NA01" is a no-activity event
    return _parse_fields(data)


def _parse_fields(body: str) -> list[SiaEvent]:
    if not body:
        raise DecodeError("bad_sia_data", "empty event block")
    events: list[SiaEvent] = []
    modifiers: dict[str, str] = {}
    last_code = ""
    for token in body.split("/"):
        event = _EVENT.fullmatch(token)
        if event is not None:
            last_code = event["code"]
            events.append(SiaEvent(last_code, event["addr"], event["text"] or "", dict(modifiers)))
            continue
        repeat = _ADDR.fullmatch(token)
        if repeat is not None and last_code:
            events.append(SiaEvent(last_code, repeat["addr"], repeat["text"] or "", dict(modifiers)))
            continue
        modifier = _MODIFIER.fullmatch(token)
        if modifier is None:
            raise DecodeError("bad_sia_data", token[:40])
        modifiers[modifier["name"]] = modifier["value"]
    if not events:
        raise DecodeError("bad_sia_data", f"no event code in {body[:40]!r}")
    return events


def unknown_codes(events: list[SiaEvent]) -> list[str]:
    """Return the codes of `events` the table does not know (the frame is then answered DUH)."""
    return [e.code for e in events if e.code not in CODES]


def to_event(event: SiaEvent, *, account: str, ts: float, source: str,
             extra: dict[str, Any] | None = None) -> DeviceEvent:
    """Map one SIA event to its DeviceEvent, keyed like Contact ID (contact_id.device_key)."""
    info = CODES[event.code]
    detail: dict[str, Any] = {"account": account.upper(), "sia_code": event.code,
                              "description": info.description, "address": event.address}
    if event.text:
        detail["text"] = event.text
    for name, label in (("ri", "area"), ("id", "user"), ("ti", "time")):
        if name in event.modifiers:
            detail[label] = event.modifiers[name]
    if event.code in OPEN_CLOSE:
        detail["open_close"] = "open" if event.code[0] == "O" else "close"
    detail.update(extra or {})
    key = contact_id.device_key(account, event.address if info.zone else None)
    return DeviceEvent(key, info.kind, info.state, ts, source, detail)
