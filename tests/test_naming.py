"""Slug and database-name rules (MongoDB naming restrictions)."""

from __future__ import annotations

import pytest

from tenancy.errors import AppError, ErrorCode
from tenancy.naming import (
    MONGODB_DB_NAME_MAX_BYTES,
    SLUG_MAX_LENGTH,
    database_key,
    slugify,
    tenant_database_name,
    validate_database_name,
    validate_slug,
)

PREFIX = "t_"


@pytest.mark.parametrize("slug", ["abc", "west-nipt", "a1-b2-c3", "x" * SLUG_MAX_LENGTH])
def test_valid_slugs(slug: str):
    assert validate_slug(slug) == slug


@pytest.mark.parametrize(
    ("slug", "reason"),
    [
        ("ab", "characters long"),
        ("x" * (SLUG_MAX_LENGTH + 1), "characters long"),
        ("West-Nipt", "lowercase"),
        ("west_nipt", "lowercase"),
        ("west--nipt", "single hyphens"),
        ("-west", "lowercase"),
        ("west-", "lowercase"),
        ("1west", "start with a letter"),
        ("west.nipt", "lowercase"),
        ("wést", "lowercase"),
        ("admin", "reserved"),
        ("api", "reserved"),
        ("www", "reserved"),
        ("platform", "reserved"),
    ],
)
def test_invalid_slugs(slug: str, reason: str):
    with pytest.raises(AppError) as info:
        validate_slug(slug)
    assert info.value.code == ErrorCode.VALIDATION_FAILED
    assert info.value.field == ["slug"]
    assert reason in info.value.message


def test_database_name_is_prefix_plus_slug_and_fits_mongodb_limit():
    assert tenant_database_name("west-nipt", PREFIX) == "t_west-nipt"
    longest = tenant_database_name("x" * SLUG_MAX_LENGTH, "abcdefghij")
    assert len(longest.encode()) <= MONGODB_DB_NAME_MAX_BYTES


def test_distinct_slugs_never_share_a_database_even_case_insensitively():
    slugs = ["west-nipt", "westnipt", "west-nip-t", "omega-nipt", "omeganipt", "abc", "abd"]
    names = [tenant_database_name(s, PREFIX) for s in slugs]
    assert len({n.lower() for n in names}) == len(slugs)


def test_case_variants_collide_in_the_database_key():
    assert database_key("default", "t_Acme") == database_key("default", "t_acme")
    assert database_key("eu-2", "t_acme") != database_key("default", "t_acme")


@pytest.mark.parametrize(
    "name", ["", "a/b", "a.b", 'a"b', "a$b", "a b", "a*b", "a<b", "a:b", "a|b", "a?b", "x" * 64]
)
def test_invalid_database_names(name: str):
    with pytest.raises(AppError) as info:
        validate_database_name(name)
    assert info.value.code == ErrorCode.VALIDATION_FAILED


def test_multibyte_names_are_measured_in_bytes():
    with pytest.raises(AppError):
        validate_database_name("ş" * 32)  # 64 bytes


def test_slugify_legacy_ids():
    assert slugify("west_nipt") == "west-nipt"
    assert slugify("Omega Genetik İstanbul") == "omega-genetik-istanbul"
    assert validate_slug(slugify("tromb_screening")) == "tromb-screening"
