"""Profiles API: list and reload the loaded profiles (admins), and HTTP pushes bound to declarative profiles.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

import logging
import time
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

from device_drivers.model import DecodeError
from device_drivers.profiles.builtin import HTTP_PLATFORMS
from device_drivers.profiles.declarative import DeclarativeProfile
from device_drivers.registry import PushProfile
from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.deps import HubDep, Pusher, require
from hub.profiles.models import ProfilePushAccepted, ProfilesPublic, ReloadedPublic

if TYPE_CHECKING:
    from hub.runtime import Hub

log = logging.getLogger(__name__)

PUSH_RECORD_WAIT_S = 5.0  # alarms are committed before the platform gets its 200; else 503 and it retries

router = APIRouter(prefix="/api", tags=["profiles"])
Admin = Annotated[Principal, require(Permission.PROFILES_ADMIN)]


@router.get("/profiles", response_model=ProfilesPublic)
def list_profiles(_principal: Admin, hub: HubDep) -> dict[str, Any]:
    """List the active profiles (source file, MQTT topics, push bindings) and the state of reloads."""
    return {"profiles": [_describe(p) for p in hub.router.profiles.profiles],
            "reload": hub.profile_reloader.status()}


@router.post("/profiles/reload", response_model=ReloadedPublic)
async def reload_profiles(_principal: Admin, hub: HubDep) -> dict[str, Any]:
    """Re-read the profile directories now; a file that fails validation leaves every profile as it was."""
    result = await run_in_threadpool(hub.profile_reloader.reload, reason="POST /api/profiles/reload")
    if not result.ok:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY,
                            f"rejected, the previous profiles stay active: {result.error}")
    return {"reloaded": True, "profiles": sorted(p.name for p in hub.router.profiles.profiles
                                                 if isinstance(p, DeclarativeProfile))}


@router.post("/push/p/{path}", tags=["nb-iot"], response_model=ProfilePushAccepted)
async def profile_push(path: str, request: Request, principal: Pusher, hub: HubDep) -> dict[str, Any]:
    """Accept a vendor push for the declarative profile whose [push] path is `path`; needs a push API key."""
    body = await request.body()
    topic = f"http/p/{path[:64]}"
    profile = hub.router.profiles.push_paths.get(path)
    if profile is None:
        hub.router.reject("unknown_push_path", "http", topic, body[:256], path[:64])
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no profile has push path {path!r}")
    if profile.push_keys and not (principal.kind == "api_key" and principal.name in profile.push_keys):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"push path {path!r} accepts only the API keys named in its profile")
    return await _accept(hub, profile, topic, body)


@router.post("/push", tags=["nb-iot"], response_model=ProfilePushAccepted)
async def key_push(request: Request, principal: Pusher, hub: HubDep) -> dict[str, Any]:
    """Accept a vendor push for the declarative profile whose [push] api_keys names the calling API key."""
    body = await request.body()
    name = principal.name if principal.kind == "api_key" else ""
    topic = f"http/key/{name[:64]}"
    profile = hub.router.profiles.push_keys.get(name) if name else None
    if profile is None:
        hub.router.reject("unbound_push_key", "http", topic, body[:256], name[:64])
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"no profile lists API key {name!r} in [push] api_keys" if name
                            else "pushes to /api/push need an API key bound in a profile's [push] api_keys")
    return await _accept(hub, profile, topic, body)


async def _accept(hub: "Hub", profile: PushProfile, topic: str, body: bytes) -> dict[str, Any]:
    """Decode a push with its profile; alarms are recorded before the answer, as on the platform endpoints."""
    try:
        messages = profile.decode_push(body, received_at=time.time())
    except DecodeError as err:
        hub.router.reject(err.reason, profile.name, topic, body[:256], err.detail)
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"rejected: {err}") from err
    except Exception as err:  # a decoder bug costs this push, never the hub
        log.exception("profile %s crashed on a push to %s", profile.name, topic)
        hub.router.reject("decoder_error", profile.name, topic, body[:256], repr(err))
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "rejected: decoder_error") from err
    ok = await run_in_threadpool(hub.receive_direct, "http", profile.name, topic, messages,
                                 payload=body, wait=PUSH_RECORD_WAIT_S)
    if not ok:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "not recorded; retry")
    return {"accepted": len(messages), "profile": profile.name}


def _describe(profile: Any) -> dict[str, Any]:
    """Return what a profile maps, as GET /api/profiles lists it."""
    if isinstance(profile, DeclarativeProfile):
        return {"kind": "declarative", **profile.describe()}
    push = {"path": None, "url": f"/api/push/{profile.name}", "api_keys": []} if profile.name in HTTP_PLATFORMS \
        else None
    return {"kind": "builtin", "name": profile.name, "source": None, "mqtt_topics": list(profile.subscriptions),
            "push": push}
