"""Pure Contact ID: checksum, receiver record layouts, event mapping, framing and resync."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_drivers import contact_id
from device_drivers.contact_id import (
    DC4,
    Heartbeat,
    ReceiverRecord,
    RecordFramer,
    checksum_digit,
    encode_message,
    event_kind,
    format_heartbeat,
    format_record,
    parse_message,
    parse_record,
    verify_checksum,
)
from device_drivers.model import DecodeError, DeviceEvent, EventKind, EventState


def test_documented_example_checksum_is_valid() -> None:
    assert verify_checksum("1234181131010158")
    assert checksum_digit("123418113101015") == "8"
    assert encode_message("1234", "E", "131", "01", "015") == "1234181131010158"


@pytest.mark.parametrize(
    "bad", ["1234181131010157", "1234181131010159", "123418113101015", "12341811310101X8"]
)
def test_bad_checksum_or_shape_is_refused(bad: str) -> None:
    assert not verify_checksum(bad)


def test_check_digit_f_when_no_adjustment_and_0_for_ten() -> None:
    # Each generated message must verify; the digit alphabet covers 0 (=10) and B-F.
    seen = set()
    for zone in range(0, 200):
        message = encode_message("1234", "1", "100", "01", f"{zone:03d}")
        assert verify_checksum(message)
        seen.add(message[-1])
    assert {"0", "F"} <= seen


def test_parse_message_with_checksum() -> None:
    msg = parse_message("1234181131010158")
    fields = (msg.account, msg.qualifier, msg.event_code, msg.group, msg.zone)
    assert fields == ("1234", "E", "131", "01", "015")
    assert msg.checksum_verified
    with pytest.raises(DecodeError) as err:
        parse_message("1234181131010157")
    assert err.value.reason == "bad_checksum"


def test_mlr2_record_without_checksum() -> None:
    record = parse_record(b"5011 181234E10101001")
    assert isinstance(record, ReceiverRecord)
    assert (record.receiver, record.line) == ("01", "1")
    assert record.message.qualifier == "E" and record.message.event_code == "101"
    assert not record.message.checksum_verified


def test_record_with_checksum_carrying_message() -> None:
    record = parse_record("5021 1234181131010158")
    assert isinstance(record, ReceiverRecord)
    assert record.receiver == "02" and record.message.checksum_verified
    with pytest.raises(DecodeError) as err:
        parse_record("5021 1234181131010157")
    assert err.value.reason == "bad_checksum"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("5011 181234X10101001", "bad_qualifier"),
        ("5011 181234E1A101001", "bad_event_code"),
        ("5011 171234E10101001", "bad_message_type"),
        ("5011 181234E101010", "bad_length"),
        ("5011-181234E10101001", "bad_layout"),
        ("5011 181A34E10101001", "bad_account"),
        ("5011 181234E101X1001", "bad_group"),
        ("5011 181234E1010100Z", "bad_zone"),
        ("4011 181234E10101001", "bad_layout"),
        ("1011     x@", "bad_heartbeat"),
        ("5011 18123\xe9E10101001", "not_ascii"),
    ],
)
def test_malformed_records_have_reasons(raw: str, reason: str) -> None:
    with pytest.raises(DecodeError) as err:
        parse_record(raw.encode("latin-1"))
    assert err.value.reason == reason


def test_heartbeat() -> None:
    record = parse_record(format_heartbeat()[:-1])
    assert isinstance(record, Heartbeat) and record.receiver == "01"
    assert isinstance(parse_record("1011@"), Heartbeat)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("100", EventKind.SOS), ("101", EventKind.SOS), ("120", EventKind.SOS),
        ("102", EventKind.SUPERVISION_LOST), ("110", EventKind.SMOKE), ("111", EventKind.SMOKE),
        ("114", EventKind.HEAT), ("151", EventKind.GAS), ("162", EventKind.CO),
        ("301", EventKind.POWER_LOSS), ("302", EventKind.BATTERY_LOW), ("384", EventKind.BATTERY_LOW),
        ("381", EventKind.SUPERVISION_LOST), ("601", EventKind.SELF_TEST), ("602", EventKind.SELF_TEST),
        ("641", EventKind.INACTIVITY), ("654", EventKind.INACTIVITY),
    ],
)
def test_event_code_table(code: str, kind: EventKind) -> None:
    assert event_kind(code) == (kind, True)


def test_unknown_codes_fail_safe() -> None:
    assert event_kind("130") == (EventKind.SOS, False)  # unknown alarm class reaches an operator
    assert event_kind("118") == (EventKind.SMOKE, False)
    assert event_kind("607") == (EventKind.SELF_TEST, False)
    assert event_kind("401") == (EventKind.FAULT, False)


def test_record_event_states_and_detail() -> None:
    raw = format_record("1234", "E", "101", "01", "007")[:-1]
    event = contact_id.record_event(parse_record(raw), ts=5.0)
    assert event.device_key == "cid:1234:007"
    assert (event.kind, event.state, event.source) == (EventKind.SOS, EventState.ACTIVE, "contact_id")
    assert event.is_alarm
    assert event.detail.items() >= {
        "account": "1234", "event_code": "101", "qualifier": "E", "group": "01", "zone": "007",
        "receiver": "01", "line": "1", "raw": raw.decode(),
    }.items()
    restore = _event("R", "101")
    assert restore.state == EventState.CLEARED and not restore.is_alarm
    still = _event("6", "111")
    assert still.state == EventState.ACTIVE and still.detail["still_present"] is True
    assert _event("E", "602").state == EventState.MOMENTARY


def _event(qualifier: str, code: str) -> DeviceEvent:
    record = parse_record(format_record("1234", qualifier, code, "01", "007")[:-1])
    assert isinstance(record, ReceiverRecord)
    return contact_id.record_event(record, ts=6.0)


def test_framer_resyncs_after_noise_and_partial_records() -> None:
    framer = RecordFramer()
    good = format_record("1234", "E", "100", "01", "001")
    stream = b"\r\n\x00\xffnoise5011 1812" + good + b"\r\n" + format_heartbeat() + b"garbage" + bytes([DC4])
    frames = framer.feed(stream, now=0.0)
    assert [type(f.record).__name__ for f in frames] == ["ReceiverRecord", "Heartbeat", "NoneType"]
    assert frames[2].reason == "no_record_start"
    assert framer.noise_bytes == len(b"\r\n\x00\xffnoise5011 1812") + 2 + len(b"garbage")


def test_framer_handles_bytes_one_at_a_time() -> None:
    framer = RecordFramer()
    frames = []
    for byte in b"zz" + format_record("1234", "E", "100", "01", "001"):
        frames += framer.feed(bytes([byte]), now=0.0)
    assert len(frames) == 1 and frames[0].record is not None


def test_framer_overflow_and_stale_buffers_are_discarded() -> None:
    framer = RecordFramer(stale_after=1.0)
    assert framer.feed(b"x" * 500, now=0.0) == []
    assert framer.resyncs["overflow"] >= 1
    framer.feed(b"5011 1812", now=0.5)
    framer.expire(now=5.0)
    assert framer.resyncs["stale"] == 1
    frames = framer.feed(format_record("1234", "E", "100", "01", "001"), now=5.1)
    assert len(frames) == 1 and frames[0].record is not None


def test_bad_checksum_chunk_is_refused_with_reason() -> None:
    frames = RecordFramer().feed(b"5011 1234181131010157" + bytes([DC4]), now=0.0)
    assert frames[0].record is None and frames[0].reason == "bad_checksum"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    framer = RecordFramer()
    for frame in framer.feed(data, now=0.0):
        assert frame.record is not None or frame.reason
    try:
        parse_record(data)
    except DecodeError:
        pass


_noise = st.binary(max_size=200).map(lambda b: b.replace(bytes([DC4]), b""))


@settings(max_examples=300, deadline=None)
@given(_noise, st.sampled_from([False, True]), st.integers(0, 999), st.sampled_from("ERP"))
def test_noise_never_loses_the_next_record(noise: bytes, with_checksum: bool, zone: int, qual: str) -> None:
    framer = RecordFramer()
    record = format_record("12B4", qual, "101", "01", f"{zone:03d}", with_checksum=with_checksum)
    frames = framer.feed(noise + record, now=0.0)
    assert frames and isinstance(frames[-1].record, ReceiverRecord)
    assert frames[-1].record.message.zone == f"{zone:03d}"
