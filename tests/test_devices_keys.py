"""Identifier key conventions: IEEE, IMEI (Luhn), Contact ID account/zone, free-form prefixes."""

from __future__ import annotations

import pytest

from hub.devices.keys import InvalidKeyError, cid_key, ieee_key, imei_key, luhn_ok, normalise_key


def test_ieee_is_lower_cased_and_checked() -> None:
    assert ieee_key(" 0x00124B00ABCDEF01 ") == "ieee:0x00124b00abcdef01"
    for bad in ("00124b00abcdef01", "0x00124b00abcdef0", "0x00124b00abcdef0g"):
        with pytest.raises(InvalidKeyError):
            ieee_key(bad)


def test_imei_needs_15_digits_and_its_luhn_check_digit() -> None:
    assert luhn_ok("490154203237518") and luhn_ok("356938035643809")
    assert imei_key("490154203237518") == "imei:490154203237518"
    for bad in ("490154203237519", "49015420323751", "49015420323751x"):
        with pytest.raises(InvalidKeyError):
            imei_key(bad)


def test_contact_id_account_and_zone() -> None:
    assert cid_key("12bf") == "cid:12BF"
    assert cid_key("1234", "003") == "cid:1234:003"
    for account, zone in (("12A4", None), ("123", None), ("1234", "3"), ("1234", "0003")):
        with pytest.raises(InvalidKeyError):
            cid_key(account, zone)


def test_normalise_key() -> None:
    assert normalise_key("cid:12bf:001") == "cid:12BF:001"
    assert normalise_key("z2m:living room/sos") == "z2m:living room/sos"
    assert normalise_key("ctwing:abc") == "ctwing:abc"  # a driver's own prefix is accepted
    for bad in ("no-prefix", "IMEI:490154203237518", "ieee:0x1", "z2m:", "imei:490154203237519"):
        with pytest.raises(InvalidKeyError):
            normalise_key(bad)
