"""Roles and what each may do; scope (sites, relatives) is checked separately, per record."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's (or API key's) role."""

    DUTY_OPERATOR = "duty_operator"
    DISPATCHER = "dispatcher"
    CAREGIVER = "caregiver"
    SAFETY_OFFICER = "safety_officer"
    FAMILY = "family"
    SITE_ADMIN = "site_admin"
    ADMIN = "admin"
    AUDITOR = "auditor"
    INTEGRATION = "integration"  # API keys of platforms that push device data (NB-IoT)


class Permission(StrEnum):
    """One thing a role may do."""

    ALERTS_READ = "alerts:read"
    ALERTS_ACT = "alerts:act"
    REGISTRY_READ = "registry:read"
    REGISTRY_WRITE = "registry:write"
    MEDICAL_READ = "medical:read"
    DUTY_WRITE = "duty:write"
    FAMILY_RESPOND = "family:respond"
    AUDIT_READ = "audit:read"
    USERS_ADMIN = "users:admin"
    PUSH = "push"
    WORKORDERS_READ = "workorders:read"
    WORKORDERS_ACT = "workorders:act"
    LEDGERS_READ = "ledgers:read"
    LEDGERS_WRITE = "ledgers:write"
    INSPECT = "inspections:do"  # record results of inspection tasks (daily checks by caregivers)
    REINSPECT = "hazards:reinspect"
    PROFILES_ADMIN = "profiles:admin"  # list and reload device profiles (hub-wide: admins only)
    CLUSTER_READ = "cluster:read"  # which hub holds which shard (hub-wide: admins only)


_P = Permission
_STAFF_READ = {_P.ALERTS_READ, _P.REGISTRY_READ}
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.DUTY_OPERATOR: frozenset(_STAFF_READ | {_P.ALERTS_ACT, _P.MEDICAL_READ, _P.DUTY_WRITE, _P.WORKORDERS_READ,
                                                 _P.WORKORDERS_ACT, _P.LEDGERS_READ}),
    Role.DISPATCHER: frozenset(_STAFF_READ | {_P.ALERTS_ACT, _P.MEDICAL_READ, _P.DUTY_WRITE, _P.WORKORDERS_READ,
                                              _P.WORKORDERS_ACT, _P.LEDGERS_READ}),
    Role.CAREGIVER: frozenset(_STAFF_READ | {_P.ALERTS_ACT, _P.MEDICAL_READ, _P.WORKORDERS_READ, _P.WORKORDERS_ACT,
                                             _P.LEDGERS_READ, _P.INSPECT}),
    # Safety officers work on fire and gas; they read alerts but need no medical notes (masked).
    Role.SAFETY_OFFICER: frozenset(_STAFF_READ | {_P.ALERTS_ACT, _P.WORKORDERS_READ, _P.WORKORDERS_ACT,
                                                  _P.LEDGERS_READ, _P.LEDGERS_WRITE, _P.INSPECT, _P.REINSPECT}),
    Role.FAMILY: frozenset({_P.ALERTS_READ, _P.FAMILY_RESPOND}),
    Role.SITE_ADMIN: frozenset(_STAFF_READ | {_P.ALERTS_ACT, _P.MEDICAL_READ, _P.DUTY_WRITE,
                                              _P.REGISTRY_WRITE, _P.USERS_ADMIN, _P.WORKORDERS_READ,
                                              _P.WORKORDERS_ACT, _P.LEDGERS_READ, _P.LEDGERS_WRITE, _P.INSPECT,
                                              _P.REINSPECT}),
    Role.ADMIN: frozenset(Permission) - {_P.FAMILY_RESPOND},
    # Auditors read everything that is recorded, change nothing, and see medical notes masked.
    Role.AUDITOR: frozenset(_STAFF_READ | {_P.AUDIT_READ, _P.WORKORDERS_READ, _P.LEDGERS_READ}),
    Role.INTEGRATION: frozenset({_P.PUSH}),
}
