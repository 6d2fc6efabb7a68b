# The README's two commands are `make serve` and `make test`; each installs what it needs
# first, and every install step is idempotent (stamp files, "only when missing").

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ESSAYS := $(BIN)/essays
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install site serve test test-full test-deps bench clean lint check format

# The page's scripts: the modules under runtime/js/ and the build script that bundles them.
PAGE_JS := $(filter-out runtime/js/dist/%,$(wildcard runtime/js/*.js runtime/js/*/*.js)) runtime/js/build.mjs
PAGE_BUNDLES := $(addprefix runtime/js/dist/,page.js kernel-worker.js editor.js figures.js diagrams.js search.js search-engine.js)

install: $(VENV)/.installed $(if $(wildcard package.json),$(PAGE_BUNDLES))

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,plots,cluster]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# the page, its Python worker, the CodeMirror editor and the two classic scripts, bundled or
# minified by esbuild at install time (never committed; runtime/js/build.mjs), all of them
# again whenever any source changes
$(PAGE_BUNDLES) &: $(PAGE_JS) node_modules/.installed
	npm run --silent build

site: install
	$(ESSAYS) build essays -o site

serve: install
	$(ESSAYS) serve essays -o site --host $(HOST) --port $(PORT)

# Debian's chromium (browser tests), mesa-vulkan-drivers (a CPU Vulkan adapter for wgpu)
# and graphviz (diagrams), installed through apt when missing and we are root; otherwise
# the tests that need them skip and say why.
test-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || missing="$$missing mesa-vulkan-drivers"; \
	command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "not root: cannot install$$missing; tests that need them will skip"; \
	  fi; \
	fi

# The quality gate: ruff (lint and format), mypy, and ESLint, Prettier and tsc (its JSDoc
# types) for the page's JS.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	npm run --silent lint

# Rewrite what the formatters own, then lint.
format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	npm run --silent format

# The fast loop: the gate and the tests that need no browser, GPU or whole builds (~25 s).
check: lint
	$(BIN)/python -m pytest -q -m "not browser and not gpu and not slow"

# Two processes (pytest-xdist): on this 2-core machine the suite took 12:21 this way against
# 16:07 in one, since much of it waits on browsers and worker processes. The tests are
# written to pass in one process too: `make test PYTEST_ARGS=` runs it that way.
PYTEST_ARGS ?= -n 2
test: install test-deps
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Everything make test runs, and the tiers too long for it: the repository's essays built
# incrementally against clean (ESSAYS_DIFF_FULL) and the chapters run whole (ESSAYS_FULL;
# make test keeps chapter 1's --strict build and every chapter's small-size tests).
test-full: install test-deps
	ESSAYS_FULL=1 ESSAYS_DIFF_FULL=1 $(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: install test-deps
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf site .essays-cache
