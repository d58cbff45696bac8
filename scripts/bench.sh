#!/usr/bin/env bash
# HTTP throughput and latency of the billing service, measured with wrk.
#
#   ./scripts/bench.sh                       # 10 s per run
#   BENCH_DURATION=5 ./scripts/bench.sh
#
# Builds the release binary, starts it on a free loopback port over a fresh SQLite file in a
# temporary directory, seeds users and billings, then for each concurrency measures GET /,
# GET /api/billings/:id, GET /api/billings?limit=50 and POST /api/billings, and prints one
# Markdown table. Only successful responses count towards requests/s; any non-2xx response (and
# any POST answered with anything but 201) makes the script fail after printing the table.
#
# Settings (environment):
#   BENCH_DURATION      duration of each measured run, wrk syntax (default 10s)
#   BENCH_WARMUP        unmeasured run before each endpoint's first measurement (default 1s; 0 = none)
#   BENCH_CONCURRENCY   connection counts, space separated (default "16 64")
#   BENCH_THREADS       wrk threads (default 2)
#   BENCH_USERS         users seeded (default 8)
#   BENCH_SEED_BILLINGS billings seeded before the runs (default 500)
#   BENCH_PORT          port for the service (default 0: the service picks a free one)
#   HTTP_WORKERS        the service's HTTP workers (default 2: it shares 2 cores with wrk)
#   BENCH_SKIP_BUILD    1 to use the existing target/release/billing as is
#   BENCH_KEEP          1 to keep the temporary directory (database, server log, raw wrk output)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LUA="$ROOT/scripts/bench/wrk.lua"

DURATION="${BENCH_DURATION:-10s}"
[[ "$DURATION" =~ ^[0-9]+$ ]] && DURATION="${DURATION}s"
WARMUP="${BENCH_WARMUP:-1s}"
[[ "$WARMUP" =~ ^[0-9]+$ ]] && WARMUP="${WARMUP}s"
CONCURRENCY="${BENCH_CONCURRENCY:-16 64}"
THREADS="${BENCH_THREADS:-2}"
USERS="${BENCH_USERS:-8}"
SEED_BILLINGS="${BENCH_SEED_BILLINGS:-500}"
PORT_WANTED="${BENCH_PORT:-0}"
WORKERS="${HTTP_WORKERS:-2}"

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
    printf '[bench] FAIL: %s\n' "$*" >&2
    exit 1
}

# --- tools -----------------------------------------------------------------------------------

