# The set-up commands the README names: `make demo`, `make test`, `make test-quick`, `make lint`.
# They need only Python 3.11 and make; everything else is installed into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 8000

.PHONY: demo test test-quick lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Everything lint and tests need (the `dev` extra holds the `test` one).
$(BIN)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# The demo needs the package and a server, nothing else.
$(BIN)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	touch $@

demo: $(BIN)/.demo-installed
	$(BIN)/uvicorn examples.starlette_site.app:app --host 127.0.0.1 --port $(PORT)

test: $(BIN)/.installed
	$(BIN)/pytest

# Everything but the tests marked browser, postgres or slow: the quick loop while working.
test-quick: $(BIN)/.installed
	$(BIN)/pytest -m "not browser and not postgres and not slow"

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(BIN)/.installed
	$(BIN)/python -m benchmarks
