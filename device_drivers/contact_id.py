"""Contact ID (SIA DC-05) messages and the Sur-Gard style receiver records that carry them (pure).

Layouts, checksum rule and the event-code table are documented in docs/serial.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from device_drivers.model import DecodeError, DeviceEvent, EventKind, EventState

SOURCE = "contact_id"
# A receiver's own link status is keyed `receiver:<id>`: the hub's own transport, never a device to bind.
RECEIVER_KEY_PREFIX = "receiver:"
DC4 = 0x14  # ends every receiver record
ACK = 0x06
NAK = 0x15

# Contact ID digit values: 0 counts as 10, B-F as 11-15 (DTMF has no digit worth 0).
_DIGIT_VALUE = {**{str(d): d for d in range(1, 10)}, "0": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15}
_VALUE_DIGIT = {v: k for k, v in _DIGIT_VALUE.items()}
_ACCOUNT_CHARS = frozenset("0123456789BCDEF")
_DIGITS = frozenset("0123456789")
_MESSAGE_TYPES = frozenset({"18", "98"})
# Receivers print E/R/P; the Contact ID message itself carries 1/3/6.
_QUALIFIERS = {"1": "E", "3": "R", "6": "P", "E": "E", "R": "R", "P": "P"}
_QUALIFIER_DIGIT = {"E": "1", "R": "3", "P": "6"}

MAX_RECORD_LEN = 64  # longest chunk worth parsing: a heartbeat padded with spaces fits easily
_RECORD_STARTS = b"15"  # '5' opens an event record, '1' a heartbeat

# The SIA DC-05 event table (docs/serial.md, "Contact ID event codes"): code -> (description, kind).
# Kinds say what the hub does: alarms become alerts, troubles device-care alerts, tests and notices
# are recorded. Burglary and intrusion have no kind of their own: at a resident's home they are an SOS.
_S, _SM, _HE, _GA, _CO = EventKind.SOS, EventKind.SMOKE, EventKind.HEAT, EventKind.GAS, EventKind.CO
_TA, _FA, _BA, _PW = EventKind.TAMPER, EventKind.FAULT, EventKind.BATTERY_LOW, EventKind.POWER_LOSS
_SU, _IN, _TE, _NO = EventKind.SUPERVISION_LOST, EventKind.INACTIVITY, EventKind.SELF_TEST, EventKind.NOTICE
CODES: dict[str, tuple[str, EventKind]] = {
    # 1xx alarms: medical, fire, panic, burglary, general, 24-hour non-burglary
    "100": ("medical", _S), "101": ("personal emergency", _S), "102": ("fail to report in", _IN),
    "110": ("fire", _SM), "111": ("smoke", _SM), "112": ("combustion", _SM), "113": ("water flow", _SM),
    "114": ("heat", _HE), "115": ("pull station", _SM), "116": ("duct", _SM), "117": ("flame", _SM),
    "118": ("fire near alarm", _SM),
    "120": ("panic", _S), "121": ("duress", _S), "122": ("silent panic", _S), "123": ("audible panic", _S),
    "124": ("duress, access granted", _S), "125": ("duress, egress granted", _S),
    "130": ("burglary", _S), "131": ("perimeter", _S), "132": ("interior", _S), "133": ("24-hour (safe)", _S),
    "134": ("entry/exit", _S), "135": ("day/night", _S), "136": ("outdoor", _S), "137": ("tamper", _TA),
    "138": ("burglary near alarm", _S), "139": ("intrusion verifier", _S),
    "140": ("general alarm", _S), "141": ("polling loop open", _FA), "142": ("polling loop short", _FA),
    "143": ("expansion module failure", _FA), "144": ("sensor tamper", _TA),
    "145": ("expansion module tamper", _TA), "146": ("silent burglary", _S),
    "147": ("sensor supervision failure", _SU),
    "150": ("24-hour non-burglary", _S), "151": ("gas detected", _GA), "152": ("refrigeration", _FA),
    "153": ("loss of heat", _FA), "154": ("water leakage", _FA), "155": ("foil break", _S),
    "156": ("day trouble", _FA), "157": ("low bottled gas level", _FA), "158": ("high temperature", _FA),
    "159": ("low temperature", _FA), "161": ("loss of air flow", _FA), "162": ("carbon monoxide detected", _CO),
    "163": ("tank level", _FA),
    # 2xx supervisory
    "200": ("fire supervisory", _FA), "201": ("low water pressure", _FA), "202": ("low CO2", _FA),
    "203": ("gate valve sensor", _FA), "204": ("low water level", _FA), "205": ("pump activated", _FA),
    "206": ("pump failure", _FA),
    # 3xx troubles: system, sounder/relay, peripherals, communication, protection loop, sensors
    "300": ("system trouble", _FA), "301": ("AC loss", _PW), "302": ("low system battery", _BA),
    "303": ("RAM checksum bad", _FA), "304": ("ROM checksum bad", _FA), "305": ("system reset", _NO),
    "306": ("panel programming changed", _NO), "307": ("self-test failure", _FA),
    "308": ("system shutdown", _FA), "309": ("battery test failure", _BA), "310": ("ground fault", _FA),
    "311": ("battery missing/dead", _BA), "312": ("power supply overcurrent", _FA),
    "313": ("engineer reset", _NO),
    "320": ("sounder/relay", _FA), "321": ("bell 1", _FA), "322": ("bell 2", _FA), "323": ("alarm relay", _FA),
    "324": ("trouble relay", _FA), "325": ("reversing relay", _FA), "326": ("notification appliance circuit 3", _FA),
    "327": ("notification appliance circuit 4", _FA),
    "330": ("system peripheral trouble", _FA), "331": ("polling loop open", _FA), "332": ("polling loop short", _FA),
    "333": ("expansion module failure", _FA), "334": ("repeater failure", _FA),
    "335": ("local printer out of paper", _FA), "336": ("local printer failure", _FA),
    "337": ("expansion module DC loss", _FA), "338": ("expansion module low battery", _BA),
    "339": ("expansion module reset", _NO), "341": ("expansion module tamper", _TA),
    "342": ("expansion module AC loss", _PW), "343": ("expansion module self-test fail", _FA),
    "344": ("RF receiver jam detect", _TA),
    "350": ("communication trouble", _FA), "351": ("telco 1 fault", _FA), "352": ("telco 2 fault", _FA),
    "353": ("long range radio transmitter fault", _FA), "354": ("failure to communicate event", _FA),
    "355": ("loss of radio supervision", _SU), "356": ("loss of central polling", _SU),
    "357": ("long range radio VSWR problem", _FA),
    "370": ("protection loop", _FA), "371": ("protection loop open", _FA), "372": ("protection loop short", _FA),
    "373": ("fire trouble", _FA), "374": ("exit error alarm (zone)", _FA), "375": ("panic zone trouble", _FA),
    "376": ("hold-up zone trouble", _FA), "377": ("swinger trouble", _FA), "378": ("cross-zone trouble", _FA),
    "380": ("sensor trouble", _FA), "381": ("loss of supervision, RF", _SU),
    "382": ("loss of supervision, RPM", _SU), "383": ("sensor tamper", _TA), "384": ("RF low battery", _BA),
    "385": ("smoke detector high sensitivity", _FA), "386": ("smoke detector low sensitivity", _FA),
    "387": ("intrusion detector high sensitivity", _FA), "388": ("intrusion detector low sensitivity", _FA),
    "389": ("sensor self-test failure", _FA), "391": ("sensor watch trouble", _FA),
    "392": ("drift compensation error", _FA), "393": ("maintenance alert", _FA),
    # 4xx open/close, remote access, access control
    "400": ("open/close", _NO), "401": ("open/close by user", _NO), "402": ("group open/close", _NO),
    "403": ("automatic open/close", _NO), "404": ("late to open/close", _NO), "405": ("deferred open/close", _NO),
    "406": ("cancel", _NO), "407": ("remote arm/disarm", _NO), "408": ("quick arm", _NO),
    "409": ("keyswitch open/close", _NO),
    "411": ("callback request made", _NO), "412": ("successful download/access", _NO),
    "413": ("unsuccessful access", _TA), "414": ("system shutdown command received", _FA),
    "415": ("dialer shutdown command received", _FA), "416": ("successful upload", _NO),
    "421": ("access denied", _NO), "422": ("access report by user", _NO), "423": ("forced access", _S),
    "424": ("egress denied", _NO), "425": ("egress granted", _NO), "426": ("access door propped open", _NO),
    "427": ("access point door status monitor trouble", _FA), "428": ("access point request-to-exit trouble", _FA),
    "429": ("access program mode entry", _NO), "430": ("access program mode exit", _NO),
    "431": ("access threat level change", _NO), "432": ("access relay/trigger fail", _FA),
    "433": ("access RTE shunt", _NO), "434": ("access DSM shunt", _NO),
    "441": ("armed STAY", _NO), "442": ("keyswitch armed STAY", _NO),
    "450": ("exception open/close", _NO), "451": ("early open/close", _NO), "452": ("late open/close", _NO),
    "453": ("failed to open", _IN), "454": ("failed to close", _NO), "455": ("auto-arm failed", _NO),
    "456": ("partial arm", _NO), "457": ("exit error (user)", _NO), "458": ("user on premises", _NO),
    "459": ("recent close", _NO), "461": ("wrong code entry", _TA), "462": ("legal code entry", _NO),
    "463": ("re-arm after alarm", _NO), "464": ("auto-arm time extended", _NO),
    "465": ("panic alarm reset", _NO), "466": ("service on/off premises", _NO),
    # 5xx bypasses and disables: protection that is off is a device-care matter
    "501": ("access reader disable", _FA), "520": ("sounder/relay disable", _FA), "521": ("bell 1 disable", _FA),
    "522": ("bell 2 disable", _FA), "523": ("alarm relay disable", _FA), "524": ("trouble relay disable", _FA),
    "525": ("reversing relay disable", _FA), "526": ("notification appliance circuit 3 disable", _FA),
    "527": ("notification appliance circuit 4 disable", _FA), "531": ("module added", _NO),
    "532": ("module removed", _FA), "551": ("dialer disabled", _FA), "552": ("radio transmitter disabled", _FA),
    "553": ("remote upload/download disabled", _NO), "570": ("zone/sensor bypass", _FA),
    "571": ("fire bypass", _FA), "572": ("24-hour zone bypass", _FA), "573": ("burglary bypass", _NO),
    "574": ("group bypass", _NO), "575": ("swinger bypass", _NO), "576": ("access zone shunt", _NO),
    "577": ("access point bypass", _NO),
    # 6xx test, event log, scheduling, personnel monitoring, misc
    "601": ("manual trigger test", _TE), "602": ("periodic test", _TE), "603": ("periodic RF transmission", _TE),
    "604": ("fire test", _TE), "605": ("status report to follow", _NO), "606": ("listen-in to follow", _NO),
    "607": ("walk test mode", _TE), "608": ("periodic test, system trouble present", _TE),
    "609": ("video transmitter active", _NO), "611": ("point tested OK", _TE), "612": ("point not tested", _FA),
    "613": ("intrusion zone walk tested", _TE), "614": ("fire zone walk tested", _TE),
    "615": ("panic zone walk tested", _TE), "616": ("service request", _FA),
    "621": ("event log reset", _NO), "622": ("event log 50% full", _NO), "623": ("event log 90% full", _NO),
    "624": ("event log overflow", _NO), "625": ("time/date reset", _NO), "626": ("time/date inaccurate", _FA),
    "627": ("program mode entry", _NO), "628": ("program mode exit", _NO), "629": ("32-hour event log marker", _NO),
    "630": ("schedule change", _NO), "631": ("exception schedule change", _NO),
    "632": ("access schedule change", _NO),
    "641": ("senior watch trouble", _IN), "642": ("latch-key supervision", _IN), "654": ("system inactivity", _IN),
}
EVENT_KINDS: dict[str, EventKind] = {code: kind for code, (_, kind) in CODES.items()}
# Codes whose CCC field is a user number, not a zone: the event belongs to the panel (`cid:<account>`).
USER_CODES = frozenset({
    "121", "313", *(str(c) for c in range(400, 410)), *(str(c) for c in range(411, 416)), "421", "422", "424",
    "425", "429", "430", "431", "441", "442", *(str(c) for c in range(450, 460)), "462", "463", "464", "466",
    "574", "604", "607", "625", "642",
})
# Open/close codes: qualifier 1 (E) is an opening (disarm), 3 (R) a closing (arm), not an alarm and its restore.
OPEN_CLOSE_CODES = frozenset({*(str(c) for c in range(400, 410)), "441", "442", *(str(c) for c in range(450, 460))})
ONE_SHOT_KINDS = frozenset({EventKind.SOS, EventKind.SELF_TEST})  # a press or a test ends by itself
EVENT_CLASSES = {"1": "alarm", "2": "supervisory", "3": "trouble", "4": "open_close", "5": "bypass", "6": "test"}
_CID_ACCOUNT = re.compile(r"[0-9B-F]{4}")


@dataclass(slots=True, frozen=True)
class ContactIdMessage:
    """One Contact ID event: account, qualifier E/R/P, event code, group and zone/user."""

    account: str
    qualifier: str
    event_code: str
    group: str
    zone: str
    message_type: str = "18"
    checksum_verified: bool = False  # False when the layout carried no checksum digit


@dataclass(slots=True, frozen=True)
class ReceiverRecord:
    """A receiver event record: which receiver and line delivered which Contact ID message."""

    receiver: str
    line: str
    message: ContactIdMessage
    raw: str


@dataclass(slots=True, frozen=True)
class Heartbeat:
    """The receiver's periodic "I am alive" record (`1011` + spaces + `@`)."""

    receiver: str
    line: str
    raw: str


