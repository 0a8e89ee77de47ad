# payrequest: the two commands a newcomer needs.
#   make demo   run the demo on the embedded SQLite database (http://127.0.0.1:8000)
#   make test   install test tools and run every check: lint, types, layering, tests

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
CHROMIUM ?= /usr/bin/chromium
# Test processes: most tests wait (on HTTP, a browser, a subprocess, the database) more than they
# compute, so more processes than cores pay. Each has its own databases, ports and browser.
TEST_WORKERS ?= 4

.PHONY: demo test lint typecheck layers pytest install install-test chromium clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/payrequest demo --host $(HOST) --port $(PORT)

# Browser tests drive Debian's Chromium; Playwright cannot download its own browser here.
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		echo "Installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; \
	fi

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install-test
	$(BIN)/mypy

layers: install-test
	$(BIN)/lint-imports

pytest: install-test chromium
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

test: lint typecheck layers pytest

# Messages of the pages: re-extract them from the source (what babel.cfg names) into
# src/payrequest/i18n/locale/messages.pot, then merge new and changed ones into nb.po and da.po.
# Fill in the new, empty (or "fuzzy") entries by hand afterwards;
# tests/unit/test_translations.py fails until every message has both translations.
# The POT-Creation-Date line is dropped so that a run without new messages changes nothing.
LOCALE := src/payrequest/i18n/locale
translations: install
	$(BIN)/pybabel -q extract -F babel.cfg --no-location --omit-header -o $(LOCALE)/messages.pot .
	for lang in nb da; do \
		$(BIN)/pybabel -q update -i $(LOCALE)/messages.pot -o $(LOCALE)/$$lang.po -l $$lang --ignore-obsolete \
		&& sed -i '/^"POT-Creation-Date: /d' $(LOCALE)/$$lang.po || exit 1; \
	done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache test-results
