# Starting and stopping what the benchmark measures: the billing service, the MongoDB-wire
# server and the Kafka-wire broker. Sourced by scripts/bench.sh, after common.sh.

# --- the billing service ---------------------------------------------------------------------

SERVICE_PID=""
SERVICE_LOG=""
BASE=""
STORE_SEEN=""

service_log() { sed -e 's/\x1b\[[0-9;]*m//g' "$SERVICE_LOG"; }

# start_service NAME MONGODB_URI [VAR=value...]: starts the release binary on a fresh SQLite
# file (used when MONGODB_URI is empty) and waits until GET / answers; sets SERVICE_PID,
# SERVICE_LOG, BASE and STORE_SEEN. VAR=value pairs override the defaults below.
start_service() {
    local name=$1 uri=$2
    shift 2
    mkdir -p "$WORK/$name"
    SERVICE_LOG="$WORK/$name/service.log"
    # From the repository root, as a developer runs it (config/ there is the compiled-in defaults).
    # Every setting that a .env could change under us is given; NO_COLOR and LOG_FORMAT keep
    # the log parseable. `env` execs the binary: $! is the service itself.
    env PORT="$PORT_WANTED" BIND_ADDRESS=127.0.0.1 HTTP_WORKERS="$WORKERS" \
        DATABASE_PATH="$WORK/$name/data/billing.db" MONGODB_URI="$uri" KAFKA_BROKERS="" \
        API_TOKENS="" LOG_FORMAT=pretty NO_COLOR=1 RUST_LOG="${RUST_LOG:-info}" "$@" \
        "$BIN" >"$SERVICE_LOG" 2>&1 &
    SERVICE_PID=$!
    track_pid "$SERVICE_PID"

    local port=""
    for _ in $(seq 300); do
        kill -0 "$SERVICE_PID" 2>/dev/null || {
            service_log >&2
            die "the service exited during startup (log above)"
        }
        if [[ -z "$port" ]]; then
            port="$(service_log | sed -n 's/.*billing service listening.*port[=:] *\([0-9][0-9]*\).*/\1/p' | head -n1)"
            [[ -z "$port" && "$PORT_WANTED" != 0 ]] && port="$PORT_WANTED"
        fi
        if [[ -n "$port" ]] && curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    [[ -n "$port" ]] && curl -fsS -o /dev/null "http://127.0.0.1:$port/" || {
        service_log >&2
        die "the service did not answer GET / within 30 s"
    }
    BASE="http://127.0.0.1:$port"
    STORE_SEEN="$(service_log | sed -n 's/.*billing service listening.*store[=:] *"\{0,1\}\([A-Za-z0-9_-]*\).*/\1/p' | head -n1)"
    log "service up at $BASE (pid $SERVICE_PID, store ${STORE_SEEN:-?}, HTTP_WORKERS=$WORKERS)"
}

stop_service() {
    [[ -n "$SERVICE_PID" ]] || return 0
    stop_tracked "$SERVICE_PID"
    SERVICE_PID=""
}

# --- the MongoDB-wire server -----------------------------------------------------------------

MONGO_PID=""
MONGO_PORT=""
MONGO_KIND=""
# The Rust server, when someone has built it (see ../shared/test-services.md; not built here).
MONGO_RS_BIN="$ROOT/target/test-services/bin/secantusd-rs"

# start_mongo_server NAME: a fresh server with empty storage on a free port; sets MONGO_PID,
# MONGO_PORT and MONGO_KIND.
start_mongo_server() {
    local name=$1
    ensure_test_services
    MONGO_PORT="$(free_port)"
    local logfile="$WORK/$name/mongo.log" data="$WORK/$name/mongo-data"
    mkdir -p "$WORK/$name" "$data"
    if [[ -x "$MONGO_RS_BIN" ]]; then
        local args=(--port "$MONGO_PORT" --storage-path "$data")
        "$MONGO_RS_BIN" --help 2>&1 | grep -q -- '--host' && args=(--host 127.0.0.1 "${args[@]}")
        "$MONGO_RS_BIN" "${args[@]}" >"$logfile" 2>&1 &
        MONGO_KIND="secantusd-rs (Rust), storage in a fresh directory"
    else
        # ':memory:' is a temporary WiredTiger home, removed at shutdown; under $WORK, so that it
        # goes with the rest even after a SIGKILL.
        TMPDIR="$data" "$TEST_SERVICES_VENV/bin/secantusd-py" --host 127.0.0.1 --port "$MONGO_PORT" \
            --storage-path :memory: --log-level WARNING --session-max 20000 >"$logfile" 2>&1 &
        MONGO_KIND="secantusd-py $SECANTUSDB_VERSION (Python), :memory: storage"
    fi
    MONGO_PID=$!
    track_pid "$MONGO_PID"
    wait_until "the MongoDB-wire server" 60 "$MONGO_PID" "$logfile" mongo_ping "$MONGO_PORT"
    log "MongoDB-wire server up on 127.0.0.1:$MONGO_PORT (pid $MONGO_PID, $MONGO_KIND)"
}

mongo_uri() { echo "mongodb://127.0.0.1:$MONGO_PORT/${1:-bench}?directConnection=true&retryWrites=false"; }

stop_mongo_server() {
    [[ -n "$MONGO_PID" ]] || return 0
    stop_tracked "$MONGO_PID"
    MONGO_PID=""
}

# --- the Kafka-wire broker -------------------------------------------------------------------

KAFKA_PID=""
KAFKA_PORT=""

# start_kafka_broker: Tansu with in-memory storage on a free port, once per benchmark.
start_kafka_broker() {
    [[ -n "$KAFKA_PID" ]] && return 0
    ensure_test_services
    KAFKA_PORT="$(free_port)"
    local logfile="$WORK/kafka.log"
    "$(tansu_bin)" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" --storage-engine memory://tansu/ \
        >"$logfile" 2>&1 &
    KAFKA_PID=$!
    track_pid "$KAFKA_PID"
    wait_until "the Kafka-wire broker" 60 "$KAFKA_PID" "$logfile" kafka_ready "$KAFKA_PORT"
    log "Kafka-wire broker (Tansu) up on 127.0.0.1:$KAFKA_PORT (pid $KAFKA_PID)"
}

# create_topic NAME PARTITIONS
create_topic() {
    "$(tansu_bin)" topic create "$1" --partitions "$2" --broker "tcp://127.0.0.1:$KAFKA_PORT" \
        >>"$WORK/kafka.log" 2>&1 || die "could not create topic $1 on the broker (see $WORK/kafka.log)"
}
