# Two commands for a new user: `make serve` and `make test`. Each creates
# the virtualenv and installs the project on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint schema bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP) ## start the server on the embedded SecantusDB database (demo data)
	$(BIN)/python -m graphql_api --host 127.0.0.1 --port 8000

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

clean:
	rm -rf $(VENV) .pytest_cache
