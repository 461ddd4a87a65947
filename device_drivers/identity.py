"""Device identity rules shared by the decoders and the registry, so a key a decoder makes can be bound.

IMEI (3GPP TS 23.003): 14 digits (TAC + serial number) and a Luhn check digit; an IMEISV replaces the
check digit with two software-version digits. Every form keys to ``imei:<15 digits>``. A 15-digit IMEI
whose check digit is wrong is still the name the device reports on every message: it is keyed as sent
(an alarm from it must never be refused) and the registry warns when it is bound.
"""

from __future__ import annotations

from typing import Any


def luhn_digit(digits: str) -> str:
    """Return the Luhn check digit that completes `digits` (ISO/IEC 7812, as IMEIs use it)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def luhn_ok(digits: str) -> bool:
    """Return True when the last digit of `digits` is its Luhn check digit."""
    return len(digits) > 1 and luhn_digit(digits[:-1]) == digits[-1]


def imei_digits(value: Any) -> str | None:
    """Return the 15-digit IMEI of an IMEI (14 or 15 digits) or IMEISV (16 digits), else None.

    Accepts strings and JSON integers; 14 digits get their check digit, an IMEISV its first 14 digits
    with the check digit. A 15-digit value is returned as sent, check digit right or wrong.
    """
    if type(value) is int and 0 < value < 10**16:
        value = str(value)
    if type(value) is not str:
        return None
    value = value.strip()
    if not (14 <= len(value) <= 16 and value.isdigit() and value.isascii()):
        return None
    if len(value) == 15:
        return value
    return value[:14] + luhn_digit(value[:14])


def imei_key(value: Any) -> str | None:
    """Return ``imei:<15 digits>`` for anything `imei_digits` accepts, else None."""
    digits = imei_digits(value)
    return None if digits is None else "imei:" + digits
