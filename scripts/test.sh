#!/usr/bin/env bash
# The project's one test command (README, CI): formatting, lints, then every test, with the
# MongoDB-wire test server this script installs and starts itself (scripts/test-services.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== test servers"
# shellcheck source=scripts/test-services.sh
source scripts/test-services.sh
start_test_services

echo "== cargo test"
cargo test --workspace --locked

# The system tests again, on MongoDB: every endpoint must behave as on the embedded store.
echo "== system tests on MongoDB"
SYSTEM_TESTS_STORE=mongodb cargo test --locked -p system-tests
