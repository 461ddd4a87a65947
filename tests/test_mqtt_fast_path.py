"""The hub's PUBLISH fast path reads exactly what paho's own parser reads, however the bytes arrive."""

from __future__ import annotations

import socket

from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from hub.ingest.mqtt_client import _Client


def remaining_length(n: int) -> bytes:
    """Encode an MQTT remaining length."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (128 if n else 0))
        if not n:
            return bytes(out)


def publish(topic: bytes, payload: bytes, qos: int = 0, mid: int = 0, dup: bool = False) -> bytes:
    """Return an MQTT 3.1.1 PUBLISH packet."""
    body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"") + payload
    return bytes([0x30 | (8 if dup else 0) | (qos << 1)]) + remaining_length(len(body)) + body


PINGRESP = b"\xd0\x00"


def reader(got: list, *, fast: bool) -> tuple[_Client, socket.socket, socket.socket]:
    """Return a client reading a socket pair (recording what it delivers in `got`) and both ends."""
    client = _Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="t", clean_session=False,
                     manual_ack=True)
    client.on_message = lambda _c, _u, m: got.append((m._topic, m.payload, m.qos, m.mid, bool(m.dup)))
    if fast:
        client.on_publish_packet = lambda *packet: got.append(packet)
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    client._sock = client._wrap(ours)
    return client, ours, theirs


def read_all(chunks: list[bytes], *, fast: bool) -> tuple[list[tuple], _Client]:
    """Feed `chunks` one after another through a socket pair into a client; return what it delivered."""
    got: list[tuple] = []
    client, ours, theirs = reader(got, fast=fast)
    try:
        for chunk in chunks:
            theirs.sendall(chunk)
            while client._packet_read() == 0:
                pass
    finally:
        ours.close()
        theirs.close()
    return got, client


def test_fast_path_delivers_qos0_and_qos1_with_ids_and_dup_and_long_lengths():
    packets = [
        (b"zigbee2mqtt/sos", b'{"action":"emergency"}', 1, 7, False),
        (b"a/b", b"x" * 200, 0, 0, False),  # two-byte remaining length
        (b"a/c", b"y" * 20_000, 1, 65535, True),  # three bytes, and more than one socket read
        (b"\xff\xfe", b"bad topic bytes", 0, 0, False),  # not UTF-8: the hub rejects it, the reader must not
    ]
    stream = b"".join(publish(*p) for p in packets)
    got, _ = read_all([stream], fast=True)
    assert got == packets


def test_other_packets_and_qos2_are_left_to_paho_in_order():
    first, second = (b"t/1", b"1", 0, 0, False), (b"t/2", b"2", 1, 9, False)
    stream = publish(*first) + PINGRESP + publish(*second) + publish(b"t/3", b"3", 2, 10)
    got, client = read_all([stream], fast=True)
    assert got == [first, second]  # the QoS 2 message waits in paho for PUBREL, as paho does it
    assert 10 in client._in_messages


def test_malformed_publish_goes_to_paho_which_reports_a_protocol_error():
    empty_topic = b"\x30" + remaining_length(3) + b"\x00\x00x"
    got: list = []
    client, ours, theirs = reader(got, fast=True)
    try:
        theirs.sendall(publish(b"ok", b"1") + empty_topic)
        assert client._packet_read() == 0
        assert got == [(b"ok", b"1", 0, 0, False)]
        assert client._packet_read() != 0  # paho's own parser refuses the empty topic
        assert got == [(b"ok", b"1", 0, 0, False)]
    finally:
        ours.close()
        theirs.close()


messages = st.lists(
    st.tuples(st.binary(min_size=1, max_size=40), st.binary(max_size=600), st.sampled_from([0, 1]),
              st.integers(1, 65535), st.booleans()),
    min_size=1, max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(messages, st.lists(st.integers(1, 2000), max_size=20), st.data())
def test_any_split_of_any_stream_reads_the_same_as_paho(packets, cuts, data):
    packets = [(t, p, q, m if q else 0, d) for t, p, q, m, d in packets]
    stream = b"".join(publish(*p) + (PINGRESP if data.draw(st.booleans()) else b"") for p in packets)
    bounds = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    fast, _ = read_all(chunks, fast=True)
    slow, _ = read_all(chunks, fast=False)
    assert fast == slow == packets
