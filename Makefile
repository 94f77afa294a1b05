# NIJA — `make run` starts the platform, `make test` runs the suite. Both set everything up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.nija-installed
PLUGINS := $(wildcard plugins/brokers/*/pyproject.toml plugins/strategies/*/pyproject.toml)
SOURCES := setup.py pyproject.toml requirements.txt requirements-test.txt $(PLUGINS) \
           $(wildcard proto/nija/*/v1/*.proto) $(wildcard build_ext/*.pyx build_ext/*.pxd build_ext/*.pxi)

.PHONY: run test install bench clean proto ext dashboard browser-deps

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "NIJA needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Dependencies first, then the project without build isolation (it generates code from proto/
# and compiles build_ext/ with what the venv has), then every plugin distribution.
$(STAMP): $(BIN)/python $(SOURCES)
	$(BIN)/pip install -q -r requirements.txt -r requirements-test.txt
	$(BIN)/pip install -q --no-build-isolation --no-deps -e .
	@for p in $(dir $(PLUGINS)); do echo "installing plugin $$p"; \
	  $(BIN)/pip install -q --no-build-isolation --no-deps -e $$p || exit 1; done
	touch $@

install: $(STAMP)

run: install
	$(BIN)/nija up --demo $(ARGS)

test: install browser-deps
	$(BIN)/pytest $(PYTEST_ARGS)

# The web dashboard. dashboard/dist is committed (make run/test need no npm); this rebuilds it
# reproducibly from dashboard/package-lock.json.
dashboard:
	cd dashboard && npm ci --no-audit --no-fund && npm run build

# Debian's Chromium and ChromeDriver for tests/browser, installed only when missing.
browser-deps:
	bash tests/browser/install_chromium.sh

# Quick rebuilds inside an existing venv: generated proto code only / the Cython kernels only.
proto: install
	$(BIN)/python setup.py -q --name >/dev/null

ext: install
	$(BIN)/python setup.py -q build_ext --inplace

# Benchmarks print their ratios against a peer measured in the same run; not part of the tests.
bench: install
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) gen envoy/generated build *.egg-info core/*.so build_ext/*.c var
