"""Ingest API: NB-IoT platform pushes (CTWing, OneNET) and MQTT topic roots that no profile decodes.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from device_drivers.model import DecodeError
from device_drivers.profiles.builtin import decode_http_push
from hub.deps import HubDep, Pusher, RegistryReader

router = APIRouter(prefix="/api", tags=["ingest"])
PUSH_RECORD_WAIT_S = 5.0  # alarms are recorded before the platform gets its 200; a 503 asks it to retry


class PushAccepted(BaseModel):
    """How many canonical messages a push gave (alarms among them are recorded)."""

    accepted: int
    profile: str | None = None


class UndecodedRootPublic(BaseModel):
    """A topic root whose messages no profile decodes."""

    root: str
    count: int
    first_seen: float
    last_seen: float
    last_topic: str
    last_payload: str


@router.get("/ingest/undecoded", response_model=list[UndecodedRootPublic])
def undecoded(_principal: RegistryReader, hub: HubDep) -> list[dict[str, Any]]:
    """List topic roots whose messages no profile decodes (count, last topic and payload), most first."""
    return hub.router.undecoded_roots()


@router.post("/push/{platform}", tags=["nb-iot"], response_model=PushAccepted)
async def nbiot_push(platform: str, request: Request, _principal: Pusher, hub: HubDep) -> PushAccepted:
    """Accept an NB-IoT platform push (CTWing dataReport, OneNET OneJSON); needs an integration API key."""
    if platform not in ("ctwing", "onenet"):
        raise HTTPException(404, f"unknown platform {platform!r}")
    body = await request.body()
    try:
        messages = decode_http_push(platform, body, received_at=time.time())
    except DecodeError as err:
        hub.router.reject(err.reason, platform, "http", body[:256], err.detail)
        raise HTTPException(400, f"rejected: {err}") from err
    ok = await run_in_threadpool(hub.receive_direct, "http", platform, f"http/{platform}", messages,
                                 payload=body, wait=PUSH_RECORD_WAIT_S)
    if not ok:
        raise HTTPException(503, "not recorded; retry")
    return PushAccepted(accepted=len(messages))