@dataclass(slots=True, frozen=True)
class Frame:
    """One DC4-terminated chunk: a parsed record, or the reason it was refused."""

    record: ReceiverRecord | Heartbeat | None
    reason: str = ""
    raw: bytes = b""


def checksum_digit(body: str) -> str:
    """Return the digit that makes the 15-digit Contact ID `body` plus itself a multiple of 15."""
    total = sum(_digit_value(ch) for ch in body)
    return _VALUE_DIGIT[15 - total % 15]  # remainder 0 gives 15, i.e. "F"


def verify_checksum(message: str) -> bool:
    """Return True when a 16-digit Contact ID message (checksum last) adds up to a multiple of 15."""
    if len(message) != 16 or any(ch not in _DIGIT_VALUE for ch in message.upper()):
        return False
    return sum(_DIGIT_VALUE[ch] for ch in message.upper()) % 15 == 0


def encode_message(
    account: str, qualifier: str, event_code: str, group: str, zone: str, *, message_type: str = "18"
) -> str:
    """Return the 16-digit Contact ID message `AAAA MT Q XYZ GG CCC S` with its checksum."""
    _check_message_fields(account, message_type, qualifier, event_code, group, zone)
    digit = _QUALIFIER_DIGIT[qualifier_letter(qualifier)]
    body = f"{account.upper()}{message_type}{digit}{event_code}{group}{zone}"
    return body + checksum_digit(body)


