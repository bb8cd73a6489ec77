"""Feature flags: ``features`` for any caller of a tenant; super-admins manage the flags."""

from __future__ import annotations

import strawberry
from pydantic import ValidationError
from strawberry.types import Info

from graphql_api.context import Context
from graphql_api.errors import mutation_payload
from graphql_api.permissions import requires
from graphql_api.types.flags import Feature, FeatureFlag, FeatureFlagInput, FeatureFlagPayload
from tenancy import feature_flags
from tenancy.errors import validation_error

_CACHE_ATTRIBUTE = "_evaluated_features"


async def evaluated_features(context: Context) -> dict[str, bool]:
    """The request's tenant's flags for the caller, evaluated once per request."""
    cached: dict[str, bool] | None = getattr(context, _CACHE_ATTRIBUTE, None)
    if cached is None:
        tenant, _ = context.require_tenant()
        role = str(context.principal.role) if context.principal.role else None
        cached = await feature_flags.evaluate_all(context.runtime, tenant, role)
        setattr(context, _CACHE_ATTRIBUTE, cached)
    return cached


def _input(data: FeatureFlagInput) -> feature_flags.FlagInput:
    try:
        return feature_flags.FlagInput(
            name=data.name,
            description=data.description,
            status=data.status,
            enabled_for_roles=data.enabled_for_roles,
            rollout_percentage=data.rollout_percentage,
            allow_tenants=data.allow_tenants,
            deny_tenants=data.deny_tenants,
            requires_plan=data.requires_plan,
            clear_requires_plan=data.clear_requires_plan,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise validation_error(["input", *map(str, first["loc"])], first["msg"]) from None


@strawberry.type
class FlagQueries:
    @strawberry.field(
        description="Every feature flag, evaluated for the request's tenant and caller "
        "(deny list, allow list, plan, role, rollout percentage)."
    )
    async def features(self, info: Info) -> list[Feature]:
        evaluated = await evaluated_features(info.context)
        return [Feature(key=key, enabled=on) for key, on in sorted(evaluated.items())]

    @strawberry.field(
        description="Every feature flag as stored (super-admins).",
        extensions=requires("flags.write"),
    )
    async def feature_flags(self, info: Info) -> list[FeatureFlag] | None:
        flags = await feature_flags.list_flags(info.context.runtime)
        return [FeatureFlag.from_model(flag) for flag in flags]


@strawberry.type
class FlagMutations:
    @strawberry.mutation(
        description="Create a feature flag (super-admins).", extensions=requires("flags.write")
    )
    async def create_feature_flag(
        self, info: Info, key: str, input: FeatureFlagInput
    ) -> FeatureFlagPayload:
        context: Context = info.context

        async def run() -> FeatureFlagPayload:
            flag = await feature_flags.create_flag(
                context.runtime, key, _input(input), context.principal.actor
            )
            return FeatureFlagPayload(flag=FeatureFlag.from_model(flag))

        return await mutation_payload(FeatureFlagPayload, run)

    @strawberry.mutation(
        description="Change a feature flag, imported ones too (super-admins).",
        extensions=requires("flags.write"),
    )
    async def update_feature_flag(
        self, info: Info, key: str, input: FeatureFlagInput
    ) -> FeatureFlagPayload:
        context: Context = info.context

        async def run() -> FeatureFlagPayload:
            flag = await feature_flags.update_flag(
                context.runtime, key, _input(input), context.principal.actor
            )
            return FeatureFlagPayload(flag=FeatureFlag.from_model(flag))

        return await mutation_payload(FeatureFlagPayload, run)
