"""Pure Contact ID: checksum, receiver record layouts, event mapping, framing and resync."""

from __future__ import annotations

from pathlib import Path

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


def _doc_rows(heading: str) -> list[list[str]]:
    """Return the cells of the table under `heading` in docs/serial.md."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "serial.md").read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip().strip("`") for cell in row] for row in rows[1:]]


def test_every_documented_contact_id_code_decodes_as_documented() -> None:
    rows = _doc_rows("### Contact ID event codes")
    assert {row[0] for row in rows} == set(contact_id.CODES), "docs/serial.md and contact_id.CODES differ"
    for code, description, event_class, kind, key, _hub in rows:
        assert event_kind(code) == (EventKind(kind), True), code
        event = _event("E", code, zone="012")
        assert (event.kind, event.detail["event_class"], event.detail["description"]) == (
            kind, event_class, description), code
        assert event.device_key == ("cid:1234:012" if key == "zone" else "cid:1234"), code
        assert "unmapped" not in event.detail


def test_documented_classes_cover_the_dc05_families() -> None:
    classes = {row[0]: row[2] for row in _doc_rows("### Contact ID event codes")}
    assert {c[0] for c in classes} == set("123456")
    assert {classes["100"], classes["200"], classes["301"], classes["401"], classes["570"], classes["602"],
            classes["654"]} == {"alarm", "supervisory", "trouble", "open_close", "bypass", "test", "misc"}


def test_states_by_qualifier_and_kind() -> None:
    assert _event("E", "101").state == EventState.MOMENTARY  # a press: nothing will restore it
    assert _event("R", "101").state == EventState.CLEARED
    assert _event("P", "101").state == EventState.ACTIVE and _event("P", "101").detail["still_present"]
    assert _event("E", "111").state == EventState.ACTIVE  # a detector's alarm is a condition
    assert _event("E", "602").state == _event("P", "602").state == EventState.MOMENTARY
    assert _event("E", "654").state == EventState.ACTIVE and _event("R", "654").state == EventState.CLEARED
    opening, closing = _event("E", "401", zone="003"), _event("R", "401", zone="003")
    assert (opening.kind, opening.state, opening.detail["open_close"]) == (
        EventKind.NOTICE, EventState.MOMENTARY, "open")
    assert (closing.state, closing.detail["open_close"]) == (EventState.MOMENTARY, "close")


def test_panel_events_key_to_the_panel() -> None:
    # Zone 000 is the panel itself (docs/registry.md: `cid:<account>`), not a zone called 000.
    assert _event("E", "301", zone="000").device_key == "cid:1234"
    assert _event("E", "654", zone="000").device_key == "cid:1234"
    assert _event("E", "301", zone="004").device_key == "cid:1234:004"
    # The CCC of user codes is a user number: user 3 opening the panel is not zone 3.
    opening = _event("E", "401", zone="003")
    assert opening.device_key == "cid:1234" and opening.detail["user"] == "003"
    assert contact_id.device_key("12b4", "7") == "cid:12B4:007"
    assert contact_id.device_key("12345A", "129") == "sia:12345A:129"  # a DC-09 account, not Contact ID


def test_unknown_codes_fall_back_by_family() -> None:
    assert event_kind("126") == (EventKind.SOS, False)  # unknown alarm class reaches an operator
    assert event_kind("119") == (EventKind.SMOKE, False)
    assert event_kind("617") == (EventKind.SELF_TEST, False)
    assert event_kind("480") == (EventKind.NOTICE, False)
    assert event_kind("690") == (EventKind.NOTICE, False)
    for code in ("233", "399", "599", "750"):
        assert event_kind(code) == (EventKind.FAULT, False)
    assert _event("E", "126").detail["unmapped"] is True


def test_record_event_states_and_detail() -> None:
    raw = format_record("1234", "E", "101", "01", "007")[:-1]
    event = contact_id.record_event(parse_record(raw), ts=5.0)
    assert event.device_key == "cid:1234:007"
    assert (event.kind, event.state, event.source) == (EventKind.SOS, EventState.MOMENTARY, "contact_id")
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


def _event(qualifier: str, code: str, zone: str = "007") -> DeviceEvent:
    record = parse_record(format_record("1234", qualifier, code, "01", zone)[:-1])
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