def parse_message(message: str) -> ContactIdMessage:
    """Parse and checksum-verify a 16-digit Contact ID message or raise DecodeError."""
    if len(message) != 16:
        raise DecodeError("bad_length", f"Contact ID message has {len(message)} digits, not 16")
    account, mtype, qual, code, group, zone = (
        message[:4], message[4:6], message[6], message[7:10], message[10:12], message[12:15])
    _check_message_fields(account, mtype, qual, code, group, zone)
    if qual not in "136":
        raise DecodeError("bad_qualifier", f"{qual!r} is not 1, 3 or 6")
    if not verify_checksum(message):
        raise DecodeError("bad_checksum", message)
    return ContactIdMessage(account.upper(), qualifier_letter(qual), code, group, zone, mtype, True)


def parse_record(record: bytes | str) -> ReceiverRecord | Heartbeat:
    """Parse one receiver record (without its DC4) in any layout of docs/serial.md or raise DecodeError."""
    text = _ascii(record)
    if text[:1] == "1":
        return _parse_heartbeat(text)
    if text[:1] != "5":
        raise DecodeError("bad_layout", f"record starts with {text[:1]!r}, not '5' or '1'")
    if len(text) not in (20, 21):
        raise DecodeError("bad_length", f"event record has {len(text)} characters, not 20 or 21")
    receiver, line = text[1:3], text[3]
    if not (set(receiver) <= _DIGITS and line in _DIGITS):
        raise DecodeError("bad_receiver", text[1:4])
    if text[4] != " ":
        raise DecodeError("bad_layout", "no space after receiver and line")
    if len(text) == 21:  # 5RRLs + AAAA MT Q XYZ GG CCC S: the Contact ID message with its checksum
        message = parse_message(text[5:])
    else:  # 5RRLs MT AAAA Q XYZ GG CCC: Sur-Gard MLR2, no checksum digit
        mtype, account, qual, code, group, zone = (
            text[5:7], text[7:11], text[11], text[12:15], text[15:17], text[17:20])
        _check_message_fields(account, mtype, qual, code, group, zone)
        message = ContactIdMessage(account.upper(), qualifier_letter(qual), code, group, zone, mtype, False)
    return ReceiverRecord(receiver, line, message, text)


