"""FastAPI dependencies: who is calling (Bearer token or X-API-Key) and whether they may.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.orm import Session, sessionmaker

from hub.auth import service
from hub.auth.principal import Principal
from hub.auth.ratelimit import LoginRateLimiter
from hub.auth.roles import Permission

bearer = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def _unauthorized(detail: str = "not authenticated") -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


class Auth:
    """Authentication for one app: token policy, the user store and the login limiter."""

    def __init__(self, session_factory: sessionmaker[Session], policy: service.TokenPolicy,
                 limiter: LoginRateLimiter | None = None) -> None:
        self.session_factory = session_factory
        self.policy = policy
        self.limiter = limiter or LoginRateLimiter()

    def resolve(self, token: str | None, api_key: str | None) -> Principal:
        """Return the principal for a bearer token or API key; raise 401 for neither or a bad one."""
        with self.session_factory() as session:
            try:
                if api_key:
                    return service.principal_for_api_key(db_session=session, key=api_key)
                if token:
                    user = service.user_from_access_token(db_session=session, token=token, policy=self.policy)
                    return service.principal_for_user(user)
            except service.AuthError as err:
                raise _unauthorized(str(err)) from err
        raise _unauthorized()


def get_auth(request: Request) -> Auth:
    """Return the app's authentication (create_app puts it on app.state)."""
    return request.app.state.auth


AuthDep = Annotated[Auth, Depends(get_auth)]


def current_principal(auth: AuthDep, token: Annotated[str | None, Depends(bearer)],
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
