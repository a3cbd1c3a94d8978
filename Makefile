SHELL := /bin/bash
# sluice: the two commands are `make run` and `make test`; each does its own set-up.
#
#   make run    build (release) and ingest the orders example twice into a fresh demo
#               workspace, printing what happened; the second pass must add nothing
#   make test   install what the tests need (a Python venv with pyiceberg, to prove other
#               engines read our tables) and run every test
#   make lint   rustfmt check and clippy

CARGO   ?= cargo
PYTHON  ?= python3
DEMO    ?= target/demo
EXAMPLE := examples/orders
SLUICE  := target/release/sluice
VENV    := .venv
DEMO_ARGS := --config $(EXAMPLE)/sluice.toml --workspace $(DEMO)

.PHONY: run test build lint venv clean

build:
	$(CARGO) build --release -p sluice-cli

run: build
	@rm -rf $(DEMO)
	@echo "== pass 1: the orders example arrives ($(EXAMPLE)/data)"
	@$(SLUICE) $(DEMO_ARGS) ingest $(EXAMPLE)/data
	@echo
	@echo "== pass 2: the same files arrive again (duplicate events): nothing may be added"
	@$(SLUICE) $(DEMO_ARGS) ingest $(EXAMPLE)/data
	@echo
	@echo "== the table, read back from its Iceberg metadata"
	@$(SLUICE) $(DEMO_ARGS) table show orders
	@echo
	@echo "== quarantine: files that wait for a person"
	@$(SLUICE) $(DEMO_ARGS) quarantine list
	@echo
	@echo "Explore: $(SLUICE) $(DEMO_ARGS) files | quarantine show orders-2026-03-03-malformed.ndjson"

# pyiceberg reads the tables sluice writes, from the same SQLite catalog: the proof that
# other engines can read them. Installed from PyPI into a local venv.
$(VENV)/.ready:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "pyiceberg[sql-sqlite,pyarrow]==0.12.*"
	touch $@

venv: $(VENV)/.ready

test: venv
	@mkdir -p target
	SLUICE_TEST_PYTHON=$(CURDIR)/$(VENV)/bin/python $(CARGO) test --workspace --no-fail-fast 2>&1 | tee target/test.log; \
	  status=$${PIPESTATUS[0]}; \
	  grep -E '^test result:' target/test.log | awk '{p+=$$4; f+=$$6} END {printf "total: %d passed, %d failed\n", p, f}'; \
	  exit $$status

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf target $(VENV)