def format_record(
    account: str, qualifier: str, event_code: str, group: str, zone: str, *,
    receiver: str = "01", line: str = "1", with_checksum: bool = False,
) -> bytes:
    """Return a receiver event record ending in DC4, in the MLR2 layout or the checksum-carrying one."""
    _check_message_fields(account, "18", qualifier, event_code, group, zone)
    qual = qualifier_letter(qualifier)
    if with_checksum:
        body = encode_message(account, qual, event_code, group, zone)
    else:
        body = f"18{account.upper()}{qual}{event_code}{group}{zone}"
    return f"5{receiver}{line} {body}".encode("ascii") + bytes([DC4])


def format_heartbeat(*, receiver: str = "01", line: str = "1") -> bytes:
    """Return the MLR2 heartbeat record `1RRL` + spaces + `@` + DC4."""
    return f"1{receiver}{line}{' ' * 11}@".encode("ascii") + bytes([DC4])


def event_kind(event_code: str) -> tuple[EventKind, bool]:
    """Return the EventKind for a Contact ID event code and whether the code is in the exact table."""
    kind = EVENT_KINDS.get(event_code)
    if kind is not None:
        return kind, True
    family = event_code[:1]
    if event_code.startswith("11"):
        return EventKind.SMOKE, False  # fire family
    if family == "1":
        # Fail safe: an unknown code in the alarm class must reach an operator, never a fault list.
        return EventKind.SOS, False
    if family == "4":
        return EventKind.NOTICE, False  # open/close and access reports
    if event_code[:2] in ("60", "61"):
        return EventKind.SELF_TEST, False
    if family == "6":
        return EventKind.NOTICE, False  # event log, scheduling and other misc reports
    return EventKind.FAULT, False  # supervisory, troubles, bypasses and vendor codes: a device-care check


