"""Tables and schemas for users, refresh tokens and API keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.auth.roles import Permission, Role
from hub.db import Base


class User(Base):
    """A person who signs in: staff of the duty room and the sites, a family member, an auditor."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("username", name="uq_users_username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    # Scope: the sites this user works for (empty list with a staff role = every site) ...
    site_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # ... and, for family users, the residents they are a relative of.
    resident_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"), nullable=True)
    language: Mapped[str] = mapped_column(String(10), default="zh-CN")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[float] = mapped_column(Float)


class RefreshToken(Base):
    """An issued refresh token; each use rotates it, and a reused (revoked) one is refused."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[float] = mapped_column(Float)
    revoked: Mapped[bool] = mapped_column(default=False)


class ApiKey(Base):
    """A key for an integration (an NB-IoT platform, a script); only its digest is kept."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("digest", name="uq_api_keys_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(30))
    site_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[float] = mapped_column(Float)
    revoked: Mapped[bool] = mapped_column(default=False)


class UserCreate(BaseModel):
    """A new user."""

    username: str = Field(min_length=2, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=200)
    role: Role
    display_name: str = ""
    site_ids: list[int] = Field(default_factory=list)
    resident_ids: list[int] = Field(default_factory=list)
    staff_id: int | None = None
    language: str = "zh-CN"


class UserPublic(BaseModel):
    """A user as the API shows it (never the hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    site_ids: list[int]
    resident_ids: list[int]
    staff_id: int | None
    language: str
    active: bool


class TokenPair(BaseModel):
    """What a login or a refresh returns (OAuth2 password flow)."""

    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


class ApiKeyCreate(BaseModel):
    """A new API key."""

    name: str = Field(min_length=1, max_length=100)
    role: Role = Role.INTEGRATION
    site_ids: list[int] = Field(default_factory=list)


class ApiKeyCreated(BaseModel):
    """A created API key; `key` is shown this once."""

    id: int
    name: str
    role: Role
    key: str


class RelativeName(BaseModel):
    """A family user's relative, by name."""

    id: int
    name: str


class MePublic(BaseModel):
    """Who the caller is: role, permissions and scope (a family user's relatives by name)."""

    kind: str
    id: int
    name: str
    role: Role
    permissions: list[Permission]
    site_ids: list[int] | None
    resident_ids: list[int]
    relatives: list[RelativeName]
