# devenv: the developer's entry point. `make` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# Build profile for the binaries the stack runs (dev builds fastest; bench always uses release).
PROFILE ?= dev
export PROFILE
# secrets-sync mode: local (.env.local) or remote (.env.linode).
MODE ?= local
export MODE

DEV := scripts/dev

.PHONY: help setup setup-quick setup-quick-test build up stop restart reset logs status secrets-sync test bench lint fmt \
        migrate parity verify-images fuzz clean snapshot restore snapshots completions \
        remote-up remote-status remote-logs remote-reset remote-destroy remote-reap pause resume pipeline

help: ## List the targets
	@if [[ -t 1 && -z "$${NO_COLOR:-}" ]]; then on=$$'\e[36m' off=$$'\e[0m'; else on='' off=''; fi; \
	awk -v on="$$on" -v off="$$off" 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %s%-16s%s %s\n", on, $$1, off, $$2}' $(MAKEFILE_LIST)

# What `make setup` installs: stack (what `make up` runs), test, bench, fuzz (space-separated).
PURPOSE ?= stack

setup: ## Install what PURPOSE needs and is missing (stack|test|bench|fuzz; default stack); safe to run twice
	@$(DEV)/setup.sh $(PURPOSE)

# make up / make test: the full check only when the setup files changed since it last passed.
setup-quick:
	@$(DEV)/setup.sh --quick stack

setup-quick-test:
	@$(DEV)/setup.sh --quick test

build: ## Build every binary (PROFILE=dev|release)
	@$(DEV)/build.sh

up: setup-quick build ## Start the stack and wait until healthy (SERVICE=a,b for some; FOLLOW=1 then shows the logs)
	@$(DEV)/up.sh
	@if [[ "$${FOLLOW:-0}" == 1 ]]; then $(DEV)/logs.sh; fi

stop: ## Stop every service (SERVICE=a,b for some), keep the data
	@$(DEV)/stop.sh

restart: build ## Stop and start every service (SERVICE=a,b for some), keep the data
	@$(DEV)/restart.sh

snapshot: build ## Snapshot the services' data as NAME (.devenv/snapshots/NAME; FORCE=1 replaces)
	@$(DEV)/snapshot.sh create

restore: build ## Restore snapshot NAME (verified first; exit 3 when it does not match its manifest)
	@$(DEV)/snapshot.sh restore

snapshots: build ## List the snapshots: name, age, size, services
	@$(DEV)/snapshot.sh list

completions: build ## Install shell completions for devenv for the current user (bash, zsh, fish)
	@$(DEV)/completions.sh

pause: build ## Freeze the running stack (SIGSTOP / docker compose pause); stage paused
	@$(DEV)/pause.sh

resume: build ## Continue a paused stack (SIGCONT / docker compose unpause); stage ready
	@$(DEV)/resume.sh

reset: ## Stop and wipe .devenv/data (asks first; FORCE=1 skips the question)
	@$(DEV)/reset.sh

logs: build ## Every service's log, live and interleaved (SERVICE=a,b; SINCE=10m; LINES=N; FOLLOW=0)
	@$(DEV)/logs.sh

status: build ## Health of every service, as a table
	@$(DEV)/status.sh

secrets-sync: build ## Write .env.local (MODE=local) or .env.linode (MODE=remote)
	@$(DEV)/secrets-sync.sh

migrate: build ## Apply SQL migrations and seed data
	@$(DEV)/migrate.sh

parity: build ## Compare the local environment with the staging reference
	@$(DEV)/parity.sh

verify-images: build ## Check compose images against dev/IMAGE_DIGESTS
	@$(DEV)/verify-images.sh

test: setup-quick-test ## fmt, clippy, shellcheck, unit + integration tests, end-to-end lifecycle
	@$(DEV)/test.sh

pipeline: build ## Run the local CI/CD pipeline of configs/pipeline.yaml (PIPELINE_CONFIG=file); devenv pipeline list|show
	@$(DEV)/pipeline.sh

lint: ## fmt check, clippy -D warnings, shellcheck
	@$(DEV)/lint.sh

fmt: ## Format the Rust code
	@cargo fmt --all

bench: ## Benchmarks against the named peers (scripts/bench/*.sh)
	@$(DEV)/bench.sh

fuzz: ## Fuzz mock-inference request parsing (cargo-fuzz)
	@$(DEV)/fuzz.sh

remote-up: build ## Create a remote workspace (Terraform) and start the suite there
	@$(DEV)/remote.sh up

remote-status: build ## Health of the remote workspace
	@$(DEV)/remote.sh status

remote-logs: ## Tail the remote workspace's service logs
	@$(DEV)/remote.sh logs

remote-reset: ## Wipe the remote workspace's data (asks first; FORCE=1 skips)
	@$(DEV)/remote.sh reset

remote-destroy: ## Destroy the remote workspace
	@$(DEV)/remote.sh destroy

remote-reap: ## Destroy every remote workspace whose ttl tag has passed
	@$(DEV)/remote.sh reap

clean: ## Remove build output (keeps .devenv data)
	@cargo clean
