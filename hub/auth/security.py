"""Password hashing (argon2), signed JWT access/refresh tokens and API key digests."""

from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ALGORITHM = "HS256"
API_KEY_PREFIX = "chk_"
_hasher = PasswordHasher()
# Verifying an unknown user costs as much as a known one, so timing does not reveal user names.
_DUMMY_HASH = _hasher.hash("carehub-no-such-user")


class TokenError(ValueError):
    """A token that is malformed, expired, of the wrong type or badly signed."""


def hash_password(password: str) -> str:
    """Return the argon2id hash of `password`."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Return whether `password` matches `password_hash` (None: compare against a dummy, return False)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def issue_token(secret: str, *, subject: int, token_type: str, ttl_s: float, jti: str | None = None,
                now: float | None = None) -> str:
    """Return a signed token for user `subject` that expires after `ttl_s` seconds."""
    issued = now if now is not None else time.time()
    claims = {"sub": str(subject), "typ": token_type, "iat": int(issued), "exp": int(issued + ttl_s)}
    if jti:
        claims["jti"] = jti
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(secret: str, token: str, *, token_type: str) -> dict:
    """Return the claims of a valid token of `token_type`, or raise TokenError."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "typ"]})
    except jwt.PyJWTError as err:
        raise TokenError(str(err)) from err
    if claims.get("typ") != token_type:
        raise TokenError(f"expected a {token_type} token")
    return claims


def new_api_key() -> str:
    """Return a fresh API key (shown once; only its digest is stored)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_digest(key: str) -> str:
    """Return the stored digest of an API key (keys are 256-bit random, so a plain SHA-256 suffices)."""
    return hashlib.sha256(key.encode()).hexdigest()


def load_or_create_secret(configured: str, data_dir: Path) -> str:
    """Return the token signing secret: the configured one, else one kept in the data directory."""
    if configured:
        return configured
    path = data_dir / "auth_secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # Created 0600 atomically: another process starting at the same time keeps whichever won.
    try:
        fd = path.open("x", encoding="ascii")
    except FileExistsError:
        return path.read_text().strip()
    with fd:
        path.chmod(0o600)
        fd.write(secret)
    return secret