def event_class(event_code: str) -> str:
    """Return the DC-05 class of a code: alarm, supervisory, trouble, open_close, bypass, test, misc or other."""
    if event_code[:1] == "6" and event_code >= "620":
        return "misc"
    return EVENT_CLASSES.get(event_code[:1], "other")


def device_key(account: str, zone: str | None = None) -> str:
    """Return the registry key (docs/registry.md) of a panel (no zone, or zone 0) or of one of its zones.

    A Contact ID account (4 digits of 0-9, B-F) keys as `cid:`, so the same panel over serial and over
    DC-09 is one device; other DC-09 accounts (3-16 hex digits) key as `sia:`. Zones of up to 3 digits
    are written with 3 digits (`cid:1234:007`); longer or non-numeric SIA addresses are kept as sent.
    """
    account = account.upper()
    prefix = "cid" if _CID_ACCOUNT.fullmatch(account) else "sia"
    if zone is None or not zone.strip("0"):
        return f"{prefix}:{account}"
    if zone.isdigit() and len(zone) <= 3:
        zone = zone.zfill(3)
    return f"{prefix}:{account}:{zone}"


def qualifier_letter(qualifier: str) -> str:
    """Return E, R or P for a qualifier given as E/R/P or as the Contact ID digit 1/3/6."""
    try:
        return _QUALIFIERS[str(qualifier).upper()]
    except KeyError:
        raise DecodeError("bad_qualifier", repr(qualifier)) from None


