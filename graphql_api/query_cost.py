"""Cost-based rate limiting per tenant, as Shopify's and GitHub's GraphQL APIs do it.

**The cost of an operation** is computed from its validated document before
it runs (:func:`requested_cost`), as an upper bound of the objects it can
return:

- a scalar or enum field costs 0;
- an object field costs 1, plus the cost of its selection;
- a connection field (its type's name ends in ``Connection``) costs 1 plus
  ``first`` times the cost of its ``nodes``/``edges`` selection (``first``
  from the arguments or variables; absent: ``APP_DEFAULT_PAGE_SIZE``, at most
  ``APP_MAX_PAGE_SIZE``), plus its other fields once (``pageInfo`` costs 1,
  ``totalCount`` 0);
- a list field that is not a connection (``services``, ``locations``)
  counts as one object: those lists are small and bounded by the tenant's
  own catalog;
- each mutation field costs 10 more than its selection (a write).

Fragments count where they are spread, every branch of an abstract type
counted (an upper bound). The **actual cost** (:func:`actual_cost`) counts
the same way over the objects the response really holds.

**The bucket** (:class:`CostLimiter`): each tenant has a bucket of points by
its plan (``APP_QUERY_COST_BUCKETS``: capacity, restore rate per second). An
operation runs when its requested cost fits in what is available, and its
actual cost is taken from the bucket after it ran (Shopify refunds the
difference; here only the actual cost is ever taken). Otherwise it is
refused with ``RATE_LIMITED`` and the seconds until enough points are back
(``extensions.retryAfter``, ``Retry-After``). The bucket is a ``limits``
sliding window of ``capacity`` points per ``capacity / restore`` seconds, in
``APP_RATE_LIMIT_STORAGE``: the process's memory by default, or Redis
(``async+redis://...``) to share it between processes. Two concurrent
requests may both fit and overdraw it slightly (one check, one hit).

An operation whose requested cost is over ``APP_MAX_QUERY_COST`` is refused
with ``QUERY_TOO_COSTLY`` whatever the bucket holds.

Every executed operation's response carries ``extensions.cost``::

    {"requestedQueryCost": 52, "actualQueryCost": 5,
     "throttleStatus": {"maximumAvailable": 1000, "currentlyAvailable": 995,
                        "restoreRate": 50}}

(``throttleStatus`` is ``null`` without a tenant or with rate limits off.)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from strawberry.extensions import SchemaExtension

from graphql_api.request_record import current_record
from tenancy.errors import AppError, ErrorCode
from tenancy.models import Tenant
from tenancy.settings import CostBucket, Settings

MUTATION_COST = 10
CONNECTION_SUFFIX = "Connection"
_PAGED_FIELDS = frozenset({"nodes", "edges"})


@dataclass(frozen=True)
class CostRules:
    """The numbers cost analysis needs from the settings.

    Attributes:
        default_page: ``first`` when a connection field names none.
        max_page: the largest ``first`` counted (the API refuses larger ones).
    """

    default_page: int
    max_page: int


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


class _Walker:
    """Walks one operation's selections with the schema's types."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: dict[str, Any] | None,
        rules: CostRules,
    ) -> None:
        self.schema = schema
        self.variables = variables or {}
        self.rules = rules
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def fields(
        self, selection_set: SelectionSetNode | None, parent: Any
    ) -> Iterator[tuple[FieldNode, GraphQLField]]:
        """Every field node of ``selection_set`` with its definition (fragments expanded)."""
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                definition = self._field(parent, selection.name.value)
                if definition is not None:
                    yield selection, definition
            elif isinstance(selection, InlineFragmentNode):
                inner = (
                    self.schema.get_type(selection.type_condition.name.value)
                    if selection.type_condition
                    else parent
                )
                yield from self.fields(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    inner = self.schema.get_type(fragment.type_condition.name.value)
                    yield from self.fields(fragment.selection_set, inner)

    def _field(self, parent: Any, name: str) -> GraphQLField | None:
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return parent.fields.get(name)
        if isinstance(parent, GraphQLUnionType):
            for member in parent.types:
                if name in member.fields:
                    return member.fields[name]
        return None

    def page_size(self, node: FieldNode) -> int:
        """The ``first`` argument of a connection field, defaulted and capped."""
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value: Any = None
            if isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
            elif isinstance(argument.value, VariableNode):
                value = self.variables.get(argument.value.name.value)
            if isinstance(value, int) and not isinstance(value, bool):
                return max(0, min(value, self.rules.max_page))
        return self.rules.default_page

    def requested(self, selection_set: SelectionSetNode | None, parent: Any) -> int:
        """The upper-bound cost of ``selection_set`` on a value of type ``parent``."""
        total = 0
        for node, definition in self.fields(selection_set, parent):
            field_type = definition.type
            named = get_named_type(field_type)
            if is_leaf_type(named):
                continue
            if named.name.endswith(CONNECTION_SUFFIX):
                total += 1
                page = self.page_size(node)
                for inner_node, inner_def in self.fields(node.selection_set, named):
                    inner = get_named_type(inner_def.type)
                    if is_leaf_type(inner):
                        continue
                    each = 1 + self.requested(inner_node.selection_set, inner)
                    total += each * page if inner_node.name.value in _PAGED_FIELDS else each
            else:
                total += 1 + self.requested(node.selection_set, named)
        return total

    def actual(self, selection_set: SelectionSetNode | None, parent: Any, value: Any) -> int:
        """The cost of what ``value`` (the response data at this selection) really holds.

        Counted as :meth:`requested` counts: the ``nodes``/``edges`` of a
        connection item by item, any other list as its costliest item.
        """
        if not isinstance(value, dict):
            return 0
        paged_parent = getattr(parent, "name", "").endswith(CONNECTION_SUFFIX)
        total = 0
        for node, definition in self.fields(selection_set, parent):
            named = get_named_type(definition.type)
            if is_leaf_type(named):
                continue
            key = node.alias.value if node.alias else node.name.value
            item = value.get(key)
            items = [one for one in (item if isinstance(item, list) else [item]) if one is not None]
            costs = [1 + self.actual(node.selection_set, named, one) for one in items]
            if paged_parent and node.name.value in _PAGED_FIELDS:
                total += sum(costs)
            else:
                total += max(costs, default=0)
        return total


def _walker(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    rules: CostRules,
) -> tuple[_Walker, OperationDefinitionNode, Any] | None:
    operation = _operation(document, operation_name)
    if operation is None:
        return None
    root = schema.get_root_type(operation.operation)
    return _Walker(schema, document, variables, rules), operation, root


def _mutation_extra(operation: OperationDefinitionNode, walker: _Walker, root: Any) -> int:
    if operation.operation is not OperationType.MUTATION:
        return 0
    return MUTATION_COST * sum(1 for _ in walker.fields(operation.selection_set, root))


def requested_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    rules: CostRules,
) -> int:
    """The requested cost of the operation ``operation_name`` of ``document`` (module doc).

    Args:
        schema: the graphql-core schema the document was validated against.
        variables: the request's variables (``first: $n`` is read from them).

    Returns 0 for a document without that operation (validation refuses it first).
    """
    found = _walker(schema, document, operation_name, variables, rules)
    if found is None:
        return 0
    walker, operation, root = found
    cost = walker.requested(operation.selection_set, root)
    return cost + _mutation_extra(operation, walker, root)


