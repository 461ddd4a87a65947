"""The authenticated caller and the scope of records it may see."""

from __future__ import annotations

from dataclasses import dataclass

from hub.auth.roles import PERMISSIONS, Permission, Role


@dataclass(frozen=True, slots=True)
class Principal:
    """A user or API key after authentication; `site_ids` None means every site."""

    kind: str  # "user" or "api_key"
    id: int
    name: str
    role: Role
    site_ids: frozenset[int] | None
    resident_ids: frozenset[int] = frozenset()  # family users: their own relatives only

    @property
    def actor(self) -> str:
        """Return how audit records and alert histories name this caller."""
        return f"{self.kind}:{self.id}:{self.name}"

    def can(self, permission: Permission) -> bool:
        """Return whether the role grants `permission`."""
        return permission in PERMISSIONS[self.role]

    @property
    def is_family(self) -> bool:
        """Return whether this caller sees only their relatives."""
        return self.role == Role.FAMILY

    def sees(self, *, site_id: int | None, resident_id: int | None) -> bool:
        """Return whether a record at `site_id` about `resident_id` is in this caller's scope."""
        if self.is_family:
            return resident_id is not None and resident_id in self.resident_ids
        if self.site_ids is None:
            return True
        return site_id is not None and site_id in self.site_ids
