# Two commands for a new user: `make serve` and `make test`. Each creates
# the virtualenv and installs the project on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint schema bench clean lock audit-http

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP) ## start the server on the embedded SecantusDB database (demo data); make serve PORT=8001 HOST=0.0.0.0
	$(BIN)/python -m graphql_api --host $(HOST) --port $(PORT)

test: $(STAMP) ## run the test suite
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff, mypy (strict on tenancy/, domain/, migrations/) and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -p no:xdist -o addopts=-q tests/test_architecture.py

schema: $(STAMP) ## regenerate schema.graphql from the code
	$(BIN)/strawberry export-schema graphql_api.schema:schema --output schema.graphql

bench: $(STAMP) ## requests per second of the booking-list query (in-process)
	$(BIN)/python bench/booking_list.py

lock: $(STAMP) ## requirements.lock: the production image's dependencies, pinned with hashes
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" --quiet --output-file requirements.lock

audit-http: ## GraphQL over HTTP audit (graphql-http, Node.js) of a running server: make audit-http URL=...
	cd tools/graphql-http-audit && npm ci --no-audit --no-fund --silent \
		&& node audit.mjs $(or $(URL),http://127.0.0.1:$(PORT)/t/west-nipt/graphql)

clean:
	rm -rf $(VENV) .pytest_cache
