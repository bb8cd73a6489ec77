"""GraphiQL from packaged assets, with a tenant selector and a login helper
(issue 12, item 7): served with nothing from another site, only where GraphiQL is on."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from graphql_api.app import create_app
from graphql_api.graphiql import ASSETS_DIR, render_page
from tenancy.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
HTML = {"accept": "text/html"}


async def _client(runtime: Runtime, graphiql: bool) -> AsyncIterator[httpx.AsyncClient]:
    settings = runtime.settings.model_copy(update={"graphiql": graphiql})
    app = create_app(settings=settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as c:
        yield c


@pytest.fixture
async def dev_client(demo: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(demo, graphiql=True):
        yield client


@pytest.fixture
async def prod_client(demo: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(demo, graphiql=False):
        yield client


def _config(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="graphiql-config">(.*?)</script>', page)
    assert match, page[:500]
    return json.loads(match.group(1))


async def test_the_page_and_its_files_come_from_this_server(dev_client: httpx.AsyncClient):
    response = await dev_client.get("/t/west-nipt/graphql", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    references = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert len(references) >= 6
    assert "://" not in page  # no https:// or http:// anywhere: works offline
    for reference in references:
        if reference.startswith("data:"):
            continue
        assert reference.startswith("/graphiql/static/"), reference
        asset = await dev_client.get(reference)
        assert asset.status_code == 200 and len(asset.content) > 100, reference
    script = (await dev_client.get("/graphiql/static/tenant-graphiql.js")).text
    assert "://" not in script and "createFetcher" in script


async def test_the_page_offers_tenants_and_demo_logins(dev_client: httpx.AsyncClient):
    config = _config((await dev_client.get("/t/west-nipt/graphql", headers=HTML)).text)
    assert config["tenant"] == "west-nipt"
    assert {"west-nipt", "tromb-screening", "quattro-stand"} <= set(config["tenants"])
    assert {"tenant": "west-nipt", "email": "admin@west-nipt.example.com"} in config["logins"]
    assert config["demoPassword"] == "demo-password"
    platform = _config((await dev_client.get("/graphql", headers=HTML)).text)
    assert platform["tenant"] == ""


async def test_no_demo_logins_without_demo_data(runtime: Runtime):
    async for client in _client(runtime, graphiql=True):
        config = _config((await client.get("/graphql", headers=HTML)).text)
        assert config == {"tenant": "", "tenants": [], "logins": [], "demoPassword": ""}


async def test_neither_page_nor_files_where_graphiql_is_off(prod_client: httpx.AsyncClient):
    response = await prod_client.get("/t/west-nipt/graphql", headers=HTML)
    assert "graphiql-config" not in response.text
    assert response.status_code != 200
    assert (await prod_client.get("/graphiql/static/graphiql.min.js")).status_code == 404
    # The API itself is unchanged.
    answer = await prod_client.post("/t/west-nipt/graphql", json={"query": "{ plans { key } }"})
    assert answer.status_code == 200 and answer.json()["data"]["plans"]


def test_the_config_cannot_end_its_script_element():
    page = render_page(
        {"tenant": "</script><script>alert(1)</script>", "tenants": [], "logins": []}
    )
    assert "<script>alert(1)" not in page
    assert _config(page)["tenant"] == "</script><script>alert(1)</script>"


def test_the_assets_are_package_data():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "static/graphiql/*" in pyproject["tool"]["setuptools"]["package-data"]["graphql_api"]
    files = {path.name for path in ASSETS_DIR.iterdir()}
    assert all(path.is_file() for path in ASSETS_DIR.iterdir())  # the glob has no subfolders
    assert {
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
        "tenant-graphiql.js",
        "LICENSES.txt",
    } <= files
    size = sum(path.stat().st_size for path in ASSETS_DIR.iterdir())
    assert size < 2_000_000  # the minified files only, no source maps
