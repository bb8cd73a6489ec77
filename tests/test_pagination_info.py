"""PageInfo's hasPreviousPage and startCursor (issue 12, item 9), on the demo bookings."""

from __future__ import annotations

from tests.conftest import GraphQLClient

PAGE = """
query($first: Int, $after: String) {
  bookings(first: $first, after: $after) {
    edges { cursor }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


async def test_pages_say_where_they_lie(demo, gql: GraphQLClient):
    token = await gql.token("west-nipt")
    first = await gql(PAGE, {"first": 2}, token=token, tenant="west-nipt")
    page = first["data"]["bookings"]
    cursors = [edge["cursor"] for edge in page["edges"]]
    assert len(cursors) == 2
    assert page["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,  # the first page
        "startCursor": cursors[0],
        "endCursor": cursors[1],
    }

    second = await gql(PAGE, {"first": 2, "after": cursors[1]}, token=token, tenant="west-nipt")
    page = second["data"]["bookings"]
    info = page["pageInfo"]
    assert info["hasPreviousPage"] is True
    assert info["startCursor"] == page["edges"][0]["cursor"] != cursors[1]
    assert info["endCursor"] == page["edges"][-1]["cursor"]


async def test_an_empty_page_has_no_cursors(demo, gql: GraphQLClient):
    token = await gql.token("west-nipt")
    everything = await gql(PAGE, {"first": 100}, token=token, tenant="west-nipt")
    last = everything["data"]["bookings"]["pageInfo"]["endCursor"]
    after_last = await gql(PAGE, {"first": 5, "after": last}, token=token, tenant="west-nipt")
    info = after_last["data"]["bookings"]["pageInfo"]
    assert after_last["data"]["bookings"]["edges"] == []
    assert info == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": None,
        "endCursor": None,
    }
