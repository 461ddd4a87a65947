"""Pure SIA DC-09 ADM-CID frames: CRC-16/ARC, length, parse, event mapping, ACK/NAK."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_drivers import sia_dc09
from device_drivers.model import DecodeError, EventKind, EventState
from device_drivers.transports.sia_dc09_server import SiaDc09Server

EXAMPLE = b'\n87CD0037"ADM-CID"9876R579BDFL789ABC#12345A[#12345A|1110 00 129]\r'


def test_crc16_arc_check_value() -> None:
    assert sia_dc09.crc16_arc(b"123456789") == 0xBB3D  # the catalogued CRC-16/ARC check value


def test_public_example_verifies() -> None:
    body = EXAMPLE[9:-1]
    assert len(body) == 0x37 and sia_dc09.crc16_arc(body) == 0x87CD
    frame = sia_dc09.parse_frame(EXAMPLE)
    assert (frame.message_id, frame.sequence, frame.receiver, frame.line, frame.account) == (
        "ADM-CID", "9876", "579BDF", "789ABC", "12345A")
    event = sia_dc09.to_event(frame, ts=1.0)
    assert event is not None
    assert event.device_key == "cid:12345A:129"
    assert (event.kind, event.state, event.source) == (EventKind.SMOKE, EventState.ACTIVE, "sia_dc09")
    assert event.detail["event_code"] == "110" and event.detail["group"] == "00"


def test_frame_with_timestamp_and_no_receiver() -> None:
    body = b'"ADM-CID"0001L0#1234[#1234|3101 01 007]_12:30:45,06-16-2025'
    frame = sia_dc09.parse_frame(b"\n%04X%04X" % (sia_dc09.crc16_arc(body), len(body)) + body + b"\r")
    assert frame.receiver is None and frame.timestamp == "12:30:45,06-16-2025"
    event = sia_dc09.to_event(frame, ts=2.0)
    assert event is not None and event.kind == EventKind.SOS and event.state == EventState.CLEARED


def test_null_link_test_frame_has_no_event() -> None:
    body = b'"NULL"0002L0#1234[]'
    frame = sia_dc09.parse_frame(b"\n%04X%04X" % (sia_dc09.crc16_arc(body), len(body)) + body + b"\r")
    assert sia_dc09.to_event(frame, ts=0.0) is None


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (EXAMPLE.replace(b"87CD", b"87CE"), "bad_crc"),
        (EXAMPLE.replace(b"0037", b"0038"), "bad_length"),
        (EXAMPLE[:-1], "bad_framing"),
        (b'\n00000010*"ADM-CID"0001\r', "encrypted_unsupported"),
    ],
)
def test_bad_frames(frame: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as err:
        sia_dc09.parse_frame(frame)
    assert err.value.reason == reason


def test_ack_and_nak_are_valid_frames() -> None:
    now = datetime(2025, 6, 16, 12, 30, 45, tzinfo=UTC)
    ack = sia_dc09.build_ack(sia_dc09.parse_frame(EXAMPLE), now=now)
    assert ack == _wrap(b'"ACK"9876R579BDFL789ABC#12345A[]_12:30:45,06-16-2025')
    nak = sia_dc09.build_nak(now=now)
    assert nak == _wrap(b'"NAK"0000R0L0A0[]_12:30:45,06-16-2025')


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    try:
        sia_dc09.parse_frame(b"\n" + data + b"\r")
    except DecodeError:
        pass


def _wrap(body: bytes) -> bytes:
    return b"\n%04X%04X" % (sia_dc09.crc16_arc(body), len(body)) + body + b"\r"


def test_tcp_receiver_over_loopback() -> None:
    asyncio.run(_tcp_exchange())


async def _tcp_exchange() -> None:
    received: list = []
    server = SiaDc09Server(on_message=received.extend)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"noise" + EXAMPLE)  # bytes before <LF> are dropped
        await writer.drain()
        ack = await asyncio.wait_for(reader.readuntil(b"\r"), 4)
        assert b'"ACK"9876R579BDFL789ABC#12345A[]' in ack
        assert ack[1:5] == b"%04X" % sia_dc09.crc16_arc(ack[9:-1])
        assert [e.kind for e in received] == [EventKind.SMOKE]
        writer.write(EXAMPLE.replace(b"87CD", b"0000"))
        await writer.drain()
        nak = await asyncio.wait_for(reader.readuntil(b"\r"), 4)
        assert b'"NAK"0000R0L0A0[]' in nak and len(received) == 1
        assert server.naks_by_reason == {"bad_crc": 1} and server.frames_ok == 1
        writer.close()
        await writer.wait_closed()
    finally:
        await server.stop()
