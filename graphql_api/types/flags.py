"""Feature flag types."""

from __future__ import annotations

import strawberry

from graphql_api.types.common import UserError
from tenancy.feature_flags import FeatureFlag as FlagModel


@strawberry.type(description="A feature flag evaluated for the request's tenant and caller.")
class Feature:
    key: str
    enabled: bool


@strawberry.type(description="A feature flag as super-admins manage it.")
class FeatureFlag:
    key: str
    name: str
    description: str
    status: str = strawberry.field(description="enabled, development, planned or disabled")
    enabled_for_roles: list[str] = strawberry.field(description="Empty: every role.")
    rollout_percentage: float
    allow_tenants: list[str]
    deny_tenants: list[str]
    requires_plan: str | None

    @classmethod
    def from_model(cls, flag: FlagModel) -> FeatureFlag:
        return cls(
            key=flag.key,
            name=flag.name,
            description=flag.description,
            status=flag.status,
            enabled_for_roles=list(flag.enabled_for_roles),
            rollout_percentage=flag.config.rollout_percentage,
            allow_tenants=list(flag.config.whitelist_tenants),
            deny_tenants=list(flag.config.blacklist_tenants),
            requires_plan=flag.config.requires_package,
        )


@strawberry.input(description="Omitted fields stay as they are.")
class FeatureFlagInput:
    name: str | None = None
    description: str | None = None
    status: str | None = None
    enabled_for_roles: list[str] | None = None
    rollout_percentage: float | None = None
    allow_tenants: list[str] | None = None
    deny_tenants: list[str] | None = None
    requires_plan: str | None = None
    clear_requires_plan: bool = False


@strawberry.type
class FeatureFlagPayload:
    flag: FeatureFlag | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
