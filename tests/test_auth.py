"""Login, token verification and role permissions."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from graphql_api.auth import TokenService
from graphql_api.demo import DEMO_PASSWORD
from tenancy.models import Role, utcnow
from tests.conftest import GraphQLClient, error_codes

LOGIN = """
mutation($email: String!, $password: String!, $tenant: String) {
  login(email: $email, password: $password, tenant: $tenant) {
    token expiresAt user { email role } userErrors { field code message }
  }
}"""
ME = "{ me { email role } }"


async def login(gql: GraphQLClient, email: str, password: str, tenant: str | None, **kw) -> dict:
    result = await gql(LOGIN, {"email": email, "password": password, "tenant": tenant}, **kw)
    return result["data"]["login"]


async def test_login_returns_a_working_token(demo, gql: GraphQLClient):
    payload = await login(gql, "Admin@West-Nipt.example.com", DEMO_PASSWORD, "west-nipt")
    assert payload["userErrors"] == []
    assert payload["user"] == {"email": "admin@west-nipt.example.com", "role": "ADMIN"}
    claims = jwt.decode(payload["token"], options={"verify_signature": False})
    assert claims["tenant"] == "west-nipt" and claims["role"] == "admin"
    assert claims["exp"] - claims["iat"] == demo.settings.jwt_ttl_seconds
    me = await gql(ME, token=payload["token"])
    assert me["data"]["me"] == {"email": "admin@west-nipt.example.com", "role": "ADMIN"}


async def test_login_uses_the_request_tenant(demo, gql: GraphQLClient):
    result = await gql(
        LOGIN,
        {"email": "staff@quattro-stand.example.com", "password": DEMO_PASSWORD},
        tenant="quattro-stand",
    )
    payload = result["data"]["login"]
    assert payload["user"]["role"] == "STAFF"


async def test_super_admin_login_without_tenant(demo, gql: GraphQLClient):
    payload = await login(gql, "root@platform.example.com", DEMO_PASSWORD, None)
    assert payload["user"]["role"] == "SUPER_ADMIN"
    assert "tenant" not in jwt.decode(payload["token"], options={"verify_signature": False})


async def test_unknown_user_and_wrong_password_answer_alike(demo, gql: GraphQLClient):
    wrong = await login(gql, "admin@west-nipt.example.com", "not-the-password", "west-nipt")
    unknown = await login(gql, "nobody@west-nipt.example.com", DEMO_PASSWORD, "west-nipt")
    other_tenant = await login(gql, "admin@quattro-stand.example.com", DEMO_PASSWORD, "west-nipt")
    assert wrong == unknown == other_tenant
    assert wrong["token"] is None
    assert wrong["userErrors"] == [
        {"field": None, "code": "INVALID_CREDENTIALS", "message": "email or password is wrong"}
    ]


async def test_login_to_suspended_or_unknown_tenant(demo, gql: GraphQLClient):
    result = await gql(
        LOGIN,
        {
            "email": "admin@omega-nipt.example.com",
            "password": DEMO_PASSWORD,
            "tenant": "omega-nipt",
        },
    )
    assert error_codes(result) == ["TENANT_INACTIVE"]
    result = await gql(LOGIN, {"email": "a@b.com", "password": "x", "tenant": "nope-nope"})
    assert error_codes(result) == ["TENANT_NOT_FOUND"]


def _forge(claims: dict, header: dict) -> str:
    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{b64(header)}.{b64(claims)}."


async def test_alg_none_token_is_refused(demo, gql: GraphQLClient):
    good = await gql.token("west-nipt")
    claims = jwt.decode(good, options={"verify_signature": False})
    claims["role"] = "super_admin"
    forged = _forge(claims, {"alg": "none", "typ": "JWT"})
    result = await gql(ME, token=forged, tenant="west-nipt")
    assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_tampered_token_is_refused(demo, gql: GraphQLClient):
    good = await gql.token("west-nipt", Role.VIEWER)
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"
    new_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    result = await gql(ME, token=f"{header}.{new_payload}.{signature}")
    assert error_codes(result) == ["UNAUTHENTICATED"]
    assert "not valid" in result["errors"][0]["message"]


async def test_expired_token_is_refused(demo, gql: GraphQLClient):
    good = await gql.token("west-nipt")
    claims = jwt.decode(good, options={"verify_signature": False})
    past = utcnow() - timedelta(hours=2)
    claims.update(iat=past, exp=past + timedelta(minutes=5))
    expired = jwt.encode(claims, demo.settings.jwt_secret, algorithm="HS256")
    result = await gql(ME, token=expired)
    assert error_codes(result) == ["UNAUTHENTICATED"]
    assert "expired" in result["errors"][0]["message"]


async def test_token_signed_with_another_secret_is_refused(demo, gql: GraphQLClient):
    good = await gql.token("west-nipt")
    claims = jwt.decode(good, options={"verify_signature": False})
    other = jwt.encode(claims, "another-secret-another-secret-another", algorithm="HS256")
    assert error_codes(await gql(ME, token=other)) == ["UNAUTHENTICATED"]


async def test_malformed_authorization_header(demo, gql: GraphQLClient):
    result = await gql(ME, headers={"authorization": "Basic abc"})
    assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_rs256_tokens(demo, settings):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    rs = TokenService(
        settings.model_copy(
            update={
                "jwt_algorithm": "RS256",
                "jwt_private_key": private,
                "jwt_public_key": public,
            }
        )
    )
    tenant = await demo.store.tenant_by_slug("west-nipt")
    user = await demo.store.user_by_email(tenant.id, "admin@west-nipt.example.com")
    token, _ = rs.issue(user, tenant)
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert rs.verify(token).tenant_slug == "west-nipt"
    # An HS256 token signed with the public key (algorithm confusion) is refused.
    confused = jwt.encode(
        {
            "sub": "x",
            "role": "admin",
            "iat": utcnow(),
            "iss": settings.jwt_issuer,
            "exp": utcnow() + timedelta(minutes=5),
        },
        "x" * 32,
        algorithm="HS256",
    )
    with pytest.raises(Exception, match="not valid"):
        rs.verify(confused)


CREATE_CUSTOMER = (
    'mutation { createCustomer(input: {name: "Perm Test"}) '
    "{ customer { name } userErrors { code } } }"
)


@pytest.mark.parametrize(
    ("role", "expected"),
    [(Role.VIEWER, "FORBIDDEN"), (Role.STAFF, None), (Role.ADMIN, None)],
)
async def test_role_permissions_on_writes(demo, gql: GraphQLClient, role: Role, expected):
    token = await gql.token("west-nipt", role)
    result = await gql(CREATE_CUSTOMER, token=token, tenant="west-nipt")
    if expected:
        assert error_codes(result) == [expected]
    else:
        assert result["data"]["createCustomer"]["customer"] == {"name": "Perm Test"}


async def test_anonymous_may_read_catalog_but_not_customers(demo, gql: GraphQLClient):
    assert "errors" not in await gql("{ services { name } }", tenant="west-nipt")
    result = await gql("{ customers { totalCount } }", tenant="west-nipt")
    assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_staff_cannot_manage_tenants(demo, gql: GraphQLClient):
    token = await gql.token("west-nipt", Role.ADMIN)
    result = await gql("{ tenants { totalCount } }", token=token)
    assert error_codes(result) == ["FORBIDDEN"]
