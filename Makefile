# Two commands on a fresh machine (Python 3.11+):
#   make demo   - the main job: emulated N58 + local HTTPS server, a verified streamed download
#   make test   - lint, type-check, the whole test suite, the docs build, the benchmark smoke run
# Each creates .venv and installs what it needs first.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest docs bench bench-quick clean

LINTED := n58aio tests benchmarks $(wildcard fuzz soak mkdocs_hooks.py)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# hatchling's editable install is a plain path in a .pth file, which mypy and pyright follow
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/n58aio demo

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite mostly waits on ptys and timers, so more processes than cores still pay.
PYTEST_WORKERS ?= 3

pytest: $(STAMP)
	$(BIN)/pytest -q -n $(PYTEST_WORKERS)

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks --quick

bench: $(STAMP)
	$(BIN)/python -m benchmarks --full

test: lint typecheck pytest docs bench-quick

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site
