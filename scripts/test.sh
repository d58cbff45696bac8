#!/usr/bin/env bash
# The project's one test command (README, CI): formatting, lints, then every test, with the
# MongoDB-wire test server this script installs and starts itself (scripts/test-services.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# librdkafka is built with TLS/SASL support: it needs OpenSSL's headers (and pkg-config to find
# them). The project's machines have them; a bare Debian gets them here.
if ! pkg-config --exists openssl 2>/dev/null; then
  echo "== installing libssl-dev, pkg-config, zlib1g-dev (apt-get)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq libssl-dev pkg-config zlib1g-dev
fi

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

# From outside, as clients see it: the fuzzer over the whole OpenAPI document (0 failures), and
# the API explorer in a real browser.
echo "== API fuzzer"
scripts/fuzz.sh
echo "== API explorer in a browser"
scripts/docs-browser.sh
