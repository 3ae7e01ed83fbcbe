# The two commands (see README):
#   make demo   build and serve the demo site from bundled synthetic data
#   make test   install everything the tests need, then lint and run them
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test install install-test browser lint typecheck format bench golden clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

# Debian's Chromium for the Playwright tests (playwright cannot download a browser here).
browser:
	@if [ ! -x "$(CHROMIUM)" ] && [ -z "$$PLAYWRIGHT_CHROMIUM" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; \
	fi

demo: install
	$(BIN)/python -m generator demo

test: install-test browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# The type checker, as `make test` runs it (settings: [tool.mypy] in pyproject.toml).
typecheck:
	$(BIN)/mypy

format:
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: install-test
	$(BIN)/python -m bench

# Rewrite the golden files on purpose, after checking the change is intended.
golden: install-test
	UPDATE_GOLDEN=1 $(BIN)/pytest tests/test_golden.py

clean:
	rm -rf site .site.staging .site.old .site.lock data/demo-events data/demo-store.duckdb*
