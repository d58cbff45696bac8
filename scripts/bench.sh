#!/usr/bin/env bash
# HTTP throughput and latency of the billing service, measured with wrk, the streamed list of
# every billing, and the rate at which it applies customer events from Kafka; on each store.
#
#   ./scripts/bench.sh                       # 10 s per run, sqlite and mongodb
#   BENCH_DURATION=5 BENCH_EVENTS=5000 ./scripts/bench.sh
#   BENCH_STORES=sqlite BENCH_EVENTS=0 BENCH_STREAM_BILLINGS=0 ./scripts/bench.sh   # the HTTP table on SQLite only
#
# Builds the release binary, then for each store in BENCH_STORES:
#   1. HTTP: starts the service on a free loopback port over a fresh store (SQLite: a file in a
#      temporary directory; MongoDB: secantusd-rs, started on a free port with fresh storage),
#      seeds users and billings, then for each concurrency measures GET /,
#      GET /api/billings/:id, GET /api/billings?limit=50 and POST /api/billings, with the CPU
#      time per request of the service and of the database server (utime+stime from
#      /proc/<pid>/stat, children included, before and after each run, over the successful
#      requests; SQLite runs inside the service, so it has no server column), the database
#      operations per request (MongoDB: serverStatus opcounters before and after each run, less
#      what the reading itself costs; a breakdown by kind under the table) and the service's
#      peak RSS (VmHWM from /proc/<pid>/status) at the end of the runs;
#   2. the streamed list: seeds BENCH_STREAM_BILLINGS billings (SQLite: through POST
#      /api/billings, by a service process of its own; MongoDB: Mongoose-shaped documents
#      inserted directly with pymongo), starts a fresh service process, fetches GET /billings
#      once into a file and checks it is a JSON array of exactly those billings in _id order,
#      then BENCH_STREAM_FETCHES times to /dev/null, one after the other: seconds per full list,
#      MB/s, CPU and DB operations per list, and the service's peak RSS, which must stay under
#      64 MiB;
#   3. events: produces N `Customer.Created` events (distinct userIds, keyed by userId) to a
#      fresh topic on the Kafka-wire test broker, starts the service over a fresh store with a
#      fresh consumer group, and times from its consumer's start until /metrics counts N events
#      applied; events/s = N / seconds, with the CPU and the DB operations per event and the
#      service's peak RSS.
# and prints one Markdown table per store for HTTP, one for the streamed list, one for events.
#
# Only successful responses count towards requests/s; any non-2xx response (and any POST
# answered with anything but 201), a store holding fewer billings than acknowledged, a streamed
# list that is not every billing or whose service peaked at 64 MiB or more, or events that do
# not all end up as users and billings make the script fail after printing the tables.
#
# The test servers come from scripts/test-services.sh (installed on first use into
# target/test-services/venv, with confluent-kafka for the producer and pymongo for the
# MongoDB helpers). The MongoDB rows run on SecantusDB's Rust server,
# target/test-services/bin/secantusd-rs: when it is missing the script builds it first (cargo
# install secantus-mdb, pinned; once, 6-25 minutes on 2 cores; cmake, ninja-build and swig from
# Debian when missing; see ../shared/test-services.md), and fails if it cannot build or start
# it. The Python server secantusd-py is for the test suite only. This script is not run by CI.
#
# Settings (environment):
#   BENCH_STORES        stores to measure, space separated (default "sqlite mongodb")
#   BENCH_DURATION      duration of each measured run, wrk syntax (default 10s)
#   BENCH_WARMUP        unmeasured run before each endpoint's first measurement (default 1s; 0 = none)
#   BENCH_CONCURRENCY   connection counts, space separated (default "16 64")
#   BENCH_THREADS       wrk threads (default 2)
#   BENCH_USERS         users seeded (default 200)
#   BENCH_SEED_BILLINGS billings seeded before the runs (default 2000)
#   BENCH_HTTP          0 to skip the wrk tables (default 1; the streamed list has its own setting)
#   BENCH_EVENTS        Customer.Created events per store (default 50000; 0 = no event benchmark)
#   BENCH_EVENTS_SQLITE, BENCH_EVENTS_MONGODB
#                       the same for one store
#   BENCH_EVENT_PARTITIONS partitions of the event topic (default 4, the broker's default)
#   BENCH_EVENT_STALL   seconds without progress before the event benchmark fails (default 120)
#   BENCH_STREAM_BILLINGS billings in the streamed list, GET /billings (default 100000; 0 = no stream row)
#   BENCH_STREAM_FETCHES timed fetches of the whole list, after the checked one (default 3)
#   BENCH_MONGO_STANDALONE 1 to start secantusd-rs with --standalone (no replica set, so the
#                       service runs without transactions); default: a single-node replica set
#   BENCH_PORT          port for the service (default 0: the service picks a free one)
#   HTTP_WORKERS        the service's HTTP workers (default 2: it shares 2 cores with wrk)
#   BENCH_SKIP_BUILD    1 to use the existing target/release/billing as is
#   BENCH_KEEP          1 to keep the temporary directory (databases, logs, raw wrk output)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

