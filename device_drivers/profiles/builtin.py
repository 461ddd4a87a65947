"""Assemble the built-in and declarative profiles, and decode NB-IoT platform HTTP pushes."""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path

from device_drivers.json_payload import parse_object
from device_drivers.model import DecodeError, Message
from device_drivers.profiles.ctwing import CtwingProfile
from device_drivers.profiles.declarative import DeclarativeProfile, load_profile_dirs
from device_drivers.profiles.ha_discovery import HaDiscoveryProfile, TasmotaProfile
from device_drivers.profiles.native import NativeProfile
from device_drivers.profiles.onenet import OneNetProfile
from device_drivers.profiles.watch import WatchProfile
from device_drivers.profiles.zigbee2mqtt import Zigbee2MqttProfile
from device_drivers.registry import Profile, ProfileSet

DEFAULT_TOPIC_ROOTS: dict[str, str] = {
    "native": "carehub",
    "zigbee2mqtt": "zigbee2mqtt",
    "homeassistant": "homeassistant",
    "tasmota": "tele",
    "ctwing": "ctwing",
    "onenet": "$sys",
    "watch": "watch",
}
EXAMPLES_DIR = Path(__file__).parent / "examples"
HTTP_PLATFORMS = ("ctwing", "onenet")
BUILTIN_NAMES = frozenset(DEFAULT_TOPIC_ROOTS)  # profile names double as Message.source

_http_ctwing = CtwingProfile()
_http_onenet = OneNetProfile()


def build_profiles(topic_roots: dict[str, str], profile_dirs: list[Path], *,
                   local_tz: tzinfo | None = None) -> ProfileSet:
    """Return every profile in routing order: declarative files first, HA-learnt topics last."""
    roots = {**DEFAULT_TOPIC_ROOTS, **topic_roots}
    unknown = set(topic_roots) - set(DEFAULT_TOPIC_ROOTS)
    if unknown:
        raise ValueError(f"unknown topic_roots keys: {sorted(unknown)}")
    profiles: list[Profile] = [*load_profile_dirs(profile_dirs, reserved_names=BUILTIN_NAMES)]
    profiles += [
        NativeProfile(roots["native"]),
        Zigbee2MqttProfile(roots["zigbee2mqtt"]),
        TasmotaProfile(roots["tasmota"], tz=local_tz),
        CtwingProfile(roots["ctwing"]),
        OneNetProfile(roots["onenet"]),
        WatchProfile(roots["watch"], tz=local_tz),
    ]
    profiles.append(HaDiscoveryProfile(roots["homeassistant"]))
    return _assemble(profiles)


def reload_declarative(current: ProfileSet, profile_dirs: list[Path]) -> ProfileSet:
    """Return a new set with the declarative files re-read; built-in profiles carry over with what they learnt.

    Raises ProfileFileError (and `current` stays valid) when any file fails: a directory applies as a whole.
    """
    declarative: list[Profile] = [*load_profile_dirs(profile_dirs, reserved_names=BUILTIN_NAMES)]
    return _assemble(declarative + [p for p in current.profiles if not isinstance(p, DeclarativeProfile)])


def _assemble(profiles: list[Profile]) -> ProfileSet:
    # Home Assistant discovery comes last and must not list learnt topics another profile owns.
    others = [p for p in profiles if not isinstance(p, HaDiscoveryProfile)]
    for ha in profiles:
        if isinstance(ha, HaDiscoveryProfile):
            ha.claimed_elsewhere = lambda topic: any(p.matches(topic) for p in others)
    return ProfileSet(others + [p for p in profiles if isinstance(p, HaDiscoveryProfile)])


def decode_http_push(platform: str, body: bytes, *, received_at: float) -> list[Message]:
    """Decode one HTTP push body from an NB-IoT platform ("ctwing" or "onenet")."""
    if platform == "ctwing":
        return _http_ctwing.decode_envelope(parse_object(body), received_at=received_at)
    if platform == "onenet":
        return _http_onenet.decode_push(parse_object(body), received_at=received_at)
    raise DecodeError("unknown_platform", platform[:40])
