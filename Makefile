SHELL := /bin/bash
# sluice: the two commands are `make run` and `make test`; each does its own set-up.
#
#   make run    build (release, without the AWS SDK: the demo is local) and ingest the orders
#               example twice into a fresh demo workspace, each file one execution of
#               statemachine/ingest.asl.json on sluice's engine, printing what happened; the
#               second pass must add nothing
#   make test   install what the tests need (a Python venv with pyiceberg, to prove other
#               engines read our tables, and ministack, a local S3 and Glue for sluice-aws;
#               asl-validator from npm, to lint the definitions) and run every test
#   make lint   rustfmt check and clippy
#   make bench  the benchmarks below, each printing its table and ratios
#   make bench-engine  engine throughput (transitions/s) beside aws-local-stepfunctions
#   make bench-ingest  sluice's validated ingest beside DuckDB and pyarrow on the same generated
#               files, small files, row validation beside Python jsonschema/fastjsonschema;
#               BENCH_ROWS=N (default 1000000), BENCH_RUNS=N (3), BENCH_JOBS=N (-j of the small
#               files, 8), BENCH_BIG=1 adds a 2 GB file
#   make bench-webhook  webhook arrivals/s through `sluice serve` (64 clients of 10 KB bodies),
#               then every row checked in the table; WEBHOOK_CLIENTS=N (64),
#               WEBHOOK_REQUESTS=N per client (100)
#   make bench-stream  stream records/s into objects through the stream receiver's path (Kinesis
#               batches of 1,000, four shards), then every object ingested and the rows checked;
#               STREAM_RECORDS=N (200000)
#   make chaos  the seeded fault-injection suite, long: SCHEDULES=N (default 10000), release
#   make lambdas  the ten Lambda binaries for the CDK app, arm64, profile `lambda` (release,
#               stripped, thin LTO), into target/lambda/<name>/bootstrap (cargo-lambda and zig
#               from PyPI), and each function's zipped size
#   make lambda-coldstart  each function's cold start on the emulator (x86_64 builds of the
#               same profile, since the emulator runs them as local processes)
#   make synth  the AWS CDK app in cdk/ to CloudFormation (cdk/cdk.out), offline, no credentials;
#               needs the Lambda binaries in target/lambda, or LAMBDA_CODE_DIR=DIR
#   make deploy the CDK app to an AWS account (credentials, a region, `cdk bootstrap` once)
#   make cdk-test  type-check the CDK app and run its assertion tests (part of `make test`)

CARGO   ?= cargo
PYTHON  ?= python3
DEMO    ?= target/demo
EXAMPLE := examples/orders
SLUICE  := target/release/sluice
# The demo and the benchmarks use the local commands only, so they build the CLI without its
# `aws` feature (--aws, dlq, archive): the AWS SDK is most of a first build. A plain
# `cargo build --release -p sluice-cli` has every command, in the same target/release/sluice.
LOCAL_BUILD := --release -p sluice-cli --no-default-features
VENV    := .venv
NPM_DIR := target/npm
ASL_VALIDATOR := $(NPM_DIR)/node_modules/.bin/asl-validator
LOCAL_SFN := $(NPM_DIR)/node_modules/aws-local-stepfunctions
DEMO_ARGS := --config $(EXAMPLE)/sluice.toml --workspace $(DEMO)
SCHEDULES ?= 10000
CHAOS_SUMMARY := $(CURDIR)/target/chaos-summary.txt

.PHONY: run test build lint lint-asl bench bench-engine bench-ingest bench-compact bench-webhook bench-stream bench-venv venv clean chaos cdk-deps cdk-test synth deploy lambdas lambda-coldstart

build:
	$(CARGO) build $(LOCAL_BUILD)

