# JIT platform. The two commands a newcomer needs: `make run` and `make test`.
# Everything else here is what those two are made of.

SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
PYTHON       ?= python3
VENV         := .venv
PY           := $(VENV)/bin/python
# Downloads live outside the checkout, so a fresh clone on the same machine reuses them.
JIT_CACHE_DIR ?= $(HOME)/.cache/jit
export JIT_CACHE_DIR
BUF_VERSION  := 1.75.0
BUF          := $(JIT_CACHE_DIR)/npm/node_modules/.bin/buf
# axe-core: the accessibility rules the console's browser tests run in each page (WCAG 2 A/AA).
AXE_VERSION  := 4.14.1
AXE          := $(JIT_CACHE_DIR)/npm/node_modules/axe-core/axe.min.js
# make test's workers (pytest-xdist): one per core, at most 4; each starts its own Keycloak, NATS and PostgreSQL.
TEST_WORKERS ?= auto
STAMP        := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt 2>/dev/null | sha1sum | cut -c1-12)

.DEFAULT_GOAL := help
.PHONY: help install run stop status demo test test-unit lint proto proto-check bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

## ---- setup ---------------------------------------------------------------------------------
install: $(STAMP) $(BUF) $(AXE) ## install what is missing: venv, Python packages, buf, axe-core, PostgreSQL, Chromium, Keycloak
	@$(PY) -m jitdev.bootstrap

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

$(BUF):
	@mkdir -p $(JIT_CACHE_DIR)/npm
	@npm install --silent --no-audit --no-fund --prefix $(JIT_CACHE_DIR)/npm @bufbuild/buf@$(BUF_VERSION)

$(AXE): | $(BUF)
	@npm install --silent --no-audit --no-fund --prefix $(JIT_CACHE_DIR)/npm axe-core@$(AXE_VERSION)

## ---- the two commands ------------------------------------------------------------------------
run: install ## start Keycloak, NATS and the services (SQLite), then say what next; NODES=nl,de,ie: a node per country; TLS=1: every link over TLS; NATS_CLUSTER=3: NATS as three servers, streams R3
	@$(PY) -m jitdev.stack up $(if $(NODES),--nodes $(NODES),) $(if $(TLS),--tls,) $(if $(NATS_CLUSTER),--nats-cluster $(NATS_CLUSTER),)

stop: ## stop what `make run` started
	@test -x $(PY) && $(PY) -m jitdev.stack down || true

status: ## show what runs, where, and whether it is healthy
	@$(PY) -m jitdev.stack status

demo: install ## play a cross-border case through the CLI against what `make run` started (NODES=...: on its nodes)
	@$(PY) -m jitdev.demo $(if $(NODES),--nodes,)

test: install ## start real Keycloak, NATS and PostgreSQL on free ports, run every test (a worker per core, at most 4; TEST_WORKERS=0: one process), stop them
	@$(PY) -m pytest -n $(TEST_WORKERS) --maxprocesses 4

test-unit: install ## only the pure unit tests (no servers)
	@$(PY) -m pytest tests/unit

## ---- quality -------------------------------------------------------------------------------
lint: install proto-check ## ruff (its checks and its format), mypy, the import rules (import-linter), buf lint, and stale generated stubs
	@$(VENV)/bin/ruff check libs services tests bench
	@$(VENV)/bin/ruff format --check --quiet . || { echo "files above are not formatted: run $(VENV)/bin/ruff format"; exit 1; }
	@$(VENV)/bin/mypy
	@$(VENV)/bin/lint-imports --no-cache
	@$(BUF) lint proto

proto: install ## regenerate the Python stubs from proto/
	@PY=$(PY) tools/genproto.sh

proto-check: ## fail when the committed stubs differ from what proto/ generates
	@PY=$(PY) tools/genproto.sh
	@git diff --exit-code --stat -- libs/jit || { echo "generated stubs are stale: run make proto and commit"; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard libs/jit)" || { echo "new generated stubs are not committed"; exit 1; }

bench: install ## benchmarks: figures next to a bare gRPC floor, as ratios
	@$(PY) -m bench.run
	@$(PY) -m bench.evidence
	@$(PY) -m bench.preservation_scan
	@$(PY) -m bench.messaging
	@$(PY) -m bench.victims
	@$(PY) -m bench.federation
	@$(PY) -m bench.joining
	@$(PY) -m bench.lists
	@$(PY) -m bench.mixed

clean: stop ## remove local state (databases, logs); keeps the download cache
	rm -rf var
