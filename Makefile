# The two commands: `make dev` runs Keyhook locally; `make test` runs every test.
.PHONY: dev test bench trigger emails fmt lint build openapi deploy-check bench-deploy deploy

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

# Regenerates the published OpenAPI document and request schemas (shared/openapi/) from the
# code; `make test` fails while they are stale.
openapi:
	KEYHOOK_BLESS=1 cargo test -p keyhook-shared --lib -q the_published_files_are_what_the_code_generates

# Deployment checks without AWS: cfn-lint, sam validate --lint, the arm64 release build.
deploy-check:
	./scripts/deploy-check.sh

# Binary and zip sizes, cold start vs a hello-world lambda, peak RSS (docs/deploy.md).
bench-deploy:
	./scripts/bench-deploy.sh

# sam build && sam deploy with the project's own SAM CLI and cargo-lambda (docs/deploy.md).
# Extra arguments: make deploy ARGS="--config-env dev" or ARGS="--parameter-overrides ...".
deploy:
	./scripts/deploy.sh $(ARGS)
