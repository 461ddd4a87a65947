"""Ingest API: what arrived over MQTT that no profile decodes, by topic root.

No `from __future__ import annotations` here: FastAPI must see the closure-local dependency alias.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from hub.auth.deps import Auth
from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.ingest.router import IngestRouter


def make_router(ingest: IngestRouter, auth: Auth) -> APIRouter:
    """Return the /api/ingest routes."""
    router = APIRouter(prefix="/api/ingest", tags=["ingest"])
    Reader = Annotated[Principal, Depends(auth.require(Permission.REGISTRY_READ))]

    @router.get("/undecoded")
    def undecoded(_principal: Reader) -> list[dict[str, Any]]:
        """List topic roots whose messages no profile decodes (count, last topic and payload), most first."""
        return ingest.undecoded_roots()

    return router
