"""FastAPI dependencies: who is calling (Bearer token or X-API-Key) and whether they may.

No `from __future__ import annotations` here: FastAPI must see the closure-local dependencies.
"""

from collections.abc import Callable
from typing import Annotated

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

    def current(self) -> Callable[..., Principal]:
        """Return a dependency giving the authenticated principal (401 otherwise)."""

        def dependency(token: Annotated[str | None, Depends(bearer)],
                       api_key: Annotated[str | None, Depends(api_key_header)]) -> Principal:
            return self.resolve(token, api_key)

        return dependency

    def require(self, permission: Permission) -> Callable[..., Principal]:
        """Return a dependency giving the principal if its role grants `permission` (403 otherwise)."""
        current = self.current()

        def dependency(principal: Annotated[Principal, Depends(current)]) -> Principal:
            if not principal.can(permission):
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"your role may not {permission.value}")
            return principal

        return dependency

    def stream(self) -> Callable[..., Principal]:
        """Return a dependency that also accepts `?access_token=` (browsers' EventSource sends no headers)."""

        def dependency(request: Request, token: Annotated[str | None, Depends(bearer)],
                       api_key: Annotated[str | None, Depends(api_key_header)]) -> Principal:
            principal = self.resolve(token or request.query_params.get("access_token"), api_key)
            if not principal.can(Permission.ALERTS_READ):
                raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not read alerts")
            return principal

        return dependency
