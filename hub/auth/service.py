"""Users, logins, refresh-token rotation and API keys; keyword-only, session first, caller commits."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.auth import security
from hub.auth.models import ApiKey, ApiKeyCreate, RefreshToken, User, UserCreate
from hub.auth.principal import Principal
from hub.auth.roles import Role


class AuthError(ValueError):
    """Authentication failed; the message is safe to show (it never says which part was wrong)."""


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """How tokens are signed and how long they live."""

    secret: str
    access_ttl_s: float = 900.0  # short-lived: a stolen access token is useful for 15 minutes at most
    refresh_ttl_s: float = 7 * 86_400.0


def create_user(*, db_session: Session, user_in: UserCreate, now: float | None = None) -> User:
    """Create a user with an argon2 password hash; a taken user name is refused."""
    taken = db_session.scalar(select(User.id).where(User.username == user_in.username))
    if taken is not None:
        raise ValueError(f"user name {user_in.username!r} is taken")
    if user_in.role == Role.FAMILY and not user_in.resident_ids:
        raise ValueError("a family user needs at least one resident (their relative)")
    if user_in.role == Role.INTEGRATION:
        raise ValueError("integrations use API keys, not user accounts")
    user = User(username=user_in.username, display_name=user_in.display_name or user_in.username,
                password_hash=security.hash_password(user_in.password), role=user_in.role.value,
                site_ids=sorted(set(user_in.site_ids)), resident_ids=sorted(set(user_in.resident_ids)),
                staff_id=user_in.staff_id, language=user_in.language, created_at=now or time.time())
    db_session.add(user)
    db_session.flush()
    return user


def principal_for_user(user: User) -> Principal:
    """Return the principal of a signed-in user."""
    role = Role(user.role)
    return Principal(kind="user", id=user.id, name=user.username, role=role,
                     site_ids=_site_scope(role, user.site_ids), resident_ids=frozenset(user.resident_ids))


def _site_scope(role: Role, site_ids: list[int]) -> frozenset[int] | None:
    """Return the sites in scope; None (every site) for admins, auditors and staff with no list."""
    return None if role in (Role.ADMIN, Role.AUDITOR) or not site_ids else frozenset(site_ids)


def authenticate(*, db_session: Session, username: str, password: str) -> User:
    """Return the active user with these credentials, or raise AuthError."""
    user = db_session.scalar(select(User).where(User.username == username))
    # The password is checked (against a dummy hash) even for an unknown name, so timing does not tell.
    valid = security.verify_password(user.password_hash if user else None, password)
    if not valid or user is None or not user.active:
        raise AuthError("incorrect user name or password")
    return user


def issue_tokens(*, db_session: Session, user: User, policy: TokenPolicy, now: float | None = None
                 ) -> tuple[str, str]:
    """Return a new (access, refresh) token pair for `user`; the refresh token is recorded."""
    now = now if now is not None else time.time()
    jti = secrets.token_hex(16)
    db_session.add(RefreshToken(jti=jti, user_id=user.id, expires_at=now + policy.refresh_ttl_s))
    access = security.issue_token(policy.secret, subject=user.id, token_type="access",
                                  ttl_s=policy.access_ttl_s, now=now)
    refresh = security.issue_token(policy.secret, subject=user.id, token_type="refresh",
                                   ttl_s=policy.refresh_ttl_s, jti=jti, now=now)
    return access, refresh


def rotate_refresh(*, db_session: Session, token: str, policy: TokenPolicy, now: float | None = None
                   ) -> tuple[User, str, str]:
    """Exchange a refresh token for a new pair; the old one is revoked, a reused one revokes them all."""
    try:
        claims = security.decode_token(policy.secret, token, token_type="refresh")
    except security.TokenError as err:
        raise AuthError("invalid refresh token") from err
    record = db_session.get(RefreshToken, claims.get("jti", ""))
    if record is None:
        raise AuthError("invalid refresh token")
    if record.revoked:
        # A revoked token used again means it was copied: end every session of that user.
        for other in db_session.scalars(select(RefreshToken).where(RefreshToken.user_id == record.user_id)):
            other.revoked = True
        raise AuthError("refresh token reused; all sessions of this user ended")
    user = db_session.get(User, record.user_id)
    if user is None or not user.active:
        raise AuthError("invalid refresh token")
    record.revoked = True
    access, refresh = issue_tokens(db_session=db_session, user=user, policy=policy, now=now)
    return user, access, refresh


def user_from_access_token(*, db_session: Session, token: str, policy: TokenPolicy) -> User:
    """Return the active user an access token names, or raise AuthError."""
    try:
        claims = security.decode_token(policy.secret, token, token_type="access")
    except security.TokenError as err:
        raise AuthError("invalid or expired token") from err
    user = db_session.get(User, int(claims["sub"]))
    if user is None or not user.active:
        raise AuthError("invalid or expired token")
    return user


def create_api_key(*, db_session: Session, key_in: ApiKeyCreate, now: float | None = None) -> tuple[ApiKey, str]:
    """Create an API key; return the row and the key itself (shown once)."""
    if key_in.role == Role.FAMILY:
        raise ValueError("family access is per person: create a user")
    key = security.new_api_key()
    row = ApiKey(name=key_in.name, digest=security.api_key_digest(key), role=key_in.role.value,
                 site_ids=sorted(set(key_in.site_ids)), created_at=now or time.time())
    db_session.add(row)
    db_session.flush()
    return row, key


def principal_for_api_key(*, db_session: Session, key: str) -> Principal:
    """Return the principal of a valid, unrevoked API key, or raise AuthError."""
    row = db_session.scalar(select(ApiKey).where(ApiKey.digest == security.api_key_digest(key)))
    if row is None or row.revoked:
        raise AuthError("invalid API key")
    role = Role(row.role)
    return Principal(kind="api_key", id=row.id, name=row.name, role=role, site_ids=_site_scope(role, row.site_ids))


def list_users(*, db_session: Session) -> list[User]:
    """Return every user, by name."""
    return list(db_session.scalars(select(User).order_by(User.username)))