run: build
	@rm -rf $(DEMO)
	@echo "== pass 1: the orders example arrives ($(EXAMPLE)/data)"
	@$(SLUICE) $(DEMO_ARGS) ingest $(EXAMPLE)/data
	@echo
	@echo "== pass 2: the same files arrive again (duplicate events): nothing may be added"
	@$(SLUICE) $(DEMO_ARGS) ingest $(EXAMPLE)/data
	@echo
	@echo "== reconcile: list the bucket for versions whose events were lost (none were); set the watermark"
	@$(SLUICE) $(DEMO_ARGS) reconcile
	@echo
	@echo "== the table, read back from its Iceberg metadata"
	@$(SLUICE) $(DEMO_ARGS) table show orders
	@echo
	@echo "== quarantine: files that wait for a person"
	@$(SLUICE) $(DEMO_ARGS) quarantine list
	@echo
	@echo "== executions of statemachine/ingest.asl.json (one per arrival; pass 2 found them all)"
	@$(SLUICE) $(DEMO_ARGS) executions list
	@echo
	@echo "Explore: $(SLUICE) $(DEMO_ARGS) files | quarantine show orders-2026-03-03-malformed.ndjson"
	@echo "         $(SLUICE) $(DEMO_ARGS) executions history NAME | replay --reason drift_blocked"

# pyiceberg reads the tables sluice writes, from the same SQLite catalog: the proof that
# other engines can read them. ministack emulates S3 and Glue on one local port for
# sluice-aws's tests (each test binary starts its own). Both from PyPI into a local venv;
# the marker names the pinned set, so changing it reinstalls.
VENV_READY := $(VENV)/.ready-ministack-1.5.33
$(VENV_READY):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "pyiceberg[sql-sqlite,pyarrow]==0.12.*" ministack==1.5.33
	touch $@

venv: $(VENV_READY)

# asl-validator (npm) lints every definition in statemachine/; the engine's own static
# checks run in the tests. Installed into target/npm, pinned, without a lock file.
$(ASL_VALIDATOR):
	npm install --prefix $(NPM_DIR) --no-audit --no-fund --no-package-lock --silent asl-validator@3.16.0

