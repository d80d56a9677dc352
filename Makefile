# `make run` starts the server on SQLite (127.0.0.1:8080, mod_xml_curl also on 8081); `make test` runs lint, types and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint check-format typecheck pytest clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# mod_xml_curl also gets its dedicated, faster listener on 8081 (override FSDIR_XMLCURL_PORT; 0 = none).
run: $(STAMP)
	FSDIR_XMLCURL_PORT=$${FSDIR_XMLCURL_PORT:-8081} $(BIN)/fsdir serve

lint: $(STAMP)
	$(BIN)/ruff check fsdir tests bench
	$(BIN)/ruff format --check fsdir tests bench

typecheck: $(STAMP)
	$(BIN)/mypy fsdir bench

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
