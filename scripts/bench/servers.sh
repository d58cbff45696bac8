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
# The MongoDB rows run on SecantusDB's Rust server, built once with cargo and cached beside the
# test servers' virtualenv (../shared/test-services.md). The Python server (secantusd-py) is for
# the test suite only: about two orders of magnitude slower, it would measure itself.
SECANTUS_MDB_VERSION=0.5.3-beta.196
MONGO_RS_ROOT="${TEST_SERVICES_DIR:-$ROOT/target/test-services}"
MONGO_RS_BIN="$MONGO_RS_ROOT/bin/secantusd-rs"
# pymongo, for the direct seeding of the streamed list (and its bson module for serverStatus).
PYMONGO_VERSION=4.20.1

# ensure_secantusd_rs: builds target/test-services/bin/secantusd-rs when it is missing (6-25
# minutes on 2 cores), or dies saying why. Its build directory is kept under
# target/test-services until the build succeeds, so an interrupted build resumes.
ensure_secantusd_rs() {
    [[ -x "$MONGO_RS_BIN" ]] && return 0
    command -v cargo >/dev/null 2>&1 || die "cargo is needed to build secantusd-rs"
    local missing=() tool
    for tool in cmake ninja swig; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
    if ((${#missing[@]})); then
        log "installing cmake ninja-build swig (apt-get) for secantusd-rs's WiredTiger"
        apt_install cmake ninja-build swig || die "could not install cmake ninja-build swig (apt-get)"
    fi
    mkdir -p "$MONGO_RS_ROOT"
    local build_log="$MONGO_RS_ROOT/secantusd-rs-build.log" build_dir="$MONGO_RS_ROOT/secantusd-rs-build"
    local start
    start=$(now)
    log "building secantusd-rs (cargo install secantus-mdb $SECANTUS_MDB_VERSION into $MONGO_RS_ROOT): once, 6-25 minutes; output in $build_log"
    if ! cargo install secantus-mdb --version "$SECANTUS_MDB_VERSION" --ignore-rust-version \
        --root "$MONGO_RS_ROOT" --target-dir "$build_dir" >"$build_log" 2>&1; then
        tail -n 40 "$build_log" >&2
        die "could not build secantusd-rs (end of $build_log above); the MongoDB rows need it"
    fi
    [[ -x "$MONGO_RS_BIN" ]] || die "cargo install secantus-mdb succeeded but $MONGO_RS_BIN is missing"
    rm -rf "$build_dir"
    log "built secantusd-rs in $(elapsed "$start")s: $MONGO_RS_BIN"
}

ensure_pymongo() {
    ensure_test_services
    local py="$TEST_SERVICES_VENV/bin/python"
    "$py" -c "import pymongo, sys; sys.exit(pymongo.version != '$PYMONGO_VERSION')" 2>/dev/null && return 0
    log "installing pymongo $PYMONGO_VERSION into $TEST_SERVICES_VENV"
    "$TEST_SERVICES_VENV/bin/pip" install --quiet --disable-pip-version-check "pymongo==$PYMONGO_VERSION" >&2 ||
        die "could not install pymongo $PYMONGO_VERSION into $TEST_SERVICES_VENV"
}

# start_mongo_server NAME: secantusd-rs with fresh storage on a free port (a single-node replica
# set, or a standalone server with BENCH_MONGO_STANDALONE=1); sets MONGO_PID, MONGO_PORT and
# MONGO_KIND, and measures what one opcounters reading costs it (MONGO_SELF_OPS).
start_mongo_server() {
    local name=$1
    ensure_test_services
    ensure_secantusd_rs
    ensure_pymongo
    MONGO_PORT="$(free_port)"
    local logfile="$WORK/$name/mongo.log" data="$WORK/$name/mongo-data"
    mkdir -p "$WORK/$name" "$data"
    local args=(--host 127.0.0.1 --port "$MONGO_PORT" --storage-path "$data") topology="single-node replica set"
    if [[ "$MONGO_STANDALONE" == 1 ]]; then
        args+=(--standalone)
        topology="standalone"
    fi
    "$MONGO_RS_BIN" "${args[@]}" >"$logfile" 2>&1 &
    MONGO_PID=$!
    track_pid "$MONGO_PID"
    MONGO_KIND="secantusd-rs $SECANTUS_MDB_VERSION (Rust, $topology), storage in a fresh directory"
    wait_until "secantusd-rs" 60 "$MONGO_PID" "$logfile" mongo_ping "$MONGO_PORT"
    calibrate_opcounters "$logfile"
    log "MongoDB-wire server up on 127.0.0.1:$MONGO_PORT (pid $MONGO_PID, $MONGO_KIND)"
}

mongo_uri() { echo "mongodb://127.0.0.1:$MONGO_PORT/${1:-bench}?directConnection=true&retryWrites=false"; }

stop_mongo_server() {
    [[ -n "$MONGO_PID" ]] || return 0
    stop_tracked "$MONGO_PID"
    MONGO_PID=""
}

# --- database operations (serverStatus opcounters) -------------------------------------------

MONGO_SELF_OPS=""

# mongo_ops: the MongoDB server's opcounters now ("insert=N query=N ... command=N"); nothing
# when no MongoDB server runs. Dies when the server cannot say.
mongo_ops() {
    [[ -n "$MONGO_PID" ]] || return 0
    "$TEST_SERVICES_VENV/bin/python" "$ROOT/scripts/bench/mongo.py" opcounters --port "$MONGO_PORT" ||
        die "could not read serverStatus.opcounters from the MongoDB-wire server on port $MONGO_PORT"
}

# ops_sub A B: B - A, counter by counter, in the same "name=N ..." form.
ops_sub() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        n = split(a, fa, " "); for (i = 1; i <= n; i++) { split(fa[i], kv, "="); va[kv[1]] = kv[2] }
        n = split(b, fb, " "); s = ""
        for (i = 1; i <= n; i++) { split(fb[i], kv, "="); s = s (i > 1 ? " " : "") kv[1] "=" (kv[2] - va[kv[1]]) }
        print s }'
}

# calibrate_opcounters LOG: before anything else talks to the fresh server, three readings in a
# row; what one reading adds (its own serverStatus, where the server counts it) is
# MONGO_SELF_OPS, subtracted from every measured delta.
calibrate_opcounters() {
    local r1 r2 r3 d1 d2
    r1=$(mongo_ops)
    r2=$(mongo_ops)
    r3=$(mongo_ops)
    d1=$(ops_sub "$r1" "$r2")
    d2=$(ops_sub "$r2" "$r3")
    [[ "$d1" == "$d2" ]] || die "the MongoDB-wire server's opcounters moved unevenly between idle readings ($d1, then $d2; see $1)"
    MONGO_SELF_OPS=$d1
    echo "calibration: $r1 | $r2 | $r3 -> one reading costs $d1" >>"$WORK/opcounters.log"
}

# ops_per WHAT BEFORE AFTER COUNT: sets OPS_TOTAL (every counter's delta, less one reading's own
# cost, per unit; 2 decimals) and OPS_KINDS ("query 1.00, command 2.00": the non-zero ones);
# "-" and "" when not measured. The raw readings go to $WORK/opcounters.log.
ops_per() {
    local what=$1 before=$2 after=$3 count=${4:-0}
    OPS_TOTAL="-"
    OPS_KINDS=""
    [[ -n "$before" && -n "$after" && "$count" -gt 0 ]] || return 0
    local delta
    delta=$(ops_sub "$MONGO_SELF_OPS" "$(ops_sub "$before" "$after")")
    echo "$what: before $before | after $after | less one reading: $delta | over $count" >>"$WORK/opcounters.log"
    read -r OPS_TOTAL OPS_KINDS < <(awk -v d="$delta" -v n="$count" 'BEGIN {
        k = split(d, f, " "); t = 0; s = ""
        for (i = 1; i <= k; i++) {
            split(f[i], kv, "="); t += kv[2]
            if (kv[2] != 0) s = s (s == "" ? "" : ", ") sprintf("%s %.2f", kv[1], kv[2] / n)
        }
        printf "%.2f %s\n", t / n, (s == "" ? "none" : s) }')
}

# --- memory ----------------------------------------------------------------------------------

# peak_rss_mib PID: the process's peak resident set (VmHWM), MiB with 1 decimal; "?" if gone.
peak_rss_mib() {
    local kib
    kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/${1:-none}/status" 2>/dev/null || true)
    if [[ -n "$kib" ]]; then awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }'; else echo "?"; fi
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
