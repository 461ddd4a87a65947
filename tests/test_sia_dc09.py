"""Pure SIA DC-09 frames (ADM-CID, SIA-DCS, NULL; plain and AES): CRC-16/ARC, length, parse, events, answers."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_drivers import sia_dc09, sia_dcs
from device_drivers.model import DecodeError, EventKind, EventState
from device_drivers.transports.sia_dc09_server import SiaDc09Server

EXAMPLE = b'\n87CD0037"ADM-CID"9876R579BDFL789ABC#12345A[#12345A|1110 00 129]\r'


def _wrap(body: bytes) -> bytes:
    return b"\n%04X%04X" % (sia_dc09.crc16_arc(body), len(body)) + body + b"\r"


def test_crc16_arc_check_value() -> None:
    assert sia_dc09.crc16_arc(b"123456789") == 0xBB3D  # the catalogued CRC-16/ARC check value


def test_public_example_verifies() -> None:
    body = EXAMPLE[9:-1]
    assert len(body) == 0x37 and sia_dc09.crc16_arc(body) == 0x87CD
    frame = sia_dc09.parse_frame(EXAMPLE)
    assert (frame.message_id, frame.sequence, frame.receiver, frame.line, frame.account) == (
        "ADM-CID", "9876", "579BDF", "789ABC", "12345A")
    [event] = sia_dc09.to_events(frame, ts=1.0)
    assert event.device_key == "sia:12345A:129"  # not a Contact ID account (4 digits of 0-9, B-F)
    assert (event.kind, event.state, event.source) == (EventKind.SMOKE, EventState.ACTIVE, "sia_dc09")
    assert event.detail["event_code"] == "110" and event.detail["group"] == "00"


def test_frame_with_timestamp_and_no_receiver() -> None:
    body = b'"ADM-CID"0001L0#1234[#1234|3101 01 007]_12:30:45,06-16-2025'
    frame = sia_dc09.parse_frame(b"\n%04X%04X" % (sia_dc09.crc16_arc(body), len(body)) + body + b"\r")
    assert frame.receiver is None and frame.timestamp == "12:30:45,06-16-2025"
    [event] = sia_dc09.to_events(frame, ts=2.0)
    assert event.kind == EventKind.SOS and event.state == EventState.CLEARED
    assert event.device_key == "cid:1234:007"  # the key serial Contact ID gives the same zone


def test_null_link_test_frame_has_no_event() -> None:
    body = b'"NULL"0002L0#1234[]'
    frame = sia_dc09.parse_frame(b"\n%04X%04X" % (sia_dc09.crc16_arc(body), len(body)) + body + b"\r")
    assert sia_dc09.to_events(frame, ts=0.0) == []


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (EXAMPLE.replace(b"87CD", b"87CE"), "bad_crc"),
        (EXAMPLE.replace(b"0037", b"0038"), "bad_length"),
        (EXAMPLE[:-1], "bad_framing"),
        (_wrap(b'"*ADM-CID"0001L0#1234[00112233445566778899AABBCCDDEEFF'), "encrypted_unsupported"),
        (_wrap(b'"SIA-CID"0001L0#1234[1101 01 007]'), "unsupported_token"),
        (_wrap(b'"SIA-DCS"0001L0#1234[#1234|NZQ01]'), "unknown_code"),
        (_wrap(b'"SIA-DCS"0001L0#1234[#1234|N!!]'), "bad_sia_data"),
    ],
)
def test_bad_frames(frame: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as err:
        sia_dc09.parse_frame(frame)
    assert err.value.reason == reason
    refusal = err.value.refusal
    # Damaged frames are NAKed (the sender retries); intact ones this receiver does not take, DUH.
    assert refusal.answer == ("NAK" if reason in {"bad_crc", "bad_length", "bad_framing"} else "DUH")


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


KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F1011121314151617")  # AES-192
NOW = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC


def _decrypt_answer(answer: bytes, key: bytes) -> str:
    """Decrypt an encrypted answer's data as a transmitter does (AES-CBC, zero IV)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    hex_part = answer[answer.index(b"[") + 1:-1]
    decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).decryptor()
    return (decryptor.update(bytes.fromhex(hex_part.decode())) + decryptor.finalize()).decode("ascii")