def actual_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    data: dict[str, Any] | None,
    rules: CostRules,
) -> int:
    """The cost of the objects ``data`` (an executed operation's result) holds."""
    found = _walker(schema, document, operation_name, None, rules)
    if found is None or data is None:
        return 0
    walker, operation, root = found
    return walker.actual(operation.selection_set, root, data) + _mutation_extra(
        operation, walker, root
    )


@dataclass(frozen=True)
class ThrottleStatus:
    """A tenant's bucket as ``extensions.cost.throttleStatus`` shows it (points, points/s)."""

    maximum_available: int
    currently_available: int
    restore_rate: int

    def as_json(self) -> dict[str, int]:
        return {
            "maximumAvailable": self.maximum_available,
            "currentlyAvailable": self.currently_available,
            "restoreRate": self.restore_rate,
        }


class CostLimiter:
    """Per-tenant buckets of query-cost points on ``limits`` storage.

    Args:
        storage: a ``limits`` async storage (shared with the other limiters).
        buckets: plan key -> :class:`tenancy.settings.CostBucket`.
        default_bucket: for plans not in ``buckets``.
    """

    def __init__(
        self, storage: Any, buckets: dict[str, CostBucket], default_bucket: CostBucket
    ) -> None:
        self.limiter = SlidingWindowCounterRateLimiter(storage)
        self.buckets = buckets
        self.default_bucket = default_bucket

    def bucket(self, tenant: Tenant) -> CostBucket:
        """The bucket of ``tenant``'s plan."""
        return self.buckets.get(tenant.subscription.plan_key, self.default_bucket)

    @staticmethod
    def _item(bucket: CostBucket) -> RateLimitItem:
        window = max(1, math.ceil(bucket.capacity / bucket.restore_per_second))
        return RateLimitItemPerSecond(bucket.capacity, window)

    async def status(self, tenant: Tenant) -> ThrottleStatus:
        """What ``tenant``'s bucket holds now."""
        bucket = self.bucket(tenant)
        stats = await self.limiter.get_window_stats(self._item(bucket), "cost", tenant.slug)
        return ThrottleStatus(bucket.capacity, max(0, stats.remaining), bucket.restore_per_second)

    async def check(self, tenant: Tenant, cost: int) -> ThrottleStatus:
        """Refuse the operation when ``cost`` points are not available.

        Raises:
            AppError(RATE_LIMITED) with ``details["retryAfter"]`` (seconds until
            enough points are restored) and ``details["cost"]``.
        """
        status = await self.status(tenant)
        if cost <= status.currently_available:
            return status
        missing = cost - status.currently_available
        retry = max(1, math.ceil(missing / status.restore_rate))
        raise AppError(
            ErrorCode.RATE_LIMITED,
            f"tenant {tenant.slug!r} has {status.currently_available} of the {cost} query-cost "
            f"points this operation needs (its plan restores {status.restore_rate} a second); "
            f"retry in {retry} s",
            details={"retryAfter": retry},
        )

    async def take(self, tenant: Tenant, cost: int) -> ThrottleStatus:
        """Take ``cost`` points (the actual cost) from ``tenant``'s bucket."""
        bucket = self.bucket(tenant)
        if cost > 0:
            await self.limiter.hit(self._item(bucket), "cost", tenant.slug, cost=cost)
        return await self.status(tenant)


