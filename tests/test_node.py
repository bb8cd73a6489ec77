"""Relay node(id:) over the ids every other field returns (issue 12, item 9).

It finds what the caller may read, with the object's own query's rules, and
answers NOT_FOUND (node: null) for everything else: another tenant's ids, kinds
the caller may not read, unknown or malformed ids.
"""

from __future__ import annotations

from typing import Any

from tenancy.models import Role
from tests.conftest import GraphQLClient, error_codes

WEST, TROMB = "west-nipt", "tromb-screening"

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on Customer { name }
    ... on Booking { confirmationNumber }
    ... on Plan { key }
    ... on Tenant { slug }
    ... on User { email }
  }
}"""

IDS = """
{
  tenant { id }
  me { id }
  plans { id key }
  customers(first: 1) { nodes { id name } }
  bookings(first: 1) { nodes { id confirmationNumber } }
  services { id }
  locations { id }
  staffMembers(first: 1) { nodes { id } }
  discountCodes(first: 1) { nodes { id } }
}"""


async def _ids(gql: GraphQLClient, slug: str) -> dict[str, Any]:
    result = await gql(IDS, tenant=slug, token=await gql.token(slug))
    assert "errors" not in result, result
    return result["data"]


async def _node(gql: GraphQLClient, id: str, **how: Any) -> dict[str, Any]:
    return await gql(NODE, {"id": id}, **how)


async def test_every_kind_is_found_again_by_its_id(demo, gql: GraphQLClient):
    ids = await _ids(gql, WEST)
    admin = {"tenant": WEST, "token": await gql.token(WEST)}
    expected = {
        ids["tenant"]["id"]: "Tenant",
        ids["me"]["id"]: "User",
        ids["plans"][0]["id"]: "Plan",
        ids["customers"]["nodes"][0]["id"]: "Customer",
        ids["bookings"]["nodes"][0]["id"]: "Booking",
        ids["services"][0]["id"]: "Service",
        ids["locations"][0]["id"]: "Location",
        ids["staffMembers"]["nodes"][0]["id"]: "StaffMember",
        ids["discountCodes"]["nodes"][0]["id"]: "DiscountCode",
    }
    assert len(expected) == 9  # the ids are distinct across kinds
    for id, typename in expected.items():
        result = await _node(gql, id, **admin)
        assert "errors" not in result, (typename, result)
        assert result["data"]["node"]["__typename"] == typename
        assert result["data"]["node"]["id"] == id
    customer = ids["customers"]["nodes"][0]
    found = (await _node(gql, customer["id"], **admin))["data"]["node"]
    assert found["name"] == customer["name"]
    plan = (await _node(gql, ids["plans"][0]["id"], **admin))["data"]["node"]
    assert plan["key"] == ids["plans"][0]["key"]


async def test_another_tenants_ids_are_not_found(demo, gql: GraphQLClient):
    other = await _ids(gql, TROMB)
    west_admin = {"tenant": WEST, "token": await gql.token(WEST)}
    for id in (
        other["tenant"]["id"],
        other["me"]["id"],
        other["customers"]["nodes"][0]["id"],
        other["bookings"]["nodes"][0]["id"],
        other["services"][0]["id"],
    ):
        result = await _node(gql, id, **west_admin)
        assert error_codes(result) == ["NOT_FOUND"], result
        assert result["data"] == {"node": None}


async def test_only_kinds_the_caller_may_read_are_found(demo, gql: GraphQLClient):
    ids = await _ids(gql, WEST)
    customer = ids["customers"]["nodes"][0]["id"]
    code = ids["discountCodes"]["nodes"][0]["id"]
    service = ids["services"][0]["id"]

    # The public (a booking site): the catalog, not customers or bookings.
    assert (await _node(gql, service, tenant=WEST))["data"]["node"]["id"] == service
    for id in (customer, ids["bookings"]["nodes"][0]["id"], ids["tenant"]["id"]):
        result = await _node(gql, id, tenant=WEST)
        assert error_codes(result) == ["NOT_FOUND"] and result["data"] == {"node": None}

    # A viewer reads customers but not discount codes (admins only).
    viewer = {"tenant": WEST, "token": await gql.token(WEST, Role.VIEWER)}
    assert (await _node(gql, customer, **viewer))["data"]["node"]["__typename"] == "Customer"
    result = await _node(gql, code, **viewer)
    assert error_codes(result) == ["NOT_FOUND"]

    # Another user's id is not found, even in the same tenant.
    admin = {"tenant": WEST, "token": await gql.token(WEST)}
    result = await _node(gql, ids["me"]["id"], **viewer)
    assert error_codes(result) == ["NOT_FOUND"]
    assert (await _node(gql, ids["me"]["id"], **admin))["data"]["node"]["__typename"] == "User"


async def test_super_admins_find_any_tenant(demo, gql: GraphQLClient):
    tromb = (await _ids(gql, TROMB))["tenant"]["id"]
    root = await gql.token(None)
    result = await _node(gql, tromb, token=root)
    assert result["data"]["node"] == {"__typename": "Tenant", "id": tromb, "slug": TROMB}
    # A tenant admin does not (only their own tenant).
    result = await _node(gql, tromb, token=await gql.token(WEST))
    assert error_codes(result) == ["NOT_FOUND"]


async def test_unknown_and_malformed_ids_are_not_found(demo, gql: GraphQLClient):
    admin = {"tenant": WEST, "token": await gql.token(WEST)}
    for id in ("0123456789abcdef01234567", "not-an-id", "", "x" * 500):
        result = await _node(gql, id, **admin)
        assert error_codes(result) == ["NOT_FOUND"], (id, result)
        assert result["data"] == {"node": None}
