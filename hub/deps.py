"""Shared API dependencies as `Annotated` aliases: the running hub, a database session, the caller and their rights.

Routers are module-level; what they need comes from the app (`create_app` puts the hub and its
authentication on `app.state`), so a route declares it in its signature instead of a factory closing
over it. No `from __future__ import annotations` here: FastAPI must see the aliases.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from hub.auth.deps import AuthDep, CurrentPrincipal, current_principal, get_auth, require
from hub.auth.principal import Principal
from hub.auth.roles import Permission

__all__ = ["AuthDep", "CurrentPrincipal", "HubDep", "Pusher", "RegistryReader", "SessionDep", "current_principal",
           "get_auth", "get_hub", "get_session", "require"]

if TYPE_CHECKING:
    from hub.runtime import Hub


def get_hub(request: Request) -> "Hub":
    """Return the hub the app serves."""
    return request.app.state.hub


HubDep = Annotated[Any, Depends(get_hub)]  # hub.runtime.Hub; Any keeps the API layer free of the runtime


def get_session(hub: HubDep) -> Iterator[Session]:
    """Yield a session of the hub's database for one request."""
    with hub.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


RegistryReader = Annotated[Principal, require(Permission.REGISTRY_READ)]
Pusher = Annotated[Principal, require(Permission.PUSH)]
