"""Shared API dependencies as `Annotated` aliases: the running hub, a database session, the caller and their rights.

Routers are module-level; what they need comes from the app (`create_app` puts the hub and its
authentication on `app.state`), so a route declares it in its signature instead of a factory closing
over it. No `from __future__ import annotations` here: FastAPI must see the aliases.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from hub.auth.deps import Auth, api_key_header, bearer
from hub.auth.principal import Principal
from hub.auth.roles import Permission

if TYPE_CHECKING:
    from hub.runtime import Hub


def get_hub(request: Request) -> "Hub":
    """Return the hub the app serves."""
    return request.app.state.hub


def get_auth(request: Request) -> Auth:
    """Return the app's authentication."""
    return request.app.state.auth


HubDep = Annotated[Any, Depends(get_hub)]  # hub.runtime.Hub; Any keeps the API layer free of the runtime


def get_session(hub: HubDep) -> Iterator[Session]:
    """Yield a session of the hub's database for one request."""
    with hub.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def current_principal(auth: Annotated[Auth, Depends(get_auth)], token: Annotated[str | None, Depends(bearer)],
                      api_key: Annotated[str | None, Depends(api_key_header)]) -> Principal:
    """Return the authenticated caller (401 otherwise)."""
    return auth.resolve(token, api_key)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Any:
    """Return `Depends(...)` giving the caller if their role grants `permission` (403 otherwise)."""

    def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"your role may not {permission.value}")
        return principal

    return Depends(dependency)


RegistryReader = Annotated[Principal, require(Permission.REGISTRY_READ)]
Pusher = Annotated[Principal, require(Permission.PUSH)]
