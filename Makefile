# Developer targets; CONTRIBUTING.md says when to run which. `.ci/run` runs lint, type and the full suite.
PYTHON ?= python
FAST = not (e2e or broker or slow or postgres)

.PHONY: help lint format type test-fast test check

help:
	@echo "make lint       ruff check, ruff format --check, lint-imports (the import layers)"
	@echo "make format     ruff format + ruff check --fix (rewrites files)"
	@echo "make type       mypy reelforge"
	@echo "make test-fast  the suite minus e2e/broker/slow/postgres, on 2 processes (under 3 minutes)"
	@echo "make test       the whole suite, as .ci/run runs it"
	@echo "make check      lint + type + test-fast: before every commit"

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	lint-imports

format:
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

type:
	$(PYTHON) -m mypy reelforge

test-fast:
	$(PYTHON) -m pytest -n 2 -m "$(FAST)"

test:
	$(PYTHON) -m pytest

check: lint type test-fast