DURATION="${BENCH_DURATION:-10s}"
[[ "$DURATION" =~ ^[0-9]+$ ]] && DURATION="${DURATION}s"
WARMUP="${BENCH_WARMUP:-1s}"
[[ "$WARMUP" =~ ^[0-9]+$ ]] && WARMUP="${WARMUP}s"
CONCURRENCY="${BENCH_CONCURRENCY:-16 64}"
THREADS="${BENCH_THREADS:-2}"
USERS="${BENCH_USERS:-200}"
SEED_BILLINGS="${BENCH_SEED_BILLINGS:-2000}"
PORT_WANTED="${BENCH_PORT:-0}"
WORKERS="${HTTP_WORKERS:-2}"
STORES="${BENCH_STORES:-sqlite mongodb}"
RUN_HTTP="${BENCH_HTTP:-1}"
EVENTS="${BENCH_EVENTS:-50000}"
EVENT_PARTITIONS="${BENCH_EVENT_PARTITIONS:-4}"
EVENT_STALL="${BENCH_EVENT_STALL:-120}"
STREAM_BILLINGS="${BENCH_STREAM_BILLINGS:-100000}"
STREAM_FETCHES="${BENCH_STREAM_FETCHES:-3}"
MONGO_STANDALONE="${BENCH_MONGO_STANDALONE:-0}"

# shellcheck source=bench/common.sh
source "$ROOT/scripts/bench/common.sh"
# shellcheck source=bench/servers.sh
source "$ROOT/scripts/bench/servers.sh"
# shellcheck source=bench/http.sh
source "$ROOT/scripts/bench/http.sh"
# shellcheck source=bench/stream.sh
source "$ROOT/scripts/bench/stream.sh"
# shellcheck source=bench/events.sh
source "$ROOT/scripts/bench/events.sh"

# events_for STORE: BENCH_EVENTS_<STORE> when set, else BENCH_EVENTS.
events_for() {
    local var="BENCH_EVENTS_${1^^}"
    local n="${!var:-$EVENTS}"
    [[ "$n" =~ ^[0-9]+$ ]] || die "$var / BENCH_EVENTS must be a number, not '$n'"
    echo "$n"
}

for store in $STORES; do
    case "$store" in sqlite | mongodb) ;; *) die "unknown store '$store' in BENCH_STORES (sqlite, mongodb)" ;; esac
    events_for "$store" >/dev/null
done
[[ "$STREAM_BILLINGS" =~ ^[0-9]+$ ]] || die "BENCH_STREAM_BILLINGS must be a number, not '$STREAM_BILLINGS'"
if ! [[ "$STREAM_FETCHES" =~ ^[0-9]+$ ]] || ((STREAM_FETCHES < 1)); then
    die "BENCH_STREAM_FETCHES must be a number of at least 1, not '$STREAM_FETCHES'"
fi
[[ "$MONGO_STANDALONE" == 0 || "$MONGO_STANDALONE" == 1 ]] ||
    die "BENCH_MONGO_STANDALONE must be 0 or 1, not '$MONGO_STANDALONE'"

# --- tools and build -------------------------------------------------------------------------

cd "$ROOT"
ensure_http_tools
# The MongoDB server first: the longest step when it is missing, and a reason to stop early.
if [[ " $STORES " == *" mongodb "* ]]; then
    ensure_test_services
    ensure_secantusd_rs
    ensure_pymongo
fi
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    log "building the release binary (cargo build --release -p telecomx-billing)"
    cargo build --release -p telecomx-billing >&2
fi
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/billing"
[[ -x "$BIN" ]] || die "no binary at $BIN"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/billing-bench.XXXXXX")"
cleanup() {
    local rc=$?
    stop_all
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

FAILURES=()
NOTES=()

# --- the machine -----------------------------------------------------------------------------

CPU_MODEL="$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n1)"
[[ -n "$CPU_MODEL" ]] || CPU_MODEL="$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)"
FS_TYPE="$(df -PT "$WORK" 2>/dev/null | awk 'NR == 2 { print $2 }')"
CPU_EXTRA="$(awk -F': *' '/^cpu family/ && !f { f = $2 } /^model[[:space:]]*:/ && !m { m = $2 } END { if (f != "") printf " (family %s, model %s)", f, m }' /proc/cpuinfo 2>/dev/null || true)"
VIRT="$(systemd-detect-virt 2>/dev/null || lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor:[[:space:]]*//p' || true)"
# How fast this disk makes a small write durable: what bounds a commit, grouped or not.
SYNCS="$(cd "$WORK" && LC_ALL=C dd if=/dev/zero of=fsync-probe bs=4k count=200 oflag=dsync 2>&1 |
    awk '/copied/ { for (i = 1; i <= NF; i++) if ($i ~ /^s,?$/) t = $(i - 1); if (t > 0) printf "%.0f", 200 / t }' || true)"
