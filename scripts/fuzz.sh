#!/usr/bin/env bash
# The API fuzzer: schemathesis, driven by the service's own /openapi.json, against the service
# on the embedded store with a write token. Every check, the stateful phase (links) on, a fixed
# seed and a bounded number of examples per operation, so that a run is repeatable and short.
# It must end with 0 failures; its report (JUnit, and the HAR of every request) lands under
# target/fuzz/.
#
# Usage: scripts/fuzz.sh            (builds the service when needed)
# Settings: FUZZ_EXAMPLES (default 25 per operation and phase), FUZZ_SEED (default 20261202).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES="${FUZZ_EXAMPLES:-25}"
SEED="${FUZZ_SEED:-20261202}"
TOKEN="fuzz-writer-token"

ROOT="$PWD"
OUT="$PWD/target/fuzz"
VENV="$PWD/target/test-services/fuzz-venv"

stamp="$VENV/.installed-$SCHEMATHESIS_VERSION"
if [ ! -f "$stamp" ]; then
  echo "== installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  touch "$stamp"
fi

# shellcheck source=scripts/service.sh
source scripts/service.sh
# No Kafka: the fuzzer reaches the events through POST /api/events.
start_service "$OUT" API_TOKENS="$TOKEN:write" RUST_LOG=warn LOG_FORMAT=json
base=$SERVICE_URL

echo "== schemathesis $SCHEMATHESIS_VERSION: seed $SEED, $EXAMPLES examples per operation"
status=0
# From inside $OUT: schemathesis keeps a cache (.schemathesis/) in its working folder.
(cd "$OUT" && "$VENV/bin/schemathesis" --config-file "$ROOT/scripts/schemathesis.toml" run "$base/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$EXAMPLES" \
  --seed "$SEED" \
  --no-color \
  --report junit,har --report-dir "$OUT" \
  >"$OUT/schemathesis.txt" 2>&1) || status=$?
tail -n 40 "$OUT/schemathesis.txt"
if [ "$status" -ne 0 ]; then
  echo "error: the fuzzer found failures (exit $status); the whole report: $OUT/schemathesis.txt" >&2
  exit "$status"
fi
# Whatever the fuzzer sent, the service must not have crashed or logged an error.
service_stayed_healthy
echo "== fuzzer: 0 failures"
