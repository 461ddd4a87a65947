"""SIA DC-09 frames over IP: parse, CRC and length check, AES decryption, ACK/NAK/DUH answers (pure).

A frame is `<LF>` CRC (4 hex) length (4 hex) `"ID"seq[Rrcvr]Lline#acct[data]...[_timestamp]<CR>`; CRC-16/ARC
and the length cover the bytes from the first `"` to just before `<CR>`. ID is `ADM-CID` (a Contact ID
event), `SIA-DCS` (SIA event blocks, device_drivers/sia_dcs.py) or `NULL` (link test). An encrypted frame
has `*` before the ID (`"*SIA-DCS"`); everything after `[` is then the hex of AES-CBC (zero IV, 128/192/256-bit
key) over pad characters, `|data]`, the extra blocks and the timestamp, which encryption makes mandatory.
The receiver answers `ACK` (frame taken), `NAK` (frame failed its checks or was not recorded: the sender
retries; carries the receiver's time) or `DUH` (understood, but not something this receiver takes).
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from device_drivers import contact_id, sia_dcs
from device_drivers.model import DecodeError, DeviceEvent

SOURCE = "sia_dc09"
MAX_FRAME_LEN = 1024  # DC-09 lengths are 3 hex digits; anything longer is not a frame
TOKENS = frozenset({"ADM-CID", "SIA-DCS", "NULL"})
# Refusals answered NAK (the frame was damaged or is out of time: a retry may succeed); every other
# refusal of a frame whose header could be read is answered DUH.
NAK_REASONS = frozenset({"too_long", "bad_framing", "bad_length", "bad_crc", "not_ascii", "bad_timestamp",
                         "no_timestamp", "callback_error"})
_TIME_FORMAT = "%H:%M:%S,%m-%d-%Y"
_PAD_CHARS = string.ascii_letters + string.digits  # anything but `|`, `[` and `]`

_HEADER = re.compile(rb"\n([0-9A-Fa-f]{4})([0-9A-Fa-f]{4})")
_BODY = re.compile(
    r'"(?P<enc>\*)?(?P<id>[A-Z][A-Z-]{2,15})"(?P<seq>\d{4})(?:R(?P<rcvr>[0-9A-Fa-f]{1,6}))?'
    r"L(?P<line>[0-9A-Fa-f]{1,6})#(?P<acct>[0-9A-Fa-f]{3,16})\[(?P<rest>.*)", re.S)
_REST = re.compile(r"(?P<data>[^\[\]]*)\](?P<extra>(?:\[[^\[\]]*\])*)(?P<ts>_\d{2}:\d{2}:\d{2},\d{2}-\d{2}-\d{4})?")
_INNER_ACCOUNT = re.compile(r"#(?P<acct>[0-9A-Fa-f]{3,16})\|")
_CID_DATA = re.compile(r"(?P<q>\d)(?P<code>\d{3}) (?P<group>\d{2}) (?P<zone>\d{3})")


@dataclass(slots=True, frozen=True)
class Dc09Frame:
    """A verified DC-09 frame; `message` is the Contact ID event, `sia_events` the SIA-DCS ones."""

    message_id: str
    sequence: str
    receiver: str | None
    line: str
    account: str
    data: str
    timestamp: str | None
    message: contact_id.ContactIdMessage | None
    raw: bytes
    encrypted: bool = False
    sia_events: tuple[sia_dcs.SiaEvent, ...] = ()
    extra: tuple[str, ...] = field(default_factory=tuple)


@dataclass(slots=True, frozen=True)
class Refusal:
    """Why a frame was refused, with what of its header could be read (to address a DUH)."""

    reason: str
    detail: str = ""
    sequence: str | None = None
    receiver: str | None = None
    line: str | None = None
    account: str | None = None
    encrypted: bool = False

    @property
    def answer(self) -> str:
        """Return "NAK" or "DUH": DUH needs the header, and is only for frames that arrived intact."""
        return "NAK" if self.reason in NAK_REASONS or self.sequence is None else "DUH"


class FrameRefused(DecodeError):
    """A DecodeError that also carries the refusal (reason and header fields)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason, refusal.detail)
        self.refusal = refusal


