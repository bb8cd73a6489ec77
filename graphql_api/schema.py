"""The GraphQL schema: root types merged from the domain resolvers, plus extensions.

``schema.graphql`` at the project root is generated from this module
(``make schema``) and a test fails when it is stale.
"""

from __future__ import annotations

import logging
from functools import partial

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from graphql_api.errors import RequestGuard, is_unexpected
from graphql_api.observability import observability_extensions
from graphql_api.resolvers.accounts import AccountMutations, AccountQueries
from graphql_api.resolvers.audit import AuditQueries
from graphql_api.resolvers.auth import AuthMutations, AuthQueries
from graphql_api.resolvers.billing import BillingMutations, BillingQueries
from graphql_api.resolvers.bookings import BookingMutations, BookingQueries
from graphql_api.resolvers.catalog import CatalogMutations, CatalogQueries
from graphql_api.resolvers.customers import CustomerMutations, CustomerQueries
from graphql_api.resolvers.discount_codes import DiscountCodeMutations, DiscountCodeQueries
from graphql_api.resolvers.flags import FlagMutations, FlagQueries
from graphql_api.resolvers.node import NodeQueries
from graphql_api.resolvers.notifications import NotificationMutations, NotificationQueries
from graphql_api.resolvers.public_bookings import PublicBookingMutations, PublicBookingQueries
from graphql_api.resolvers.scheduling import SchedulingMutations, SchedulingQueries
from graphql_api.resolvers.tenants import TenantMutations, TenantQueries
from tenancy.settings import Settings

log = logging.getLogger("graphql_api.schema")
_SUGGESTION = " Did you mean"

Query = merge_types(
    "Query",
    (
        TenantQueries,
        AuthQueries,
        CatalogQueries,
        CustomerQueries,
        BookingQueries,
        SchedulingQueries,
        DiscountCodeQueries,
        PublicBookingQueries,
        NotificationQueries,
        BillingQueries,
        NodeQueries,  # issue 12: Relay node(id:)
        AccountQueries,
        AuditQueries,
        FlagQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AuthMutations,
        TenantMutations,
        CatalogMutations,
        CustomerMutations,
        BookingMutations,
        SchedulingMutations,
        DiscountCodeMutations,
        PublicBookingMutations,
        NotificationMutations,
        BillingMutations,
        AccountMutations,
        FlagMutations,
    ),
)


class Schema(strawberry.Schema):
    """Logs only unexpected errors (with traceback); client mistakes are not noise."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if self.config.disable_field_suggestions and _SUGGESTION in error.message:
                # Strawberry strips them only from "Cannot query field" errors.
                error.message = error.message.split(_SUGGESTION)[0].rstrip()
            if is_unexpected(error):
                log.error(
                    "unexpected error in %s",
                    error.path,
                    exc_info=error.original_error,
                    extra={"code": "INTERNAL_ERROR"},
                )


def build_schema(settings: Settings) -> Schema:
    """The schema with caches, limits and error handling configured from ``settings``.

    Defaults: depth 10, 30 aliases, 2000 tokens (README, configuration).
    """
    # Extensions are factories (built per request); the caches are module-level.
    # The depth and alias limiters build a new rule class per instance, which
    # would make every request a ValidationCache miss: build their rules once
    # here and add the same classes to every request.
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    if not settings.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list = [
        RequestGuard,
        partial(ParserCache, maxsize=256),
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        partial(AddValidationRules, rules),
        partial(ValidationCache, maxsize=256),
    ]
    extensions.extend(observability_extensions(settings))  # issue 12: record, query cost
    config = StrawberryConfig(disable_field_suggestions=not settings.field_suggestions_enabled)
    return Schema(query=Query, mutation=Mutation, extensions=extensions, config=config)


schema = build_schema(Settings(_env_file=None))  # for `strawberry export-schema`