lint-asl: $(ASL_VALIDATOR)
	$(ASL_VALIDATOR) $(foreach f,$(wildcard statemachine/*.json),--json-path $(f))
	@for f in statemachine/*.json; do $(CARGO) run --quiet -p sluice-cli --no-default-features -- run-asl --check $$f || exit 1; done

# The Lambda binaries (crates/lambdas) for Lambda's arm64 provided.al2023 runtime. cargo-lambda
# comes from PyPI into its own venv; its wheel depends on the `ziglang` package, whose zig is
# the cross linker, so nothing but PyPI and the Rust target are needed. The zipped size is what
# CDK uploads for each function (it zips target/lambda/<name>/ as the code asset).
LAMBDA_VENV := target/lambda-venv
CARGO_LAMBDA := $(LAMBDA_VENV)/bin/cargo-lambda
LAMBDA_DIR := target/lambda
# The functions, by name: target/lambda also holds what cargo builds for this machine while
# cross-compiling with the profile `lambda` (build scripts, proc macros: deps/, build/).
LAMBDA_FUNCTIONS := filter schema-drift-detect validate quarantine commit reconcile maintain publish receive stream
# The zipped size each function should stay under (bytes): a small package starts cold fast.
LAMBDA_ZIP_LIMIT := 8000000

$(CARGO_LAMBDA):
	$(PYTHON) -m venv $(LAMBDA_VENV)
	$(LAMBDA_VENV)/bin/pip install --quiet --disable-pip-version-check cargo-lambda==1.9.2 ziglang==0.17.1

lambdas: $(CARGO_LAMBDA)
	rustup target add aarch64-unknown-linux-gnu
	@start=$$(date +%s); \
	PATH=$(CURDIR)/$(LAMBDA_VENV)/bin:$$PATH $(CARGO) lambda build --profile lambda --arm64 -p sluice-lambdas --no-default-features --lambda-dir $(LAMBDA_DIR) || exit 1; \
	echo "built in $$(( $$(date +%s) - start )) s"
	@for n in $(LAMBDA_FUNCTIONS); do \
	  d=$(LAMBDA_DIR)/$$n; z=$(CURDIR)/target/lambda-$$n.zip; rm -f $$z; \
	  (cd $$d && $(PYTHON) -m zipfile -c $$z bootstrap) || exit 1; \
	  awk -v n=$$n -v b=$$(stat -c %s $$d/bootstrap) -v z=$$(stat -c %s $$z) -v lim=$(LAMBDA_ZIP_LIMIT) \
	    'BEGIN {printf "%-20s bootstrap %5.1f MB, zipped %4.1f MB%s\n", n, b/1e6, z/1e6, (z > lim ? "  (over the 8 MB target)" : "")}'; \
	done

# The cold start of each function, measured on the emulator (which runs every invocation of a
# `provided` function as a new process) with the `lambda` profile's builds for this machine:
# the emulator runs local binaries, so these are x86_64 builds of what `make lambdas` builds.
HOST_TRIPLE = $(shell rustc -vV | sed -n 's/^host: //p')
lambda-coldstart: venv
	$(CARGO) build --profile lambda --target $(HOST_TRIPLE) -p sluice-lambdas --no-default-features
	SLUICE_LAMBDA_BIN_DIR=$(CURDIR)/target/$(HOST_TRIPLE)/lambda SLUICE_TEST_MINISTACK=$(CURDIR)/$(VENV)/bin/ministack \
	  $(CARGO) test -p sluice-lambdas --test emulator every_function -- --nocapture 2>&1 | grep -E '^cold start|^test result'

# The AWS CDK app (cdk/): its npm packages, pinned in cdk/package.json, installed without a
# lock file into cdk/node_modules; reinstalled when package.json changes.
CDK_DIR := cdk
CDK_READY := $(CDK_DIR)/node_modules/.ready
CDK_SUMMARY := $(CURDIR)/target/cdk-test-summary.txt
# make synth/deploy: the sluice.toml to deploy, and where the Lambda binaries are (default
# target/lambda, built by `make lambdas`); relative paths are from the repository root.
CDK_CONFIG ?= $(EXAMPLE)/sluice.toml
LAMBDA_CODE_DIR ?=
CDK_ENV := SLUICE_CONFIG=$(CDK_CONFIG) $(if $(LAMBDA_CODE_DIR),SLUICE_LAMBDA_CODE_DIR=$(LAMBDA_CODE_DIR))

$(CDK_READY): $(CDK_DIR)/package.json
	cd $(CDK_DIR) && npm install --no-audit --no-fund --no-package-lock --loglevel=error
	touch $@

cdk-deps: $(CDK_READY)

# Type-check, then vitest; its summary line is kept for the end of `make test`.
cdk-test: $(CDK_READY)
	@mkdir -p target
	@rm -f $(CDK_SUMMARY)
	cd $(CDK_DIR) && npx tsc --noEmit
	cd $(CDK_DIR) && npx vitest run 2>&1 | tee $(CURDIR)/target/cdk-test.log; \
	  status=$${PIPESTATUS[0]}; \
	  sed 's/\x1b\[[0-9;]*m//g' $(CURDIR)/target/cdk-test.log | grep -E '^ *Tests +[0-9]' | sed 's/^ */cdk (vitest): /' > $(CDK_SUMMARY); \
	  cat $(CDK_SUMMARY); \
	  exit $$status

# CloudFormation from the CDK app, offline: the app runs under tsx and writes cdk/cdk.out
# (no CDK CLI, so no credentials, lookups or network). The template is region-agnostic.
synth: $(CDK_READY)
	cd $(CDK_DIR) && rm -rf cdk.out && $(CDK_ENV) CDK_OUTDIR=cdk.out npx tsx bin/sluice.ts
	@echo "wrote $(CDK_DIR)/cdk.out/$$(cd $(CDK_DIR)/cdk.out && ls *.template.json)"

# Needs AWS credentials and a region, `npx cdk bootstrap` once per account and region, and
# the Lambda binaries (make lambdas). CDK_DEPLOY_ARGS are passed on, e.g. --require-approval never.
deploy: $(CDK_READY)
	cd $(CDK_DIR) && $(CDK_ENV) npx cdk deploy $(CDK_DEPLOY_ARGS)

# The fault-injection suites run inside `cargo test`: tests/it/chaos.rs with its default 500
# schedules, tests/it/chaos_versions.rs (replace, delete, compaction, expiry) with its 60,
# tests/it/chaos_drift.rs (drift approvals racing arrivals) with its 40;
# each appends its summary line to $(CHAOS_SUMMARY), printed after the totals, as does the
# hostile-input corpus (crates/cli/tests/hostile.rs, generated by tests/fixtures/hostile/).
# cdk-test runs first; its summary line is printed again beside the cargo total.
test: venv lint-asl cdk-test
	@mkdir -p target
	@rm -f $(CHAOS_SUMMARY)
	SLUICE_TEST_PYTHON=$(CURDIR)/$(VENV)/bin/python SLUICE_TEST_MINISTACK=$(CURDIR)/$(VENV)/bin/ministack CHAOS_SUMMARY=$(CHAOS_SUMMARY) $(CARGO) test --workspace --no-fail-fast 2>&1 | tee target/test.log; \
	  status=$${PIPESTATUS[0]}; \
	  if [ -f $(CDK_SUMMARY) ]; then cat $(CDK_SUMMARY); fi; \
	  grep -E '^test result:' target/test.log | awk '{p+=$$4; f+=$$6} END {printf "total: %d passed, %d failed\n", p, f}'; \
	  if [ -f $(CHAOS_SUMMARY) ]; then cat $(CHAOS_SUMMARY); fi; \
	  exit $$status

# Many more schedules of the fault-injection suite, optimised; a failure prints the seed and
# the command that replays that one schedule.
chaos:
	@mkdir -p target
	@rm -f $(CHAOS_SUMMARY)
	CHAOS_SCHEDULES=$(SCHEDULES) CHAOS_SUMMARY=$(CHAOS_SUMMARY) $(CARGO) test --release -p sluice-tests --test it -- chaos --nocapture
	@cat $(CHAOS_SUMMARY)

# The engine's transitions per second, and the same definitions on aws-local-stepfunctions
# (Node.js) measured in the same run for a ratio.
$(LOCAL_SFN):
	npm install --prefix $(NPM_DIR) --no-audit --no-fund --no-package-lock --silent aws-local-stepfunctions@3.0.0

bench: bench-engine bench-ingest bench-compact bench-webhook bench-stream

bench-engine: $(LOCAL_SFN)
	$(CARGO) bench -p sluice-states --bench engine -- 10000 | tee target/bench-engine.txt
	node crates/states/benches/peer.mjs $(NPM_DIR) target/bench-asl | tee -a target/bench-engine.txt
	@awk '$$1 == "sluice-engine" {ours[$$2]=$$7} $$1 == "aws-local-stepfunctions" {peer[$$2]=$$7} END {for (k in ours) if (peer[k] > 0) printf "ratio %s: sluice is %.1fx aws-local-stepfunctions\n", k, ours[k]/peer[k]}' target/bench-engine.txt

# The ingest benchmark (crates/bench): sluice-gen writes the files from a fixed seed into
# $(BENCH_DATA); run.py measures every tool on them as its own process and writes
# target/bench-results.md and .json. DuckDB, pyarrow, jsonschema and fastjsonschema are
# pinned and installed into their own venv.
BENCH_VENV := target/bench-venv
BENCH_DATA := target/bench-data
BENCH_ROWS ?= 1000000
BENCH_SMALL_FILES ?= 1000
BENCH_RUNS ?= 3
BENCH_JOBS ?= 8
BENCH_BIG ?=
BENCH_BIG_ROWS ?= 6000000
BENCH_TARGET := $(or $(CARGO_TARGET_DIR),target)

$(BENCH_VENV)/.ready:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check duckdb==2.0.0 pyarrow==26.0.1 jsonschema==4.26.0 fastjsonschema==2.22.3
	touch $@

bench-venv: $(BENCH_VENV)/.ready

bench-ingest: bench-venv
	$(CARGO) build $(LOCAL_BUILD)
	$(CARGO) build --release -p sluice-bench --bin sluice-gen
	$(BENCH_TARGET)/release/sluice-gen --out $(BENCH_DATA) --rows $(BENCH_ROWS) \
	  --small-files $(BENCH_SMALL_FILES) $(if $(BENCH_BIG),--big-rows $(BENCH_BIG_ROWS))
	BENCH_DATA=$(CURDIR)/$(BENCH_DATA) $(CARGO) bench -p sluice-bench --bench validate -- \
	  --warm-up-time 2 --measurement-time 8 --sample-size 30
	$(BENCH_VENV)/bin/python crates/bench/run.py --sluice $(BENCH_TARGET)/release/sluice \
	  --data $(BENCH_DATA) --criterion $(BENCH_TARGET)/criterion --runs $(BENCH_RUNS) \
	  --jobs $(BENCH_JOBS) --out target/bench-results $(if $(BENCH_BIG),--big)

# The compaction benchmark (crates/bench/compact.py): sluice-gen's small files ingested into a
# fresh workspace, then `sluice compact`; pyiceberg (make venv) times the scans through the
# table's metadata, DuckDB (the bench venv) over its live Parquet files. Writes
# target/bench-compact.md and .json.
COMPACT_FILES ?= 1000
COMPACT_FILE_BYTES ?= 16384
bench-compact: venv bench-venv
	$(CARGO) build $(LOCAL_BUILD)
	$(CARGO) build --release -p sluice-bench --bin sluice-gen
	$(VENV)/bin/python crates/bench/compact.py --sluice $(BENCH_TARGET)/release/sluice \
	  --gen $(BENCH_TARGET)/release/sluice-gen --data target/bench-compact-data \
	  --files $(COMPACT_FILES) --file-bytes $(COMPACT_FILE_BYTES) \
	  --duckdb-python $(BENCH_VENV)/bin/python --out target/bench-compact

# The webhook benchmark (crates/bench/src/bin/sluice-webhook-bench.rs): `sluice serve` over a
# fresh workspace of the orders example, WEBHOOK_CLIENTS clients posting WEBHOOK_REQUESTS
# NDJSON bodies of about 10 KB each at once; accept rate and latency, then ingest end to end,
# every arrival's status and the table's row count checked (exit 1 if a row is missing or
# twice). Writes target/bench-webhook.md and .json.
# The stream benchmark (tests/benches/stream.rs): records into objects through
# sluice_steps::stream, as the stream function writes them, then every object ingested by the
# local engine and the table's rows checked against the records sent.
STREAM_RECORDS ?= 200000
bench-stream:
	$(CARGO) bench -p sluice-tests --bench stream -- $(STREAM_RECORDS) | tee target/bench-stream.txt

WEBHOOK_CLIENTS ?= 64
WEBHOOK_REQUESTS ?= 100
bench-webhook:
	$(CARGO) build $(LOCAL_BUILD)
	$(CARGO) build --release -p sluice-bench --bin sluice-webhook-bench
	$(BENCH_TARGET)/release/sluice-webhook-bench --sluice $(BENCH_TARGET)/release/sluice \
	  --clients $(WEBHOOK_CLIENTS) --requests $(WEBHOOK_REQUESTS) --out target/bench-webhook

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf target $(VENV) $(CDK_DIR)/node_modules $(CDK_DIR)/cdk.out
