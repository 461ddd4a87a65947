"""Contact ID (SIA DC-05) messages and the Sur-Gard style receiver records that carry them (pure).

Layouts, checksum rule and the event-code table are documented in docs/serial.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from device_drivers.model import DecodeError, DeviceEvent, EventKind, EventState

SOURCE = "contact_id"
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

# Exact codes first; families below catch the rest (docs/serial.md, "Event codes").
EVENT_KINDS: dict[str, EventKind] = {
    "100": EventKind.SOS,  # medical
    "101": EventKind.SOS,  # personal emergency (pendant)
    "102": EventKind.SUPERVISION_LOST,  # fail to report in
    "110": EventKind.SMOKE,  # fire
    "111": EventKind.SMOKE,
    "114": EventKind.HEAT,
    "120": EventKind.SOS,  # panic
    "121": EventKind.SOS,  # duress
    "122": EventKind.SOS,  # silent panic
    "123": EventKind.SOS,  # audible panic
    "137": EventKind.TAMPER,
    "144": EventKind.TAMPER,
    "145": EventKind.TAMPER,
    "151": EventKind.GAS,
    "162": EventKind.CO,
    "301": EventKind.POWER_LOSS,  # AC loss
    "302": EventKind.BATTERY_LOW,  # low system battery
    "381": EventKind.SUPERVISION_LOST,  # RF loss of supervision
    "383": EventKind.TAMPER,  # RF sensor tamper
    "384": EventKind.BATTERY_LOW,  # RF low battery
    "601": EventKind.SELF_TEST,  # manual test
    "602": EventKind.SELF_TEST,  # periodic test
    "641": EventKind.INACTIVITY,  # senior watch trouble
    "654": EventKind.INACTIVITY,  # system inactivity
}


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
    if event_code.startswith("11"):
        return EventKind.SMOKE, False  # fire family
    if event_code.startswith("1"):
        # Fail safe: an unknown code in the alarm class must reach an operator, never a fault list.
        return EventKind.SOS, False
    if event_code.startswith("60"):
        return EventKind.SELF_TEST, False
    return EventKind.FAULT, False


def qualifier_letter(qualifier: str) -> str:
    """Return E, R or P for a qualifier given as E/R/P or as the Contact ID digit 1/3/6."""
    try:
        return _QUALIFIERS[str(qualifier).upper()]
    except KeyError:
        raise DecodeError("bad_qualifier", repr(qualifier)) from None


def to_event(
    message: ContactIdMessage, *, ts: float, source: str = SOURCE, extra: dict[str, Any] | None = None
) -> DeviceEvent:
    """Map a Contact ID message to a DeviceEvent for device `cid:<account>:<zone>`."""
    kind, mapped = event_kind(message.event_code)
    if message.qualifier == "R":
        state = EventState.CLEARED
    elif kind == EventKind.SELF_TEST:
        state = EventState.MOMENTARY  # a test is an occurrence; nothing will ever clear it
    else:
        state = EventState.ACTIVE
    detail: dict[str, Any] = {
        "account": message.account,
        "event_code": message.event_code,
        "qualifier": message.qualifier,
        "group": message.group,
        "zone": message.zone,
        "message_type": message.message_type,
        "checksum_verified": message.checksum_verified,
    }
    if message.qualifier == "P":
        detail["still_present"] = True
    if not mapped:
        detail["unmapped"] = True
    detail.update(extra or {})
    return DeviceEvent(f"cid:{message.account}:{message.zone}", kind, state, ts, source, detail)


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