apt_install() {
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    # The package lists may be missing or stale: update once, then try again.
    "${sudo[@]}" apt-get install -y "$@" >/dev/null 2>&1 || {
        "${sudo[@]}" apt-get update >/dev/null
        "${sudo[@]}" apt-get install -y "$@" >/dev/null
    }
}

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if ((${#missing[@]})); then
    log "installing ${missing[*]} (apt-get)"
    apt_install "${missing[@]}"
fi
command -v wrk >/dev/null 2>&1 || die "wrk is not installed and could not be installed"

# --- build -----------------------------------------------------------------------------------

cd "$ROOT"
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    log "building the release binary (cargo build --release -p telecomx-billing)"
    cargo build --release -p telecomx-billing >&2
fi
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/billing"
[[ -x "$BIN" ]] || die "no binary at $BIN"

# --- start the service -----------------------------------------------------------------------

WORK="$(mktemp -d "${TMPDIR:-/tmp}/billing-bench.XXXXXX")"
SERVER_PID=""
cleanup() {
    local rc=$?
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
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

DB="$WORK/data/billing.db"
SERVER_LOG="$WORK/server.log"
# From the repository root: the service reads config/ relative to its working directory.
# MONGODB_URI is emptied so that a .env cannot switch the store; NO_COLOR keeps the log parseable.
PORT="$PORT_WANTED" BIND_ADDRESS=127.0.0.1 HTTP_WORKERS="$WORKERS" DATABASE_PATH="$DB" \
    MONGODB_URI="" NO_COLOR=1 RUST_LOG="${RUST_LOG:-info}" \
    "$BIN" >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

plain_log() { sed -e 's/\x1b\[[0-9;]*m//g' "$SERVER_LOG"; }

PORT=""
for _ in $(seq 300); do
    kill -0 "$SERVER_PID" 2>/dev/null || {
        plain_log >&2
        die "the service exited during startup (log above)"
    }
    if [[ -z "$PORT" ]]; then
        PORT="$(plain_log | sed -n 's/.*billing service listening.*port=\([0-9][0-9]*\).*/\1/p' | head -n1)"
        [[ -z "$PORT" && "$PORT_WANTED" != 0 ]] && PORT="$PORT_WANTED"
    fi
    if [[ -n "$PORT" ]] && curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null; then
        break
    fi
    sleep 0.1
done
[[ -n "$PORT" ]] && curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" ||
    {
        plain_log >&2
        die "the service did not answer GET / within 30 s"
    }
BASE="http://127.0.0.1:$PORT"
STORE="$(plain_log | sed -n 's/.*billing service listening.*store="\{0,1\}\([A-Za-z0-9_-]*\).*/\1/p' | head -n1)"
log "service up at $BASE (pid $SERVER_PID, store ${STORE:-?}, HTTP_WORKERS=$WORKERS)"

# --- seed ------------------------------------------------------------------------------------

# One curl process per batch: the requests in a config file, sent in parallel, statuses counted.
run_curl_config() { # config-file expected-status what
    local statuses
    # Statuses are checked below; curl's own exit code would only hide which ones failed.
    statuses="$(curl -sS --no-progress-meter --parallel --parallel-max 16 --config "$1" 2>"$1.err")" || true
    local total ok
    total="$(grep -c . <<<"$statuses" || true)"
    ok="$(grep -cx "$2" <<<"$statuses" || true)"
    [[ "$ok" == "$total" && "$total" -gt 0 ]] || {
        sort "$1.err" | uniq -c | head >&2
        die "seeding $3: only $ok of $total requests answered $2 (statuses: $(sort <<<"$statuses" | uniq -c | tr '\n' ' '))"
    }
}

SEED_START=$(date +%s.%N)
: >"$WORK/users.txt"
{
    for i in $(seq 1 "$USERS"); do
        ((i == 1)) || echo next
        user="bench-user-$i"
        echo "$user" >>"$WORK/users.txt"
        printf 'url = "%s/api/users"\n' "$BASE"
        printf 'header = "Content-Type: application/json"\n'
        printf 'data = "{\\"userId\\":\\"%s\\",\\"name\\":\\"Bench User %d\\",\\"phone\\":{\\"codeNumber\\":\\"+62\\",\\"phoneNumber\\":81200000%03d}}"\n' \
            "$user" "$i" "$i"
        printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
    done
} >"$WORK/users.curl"
run_curl_config "$WORK/users.curl" 201 "users"

{
    for i in $(seq 1 "$SEED_BILLINGS"); do
        ((i == 1)) || echo next
        user="bench-user-$(((i - 1) % USERS + 1))"
        printf 'url = "%s/api/billings"\n' "$BASE"
        printf 'header = "Content-Type: application/json"\n'
        printf 'data = "{\\"userId\\":\\"%s\\",\\"dueDate\\":\\"2025-10-%02d\\",\\"serviceId\\":\\"%d\\",\\"totalInvoice\\":%d}"\n' \
            "$user" $((i % 28 + 1)) $((i % 5 + 1)) $((100000 + i * 250))
        printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
    done
} >"$WORK/billings.curl"
run_curl_config "$WORK/billings.curl" 201 "billings"

# The ids as the API lists them (500 a page at most).
: >"$WORK/ids.txt"
pages=$(((SEED_BILLINGS + 499) / 500))
for page in $(seq 1 "$pages"); do
    curl -fsS "$BASE/api/billings?limit=500&page=$page" |
        grep -o '"billingId":"[^"]*"' | cut -d'"' -f4 >>"$WORK/ids.txt"
done
ID_COUNT=$(wc -l <"$WORK/ids.txt")
[[ "$ID_COUNT" -eq "$SEED_BILLINGS" ]] || die "seeded $SEED_BILLINGS billings but the list shows $ID_COUNT"
first_id="$(head -n1 "$WORK/ids.txt")"
curl -fsS -o /dev/null "$BASE/api/billings/$first_id" || die "GET /api/billings/$first_id failed after seeding"
SEED_SECS=$(awk -v s="$SEED_START" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
log "seeded $USERS users and $SEED_BILLINGS billings in ${SEED_SECS}s"

# --- measure ---------------------------------------------------------------------------------

ROWS=()
FAILURES=()
NOTES=()
POST_ACKED=0     # 201s counted by wrk, warm-ups included
POST_INFLIGHT=0  # connections that may have had a POST in flight when wrk stopped
POST_64_RPS=""

field() { sed -n "s/.*[[:space:]]$1=\([0-9][0-9]*\).*/\1/p" <<<"$2" | head -n1; }

# wrk-run name concurrency duration path mode expect [file]; sets RESULT to its BENCH_RESULT line.
wrk_run() {
    local name=$1 conns=$2 duration=$3 path=$4 mode=$5 expect=$6 file=${7:-}
    local out="$WORK/wrk-$(tr -c 'A-Za-z0-9' '_' <<<"$name")-c$conns-$duration.txt"
    wrk -t"$THREADS" -c"$conns" -d"$duration" --timeout 5s --latency -s "$LUA" \
        "$BASE$path" -- "$mode" "$expect" $file >"$out" 2>&1 ||
        {
            cat "$out" >&2
            die "wrk failed for $name at concurrency $conns"
        }
    RESULT="$(grep '^BENCH_RESULT ' "$out" || true)"
    [[ -n "$RESULT" ]] || {
        cat "$out" >&2
        die "wrk printed no result for $name at concurrency $conns"
    }
    SAMPLES="$(sed -n 's/^BENCH_SAMPLE //p' "$out" | head -n2)"
    if [[ "$mode" == post ]]; then
        local n bad
        n=$(field requests "$RESULT")
        bad=$(field unexpected "$RESULT")
        POST_ACKED=$((POST_ACKED + n - bad))
        POST_INFLIGHT=$((POST_INFLIGHT + conns))
    fi
}

measure() { # name path mode expect [file]
    local name=$1 path=$2 mode=$3 expect=$4 file=${5:-}
    if [[ "$WARMUP" != 0s ]]; then
        local top
        top=$(tr ' ' '\n' <<<"$CONCURRENCY" | grep . | sort -n | tail -n1)
        wrk_run "$name" "$top" "$WARMUP" "$path" "$mode" "$expect" "$file"
    fi
    for c in $CONCURRENCY; do
        log "$name  c=$c  ${DURATION}"
        wrk_run "$name" "$c" "$DURATION" "$path" "$mode" "$expect" "$file"
        local n us bad wrong p50 p99 rps
        n=$(field requests "$RESULT")
        us=$(field duration_us "$RESULT")
        bad=$(field non2xx "$RESULT")
        wrong=$(field unexpected "$RESULT")
        p50=$(field p50_us "$RESULT")
        p99=$(field p99_us "$RESULT")
        # Only the responses with the expected status count.
        rps=$(awk -v n="$n" -v w="$wrong" -v us="$us" 'BEGIN { printf "%.0f", (n - w) / (us / 1e6) }')
        ROWS+=("$(awk -v e="$name" -v c="$c" -v r="$rps" -v a="$p50" -v b="$p99" -v x="$bad" \
            'BEGIN { printf "| `%s` | %d | %d | %.2f | %.2f | %d |", e, c, r, a / 1000, b / 1000, x }')")
        local sock
        sock=$(awk -v l="$RESULT" 'BEGIN {
            n = split(l, f, " "); s = ""
            for (i = 1; i <= n; i++) { split(f[i], kv, "="); if (kv[1] ~ /^(connect|read|write|timeout)$/ && kv[2] > 0) s = s " " kv[1] "=" kv[2] }
            print s }')
        [[ -z "$sock" ]] || NOTES+=("$name c=$c: socket errors:$sock")
        if ((wrong > 0)); then
            FAILURES+=("$name c=$c: $wrong of $n responses were not $expect ($bad non-2xx); e.g. $(head -n1 <<<"$SAMPLES")")
        fi
        if [[ "$mode" == post && "$c" == 64 ]]; then POST_64_RPS=$rps; fi
    done
}

measure "GET /" "/" static 200
measure "GET /api/billings/:id" "/api/billings/$first_id" ids 200 "$WORK/ids.txt"
measure "GET /api/billings?limit=50" "/api/billings?limit=50" static 200
# Last: the POSTs grow the table, which the reads above should not see.
measure "POST /api/billings" "/api/billings" post 201 "$WORK/users.txt"

# Every acknowledged POST must be in the store (a few more may have landed after wrk stopped
# counting: those in flight at the end of each run).
sleep 0.5
STORED=$(curl -fsS -D - -o /dev/null "$BASE/api/billings?limit=1" | tr -d '\r' |
    sed -n 's/^[Xx]-[Tt]otal-[Cc]ount: *\([0-9]*\).*/\1/p')
EXPECTED_MIN=$((SEED_BILLINGS + POST_ACKED))
EXPECTED_MAX=$((EXPECTED_MIN + POST_INFLIGHT))
if [[ -z "$STORED" ]]; then
    NOTES+=("could not read X-Total-Count to check the stored billings")
elif ((STORED < EXPECTED_MIN)); then
    FAILURES+=("the store holds $STORED billings, fewer than the $SEED_BILLINGS seeded + $POST_ACKED acknowledged")
elif ((STORED > EXPECTED_MAX)); then
    NOTES+=("the store holds $STORED billings, more than $SEED_BILLINGS seeded + $POST_ACKED acknowledged + $POST_INFLIGHT in flight")
fi

# --- report ----------------------------------------------------------------------------------

CPU_MODEL="$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n1)"
[[ -n "$CPU_MODEL" ]] || CPU_MODEL="$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)"
FS_TYPE="$(df -PT "$WORK" 2>/dev/null | awk 'NR == 2 { print $2 }')"
CPU_EXTRA="$(awk -F': *' '/^cpu family/ && !f { f = $2 } /^model[[:space:]]*:/ && !m { m = $2 } END { if (f != "") printf " (family %s, model %s)", f, m }' /proc/cpuinfo 2>/dev/null || true)"
VIRT="$(systemd-detect-virt 2>/dev/null || lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor:[[:space:]]*//p' || true)"
# How fast this disk makes a small write durable: what bounds a commit, grouped or not.
SYNCS="$(cd "$WORK" && LC_ALL=C dd if=/dev/zero of=fsync-probe bs=4k count=200 oflag=dsync 2>&1 |
    awk '/copied/ { for (i = 1; i <= NF; i++) if ($i ~ /^s,?$/) t = $(i - 1); if (t > 0) printf "%.0f", 200 / t }' || true)"

echo
echo "Machine: nproc=$(nproc), CPU: ${CPU_MODEL:-unknown}${CPU_EXTRA}${VIRT:+, virt: $VIRT}; $(uname -sr); wrk $(wrk -v 2>&1 | head -n1 | awk '{print $2}') -t$THREADS, service HTTP_WORKERS=$WORKERS (sharing the cores)"
echo "Store: ${STORE:-unknown} (embedded, WAL, synchronous=FULL, group commit) at a fresh DATABASE_PATH on ${FS_TYPE:-?} (~${SYNCS:-?} synced 4 KiB writes/s by dd oflag=dsync); seeded $USERS users, $SEED_BILLINGS billings"
WARMUP_TEXT="no warm-up"
[[ "$WARMUP" == 0s ]] || WARMUP_TEXT="after a ${WARMUP} warm-up per endpoint"
echo "Runs: wrk -t$THREADS -cN -d${DURATION} each (${WARMUP_TEXT}); requests/s counts only the expected status (200; 201 for POST)"
echo
echo "| endpoint | concurrency | requests/s | p50 ms | p99 ms | non-2xx |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${ROWS[@]}"
echo
if [[ -n "$STORED" ]]; then
    echo "Store check: $STORED billings stored; $SEED_BILLINGS seeded + $POST_ACKED POSTs acknowledged with 201 (warm-ups included)."
fi
if [[ -n "$POST_64_RPS" ]]; then
    echo "POST /api/billings at concurrency 64: $POST_64_RPS acknowledged/s (target: >= 2000)."
fi
for n in "${NOTES[@]}"; do echo "Note: $n"; done
if ((${#FAILURES[@]})); then
    echo
    for f in "${FAILURES[@]}"; do echo "FAIL: $f"; done
    die "${#FAILURES[@]} run(s) had responses with an unexpected status (see above)"
fi