def crc16_arc(data: bytes) -> int:
    """Return CRC-16/ARC (poly 0xA001 reflected, init 0) of `data`, as DC-09 requires."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def parse_key(hex_key: str) -> bytes:
    """Return the AES key of a hex string of 32, 48 or 64 digits (128, 192 or 256 bits) or raise ValueError."""
    text = hex_key.strip()
    if len(text) not in (32, 48, 64):
        raise ValueError(f"a DC-09 AES key is 32, 48 or 64 hex digits (128/192/256 bit), not {len(text)}")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError("a DC-09 AES key must be hexadecimal") from None


def parse_frame(frame: bytes, *, key: bytes | None = None) -> Dc09Frame:
    """Parse and verify one `<LF>CRC LLLL "ID"... <CR>` frame or raise FrameRefused (a DecodeError).

    With `key`, encrypted frames are decrypted and plain ones refused (`encryption_required`); without
    it, encrypted frames are refused (`encrypted_unsupported`).
    """
    if len(frame) > MAX_FRAME_LEN:
        raise FrameRefused(Refusal("too_long", f"{len(frame)} bytes"))
    header = _HEADER.match(frame)
    if header is None or not frame.endswith(b"\r"):
        raise FrameRefused(Refusal("bad_framing", "expected <LF>CRC LLLL ... <CR>"))
    body = frame[header.end():-1]
    if int(header.group(2), 16) != len(body):
        raise FrameRefused(Refusal("bad_length", f"header says {int(header.group(2), 16)}, body has {len(body)}"))
    if int(header.group(1), 16) != crc16_arc(body):
        raise FrameRefused(Refusal("bad_crc", f"header {header.group(1).decode()}, computed {crc16_arc(body):04X}"))
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise FrameRefused(Refusal("not_ascii")) from None
    match = _BODY.fullmatch(text)
    if match is None:
        raise FrameRefused(Refusal("bad_body", text[:80]))
    encrypted = match["enc"] is not None
    address: dict[str, Any] = {"sequence": match["seq"], "receiver": match["rcvr"], "line": match["line"],
                               "account": match["acct"].upper(), "encrypted": encrypted}

    def refuse(reason: str, detail: str = "") -> FrameRefused:
        return FrameRefused(Refusal(reason, detail, **address))

    if match["id"] not in TOKENS:
        raise refuse("unsupported_token", match["id"])
    rest, inner = match["rest"], None
    if encrypted:
        if key is None:
            raise refuse("encrypted_unsupported", "no dc09_aes_key is set")
        rest, inner = _decrypt(match["rest"], key, refuse)
    elif key is not None:
        raise refuse("encryption_required", "a key is set: plain frames are refused")
    parts = _REST.fullmatch(rest)
    if parts is None:
        raise refuse("bad_body", rest[:80])
    data = parts["data"]
    inner_match = _INNER_ACCOUNT.match(data)
    if inner_match is not None:
        inner, data = inner_match["acct"], data[inner_match.end():]
    timestamp = parts["ts"][1:] if parts["ts"] else None
    if encrypted and timestamp is None:
        raise refuse("no_timestamp", "an encrypted frame must carry its time")
    message = None
    events: tuple[sia_dcs.SiaEvent, ...] = ()
    if match["id"] == "ADM-CID":
        message = _contact_id(data, (inner or match["acct"]).upper(), refuse)
    elif match["id"] == "SIA-DCS":
        try:
            events = tuple(sia_dcs.parse_block(data))
        except DecodeError as exc:
            raise refuse(exc.reason, exc.detail) from None
        unknown = sia_dcs.unknown_codes(list(events))
        if unknown:
            raise refuse("unknown_code", ",".join(unknown))
    elif data:
        raise refuse("bad_body", "a NULL frame carries no data")
    extra = tuple(re.findall(r"\[([^\[\]]*)\]", parts["extra"]))
    return Dc09Frame(match["id"], match["seq"], match["rcvr"], match["line"], match["acct"].upper(), data,
                     timestamp, message, frame, encrypted, events, extra)


def frame_time(frame: Dc09Frame) -> float | None:
    """Return the frame's timestamp (UTC, as DC-09 sends it) in epoch seconds, or None when it has none."""
    if frame.timestamp is None:
        return None
    try:
        return datetime.strptime(frame.timestamp, _TIME_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def check_time(frame: Dc09Frame, now: float, *, behind_s: float = 40.0, ahead_s: float = 20.0) -> None:
    """Raise FrameRefused `bad_timestamp` when the frame's time is outside [now - behind_s, now + ahead_s].

    DC-09 allows a frame's time to lag the receiver's by 40 s and lead it by 20 s; a frame without a
    timestamp (allowed for plain frames only) is not checked.
    """
    if frame.timestamp is None:
        return
    t = frame_time(frame)
    if t is None or not now - behind_s <= t <= now + ahead_s:
        raise FrameRefused(Refusal("bad_timestamp", f"{frame.timestamp} vs receiver {_stamp(now)}",
                                   frame.sequence, frame.receiver, frame.line, frame.account, frame.encrypted))


def to_events(frame: Dc09Frame, *, ts: float) -> list[DeviceEvent]:
    """Map a frame to its DeviceEvents (the same keys and table as serial Contact ID); none for NULL."""
    extra: dict[str, Any] = {"receiver": frame.receiver, "line": frame.line, "sequence": frame.sequence,
                             "frame_time": frame.timestamp, "crc_verified": True, "encrypted": frame.encrypted,
                             "raw": frame.raw.decode("ascii").strip()}
    if frame.extra:
        extra["extra_data"] = list(frame.extra)
    if frame.message is not None:
        return [contact_id.to_event(frame.message, ts=ts, source=SOURCE, extra=extra)]
    return [sia_dcs.to_event(event, account=frame.account, ts=ts, source=SOURCE, extra=extra)
            for event in frame.sia_events]


def build_ack(frame: Dc09Frame, *, key: bytes | None = None, now: datetime | None = None) -> bytes:
    """Return the `"ACK"` answer echoing sequence, receiver, line and account (encrypted when the frame was)."""
    address = f"{frame.sequence}{_receiver(frame.receiver)}L{frame.line}#{frame.account}["
    if frame.encrypted and key is not None:
        return _wrap(f'"*ACK"{address}{_encrypt("]" + _timestamp(now), key)}')
    return _wrap(f'"ACK"{address}]{_timestamp(now)}')


def build_duh(refusal: Refusal) -> bytes:
    """Return the `"DUH"` answer to a frame this receiver understood but does not take."""
    return _wrap(f'"DUH"{refusal.sequence}{_receiver(refusal.receiver)}L{refusal.line}#{refusal.account}[]')


def build_nak(*, now: datetime | None = None) -> bytes:
    """Return the `"NAK"` answer (sequence 0000, the receiver's UTC time so the sender can set its clock)."""
    return _wrap(f'"NAK"0000R0L0A0[]{_timestamp(now)}')


def build_frame(token: str, sequence: str, account: str, data: str, *, receiver: str | None = None,
                line: str = "0", key: bytes | None = None, timestamp: float | None = None,
                inner_account: bool = True) -> bytes:
    """Return a DC-09 frame as a transmitter sends it (for the simulator and tests); encrypted with `key`."""
    stamp = "" if timestamp is None else _stamp(timestamp)
    block = f"#{account}|{data}" if inner_account and data else data
    head = f"{sequence}{_receiver(receiver)}L{line}#{account}["
    if key is not None:
        body = f'"*{token}"{head}{_encrypt(("|" + data if data else "") + "]" + stamp, key)}'
    else:
        body = f'"{token}"{head}{block}]{stamp}'
    return _wrap(body)


def _contact_id(data: str, account: str, refuse) -> contact_id.ContactIdMessage:
    cid = _CID_DATA.fullmatch(data)
    if cid is None:
        raise refuse("bad_cid_data", data[:40])
    if cid["q"] not in "136":
        raise refuse("bad_qualifier", cid["q"])
    return contact_id.ContactIdMessage(account, contact_id.qualifier_letter(cid["q"]), cid["code"], cid["group"],
                                       cid["zone"], "18", checksum_verified=False)


def _decrypt(hex_text: str, key: bytes, refuse) -> tuple[str, str | None]:
    """Decrypt the hex after `[`; return the text from `|` (or `]`) on, pad dropped, and an inner account."""
    try:
        blob = bytes.fromhex(hex_text)
    except ValueError:
        raise refuse("bad_encrypted_data", "not hexadecimal") from None
    if not blob or len(blob) % 16:
        raise refuse("bad_encrypted_data", f"{len(blob)} bytes is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).decryptor()
    try:
        text = (decryptor.update(blob) + decryptor.finalize()).decode("ascii")
    except UnicodeDecodeError:
        raise refuse("bad_decrypt", "not ASCII after decryption: wrong key?") from None
    end = text.find("]")
    bar = text.find("|")
    if end < 0:
        raise refuse("bad_decrypt", "no ] after decryption: wrong key?")
    if 0 <= bar < end:
        pad, rest = text[:bar], text[bar + 1:]
        inner = re.search(r"#([0-9A-Fa-f]{3,16})$", pad)
        return rest, inner.group(1) if inner else None
    return text[end:], None


def _encrypt(text: str, key: bytes) -> str:
    pad = "".join(secrets.choice(_PAD_CHARS) for _ in range(16 - len(text) % 16))
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    return (encryptor.update((pad + text).encode("ascii")) + encryptor.finalize()).hex().upper()


def _receiver(receiver: str | None) -> str:
    return f"R{receiver}" if receiver is not None else ""


def _wrap(body: str) -> bytes:
    raw = body.encode("ascii")
    return b"\n" + f"{crc16_arc(raw):04X}{len(raw):04X}".encode("ascii") + raw + b"\r"


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("_" + _TIME_FORMAT)


def _timestamp(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("_" + _TIME_FORMAT)
