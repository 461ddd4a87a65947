"""Profiles API schemas: the loaded profiles, the reload state, and what a profile push gave."""

from typing import Any

from pydantic import BaseModel


class ReloadStatus(BaseModel):
    """The state of profile reloads: watched directories, counts, and the last error if the files are broken."""

    dirs: list[str]
    poll_interval_s: float
    loaded_at: float
    reloads: int
    failures: int
    current: str
    last_error: str | None
    last_error_at: float | None


class ProfilesPublic(BaseModel):
    """The active profiles (their keys depend on the kind: builtin or declarative) and the reload state."""

    profiles: list[dict[str, Any]]
    reload: ReloadStatus


class ReloadedPublic(BaseModel):
    """A successful reload and the declarative profiles now active."""

    reloaded: bool
    profiles: list[str]


class ProfilePushAccepted(BaseModel):
    """How many canonical messages a push gave and the profile that decoded it (alarms are recorded)."""

    accepted: int
    profile: str