@pytest.mark.parametrize("key_hex", ["00" * 16, "11" * 24, "22" * 32])
def test_encrypted_frames_round_trip_with_every_key_size(key_hex: str) -> None:
    key = sia_dc09.parse_key(key_hex)
    frame = sia_dc09.build_frame("SIA-DCS", "0042", "1234", "Nri1/FA03", receiver="12", line="3", key=key,
                                 timestamp=NOW)
    assert frame.startswith(b"\n") and b'"*SIA-DCS"0042R12L3#1234[' in frame
    assert b"FA03" not in frame  # the data travels encrypted
    parsed = sia_dc09.parse_frame(frame, key=key)
    assert parsed.encrypted and parsed.timestamp == "15:06:40,06-15-2025"
    [event] = sia_dc09.to_events(parsed, ts=NOW)
    assert (event.device_key, event.kind, event.state) == ("cid:1234:003", EventKind.SMOKE, EventState.ACTIVE)
    assert event.detail["area"] == "1" and event.detail["encrypted"] is True
    ack = sia_dc09.build_ack(parsed, key=key, now=datetime.fromtimestamp(NOW, UTC))
    assert b'"*ACK"0042R12L3#1234[' in ack and ack[1:5] == b"%04X" % sia_dc09.crc16_arc(ack[9:-1])
    plain = _decrypt_answer(ack, key)
    assert len(plain) % 16 == 0 and plain.endswith("]_15:06:40,06-15-2025")
    assert not set(plain[:plain.index("]")]) & set("|[]")  # pad characters


def test_encrypted_adm_cid_and_null() -> None:
    adm = sia_dc09.parse_frame(sia_dc09.build_frame("ADM-CID", "0001", "1234", "1654 00 000", key=KEY,
                                                    timestamp=NOW), key=KEY)
    [event] = sia_dc09.to_events(adm, ts=NOW)
    assert (event.device_key, event.kind) == ("cid:1234", EventKind.INACTIVITY)  # zone 000: the panel
    null = sia_dc09.parse_frame(sia_dc09.build_frame("NULL", "0002", "1234", "", key=KEY, timestamp=NOW), key=KEY)
    assert null.message_id == "NULL" and sia_dc09.to_events(null, ts=NOW) == []


@pytest.mark.parametrize(
    ("frame", "key", "reason", "answer"),
    [
        (sia_dc09.build_frame("SIA-DCS", "0001", "1234", "NFA01", key=KEY, timestamp=NOW), None,
         "encrypted_unsupported", "DUH"),
        (sia_dc09.build_frame("SIA-DCS", "0001", "1234", "NFA01", timestamp=NOW), KEY, "encryption_required", "DUH"),
        (sia_dc09.build_frame("SIA-DCS", "0001", "1234", "NFA01", key=bytes(24), timestamp=NOW), KEY,
         "bad_decrypt", "DUH"),
        (sia_dc09.build_frame("SIA-DCS", "0001", "1234", "NFA01", key=KEY), KEY, "no_timestamp", "NAK"),
    ],
)
def test_encryption_refusals(frame: bytes, key: bytes | None, reason: str, answer: str) -> None:
    with pytest.raises(sia_dc09.FrameRefused) as err:
        sia_dc09.parse_frame(frame, key=key)
    assert (err.value.reason, err.value.refusal.answer) == (reason, answer)


def test_timestamp_window_is_40_s_behind_and_20_s_ahead() -> None:
    def at(offset: float) -> sia_dc09.Dc09Frame:
        return sia_dc09.parse_frame(sia_dc09.build_frame("SIA-DCS", "0001", "1234", "NFA01", timestamp=NOW + offset))

    for offset in (-40, 0, 20):
        sia_dc09.check_time(at(offset), NOW)
    for offset in (-41, 21, -3600):
        with pytest.raises(sia_dc09.FrameRefused) as err:
            sia_dc09.check_time(at(offset), NOW)
        assert err.value.refusal.answer == "NAK" and err.value.reason == "bad_timestamp"
    sia_dc09.check_time(sia_dc09.parse_frame(sia_dc09.build_frame("SIA-DCS", "0001", "1234", "NFA01")), NOW)


