"""Login (OAuth2 password flow), token refresh, the caller's identity, users and API keys.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy.orm import Session

from hub.auth import service
from hub.auth.deps import Auth, AuthDep, CurrentPrincipal
from hub.auth.models import ApiKeyCreate, ApiKeyCreated, MePublic, TokenPair, UserCreate, UserPublic
from hub.auth.principal import Principal
from hub.auth.roles import Permission, Role

# (session, resident ids) -> [{"id", "name"}]: the registry names a family user's relatives (hub.devices).
RelativesLookup = Callable[[Session, frozenset[int]], list[dict]]

router = APIRouter(prefix="/api", tags=["auth"])


def get_relatives(request: Request) -> RelativesLookup | None:
    """Return the app's relatives lookup (create_app puts it on app.state; a bare app may have none)."""
    return getattr(request.app.state, "relatives", None)


def users_admin(principal: CurrentPrincipal) -> Principal:
    """Return the caller if their role may administer users (403 otherwise)."""
    if not principal.can(Permission.USERS_ADMIN):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"your role may not {Permission.USERS_ADMIN.value}")
    return principal


Relatives = Annotated[RelativesLookup | None, Depends(get_relatives)]
Admin = Annotated[Principal, Depends(users_admin)]


def _pair(auth: Auth, access: str, refresh: str) -> TokenPair:
    """Return a token pair as login and refresh answer it."""
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=int(auth.policy.access_ttl_s))


@router.post("/auth/token", response_model=TokenPair)
def login(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], auth: AuthDep) -> TokenPair:
    """Sign in with user name and password; failed attempts are limited per user and per address."""
    keys = (f"user:{form.username}", f"addr:{request.client.host if request.client else '?'}")
    wait = auth.limiter.retry_after(*keys)
    if wait > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many failed sign-ins; try later",
                            headers={"Retry-After": str(int(wait) + 1)})
    with auth.session_factory() as session, session.begin():
        try:
            user = service.authenticate(db_session=session, username=form.username, password=form.password)
        except service.AuthError as err:
            auth.limiter.failed(*keys)
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(err),
                                headers={"WWW-Authenticate": "Bearer"}) from err
        return _pair(auth, *service.issue_tokens(db_session=session, user=user, policy=auth.policy))


@router.post("/auth/refresh", response_model=TokenPair)
def refresh(refresh_token: Annotated[str, Form()], auth: AuthDep) -> TokenPair:
    """Exchange a refresh token for a new token pair (the old refresh token stops working)."""
    with auth.session_factory() as session:
        try:
            _user, access, new_refresh = service.rotate_refresh(db_session=session, token=refresh_token,
                                                                policy=auth.policy)
        except service.AuthError as err:
            session.commit()  # a detected reuse revokes the user's other tokens: keep that
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(err)) from err
        session.commit()
    return _pair(auth, access, new_refresh)


@router.get("/auth/me", response_model=MePublic)
def me(principal: CurrentPrincipal, auth: AuthDep, relatives: Relatives) -> MePublic:
    """Return who the caller is, their role, permissions and scope (a family user's relatives by name)."""
    names: list[dict] = []
    if relatives is not None and principal.resident_ids:
        with auth.session_factory() as session:
            names = relatives(session, principal.resident_ids)
    return MePublic(kind=principal.kind, id=principal.id, name=principal.name, role=principal.role,
                    permissions=sorted(p.value for p in Permission if principal.can(p)),
                    site_ids=None if principal.site_ids is None else sorted(principal.site_ids),
                    resident_ids=sorted(principal.resident_ids), relatives=names)


@router.get("/users", response_model=list[UserPublic])
def users(principal: Admin, auth: AuthDep) -> list:
    """List users (site admins see the users of their sites)."""
    with auth.session_factory() as session:
        rows = service.list_users(db_session=session)
    if principal.site_ids is None:
        return rows
    return [u for u in rows if u.site_ids and set(u.site_ids) <= principal.site_ids]


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(user_in: UserCreate, principal: Admin, auth: AuthDep) -> object:
    """Create a user; site admins only within their sites and never an admin or auditor."""
    if principal.site_ids is not None:
        if user_in.role in (Role.ADMIN, Role.AUDITOR) or not user_in.site_ids \
                or not set(user_in.site_ids) <= principal.site_ids:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "outside your sites")
    with auth.session_factory() as session:
        try:
            with session.begin():
                return service.create_user(db_session=session, user_in=user_in)
        except ValueError as err:
            raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_api_key(key_in: ApiKeyCreate, principal: Admin, auth: AuthDep) -> ApiKeyCreated:
    """Create an API key for an integration; the key is returned once and stored hashed."""
    if principal.site_ids is not None and key_in.role != Role.INTEGRATION:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "site admins create integration keys only")
    with auth.session_factory() as session:
        try:
            with session.begin():
                row, key = service.create_api_key(db_session=session, key_in=key_in)
        except ValueError as err:
            raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    return ApiKeyCreated(id=row.id, name=row.name, role=Role(row.role), key=key)
