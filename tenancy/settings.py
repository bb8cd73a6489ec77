"""Process settings, read from the environment (prefix ``APP_``) and ``.env``.

Shared by the server and the operator CLI. Every field is documented in the
README's configuration table.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CLUSTER = "default"
_DB_PREFIX_RE = re.compile(r"^[a-z][a-z0-9_]{0,9}$")


class Settings(BaseSettings):
    """All configuration of one process.

    ``mongodb_url`` empty means the embedded in-process mock database; the
    mock is never used when a URL is configured.
    """

    model_config = SettingsConfigDict(env_prefix="APP_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    mongodb_url: str = ""
    extra_clusters: dict[str, str] = Field(
        default_factory=dict,
        description='Other MongoDB clusters by name, as JSON: {"eu-2": "mongodb://..."}.',
    )
    platform_db: str = "platform"
    tenant_db_prefix: str = "t_"
    embedded_dir: Path = Field(
        default=Path(".embedded"),
        description="Embedded mode: where the mock databases are kept between runs.",
    )
    embedded_persist: bool = Field(
        default=True, description="Embedded mode: load and save embedded_dir (off: memory only)."
    )
    backup_dir: Path = Field(
        default=Path("backups"),
        description="Where the deleteTenant mutation writes the backup export first.",
    )
    seed_demo: bool | None = Field(
        default=None, description="Seed demo data at start; default: only in mock mode."
    )

    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_secret: str = "dev-insecure-secret-change-me-please-32b"
    jwt_private_key: str = ""
    jwt_public_key: str = ""
    jwt_issuer: str = "tenant-graphql"
    jwt_ttl_seconds: int = Field(default=3600, ge=60, le=86400 * 30)

    base_domain: str = "localhost"
    cors_origins: list[str] = Field(default_factory=lambda: ["http://localhost:5173"])

    rate_limit_enabled: bool = True
    rate_limit_storage: str = Field(
        default="async+memory://",
        description="limits storage URI for per-tenant rate limits (memory: per process).",
    )
    tenant_cache_ttl_seconds: float = Field(default=30.0, ge=0)
    graphiql: bool | None = None
    introspection: bool = True
    max_query_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_page_size: int = 100
    default_page_size: int = 20
    trial_days: int = 14
    cli_server_selection_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="tenantctl: how long to look for a reachable MongoDB server before "
        "failing with DATABASE_UNAVAILABLE.",
    )

    @field_validator("tenant_db_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if not _DB_PREFIX_RE.match(value):
            raise ValueError("tenant_db_prefix must be 1-10 chars of [a-z0-9_], starting a-z")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if self.platform_db.lower().startswith(self.tenant_db_prefix):
            raise ValueError("platform_db must not start with tenant_db_prefix")
        if (
            self.environment == "production"
            and self.jwt_algorithm == "HS256"
            and (self.jwt_secret.startswith("dev-insecure") or len(self.jwt_secret) < 32)
        ):
            raise ValueError("production needs APP_JWT_SECRET of at least 32 characters")
        if self.jwt_algorithm == "RS256" and not self.jwt_public_key:
            raise ValueError("RS256 needs APP_JWT_PUBLIC_KEY (and a private key to sign)")
        return self

    @property
    def uses_mock(self) -> bool:
        """True when no MongoDB URL is configured (embedded mock mode)."""
        return not self.mongodb_url

    @property
    def persists_embedded(self) -> bool:
        """True when embedded (mock) data is loaded from and saved to ``embedded_dir``."""
        return self.uses_mock and self.embedded_persist

    @property
    def should_seed_demo(self) -> bool:
        return self.uses_mock if self.seed_demo is None else self.seed_demo

    @property
    def graphiql_enabled(self) -> bool:
        return self.environment == "development" if self.graphiql is None else self.graphiql

    def cluster_urls(self) -> dict[str, str]:
        """Cluster name -> MongoDB URL (``""`` is the mock)."""
        return {DEFAULT_CLUSTER: self.mongodb_url, **self.extra_clusters}


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