def test_parse_key_wants_128_192_or_256_bits_of_hex() -> None:
    assert len(sia_dc09.parse_key("ab" * 16)) == 16
    for bad in ("ab" * 8, "ab" * 20, "zz" * 16):
        with pytest.raises(ValueError):
            sia_dc09.parse_key(bad)


def test_sia_dcs_blocks() -> None:
    events = sia_dcs.parse_block("Nti12:30/id7/ri2/BA05^HALL^/06")
    assert [(e.code, e.address, e.text, e.modifiers["ri"]) for e in events] == [
        ("BA", "05", "HALL", "2"), ("BA", "06", "", "2")]
    assert [e.code for e in sia_dcs.parse_block("NA01")] == ["NA"]  # "N" is no header here: no activity
    frame = sia_dc09.parse_frame(sia_dc09.build_frame("SIA-DCS", "0001", "1234", "Nri1/OP/id3/MA07"))
    opening, medical = sia_dc09.to_events(frame, ts=NOW)
    assert (opening.device_key, opening.kind, opening.detail["open_close"]) == ("cid:1234", EventKind.NOTICE, "open")
    assert (medical.device_key, medical.kind, medical.state) == ("cid:1234:007", EventKind.SOS, EventState.MOMENTARY)
    assert medical.detail["user"] == "3" and medical.detail["sia_code"] == "MA"


def _doc_rows(heading: str) -> list[list[str]]:
    """Return the cells of the table under `heading` in docs/serial.md."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "serial.md").read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip().strip("`") for cell in row] for row in rows[1:]]


def test_every_documented_sia_code_decodes_as_documented() -> None:
    rows = _doc_rows("### SIA-DCS event codes")
    assert {row[0] for row in rows} == set(sia_dcs.CODES), "docs/serial.md and sia_dcs.CODES differ"
    for code, description, kind, state, key, _hub in rows:
        address = "012"
        frame = sia_dc09.parse_frame(sia_dc09.build_frame("SIA-DCS", "0001", "1234", f"N{code}{address}"))
        [event] = sia_dc09.to_events(frame, ts=NOW)
        assert (event.kind, event.state, event.detail["description"]) == (kind, state, description), code
        assert event.device_key == ("cid:1234:012" if key == "zone" else "cid:1234"), code


def test_threaded_receiver_answers_and_stops_with_a_connection_open() -> None:
    received: list = []
    server = SiaDc09Server(on_message=received.extend, key=KEY, accounts=["1234"], wall_clock=lambda: NOW)
    server.start_thread()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            def ask(frame: bytes) -> bytes:
                sock.sendall(frame)
                answer = b""
                while not answer.endswith(b"\r"):
                    answer += sock.recv(1024)
                return answer[9:-1]

            assert ask(sia_dc09.build_frame("SIA-DCS", "0001", "1234", "NMA02", key=KEY, timestamp=NOW)).startswith(
                b'"*ACK"0001L0#1234[')
            assert ask(sia_dc09.build_frame("SIA-DCS", "0002", "5555", "NMA02", key=KEY, timestamp=NOW)) == (
                b'"DUH"0002L0#5555[]')
            assert ask(sia_dc09.build_frame("SIA-DCS", "0003", "1234", "NMA02", key=KEY,
                                            timestamp=NOW - 41)).startswith(b'"NAK"0000R0L0A0[]_')
            assert [e.device_key for e in received] == ["cid:1234:002"]
            started = time.monotonic()
            server.stop_thread()  # the transmitter still holds its connection
            assert time.monotonic() - started < 3
        assert server.stats()["naks_by_reason"] == {"bad_timestamp": 1}
        assert server.stats()["duhs_by_reason"] == {"unknown_account": 1}
    finally:
        server.stop_thread()
