"""Root fields a caller may be refused are nullable (issue 12, item 9): a refusal of
one field leaves the others' data in the answer, with an error naming that field."""

from __future__ import annotations

from tenancy.models import Role
from tests.conftest import GraphQLClient, error_codes

WEST = "west-nipt"


async def test_a_forbidden_field_keeps_the_other_fields_data(demo, gql: GraphQLClient):
    viewer = await gql.token(WEST, Role.VIEWER)  # reads customers, not discount codes
    result = await gql(
        "{ customers(first: 1) { totalCount } discountCodes(first: 1) { totalCount } }",
        tenant=WEST,
        token=viewer,
    )
    assert result["data"]["customers"]["totalCount"] > 0
    assert result["data"]["discountCodes"] is None
    assert error_codes(result) == ["FORBIDDEN"]
    assert result["errors"][0]["path"] == ["discountCodes"]


async def test_the_public_gets_the_catalog_alongside_refused_fields(demo, gql: GraphQLClient):
    result = await gql(
        "{ tenantProfile { slug } services { id } me { id } tenant { id } "
        "bookings { totalCount } }",
        tenant=WEST,
    )
    data = result["data"]
    assert data["tenantProfile"] == {"slug": WEST} and data["services"]
    assert data["me"] is None and data["tenant"] is None and data["bookings"] is None
    assert sorted(error_codes(result)) == ["UNAUTHENTICATED"] * 3
    assert sorted(e["path"][0] for e in result["errors"]) == ["bookings", "me", "tenant"]


async def test_platform_fields_are_refused_alone(demo, gql: GraphQLClient):
    admin = await gql.token(WEST)
    result = await gql(
        "{ tenant { slug } tenants { totalCount } platformStats { tenants } }",
        tenant=WEST,
        token=admin,
    )
    assert result["data"] == {"tenant": {"slug": WEST}, "tenants": None, "platformStats": None}
    assert error_codes(result) == ["FORBIDDEN", "FORBIDDEN"]


async def test_a_missing_object_is_null_with_not_found(demo, gql: GraphQLClient):
    admin = await gql.token(WEST)
    result = await gql(
        '{ tenant { slug } customer(id: "0123456789abcdef01234567") { id } }',
        tenant=WEST,
        token=admin,
    )
    assert result["data"] == {"tenant": {"slug": WEST}, "customer": None}
    assert error_codes(result) == ["NOT_FOUND"]


#: Root fields every caller of a tenant may read (public or tenant-wide): never refused for
#: a permission, so they stay non-null. Every other root field is nullable.
ALWAYS_ANSWERED = {
    "tenantProfile",
    "plans",
    "services",
    "locations",
    "availableSlots",
    "validateDiscountCode",
    "bookingLookup",
    "slugAvailable",
    "features",
}


def test_every_root_field_that_may_be_refused_is_nullable():
    from graphql import GraphQLNonNull

    from graphql_api.schema import schema

    query = schema._schema.query_type
    assert query is not None
    non_null = {name for name, f in query.fields.items() if isinstance(f.type, GraphQLNonNull)}
    assert non_null <= ALWAYS_ANSWERED, sorted(non_null - ALWAYS_ANSWERED)
