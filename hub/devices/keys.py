"""Device identifier keys: one canonical string per way a device can name itself on the wire.

Conventions (docs/registry.md): ``z2m:<friendly_name>``, ``ieee:0x<16 hex>``, ``imei:<15 digits>`` (the
decoders' rule, device_drivers.identity), ``onenet:<pid>/<name>``, ``ch:<native id>``, ``tasmota:<topic>``, ``ha:<id>``,
``cid:<account>:<zone>`` for a Contact ID zone and ``cid:<account>`` for the panel/receiver itself.
"""

from __future__ import annotations

import re

from device_drivers import identity

_IEEE = re.compile(r"0x[0-9a-f]{16}")
# Contact ID account digits are 0-9 and B-F; A is not used (some panels send it for 0).
_CID_ACCOUNT = re.compile(r"[0-9B-F]{4}")
_CID_ZONE = re.compile(r"[0-9]{3}")
_MAX_KEY = 200


class InvalidKeyError(ValueError):
    """An identifier that does not follow its convention; the message is the reason shown to users."""


def ieee_key(address: str) -> str:
    """Return ``ieee:0x...`` for a Zigbee IEEE address (64-bit, ``0x`` and 16 hex digits)."""
    normal = address.strip().lower()
    if not _IEEE.fullmatch(normal):
        raise InvalidKeyError(f"malformed IEEE address {address!r} (want 0x and 16 hex digits)")
    return f"ieee:{normal}"


def imei_key(imei: str) -> str:
    """Return ``imei:<15 digits>`` for an IMEI or IMEISV, by the rule the decoders key devices with."""
    key = identity.imei_key(imei)
    if key is None:
        raise InvalidKeyError(f"malformed IMEI {imei!r} (want 14-16 digits: IMEI, or IMEISV)")
    return key


def key_warnings(key: str) -> list[str]:
    """Return what a person binding `key` should check, e.g. an IMEI whose check digit is wrong."""
    prefix, _, rest = key.partition(":")
    if prefix == "imei" and not identity.luhn_ok(rest):
        return [f"IMEI {rest} fails its Luhn check digit: it is bound as the device reports it; "
                "check it against the label if the device is not the one you meant"]
    return []


def cid_account(account: str) -> str:
    """Return a normalised Contact ID account (4 digits of 0-9, B-F) or raise."""
    normal = account.strip().upper()
    if not _CID_ACCOUNT.fullmatch(normal):
        raise InvalidKeyError(f"malformed Contact ID account {account!r} (want 4 digits of 0-9, B-F)")
    return normal


def cid_key(account: str, zone: str | None = None) -> str:
    """Return ``cid:<account>:<zone>`` for a zone, or ``cid:<account>`` for the panel itself."""
    normal = cid_account(account)
    if zone is None or not zone.strip():
        return f"cid:{normal}"
    zone = zone.strip()
    if not _CID_ZONE.fullmatch(zone):
        raise InvalidKeyError(f"malformed Contact ID zone {zone!r} (want 3 digits)")
    return f"cid:{normal}:{zone}"


def _plain(prefix: str, value: str, what: str) -> str:
    normal = value.strip()
    if not normal:
        raise InvalidKeyError(f"empty {what}")
    key = f"{prefix}:{normal}"
    if len(key) > _MAX_KEY:
        raise InvalidKeyError(f"{what} longer than {_MAX_KEY - len(prefix) - 1} characters")
    return key


def z2m_key(friendly_name: str) -> str:
    """Return ``z2m:<friendly_name>`` for a Zigbee2MQTT device."""
    return _plain("z2m", friendly_name, "Zigbee2MQTT name")


def native_key(device_id: str) -> str:
    """Return ``ch:<device_id>`` for a CareHub-native device."""
    return _plain("ch", device_id, "native id")


def _cid_from_key(rest: str) -> str:
    account, _, zone = rest.partition(":")
    return cid_key(account, zone or None)


_CHECKERS = {"ieee": ieee_key, "imei": imei_key, "cid": _cid_from_key}
# Known prefixes; a driver may add its own (e.g. "ctwing"), so any lower-case prefix is accepted.
PREFIXES = frozenset({"z2m", "ieee", "imei", "onenet", "ch", "tasmota", "ha", "cid"})
_PREFIX = re.compile(r"[a-z][a-z0-9_-]{0,19}")


def normalise_key(key: str) -> str:
    """Return `key` in canonical form, checking its prefix's convention; raise InvalidKeyError otherwise."""
    prefix, sep, rest = key.strip().partition(":")
    if not sep or not _PREFIX.fullmatch(prefix):
        raise InvalidKeyError(f"identifier key {key!r} wants a lower-case prefix, e.g. ieee:, imei:, cid:")
    checker = _CHECKERS.get(prefix)
    if checker is not None:
        return checker(rest)
    return _plain(prefix, rest, f"{prefix} identifier")
