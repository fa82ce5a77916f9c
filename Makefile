# Labelloop: `make demo` and `make test` are the contract (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo

.PHONY: venv demo test lint bench clean postgres

venv: $(STAMP)

# Reinstall only when the project's dependencies change, so `make venv` is
# quick when nothing did.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: venv
	$(BIN)/labelloop demo $(DEMO)
	$(BIN)/labelloop gui $(DEMO)/project

lint: venv
	$(BIN)/ruff check app models sampling tests
	$(BIN)/lint-imports

# The PostgreSQL tests start their own throwaway server from Debian's
# `postgresql` package; install it when no initdb is found.  Where it cannot be
# installed the tests skip with a warning, and fail when CI is set.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
	  || apt-get install -y postgresql \
	  || (apt-get update -qq && apt-get install -y postgresql) \
	  || sudo apt-get install -y postgresql \
	  || echo "WARNING: PostgreSQL could not be installed; its tests will be skipped"

# pytest exits 5 when it collects nothing; that is a failure here, never a pass.
test: lint postgres
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest tests --ignore=tests/bench -q

bench: venv
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest tests/bench -q -s

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