class QueryCost(SchemaExtension):
    """Computes each operation's cost, refuses it when too costly or throttled,
    charges the tenant's bucket and adds ``extensions.cost`` (module doc).

    Built per request by :func:`query_cost_extension` with the rules and the
    limiter (``None``: rate limits off, cost is only reported and capped).
    """

    def __init__(
        self,
        *,
        execution_context: Any = None,
        rules: CostRules,
        max_cost: int,
        limiter: CostLimiter | None,
    ) -> None:
        super().__init__(execution_context=execution_context)
        self.rules = rules
        self.max_cost = max_cost
        self.limiter = limiter
        self.cost: dict[str, Any] | None = None

    def _refuse(self, error: AppError) -> None:
        self.execution_context.result = GraphQLExecutionResult(
            data=None, errors=[GraphQLError(error.message, original_error=error)]
        )

    async def on_execute(self) -> Any:
        ctx = self.execution_context
        if ctx.result is not None or ctx.graphql_document is None:  # refused before (guard)
            yield
            return
        schema = ctx.schema._schema
        requested = requested_cost(
            schema, ctx.graphql_document, ctx.operation_name, ctx.variables, self.rules
        )
        tenant = getattr(ctx.context, "tenant", None)
        self.cost = {"requestedQueryCost": requested, "actualQueryCost": None}
        status: ThrottleStatus | None = None
        if requested > self.max_cost:
            self._refuse(
                AppError(
                    ErrorCode.QUERY_TOO_COSTLY,
                    f"this operation's cost is {requested}, over the maximum of "
                    f"{self.max_cost}; ask for fewer items (first) or fewer fields",
                    details={"requestedQueryCost": requested, "maximumQueryCost": self.max_cost},
                )
            )
        elif self.limiter is not None and tenant is not None:
            try:
                status = await self.limiter.check(tenant, requested)
            except AppError as error:
                status = await self.limiter.status(tenant)
                self._refuse(error)
        self._record(requested, None)
        started = ctx.result is None
        yield
        if started and ctx.result is not None:
            actual = actual_cost(
                schema, ctx.graphql_document, ctx.operation_name, ctx.result.data, self.rules
            )
            self.cost["actualQueryCost"] = actual
            self._record(requested, actual)
            if self.limiter is not None and tenant is not None:
                status = await self.limiter.take(tenant, actual)
        self.cost["throttleStatus"] = status.as_json() if status else None

    def _record(self, requested: int, actual: int | None) -> None:
        record = current_record()
        if record is not None:
            record.cost_requested = requested
            record.cost_actual = actual

    def get_results(self) -> dict[str, Any]:
        return {"cost": self.cost} if self.cost is not None else {}


def query_cost_extension(settings: Settings, storage: Any | None) -> Any:
    """The per-request factory of :class:`QueryCost` for ``build_schema``, or ``None``
    when ``APP_QUERY_COST_ENABLED`` is off. ``storage``: the ``limits`` storage of the
    buckets, ``None`` when rate limits are off (cost reported and capped only)."""
    if not settings.query_cost_enabled:
        return None
    rules = CostRules(default_page=settings.default_page_size, max_page=settings.max_page_size)
    limiter = (
        CostLimiter(storage, settings.query_cost_buckets, settings.query_cost_default_bucket)
        if storage is not None
        else None
    )

    def factory() -> QueryCost:
        return QueryCost(
            rules=rules,
            max_cost=settings.max_query_cost,
            limiter=limiter,
        )

    return factory


__all__ = [
    "CostLimiter",
    "CostRules",
    "QueryCost",
    "ThrottleStatus",
    "actual_cost",
    "query_cost_extension",
    "requested_cost",
]
