# The two commands: `make dev` runs Keyhook locally; `make test` runs every test.
.PHONY: dev test bench trigger emails fmt lint build

dev:
	./scripts/dev.sh

test:
	./scripts/test.sh

# Benchmarks that print figures (speed and AWS-call counts), against the emulator.
bench:
	./scripts/bench.sh

# A signed test purchase against `make dev` (settings from .keyhook/dev.env).
EMAIL ?= buyer@example.com
QUANTITY ?= 1
trigger:
	@set -a; . ./.keyhook/dev.env; set +a; \
	cargo run --quiet -p keyhook-cli -- trigger checkout --product $${PRODUCT:-$$KEYHOOK_DEMO_PRODUCT} --email $(EMAIL) --quantity $(QUANTITY)

# The emails the local SES has recorded.
emails:
	@set -a; . ./.keyhook/dev.env; set +a; cargo run --quiet -p keyhook-cli -- emails

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets -- -D warnings

build:
	cargo build --workspace
