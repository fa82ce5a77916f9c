# Labelloop: `make demo` and `make test` are the contract (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo

.PHONY: venv demo test lint bench clean

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

# pytest exits 5 when it collects nothing; that is a failure here, never a pass.
test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest tests --ignore=tests/bench -q

bench: venv
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest tests/bench -q -s

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
