#!/usr/bin/env bash
# Sourced by the scripts that check the running service from outside (scripts/fuzz.sh,
# scripts/docs-browser.sh): builds it, starts it on a free port over a fresh SQLite file in a
# folder of their own, without Kafka, and waits until it answers.
#
#   start_service DIR [NAME=VALUE...]   sets SERVICE_URL and SERVICE_PID; the log is DIR/service.log
#   stop_service                        (also run on exit)

start_service() {
  local dir=$1
  shift
  cargo build --locked -q -p telecomx-billing --bin billing
  rm -rf "$dir"
  mkdir -p "$dir"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  env -u KAFKA_BROKERS -u API_TOKENS PORT="$port" DATABASE_PATH="$dir/service.sqlite" "$@" \
    "${CARGO_TARGET_DIR:-target}/debug/billing" >"$dir/service.log" 2>&1 &
  SERVICE_PID=$!
  SERVICE_URL="http://127.0.0.1:$port"
  SERVICE_LOG="$dir/service.log"
  trap stop_service EXIT
  local deadline=$((SECONDS + 120))
  until curl -sf "$SERVICE_URL/healthz" >/dev/null; do
    if ! kill -0 "$SERVICE_PID" 2>/dev/null || ((SECONDS >= deadline)); then
      echo "error: the service did not start; its log:" >&2
      cat "$SERVICE_LOG" >&2
      return 1
    fi
    sleep 0.2
  done
}

stop_service() {
  [ -n "${SERVICE_PID:-}" ] && kill "$SERVICE_PID" 2>/dev/null || true
}

# Fails when the service died or logged an error while it was checked.
service_stayed_healthy() {
  if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
    echo "error: the service died; its log:" >&2
    cat "$SERVICE_LOG" >&2
    return 1
  fi
  if grep -q '"level":"ERROR"' "$SERVICE_LOG"; then
    echo "error: the service logged errors:" >&2
    grep '"level":"ERROR"' "$SERVICE_LOG" | head -20 >&2
    return 1
  fi
}
