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

cargo build --locked -q -p telecomx-billing --bin billing

rm -rf "$OUT"
mkdir -p "$OUT"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
# A fresh database, no Kafka: the fuzzer reaches the events through POST /api/events.
env -u KAFKA_BROKERS PORT="$port" DATABASE_PATH="$OUT/fuzz.sqlite" \
  API_TOKENS="$TOKEN:write" RUST_LOG=warn LOG_FORMAT=json target/debug/billing >"$OUT/service.log" 2>&1 &
service=$!
trap 'kill "$service" 2>/dev/null || true' EXIT

base="http://127.0.0.1:$port"
deadline=$((SECONDS + 120))
until curl -sf "$base/healthz" >/dev/null; do
  if ! kill -0 "$service" 2>/dev/null || ((SECONDS >= deadline)); then
    echo "error: the service did not start; its log:" >&2
    cat "$OUT/service.log" >&2
    exit 1
  fi
  sleep 0.2
done

echo "== schemathesis $SCHEMATHESIS_VERSION: seed $SEED, $EXAMPLES examples per operation"
status=0
"$VENV/bin/schemathesis" run "$base/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$EXAMPLES" \
  --seed "$SEED" \
  --no-color \
  --report junit,har --report-dir "$OUT" \
  >"$OUT/schemathesis.txt" 2>&1 || status=$?
tail -n 40 "$OUT/schemathesis.txt"
if [ "$status" -ne 0 ]; then
  echo "error: the fuzzer found failures (exit $status); the whole report: $OUT/schemathesis.txt" >&2
  exit "$status"
fi
# Whatever the fuzzer sent, the service must not have crashed or logged an error.
if ! kill -0 "$service" 2>/dev/null; then
  echo "error: the service died under the fuzzer; its log:" >&2
  cat "$OUT/service.log" >&2
  exit 1
fi
if grep -q '"level":"ERROR"' "$OUT/service.log"; then
  echo "error: the service logged errors under the fuzzer:" >&2
  grep '"level":"ERROR"' "$OUT/service.log" | head -20 >&2
  exit 1
fi
echo "== fuzzer: 0 failures"
