"""SIA DC-09 frames carrying Contact ID ("ADM-CID") over IP: parse, CRC check, ACK/NAK (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from device_drivers import contact_id
from device_drivers.model import DecodeError, DeviceEvent

SOURCE = "sia_dc09"
MAX_FRAME_LEN = 1024  # DC-09 lengths are 3 hex digits; anything longer is not a frame

_HEADER = re.compile(rb"\n([0-9A-Fa-f]{4})([0-9A-Fa-f]{4})")
_BODY = re.compile(
    r'"(?P<id>ADM-CID|NULL)"(?P<seq>\d{4})(?:R(?P<rcvr>[0-9A-F]{1,6}))?L(?P<line>[0-9A-F]{1,6})'
    r"#(?P<acct>[0-9A-F]{3,16})\[(?P<data>[^\[\]]*)\](?P<extra>(?:\[[^\[\]]*\])*)"
    r"(?P<ts>_\d{2}:\d{2}:\d{2},\d{2}-\d{2}-\d{4})?"
)
_CID_DATA = re.compile(
    r"(?:#(?P<acct>[0-9A-F]{3,16})\|)?(?P<q>\d)(?P<code>\d{3}) (?P<group>\d{2}) (?P<zone>\d{3})"
)


@dataclass(slots=True, frozen=True)
class Dc09Frame:
    """A verified DC-09 frame; `message` is None for a NULL (link test) frame."""

    message_id: str
    sequence: str
    receiver: str | None
    line: str
    account: str
    data: str
    timestamp: str | None
    message: contact_id.ContactIdMessage | None
    raw: bytes


def crc16_arc(data: bytes) -> int:
    """Return CRC-16/ARC (poly 0xA001 reflected, init 0) of `data`, as DC-09 requires."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def parse_frame(frame: bytes) -> Dc09Frame:
    """Parse and verify one `<LF>CRC 0LLL "ID"... <CR>` frame or raise DecodeError."""
    if len(frame) > MAX_FRAME_LEN:
        raise DecodeError("too_long", f"{len(frame)} bytes")
    header = _HEADER.match(frame)
    if header is None or not frame.endswith(b"\r"):
        raise DecodeError("bad_framing", "expected <LF>CRC LLLL ... <CR>")
    body = frame[header.end():-1]
    if body.startswith(b'*"'):
        raise DecodeError("encrypted_unsupported", "encrypted frames need a shared key")
    if int(header.group(2), 16) != len(body):
        raise DecodeError("bad_length", f"header says {int(header.group(2), 16)}, body has {len(body)}")
    if int(header.group(1), 16) != crc16_arc(body):
        raise DecodeError("bad_crc", f"header {header.group(1).decode()}, computed {crc16_arc(body):04X}")
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError("not_ascii") from None
    match = _BODY.fullmatch(text)
    if match is None:
        raise DecodeError("bad_body", text[:80])
    message = None
    if match["id"] == "ADM-CID":
        cid = _CID_DATA.fullmatch(match["data"])
        if cid is None:
            raise DecodeError("bad_cid_data", match["data"])
        if cid["q"] not in "136":
            raise DecodeError("bad_qualifier", cid["q"])
        message = contact_id.ContactIdMessage(
            cid["acct"] or match["acct"], contact_id.qualifier_letter(cid["q"]), cid["code"], cid["group"],
            cid["zone"], "18", checksum_verified=False,
        )
    return Dc09Frame(match["id"], match["seq"], match["rcvr"], match["line"], match["acct"], match["data"],
                     match["ts"][1:] if match["ts"] else None, message, frame)


def to_event(frame: Dc09Frame, *, ts: float) -> DeviceEvent | None:
    """Map an ADM-CID frame to its DeviceEvent (same mapping as serial Contact ID); None for NULL."""
    if frame.message is None:
        return None
    extra = {"receiver": frame.receiver, "line": frame.line, "sequence": frame.sequence,
             "frame_time": frame.timestamp, "crc_verified": True, "raw": frame.raw.decode("ascii").strip()}
    return contact_id.to_event(frame.message, ts=ts, source=SOURCE, extra=extra)


def build_ack(frame: Dc09Frame, *, now: datetime | None = None) -> bytes:
    """Return the `"ACK"` answer echoing the frame's sequence, receiver, line and account."""
    receiver = f"R{frame.receiver}" if frame.receiver is not None else ""
    return _wrap(f'"ACK"{frame.sequence}{receiver}L{frame.line}#{frame.account}[]{_timestamp(now)}')


def build_nak(*, now: datetime | None = None) -> bytes:
    """Return the `"NAK"` answer (sequence 0000, receiver time) for a frame that failed its checks."""
    return _wrap(f'"NAK"0000R0L0A0[]{_timestamp(now)}')


def _wrap(body: str) -> bytes:
    raw = body.encode("ascii")
    return b"\n" + f"{crc16_arc(raw):04X}{len(raw):04X}".encode("ascii") + raw + b"\r"


def _timestamp(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("_%H:%M:%S,%m-%d-%Y")
