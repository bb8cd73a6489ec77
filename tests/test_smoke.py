from tests.conftest import GraphQLClient, error_codes


async def test_demo_admin_lists_bookings_with_customer_and_service(demo, gql: GraphQLClient):
    token = await gql.token("west-nipt")
    result = await gql(
        "{ bookings(first: 50) { edges { node { confirmationNumber "
        "customer { name } service { name } } } } }",
        tenant="west-nipt",
        token=token,
    )
    assert "errors" not in result, result
    edges = result["data"]["bookings"]["edges"]
    assert len(edges) >= 20
    assert all(e["node"]["customer"] and e["node"]["service"] for e in edges)
    other = await gql("{ bookings { edges { cursor } } }", tenant="quattro-stand", token=token)
    assert error_codes(other) == ["FORBIDDEN"]