def to_event(
    message: ContactIdMessage, *, ts: float, source: str = SOURCE, extra: dict[str, Any] | None = None
) -> DeviceEvent:
    """Map a Contact ID message to a DeviceEvent for its zone, or for the panel (zone 000, user codes)."""
    code = message.event_code
    kind, mapped = event_kind(code)
    qualifier = message.qualifier
    if kind == EventKind.NOTICE:
        state = EventState.MOMENTARY  # a report, not a condition: an R closes nothing
    elif qualifier == "R":
        state = EventState.CLEARED
    elif qualifier == "P" and kind != EventKind.SELF_TEST:
        state = EventState.ACTIVE  # still present: latched conditions do not raise again
    elif kind in ONE_SHOT_KINDS:
        state = EventState.MOMENTARY  # a press or a test is an occurrence; nothing will ever clear it
    else:
        state = EventState.ACTIVE
    user = code in USER_CODES
    detail: dict[str, Any] = {
        "account": message.account,
        "event_code": code,
        "description": CODES[code][0] if mapped else "",
        "event_class": event_class(code),
        "qualifier": qualifier,
        "group": message.group,
        "zone": message.zone,
        "message_type": message.message_type,
        "checksum_verified": message.checksum_verified,
    }
    if user:
        detail["user"] = message.zone
    if code in OPEN_CLOSE_CODES:
        detail["open_close"] = {"E": "open", "R": "close"}.get(qualifier, "status")
    if qualifier == "P":
        detail["still_present"] = True
    if not mapped:
        detail["unmapped"] = True
    detail.update(extra or {})
    return DeviceEvent(device_key(message.account, None if user else message.zone), kind, state, ts, source, detail)


def record_event(record: ReceiverRecord, *, ts: float, receiver_id: str = "") -> DeviceEvent:
    """Map a receiver record to its DeviceEvent, keeping receiver, line and the raw record in detail."""
    extra = {"receiver": record.receiver, "line": record.line, "raw": record.raw}
    if receiver_id:
        extra["receiver_id"] = receiver_id
    return to_event(record.message, ts=ts, extra=extra)


