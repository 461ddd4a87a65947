"""Driver registry: which profile decodes which MQTT topic, and which decodes which HTTP push source."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from device_drivers.model import Message


class Profile(Protocol):
    """A device profile: the topics it owns and a pure decoder for them."""

    name: str

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Return the MQTT topic filters to subscribe to (read-only: a profile may compute them)."""
        ...

    def matches(self, topic: str) -> bool:
        """Return True when this profile decodes messages on `topic`."""
        ...

    def decode(self, topic: str, payload: bytes, *, received_at: float) -> list[Message]:
        """Decode one payload into canonical messages or raise DecodeError."""
        ...


class PushProfile(Profile, Protocol):
    """A profile that also decodes HTTP pushes, bound to a URL path and/or API key names."""

    push_path: str | None
    push_keys: tuple[str, ...]

    def decode_push(self, payload: bytes, *, received_at: float) -> list[Message]:
        """Decode one HTTP push body into canonical messages or raise DecodeError."""
        ...


class ProfileSet:
    """Ordered profiles; the first that matches a topic decodes it. Immutable: a reload builds a new set."""

    def __init__(self, profiles: Iterable[Profile]) -> None:
        self.profiles = list(profiles)
        self._cache: dict[str, Profile | None] = {}
        # HTTP push sources: the loader refuses a path or key claimed twice, so the first claim is the only one.
        self.push_paths: dict[str, PushProfile] = {}
        self.push_keys: dict[str, PushProfile] = {}
        for profile in self.profiles:
            path = getattr(profile, "push_path", None)
            if path:
                self.push_paths.setdefault(path, profile)  # type: ignore[arg-type]
            for key in getattr(profile, "push_keys", ()):
                self.push_keys.setdefault(key, profile)  # type: ignore[arg-type]

    @property
    def subscriptions(self) -> list[str]:
        """Return every topic filter the hub must subscribe to, without duplicates."""
        seen: dict[str, None] = {}
        for profile in self.profiles:
            for sub in profile.subscriptions:
                seen.setdefault(sub, None)
        return list(seen)

    def route(self, topic: str) -> Profile | None:
        """Return the profile for `topic`, or None when no profile claims it."""
        try:
            return self._cache[topic]
        except KeyError:
            pass
        found = next((p for p in self.profiles if p.matches(topic)), None)
        if len(self._cache) < 100_000:  # bounded: hostile topic floods must not grow memory forever
            self._cache[topic] = found
        return found