rm -f "$WORK/fsync-probe"
# Other processes' CPU use skews the figures on a small machine: said next to them.
LOAD="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"

# --- run -------------------------------------------------------------------------------------

if [[ "$RUN_HTTP" != 0 ]]; then
    for store in $STORES; do http_bench "$store"; done
fi
if ((STREAM_BILLINGS > 0)); then
    for store in $STORES; do stream_bench "$store"; done
fi
for store in $STORES; do
    n="$(events_for "$store")"
    if ((n > 0)); then events_bench "$store" "$n"; fi
done

# --- report ----------------------------------------------------------------------------------

echo
echo "Machine: nproc=$(nproc), CPU: ${CPU_MODEL:-unknown}${CPU_EXTRA}${VIRT:+, virt: $VIRT}; $(uname -sr); load average before the runs: ${LOAD:-?}; wrk $(wrk -v 2>&1 | head -n1 | awk '{print $2}') -t$THREADS, service HTTP_WORKERS=$WORKERS (sharing the cores)"
WARMUP_TEXT="no warm-up"
[[ "$WARMUP" == 0s ]] || WARMUP_TEXT="after a ${WARMUP} warm-up per endpoint"
if [[ "$RUN_HTTP" != 0 ]]; then
    echo "HTTP runs: wrk -t$THREADS -cN -d${DURATION} each (${WARMUP_TEXT}); requests/s counts only the expected status (200; 201 for POST); CPU µs/req = the process's utime+stime during the run / the successful requests (clock tick $((1000000 / CLK_TCK)) µs); DB ops/req = the MongoDB server's serverStatus opcounters (all six kinds) during the run / the successful requests ('-' on SQLite, which has no server)"
    for store in $STORES; do
        echo
        cat "$WORK/http-$store.md"
    done
fi
if ((${#STREAM_ROWS[@]})); then
    echo
    echo "### The streamed list: GET /billings"
    echo
    echo "Each store: $USERS users and $STREAM_BILLINGS billings, then a fresh service process (HTTP_WORKERS=$WORKERS); GET /billings fetched once into a file and checked (a JSON array of exactly $STREAM_BILLINGS billings, increasing _id, distinct billingIds), then $STREAM_FETCHES times to /dev/null one after the other with curl; seconds and MB/s (10^6 bytes) over those; CPU and DB ops per full list over those (\`command\` there is mostly the driver's monitoring, a \`hello\` every 10 s or so per monitoring connection: it grows with the seconds a list takes, not with the list); peak RSS = the service's VmHWM after all the fetches, limit $STREAM_RSS_LIMIT_MIB MiB."
    echo
    echo "| store | billings | body MB | timed fetches | seconds per full list | MB/s | service CPU ms/list | DB server CPU ms/list | DB ops/req | service peak RSS MiB | under $STREAM_RSS_LIMIT_MIB MiB |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    printf '%s\n' "${STREAM_ROWS[@]}"
    echo
    for n in "${STREAM_NOTES[@]}"; do echo "- $n"; done
fi
if ((${#EVENT_ROWS[@]})); then
    echo
    echo "### Customer events from Kafka"
    echo
    echo "Each store: N Customer.Created events (distinct userIds, key = userId) produced beforehand to a fresh $EVENT_PARTITIONS-partition topic on Tansu (in-memory), then the service started over a fresh store with a fresh group (session 6000 ms, max.poll 7000 ms, heartbeat 1000 ms); seconds = from the consumer's start (its log line) until /metrics counts N applied. CPU and DB ops (the MongoDB server's opcounters) per event over the same interval; peak RSS = the service's VmHWM at the end."
    echo
    echo "| store | events | seconds | events/s | service CPU µs/event | DB CPU µs/event | DB ops/event | service peak RSS MiB |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf '%s\n' "${EVENT_ROWS[@]}"
    echo
    for n in "${EVENT_NOTES[@]}"; do echo "- $n"; done
fi
for n in "${NOTES[@]}"; do echo "Note: $n"; done
if ((${#FAILURES[@]})); then
    echo
    for f in "${FAILURES[@]}"; do echo "FAIL: $f"; done
    die "${#FAILURES[@]} check(s) failed (see above)"
fi