@dataclass
class RecordFramer:
    """Split a receiver byte stream into DC4-terminated frames, dropping noise and resynchronising.

    Noise before a record inside one chunk is dropped up to the record start; a buffer that grows past
    `max_record` bytes without DC4, or sits incomplete for `stale_after` seconds, is discarded.
    """

    max_record: int = MAX_RECORD_LEN
    stale_after: float = 2.0
    noise_bytes: int = 0
    resyncs: dict[str, int] = field(default_factory=dict)
    _buf: bytearray = field(default_factory=bytearray)
    _last_at: float = 0.0

    def feed(self, data: bytes, now: float) -> list[Frame]:
        """Add received bytes and return every frame they complete."""
        self.expire(now)
        if data:
            self._last_at = now
        frames: list[Frame] = []
        *complete, tail = bytes(data).split(bytes([DC4]))
        for part in complete:
            self._buf += part
            self._trim()
            chunk, self._buf = bytes(self._buf), bytearray()
            frame = self._frame(chunk)
            if frame is not None:
                frames.append(frame)
        self._buf += tail
        self._trim()
        return frames

    def expire(self, now: float) -> None:
        """Discard a partial record that has waited longer than `stale_after` for its DC4."""
        if self._buf and now - self._last_at > self.stale_after:
            self._drop(len(self._buf), "stale")

    def reset(self) -> None:
        """Forget any partial record (the port was closed)."""
        self._buf.clear()

    def _trim(self) -> None:
        excess = len(self._buf) - self.max_record
        if excess <= 0:
            return
        # Keep the tail from the first plausible record start; everything before it is noise.
        starts = [i for i in range(excess, len(self._buf)) if self._buf[i] in _RECORD_STARTS]
        self._drop(starts[0] if starts else len(self._buf), "overflow")

    def _drop(self, count: int, reason: str) -> None:
        del self._buf[:count]
        self.noise_bytes += count
        self.resyncs[reason] = self.resyncs.get(reason, 0) + 1

    def _frame(self, chunk: bytes) -> Frame | None:
        if not chunk.strip(b"\r\n\x00 \t"):
            self.noise_bytes += len(chunk)
            return None  # line formatting between records: nothing to answer
        first_error: DecodeError | None = None
        for start in range(len(chunk)):
            if start and chunk[start] not in _RECORD_STARTS:
                continue
            try:
                record = parse_record(chunk[start:])
            except DecodeError as exc:
                if first_error is None and chunk[start] in _RECORD_STARTS:
                    first_error = exc
                continue
            self.noise_bytes += start
            return Frame(record, "", chunk)
        self.noise_bytes += len(chunk)
        return Frame(None, first_error.reason if first_error else "no_record_start", chunk)


def _parse_heartbeat(text: str) -> Heartbeat:
    receiver, line = text[1:3], text[3:4]
    if len(text) < 5 or not (set(receiver) <= _DIGITS and line in _DIGITS):
        raise DecodeError("bad_heartbeat", text)
    if text[-1] != "@" or text[4:-1].strip(" "):
        raise DecodeError("bad_heartbeat", text)
    return Heartbeat(receiver, line, text)


def _check_message_fields(account: str, mtype: str, qual: str, code: str, group: str, zone: str) -> None:
    if len(account) != 4 or not set(account.upper()) <= _ACCOUNT_CHARS:
        raise DecodeError("bad_account", account)
    if mtype not in _MESSAGE_TYPES:
        raise DecodeError("bad_message_type", mtype)
    qualifier_letter(qual)
    for reason, value, size in (("bad_event_code", code, 3), ("bad_group", group, 2), ("bad_zone", zone, 3)):
        if len(value) != size or not set(value) <= _DIGITS:
            raise DecodeError(reason, value)


def _digit_value(ch: str) -> int:
    try:
        return _DIGIT_VALUE[ch.upper()]
    except KeyError:
        raise DecodeError("bad_digit", repr(ch)) from None


def _ascii(record: bytes | str) -> str:
    if isinstance(record, str):
        if not record.isascii():
            raise DecodeError("not_ascii")
        return record
    try:
        return record.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError("not_ascii") from None
