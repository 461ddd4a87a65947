"""Identifier key conventions: IEEE, IMEI (Luhn), Contact ID account/zone, free-form prefixes."""

from __future__ import annotations

import pytest

from device_drivers import identity
from device_drivers.identity import luhn_ok
from hub.devices.keys import InvalidKeyError, cid_key, ieee_key, imei_key, key_warnings, normalise_key


def test_ieee_is_lower_cased_and_checked() -> None:
    assert ieee_key(" 0x00124B00ABCDEF01 ") == "ieee:0x00124b00abcdef01"
    for bad in ("00124b00abcdef01", "0x00124b00abcdef0", "0x00124b00abcdef0g"):
        with pytest.raises(InvalidKeyError):
            ieee_key(bad)


def test_imei_rule_is_the_decoders_rule_and_a_wrong_check_digit_is_a_warning_not_a_refusal() -> None:
    assert luhn_ok("490154203237518") and luhn_ok("356938035643809") and not luhn_ok("490154203237519")
    assert imei_key("490154203237518") == "imei:490154203237518" == identity.imei_key(490154203237518)
    assert imei_key("49015420323751") == "imei:490154203237518"  # 14 digits: the check digit is added
    assert imei_key("4901542032375107") == "imei:490154203237518"  # IMEISV: software version replaced
    # Decoder and registry agree: what a watch is keyed by can always be bound, with a warning to check.
    assert imei_key("490154203237519") == identity.imei_key("490154203237519") == "imei:490154203237519"
    assert key_warnings("imei:490154203237519") and not key_warnings("imei:490154203237518")
    for bad in ("4901542032375", "49015420323751x", "49015420323751000"):
        with pytest.raises(InvalidKeyError, match="malformed IMEI"):
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
    for bad in ("no-prefix", "IMEI:490154203237518", "ieee:0x1", "z2m:", "imei:4901542032"):
        with pytest.raises(InvalidKeyError):
            normalise_key(bad)
