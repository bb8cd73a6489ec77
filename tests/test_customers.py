"""Customers over GraphQL: CRUD, soft delete, email uniqueness, pagination, search, plan limits
and roles."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from bson import json_util

from domain.customers import CustomerFields, CustomerService
from tenancy import lifecycle
from tenancy.models import Role, Tenant
from tenancy.runtime import Runtime
from tests.conftest import GraphQLClient, error_codes

CUSTOMER_FIELDS = "id name email phone company tags notes status createdAt updatedAt"

CREATE = f"""
mutation($input: CreateCustomerInput!) {{
  createCustomer(input: $input) {{
    customer {{ {CUSTOMER_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}"""

UPDATE = f"""
mutation($id: ID!, $input: UpdateCustomerInput!) {{
  updateCustomer(id: $id, input: $input) {{
    customer {{ {CUSTOMER_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}"""

DELETE = """
mutation($id: ID!) {
  deleteCustomer(id: $id) { customer { id status email } userErrors { field code message } }
}"""

GET = f"query($id: ID!) {{ customer(id: $id) {{ {CUSTOMER_FIELDS} }} }}"

LIST = """
query(
  $first: Int, $after: String, $filter: CustomerFilter, $sort: CustomerSort! = CREATED_AT_DESC
) {
  customers(first: $first, after: $after, filter: $filter, sort: $sort) {
    totalCount
    edges { cursor node { id name email status tags } }
    pageInfo { hasNextPage endCursor }
  }
}"""


class Api:
    """One tenant's admin session over HTTP."""

    def __init__(self, gql: GraphQLClient, slug: str, token: str) -> None:
        self.gql = gql
        self.slug = slug
        self.token = token

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        return await self.gql(query, variables, tenant=self.slug, token=self.token)

    async def create(self, **fields: Any) -> dict[str, Any]:
        result = await self(CREATE, input=fields)
        assert "errors" not in result, result
        payload = result["data"]["createCustomer"]
        assert payload["userErrors"] == [], payload
        return payload["customer"]

    async def create_errors(self, **fields: Any) -> list[dict[str, Any]]:
        result = await self(CREATE, input=fields)
        assert "errors" not in result, result
        payload = result["data"]["createCustomer"]
        assert payload["customer"] is None
        return payload["userErrors"]

    async def list(self, **variables: Any) -> dict[str, Any]:
        result = await self(LIST, **variables)
        assert "errors" not in result, result
        return result["data"]["customers"]

    async def walk(
        self, page_size: int, after: str | None = None, **variables: Any
    ) -> list[dict[str, Any]]:
        """Every node of the connection from ``after`` on, following endCursor page by page."""
        nodes: list[dict[str, Any]] = []
        for _ in range(1000):
            page = await self.list(first=page_size, after=after, **variables)
            nodes.extend(edge["node"] for edge in page["edges"])
            assert len(page["edges"]) <= page_size
            if not page["pageInfo"]["hasNextPage"]:
                return nodes
            assert len(page["edges"]) == page_size
            after = page["pageInfo"]["endCursor"]
            assert after == page["edges"][-1]["cursor"]
        raise AssertionError("pagination did not terminate")


async def provision(runtime: Runtime, slug: str, plan: str = "enterprise") -> Tenant:
    return await lifecycle.provision_tenant(
        runtime,
        lifecycle.ProvisionRequest(
            slug=slug,
            name=f"Tenant {slug}",
            plan_key=plan,
            owner_email=f"owner@{slug}.example.com",
            owner_name="Owner",
            owner_password="owner-password-123",
        ),
        actor="test",
    )


async def admin_session(gql: GraphQLClient, runtime: Runtime, tenant: Tenant) -> Api:
    owner = await runtime.store.user_by_id(tenant.owner_user_id)
    assert owner is not None
    return Api(gql, tenant.slug, gql.tokens.issue(owner, tenant)[0])


async def set_customer_limit(runtime: Runtime, tenant: Tenant, limit: int | None) -> None:
    await runtime.store.update_tenant(tenant.id, {"limits.max_customers": limit})
    runtime.registry.invalidate(tenant.slug)


@pytest.fixture
async def fresh(runtime: Runtime) -> Tenant:
    """An empty tenant on the enterprise plan."""
    return await provision(runtime, "acme-clinic")


@pytest.fixture
async def api(gql: GraphQLClient, runtime: Runtime, fresh: Tenant) -> Api:
    return await admin_session(gql, runtime, fresh)


@pytest.fixture
async def demo_api(demo: Runtime, gql: GraphQLClient) -> Api:
    return Api(gql, "west-nipt", await gql.token("west-nipt"))


# -- create / get / update / delete -------------------------------------------


async def test_create_then_get_returns_stored_fields(api: Api):
    created = await api.create(
        name="  Ayşe Demir ",
        email="Ayse.Demir@Example.COM",
        phone=" +90 532 111 2233 ",
        company="Omega",
        tags=[" VIP ", "vip", "Gold", " "],
        notes="prefers mornings",
    )
    assert created["name"] == "Ayşe Demir"
    assert created["email"] == "Ayse.Demir@example.com"  # domain normalised, local part kept
    assert created["phone"] == "+90 532 111 2233"
    assert created["company"] == "Omega"
    assert created["tags"] == ["gold", "vip"]
    assert created["notes"] == "prefers mornings"
    assert created["status"] == "ACTIVE"
    assert len(created["id"]) == 24

    fetched = (await api(GET, id=created["id"]))["data"]["customer"]
    for key in ("id", "name", "email", "phone", "company", "tags", "notes", "status", "createdAt"):
        assert fetched[key] == created[key], key


async def test_update_changes_given_fields_only(api: Api):
    created = await api.create(name="Elif Kaya", email="elif@example.com", company="Kaya Ltd")
    result = await api(
        UPDATE, id=created["id"], input={"name": "Elif Kaya-Demir", "phone": "+90 1", "tags": ["A"]}
    )
    payload = result["data"]["updateCustomer"]
    assert payload["userErrors"] == []
    updated = payload["customer"]
    assert updated["name"] == "Elif Kaya-Demir"
    assert updated["phone"] == "+90 1"
    assert updated["tags"] == ["a"]
    assert updated["email"] == "elif@example.com"
    assert updated["company"] == "Kaya Ltd"
    assert updated["updatedAt"] >= created["createdAt"]

    fetched = (await api(GET, id=created["id"]))["data"]["customer"]
    assert (fetched["name"], fetched["company"], fetched["tags"]) == (
        "Elif Kaya-Demir",
        "Kaya Ltd",
        ["a"],
    )


async def test_update_status_inactive_and_refuses_deleted_status(api: Api):
    created = await api.create(name="Zeynep")
    result = await api(UPDATE, id=created["id"], input={"status": "INACTIVE"})
    assert result["data"]["updateCustomer"]["customer"]["status"] == "INACTIVE"
    result = await api(UPDATE, id=created["id"], input={"status": "DELETED"})
    payload = result["data"]["updateCustomer"]
    assert payload["customer"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("VALIDATION_FAILED", ["input", "status"])
    ]
    fetched = (await api(GET, id=created["id"]))["data"]["customer"]
    assert fetched["status"] == "INACTIVE"


async def test_unknown_and_malformed_ids_are_not_found(api: Api):
    for ident in ("0123456789abcdef01234567", "not-an-id", "zzzzzzzzzzzzzzzzzzzzzzzz"):
        result = await api(GET, id=ident)
        assert error_codes(result) == ["NOT_FOUND"], result
        assert result["data"] == {"customer": None}  # nullable root field (issue 12)
        result = await api(UPDATE, id=ident, input={"name": "x"})
        assert [e["code"] for e in result["data"]["updateCustomer"]["userErrors"]] == ["NOT_FOUND"]
        result = await api(DELETE, id=ident)
        assert [e["code"] for e in result["data"]["deleteCustomer"]["userErrors"]] == ["NOT_FOUND"]


async def test_email_is_unique_per_tenant_case_insensitively(
    api: Api, fresh: Tenant, runtime: Runtime
):
    first = await api.create(name="One", email="same@example.com")
    errors = await api.create_errors(name="Two", email="  SAME@Example.com ")
    assert [(e["code"], e["field"]) for e in errors] == [("ALREADY_EXISTS", ["input", "email"])]
    assert "same@example.com" in errors[0]["message"].lower()

    other = await api.create(name="Three", email="other@example.com")
    result = await api(UPDATE, id=other["id"], input={"email": "Same@EXAMPLE.com"})
    payload = result["data"]["updateCustomer"]
    assert payload["customer"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("ALREADY_EXISTS", ["input", "email"])
    ]
    assert (await api(GET, id=other["id"]))["data"]["customer"]["email"] == "other@example.com"

    listed = await api.list(first=100)
    assert listed["totalCount"] == 2
    assert sorted(e["node"]["id"] for e in listed["edges"]) == sorted([first["id"], other["id"]])
    # the refused create gave its plan-limit reservation back
    db = runtime.tenant_database(fresh)
    assert await CustomerService(db, fresh).count() == 2


async def test_customers_without_email_do_not_collide(api: Api):
    a = await api.create(name="No Mail 1")
    b = await api.create(name="No Mail 2", email="")
    assert a["email"] is None and b["email"] is None
    assert a["id"] != b["id"]


async def test_clearing_an_email_frees_it(api: Api):
    a = await api.create(name="A", email="shared@example.com")
    result = await api(UPDATE, id=a["id"], input={"email": ""})
    assert result["data"]["updateCustomer"]["customer"]["email"] is None
    b = await api.create(name="B", email="Shared@example.com")
    assert b["email"] == "Shared@example.com"


async def test_soft_delete_hides_customer_and_frees_email(api: Api):
    keep = await api.create(name="Keep", email="keep@example.com")
    gone = await api.create(name="Gone", email="gone@example.com", tags=["x"])

    result = await api(DELETE, id=gone["id"])
    payload = result["data"]["deleteCustomer"]
    assert payload["userErrors"] == []
    assert payload["customer"]["id"] == gone["id"]
    assert payload["customer"]["status"] == "DELETED"

    result = await api(GET, id=gone["id"])
    assert error_codes(result) == ["NOT_FOUND"]
    listed = await api.list(first=100)
    assert [e["node"]["id"] for e in listed["edges"]] == [keep["id"]]
    assert listed["totalCount"] == 1
    assert (await api.list(first=100, filter={"search": "gone"}))["edges"] == []
    assert (await api.list(first=100, filter={"tag": "x"}))["edges"] == []

    # deleting twice, or updating a deleted customer, is NOT_FOUND
    again = (await api(DELETE, id=gone["id"]))["data"]["deleteCustomer"]
    assert [e["code"] for e in again["userErrors"]] == ["NOT_FOUND"]
    upd = (await api(UPDATE, id=gone["id"], input={"name": "Back"}))["data"]["updateCustomer"]
    assert [e["code"] for e in upd["userErrors"]] == ["NOT_FOUND"]

    # the address can be used again, by a new customer
    reborn = await api.create(name="Gone Again", email="GONE@example.com")
    assert reborn["id"] != gone["id"]
    result = await api(UPDATE, id=keep["id"], input={"email": "gone@example.com"})
    assert [e["code"] for e in result["data"]["updateCustomer"]["userErrors"]] == ["ALREADY_EXISTS"]


# -- pagination ---------------------------------------------------------------


@pytest.fixture
async def thirty(runtime: Runtime, fresh: Tenant) -> list[dict[str, Any]]:
    """30 customers created in this order (names deliberately not in creation order)."""
    service = CustomerService(runtime.tenant_database(fresh), fresh)
    names = [
        f"{chr(ord('a') + (i * 7) % 26)}{'Z' if i % 2 else 'z'} person {i:02d}" for i in range(30)
    ]
    return [
        await service.create(CustomerFields(name=name, email=f"p{i}@example.com"))
        for i, name in enumerate(names)
    ]


@pytest.mark.parametrize("page_size", [1, 7, 10, 30, 100])
async def test_cursor_pagination_walks_every_customer_once(
    api: Api, thirty: list[dict[str, Any]], page_size: int
):
    nodes = await api.walk(page_size)
    ids = [n["id"] for n in nodes]
    assert len(ids) == len(set(ids)) == 30
    assert ids == [str(c["_id"]) for c in reversed(thirty)]  # default: newest first


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("CREATED_AT_DESC", lambda cs: list(reversed(cs))),
        ("CREATED_AT_ASC", lambda cs: list(cs)),
        ("NAME_ASC", lambda cs: sorted(cs, key=lambda c: (c["name"].casefold(), c["_id"]))),
    ],
)
async def test_each_sort_order_pages_consistently(
    api: Api, thirty: list[dict[str, Any]], sort: str, expected
):
    nodes = await api.walk(4, sort=sort)
    assert [n["id"] for n in nodes] == [str(c["_id"]) for c in expected(thirty)]


async def test_name_sort_is_case_insensitive(api: Api):
    for name in ("bob", "Alice", "carol", "Bea"):
        await api.create(name=name)
    nodes = await api.walk(2, sort="NAME_ASC")
    assert [n["name"] for n in nodes] == ["Alice", "Bea", "bob", "carol"]


async def test_page_after_delete_has_no_gap_or_duplicate(api: Api, thirty: list[dict[str, Any]]):
    first = await api.list(first=10)
    seen = [e["node"]["id"] for e in first["edges"]]
    # delete the last customer of page one (the cursor row itself) and the first of page two
    await api(DELETE, id=seen[-1])
    newest_first = [str(c["_id"]) for c in reversed(thirty)]
    await api(DELETE, id=newest_first[10])
    rest = await api.walk(100, after=first["pageInfo"]["endCursor"])
    assert [n["id"] for n in rest] == newest_first[11:]
    assert first["totalCount"] == 30
    assert (await api.list(first=1))["totalCount"] == 28


async def test_total_count_and_has_next_page(api: Api, thirty: list[dict[str, Any]]):
    page = await api.list(first=30)
    assert page["totalCount"] == 30
    assert page["pageInfo"]["hasNextPage"] is False
    page = await api.list(first=29)
    assert page["pageInfo"]["hasNextPage"] is True
    last = await api.list(first=29, after=page["pageInfo"]["endCursor"])
    assert len(last["edges"]) == 1
    assert last["pageInfo"]["hasNextPage"] is False
    assert last["totalCount"] == 30  # the count ignores the cursor


async def test_empty_connection(api: Api):
    page = await api.list(first=5)
    assert page == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }


async def test_default_page_size_is_settings_default(
    api: Api, thirty: list[dict[str, Any]], runtime
):
    page = await api.list()
    assert len(page["edges"]) == runtime.settings.default_page_size == 20
    assert page["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize("first", [101, 1000, 0, -1])
async def test_first_out_of_range_is_validation_failed(api: Api, first: int):
    result = await api(LIST, first=first)
    assert error_codes(result) == ["VALIDATION_FAILED"]
    assert result["errors"][0]["extensions"]["field"] == ["first"]
    assert "100" in result["errors"][0]["message"]


async def test_first_at_max_page_size_is_allowed(api: Api, thirty: list[dict[str, Any]]):
    assert len((await api.list(first=100))["edges"]) == 30


def _forge(payload: Any) -> str:
    raw = json_util.dumps(payload) if not isinstance(payload, str) else payload
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!!",
        "",
        _forge("not json"),
        _forge(json.dumps(5)),
        _forge(json.dumps({"a": 1})),
        _forge(["created_desc", "not-a-list"]),
        _forge(["created_desc", [1]]),  # wrong number of sort values
        _forge(["created_desc", [{"$ne": None}, {"$ne": None}]]),  # operators, not values
        _forge(["created_desc", [{"$where": "sleep(1000)"}, 1]]),
    ],
)
async def test_bad_cursor_is_validation_failed(api: Api, thirty: list[dict[str, Any]], cursor: str):
    result = await api(LIST, first=5, after=cursor)
    if cursor == "":
        # an empty cursor means "from the start"
        assert "errors" not in result, result
        return
    assert error_codes(result) == ["VALIDATION_FAILED"], result
    assert result["errors"][0]["extensions"]["field"] == ["after"]


async def test_cursor_of_another_sort_order_is_refused(api: Api, thirty: list[dict[str, Any]]):
    page = await api.list(first=3, sort="NAME_ASC")
    result = await api(LIST, first=3, after=page["pageInfo"]["endCursor"], sort="CREATED_AT_DESC")
    assert error_codes(result) == ["VALIDATION_FAILED"]


# -- search, filters ----------------------------------------------------------


@pytest.fixture
async def people(api: Api) -> dict[str, str]:
    specs = {
        "ali": {"name": "Ali Veli", "email": "ali.veli@clinic.example.com", "tags": ["VIP"]},
        "dot": {
            "name": "A.B Smith (test)+",
            "email": "ab@other.example.org",
            "tags": ["vip", "new"],
        },
        "axb": {"name": "AxB Smith test", "email": "axb@other.example.org"},
        "mira": {"name": "Mira Stone", "email": "MIRA@stone.example.net", "tags": ["new"]},
        "star": {"name": "Star * Power", "email": None},
    }
    ids = {}
    for key, spec in specs.items():
        ids[key] = (await api.create(**{k: v for k, v in spec.items() if v is not None}))["id"]
    return ids


async def _search(api: Api, **flt: Any) -> set[str]:
    page = await api.list(first=100, filter=flt)
    return {e["node"]["id"] for e in page["edges"]}


async def test_search_matches_name_or_email_case_insensitively(api: Api, people: dict[str, str]):
    assert await _search(api, search="ali VELI") == {people["ali"]}
    assert await _search(api, search="CLINIC.EXAMPLE") == {people["ali"]}
    assert await _search(api, search="mira@STONE") == {people["mira"]}
    assert await _search(api, search="smith") == {people["dot"], people["axb"]}
    assert await _search(api, search="example.org") == {people["dot"], people["axb"]}
    assert await _search(api, search="  stone  ") == {people["mira"]}
    assert await _search(api, search="nobody") == set()
    assert await _search(api, search="   ") == set(people.values())


async def test_search_escapes_regex_characters(api: Api, people: dict[str, str]):
    assert await _search(api, search="a.b") == {people["dot"]}
    assert await _search(api, search="(test)+") == {people["dot"]}
    assert await _search(api, search="test)") == {people["dot"]}
    assert await _search(api, search=".*") == set()
    assert await _search(api, search="*") == {people["star"]}
    assert await _search(api, search="[a-z]") == set()
    assert await _search(api, search="^ali") == set()
    assert await _search(api, search="\\") == set()


async def test_filter_by_tag_and_status(api: Api, people: dict[str, str]):
    assert await _search(api, tag="vip") == {people["ali"], people["dot"]}
    assert await _search(api, tag=" VIP ") == {people["ali"], people["dot"]}
    assert await _search(api, tag="new") == {people["dot"], people["mira"]}
    assert await _search(api, tag="none") == set()

    await api(UPDATE, id=people["mira"], input={"status": "INACTIVE"})
    await api(UPDATE, id=people["ali"], input={"status": "INACTIVE"})
    assert await _search(api, status="INACTIVE") == {people["mira"], people["ali"]}
    assert await _search(api, status="ACTIVE") == {people["dot"], people["axb"], people["star"]}
    assert await _search(api, status="INACTIVE", tag="new") == {people["mira"]}
    assert await _search(api, status="ACTIVE", tag="new", search="smith") == {people["dot"]}
    page = await api.list(first=1, filter={"status": "INACTIVE"})
    assert page["totalCount"] == 2
    assert page["pageInfo"]["hasNextPage"] is True


async def test_filter_status_deleted_is_refused(api: Api, people: dict[str, str]):
    result = await api(LIST, first=5, filter={"status": "DELETED"})
    assert error_codes(result) == ["VALIDATION_FAILED"]


async def test_filtered_pagination_walks_only_matches(api: Api, thirty: list[dict[str, Any]]):
    # names of `thirty` alternate 'z' / 'Z' in the second letter
    nodes = await api.walk(3, filter={"search": "Z person"}, sort="NAME_ASC")
    assert len(nodes) == 30  # case-insensitive
    odd = await api.walk(2, filter={"search": "person 1"})
    assert sorted(n["name"][-2:] for n in odd) == [f"{i:02d}" for i in range(10, 20)]


# -- plan limit ---------------------------------------------------------------


async def test_plan_limit_refuses_customer_over_limit(api: Api, fresh: Tenant, runtime: Runtime):
    await set_customer_limit(runtime, fresh, 3)
    created = [await api.create(name=f"C{i}") for i in range(3)]
    errors = await api.create_errors(name="One too many", email="over@example.com")
    assert [e["code"] for e in errors] == ["PLAN_LIMIT_EXCEEDED"]
    assert "3" in errors[0]["message"]
    assert "enterprise" in errors[0]["message"]
    listed = await api.list(first=100)
    assert listed["totalCount"] == 3
    assert {e["node"]["id"] for e in listed["edges"]} == {c["id"] for c in created}

    # deleting one frees a place; the address of the refused one was never taken
    await api(DELETE, id=created[0]["id"])
    again = await api.create(name="Now fits", email="over@example.com")
    assert again["email"] == "over@example.com"
    assert [e["code"] for e in await api.create_errors(name="Full again")] == [
        "PLAN_LIMIT_EXCEEDED"
    ]


async def test_plan_limit_counts_existing_demo_customers(demo_api: Api, demo: Runtime):
    tenant = await demo.store.tenant_by_slug("west-nipt")
    assert tenant is not None
    existing = (await demo_api.list(first=100))["totalCount"]
    assert existing == 4
    await set_customer_limit(demo, tenant, existing)
    errors = await demo_api.create_errors(name="Extra")
    assert [e["code"] for e in errors] == ["PLAN_LIMIT_EXCEEDED"]
    assert f"{existing} customers" in errors[0]["message"]
    await set_customer_limit(demo, tenant, existing + 1)
    await demo_api.create(name="Extra")


async def test_plan_limit_zero_allows_no_customer(api: Api, fresh: Tenant, runtime: Runtime):
    await set_customer_limit(runtime, fresh, 0)
    errors = await api.create_errors(name="First")
    assert [e["code"] for e in errors] == ["PLAN_LIMIT_EXCEEDED"]
    assert (await api.list(first=10))["totalCount"] == 0


async def test_plan_limit_holds_under_concurrent_creates(api: Api, fresh: Tenant, runtime: Runtime):
    await set_customer_limit(runtime, fresh, 5)
    results = await asyncio.gather(
        *(
            api(CREATE, input={"name": f"Racer {i}", "email": f"r{i}@example.com"})
            for i in range(12)
        )
    )
    payloads = [r["data"]["createCustomer"] for r in results]
    ok = [p for p in payloads if p["customer"]]
    refused = [p for p in payloads if not p["customer"]]
    assert len(ok) == 5
    assert {e["code"] for p in refused for e in p["userErrors"]} == {"PLAN_LIMIT_EXCEEDED"}
    assert (await api.list(first=100))["totalCount"] == 5


async def test_unlimited_plan_has_no_limit(api: Api, fresh: Tenant, runtime: Runtime):
    await set_customer_limit(runtime, fresh, None)
    for i in range(3):
        await api.create(name=f"U{i}")
    assert (await api.list(first=10))["totalCount"] == 3


# -- roles and validation -----------------------------------------------------


async def test_roles_on_customer_mutations(demo: Runtime, gql: GraphQLClient):
    viewer = await gql.token("west-nipt", Role.VIEWER)
    staff = await gql.token("west-nipt", Role.STAFF)
    variables = {"input": {"name": "Role Test", "email": "role@example.com"}}

    denied = await gql(CREATE, variables, tenant="west-nipt", token=viewer)
    assert error_codes(denied) == ["FORBIDDEN"]
    assert denied["data"] is None

    anon = await gql(CREATE, variables, tenant="west-nipt")
    assert error_codes(anon) == ["UNAUTHENTICATED"]
    anon_list = await gql(LIST, {"first": 5}, tenant="west-nipt")
    assert error_codes(anon_list) == ["UNAUTHENTICATED"]

    # nothing was created by the refused calls; a viewer can still read
    listed = await gql(
        LIST, {"first": 100, "filter": {"search": "role@"}}, tenant="west-nipt", token=viewer
    )
    assert listed["data"]["customers"]["edges"] == []

    ok = await gql(CREATE, variables, tenant="west-nipt", token=staff)
    assert ok["data"]["createCustomer"]["customer"]["email"] == "role@example.com"
    cid = ok["data"]["createCustomer"]["customer"]["id"]
    for query, v in ((UPDATE, {"id": cid, "input": {"name": "x"}}), (DELETE, {"id": cid})):
        assert error_codes(await gql(query, v, tenant="west-nipt", token=viewer)) == ["FORBIDDEN"]
        assert error_codes(await gql(query, v, tenant="west-nipt")) == ["UNAUTHENTICATED"]
    fetched = await gql(GET, {"id": cid}, tenant="west-nipt", token=viewer)
    assert fetched["data"]["customer"]["name"] == "Role Test"


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"name": ""}, ["input", "name"]),
        ({"name": "   "}, ["input", "name"]),
        ({"name": "x" * 201}, ["input", "name"]),
        ({"name": "ok", "email": "not-an-email"}, ["input", "email"]),
        ({"name": "ok", "email": "a@b@c.com"}, ["input", "email"]),
        ({"name": "ok", "tags": [f"t{i}" for i in range(21)]}, ["input", "tags"]),
    ],
)
async def test_create_validation_errors_name_the_field(
    api: Api, fields: dict[str, Any], path: list[str]
):
    errors = await api.create_errors(**fields)
    assert [(e["code"], e["field"]) for e in errors] == [("VALIDATION_FAILED", path)]
    assert errors[0]["message"]
    assert (await api.list(first=5))["totalCount"] == 0


async def test_update_validation_errors_name_the_field(api: Api):
    created = await api.create(name="Valid", email="valid@example.com")
    for fields, path in (
        ({"name": ""}, ["input", "name"]),
        ({"email": "nope"}, ["input", "email"]),
    ):
        result = await api(UPDATE, id=created["id"], input=fields)
        payload = result["data"]["updateCustomer"]
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            ("VALIDATION_FAILED", path)
        ]
    fetched = (await api(GET, id=created["id"]))["data"]["customer"]
    assert (fetched["name"], fetched["email"]) == ("Valid", "valid@example.com")


async def test_max_twenty_tags_is_accepted(api: Api):
    created = await api.create(name="Tagged", tags=[f"t{i:02d}" for i in range(20)])
    assert len(created["tags"]) == 20
