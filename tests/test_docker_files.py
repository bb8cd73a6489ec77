"""docker-compose.yml, Dockerfile, .dockerignore, requirements.lock and .env.example
(issue 12, item 8).

No Docker engine runs in CI, so these tests read the files: the compose file is
parsed with PyYAML and its ``${VAR}`` values are interpolated the way compose
does, so that "compose starts nothing with a default secret" is checked on the
values a container would really get.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tenancy.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_SECRETS = {"APP_JWT_SECRET", "MONGO_ROOT_PASSWORD", "MONGO_APP_PASSWORD"}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PRIVATE_KEY|TOKEN")
GOOD_SECRETS = {
    "APP_JWT_SECRET": "kq3Vb9pX2mW8zL5nR7tY1cF4hJ6dS0aGqE2wU8iO4pZ9xN3vB7mK5lQ1jH6gT0r",
    "MONGO_ROOT_PASSWORD": "3f9c2a7b8d1e4f60a5b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7",
    "MONGO_APP_PASSWORD": "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
}

# $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $VAR
_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<named>[A-Za-z_][A-Za-z0-9_]*)"
)


class MissingVariable(Exception):
    """compose's refusal: a ``${VAR:?message}`` whose variable is unset or empty."""


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """``value`` with compose's variable syntax substituted from ``env``.

    Raises:
        MissingVariable: a required variable (``:?`` / ``?``) is missing.
    """

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("named")
        op, arg = match.group("op"), match.group("arg") or ""
        present = name in env and (env[name] != "" or not (op or "").startswith(":"))
        if op in (":?", "?") and not present:
            raise MissingVariable(f"{name}: {arg}")
        if op in (":-", "-") and not present:
            return interpolate(arg, env)
        return env.get(name, "")

    return _INTERPOLATION.sub(substitute, value)


def resolve(node: Any, env: Mapping[str, str]) -> Any:
    """The compose document with every string interpolated."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [resolve(item, env) for item in node]
    if isinstance(node, dict):
        return {key: resolve(item, env) for key, item in node.items()}
    return node


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    if isinstance(node, dict):
        return [s for item in node.values() for s in strings(item)]
    return []


def env_file(path: Path) -> dict[str, str]:
    """The variables a ``.env`` file sets (compose's syntax: KEY=VALUE, # comments)."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def stages() -> list[list[str]]:
    """The Dockerfile's stages, each a list of its instructions (continuations joined)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    result: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append([])
        result[-1].append(line)
    return result


# --- compose: secrets -----------------------------------------------------------


def test_compose_refuses_to_start_without_each_secret(compose):
    for missing in REQUIRED_SECRETS:
        env = {k: v for k, v in GOOD_SECRETS.items() if k != missing}
        with pytest.raises(MissingVariable, match=missing):
            resolve(compose, env)
        with pytest.raises(MissingVariable, match=missing):  # empty counts as missing
            resolve(compose, {**env, missing: ""})


def test_compose_refuses_to_start_with_the_env_example_as_is(compose):
    example = env_file(ROOT / ".env.example")
    assert not REQUIRED_SECRETS & example.keys(), ".env.example must not ship a secret"
    with pytest.raises(MissingVariable):
        resolve(compose, example)


def test_every_secret_in_compose_is_required_and_never_defaulted(compose):
    text = "\n".join(strings(compose))
    referenced = set()
    for match in _INTERPOLATION.finditer(text):
        name = match.group("braced") or match.group("named")
        if name and SECRET_NAME.search(name):
            referenced.add(name)
            assert match.group("op") == ":?", f"{match.group(0)}: a secret needs ${{{name}:?...}}"
    assert referenced == REQUIRED_SECRETS
    # No literal secret either: every *SECRET*/*PASSWORD* setting is a variable.
    for service in compose["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert str(value).startswith("${"), f"{key} is written into the compose file"


def test_the_api_gets_the_given_secrets_and_production_settings(compose, monkeypatch):
    api = resolve(compose, GOOD_SECRETS)["services"]["api"]["environment"]
    assert api["APP_JWT_SECRET"] == GOOD_SECRETS["APP_JWT_SECRET"]
    password = GOOD_SECRETS["MONGO_APP_PASSWORD"]
    assert api["APP_MONGODB_URL"] == (
        f"mongodb://app:{password}@mongo:27017/?replicaSet=rs0&authSource=admin"
    )
    for key in [k for k in os.environ if k.startswith("APP_")]:
        monkeypatch.delenv(key)
    for key, value in api.items():
        monkeypatch.setenv(key, str(value))
    settings = Settings(_env_file=None)  # the production checks pass with these values
    assert settings.is_production and not settings.should_seed_demo
    assert not settings.graphiql_enabled and not settings.introspection_enabled
    assert str(settings.backup_dir) == "/data/backups"


def test_demo_seeding_is_off_by_default(compose):
    api = resolve(compose, GOOD_SECRETS)["services"]["api"]["environment"]
    assert api["APP_SEED_DEMO"] == "false"
    assert api["APP_ENVIRONMENT"] == "production"


# --- compose: services ---------------------------------------------------------


def test_every_service_restarts(compose):
    for name, service in compose["services"].items():
        assert service.get("restart") in {"always", "unless-stopped", "on-failure"}, name


def test_mongodb_is_not_published_on_all_interfaces(compose):
    for port in compose["services"]["mongo"].get("ports", []):
        assert str(port).startswith("127.0.0.1:"), port
    for name, service in compose["services"].items():
        for port in resolve(service, GOOD_SECRETS).get("ports", []):
            # host:container (no address) would listen on every interface
            assert str(port).count(":") == 2, f"{name}: {port} has no host address"


def test_mongodb_runs_with_authentication_as_a_replica_set(compose):
    mongo = compose["services"]["mongo"]
    env = resolve(mongo, GOOD_SECRETS)["environment"]
    assert env["MONGO_INITDB_ROOT_PASSWORD"] == GOOD_SECRETS["MONGO_ROOT_PASSWORD"]
    start = (ROOT / "docker" / "mongo-start.sh").read_text()
    assert "--replSet rs0" in start and '--keyFile "$keyfile"' in start
    assert "/dev/urandom" in start  # the key file is random, made on the first start
    mounted = {volume.split(":")[1] for volume in mongo["volumes"]}
    assert {"/data/db", "/data/configdb", "/docker-entrypoint-initdb.d"} <= mounted
    init = (ROOT / "docker" / "mongo-init" / "10-app-user.js").read_text()
    assert "MONGO_APP_PASSWORD" in init and '"root"' not in init  # not a second root


def test_mongodb_healthcheck_waits_for_a_writable_primary(compose):
    mongo = compose["services"]["mongo"]
    test = " ".join(mongo["healthcheck"]["test"])
    assert "rs.initiate(" in test and "isWritablePrimary" in test
    assert "$$MONGO_INITDB_ROOT_PASSWORD" in test  # the container's variable, not compose's
    assert compose["services"]["api"]["depends_on"]["mongo"] == {"condition": "service_healthy"}


def test_mailpit_is_pinned_and_receives_the_apis_mail(compose):
    image = compose["services"]["mailpit"]["image"]
    assert re.fullmatch(r"axllent/mailpit:v\d+\.\d+\.\d+", image), image
    api = resolve(compose, GOOD_SECRETS)["services"]["api"]["environment"]
    assert (api["APP_SMTP_HOST"], api["APP_SMTP_PORT"], api["APP_SMTP_SECURITY"]) == (
        "mailpit",
        "1025",
        "none",
    )
    for name, service in compose["services"].items():
        if "image" in service:
            assert not service["image"].endswith(":latest") and ":" in service["image"], name


def test_backups_live_on_a_volume(compose):
    api = compose["services"]["api"]
    backup_dir = resolve(api, GOOD_SECRETS)["environment"]["APP_BACKUP_DIR"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in api["volumes"]}
    assert mounts[backup_dir] in compose["volumes"]


# --- Dockerfile, .dockerignore, lock file ---------------------------------------


def test_the_image_runs_as_an_unprivileged_user(stages):
    users = [line.split()[1] for line in stages[-1] if line.upper().startswith("USER ")]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_the_image_installs_from_the_lock_file_only(stages):
    runs = [line for stage in stages for line in stage if line.upper().startswith("RUN ")]
    installs = [run for run in runs if "pip install" in run]
    assert any("--require-hashes" in run and "requirements.lock" in run for run in installs)
    for run in installs:
        assert "--no-deps" in run, f"an install may pull in unlocked packages: {run}"
        assert "[dev]" not in run and "[embedded]" not in run and "mongomock" not in run


def test_the_image_copies_every_package(stages):
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = [pattern.rstrip("*") for pattern in include]
    copied = {line.split()[1] for stage in stages for line in stage if line.startswith("COPY ")}
    assert set(packages) <= copied


def test_dockerignore_keeps_local_state_and_secrets_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", ".embedded", "tests"} <= ignored


def _lock() -> dict[str, tuple[str, str]]:
    """requirements.lock: name -> (version, entry text)."""
    text = (ROOT / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[2])
    result = {}
    for entry in entries:
        match = re.match(r"([A-Za-z0-9_.-]+)==([^\s;]+)", entry)
        assert match, f"not pinned: {entry[:60]}"
        result.setdefault(canonicalize_name(match.group(1)), (match.group(2), entry))
    return result


def test_the_lock_pins_every_runtime_dependency_with_hashes():
    lock = _lock()
    for _version, entry in lock.values():
        assert "--hash=sha256:" in entry, entry[:60]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for line in pyproject["project"]["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} is missing from requirements.lock: run make lock"
        assert requirement.specifier.contains(lock[name][0], prereleases=True), name


def test_the_lock_has_no_test_or_embedded_packages():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    own = canonicalize_name(pyproject["project"]["name"])
    left_out = {
        canonicalize_name(Requirement(line).name)
        for line in extras["dev"] + extras["embedded"]
        if canonicalize_name(Requirement(line).name) != own
    } - {"pyyaml"}  # also a runtime dependency (uvicorn[standard])
    assert {"mongomock", "pymongo-async-mock", "secantusdb", "pytest"} <= left_out
    assert not left_out & _lock().keys()


# --- the embedded server is an extra --------------------------------------------


def test_secantusdb_is_installed_for_development():
    from tenancy.local_server import secantus_installed

    assert secantus_installed()  # the dev extra pulls in the embedded one


def test_embedded_mode_without_secantusdb_says_how_to_fix_it(tmp_path, monkeypatch):
    import importlib.util

    from tenancy.errors import AppError, ErrorCode
    from tenancy.local_server import LocalServer

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "secantus" else real_find_spec(name, *args),
    )
    with pytest.raises(AppError) as failed:
        LocalServer(tmp_path).acquire()
    assert failed.value.code == ErrorCode.DATABASE_UNAVAILABLE
    assert "APP_MONGODB_URL" in failed.value.message
    assert "tenant-graphql[embedded]" in failed.value.message
    assert not (tmp_path / "server.json").exists()
