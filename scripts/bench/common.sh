# Shared helpers for scripts/bench.sh: logging, tool installation, background processes and
# their CPU time. Sourced, not run.

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
    printf '[bench] FAIL: %s\n' "$*" >&2
    exit 1
}

now() { date +%s.%N; }

# elapsed START [END]: seconds between two `now` values, 3 decimals.
elapsed() { awk -v s="$1" -v e="${2:-$(now)}" 'BEGIN { printf "%.3f", e - s }'; }

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

ensure_http_tools() {
    local missing=()
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    if ((${#missing[@]})); then
        log "installing ${missing[*]} (apt-get)"
        apt_install "${missing[@]}"
    fi
    command -v wrk >/dev/null 2>&1 || die "wrk is not installed and could not be installed"
    command -v curl >/dev/null 2>&1 || die "curl is not installed and could not be installed"
}

# The MongoDB-wire server and the Kafka-wire broker come from scripts/test-services.sh's
# virtualenv (installed on first use); the producer needs confluent-kafka in it too.
ensure_test_services() {
    [[ -n "${TEST_SERVICES_READY:-}" ]] && return 0
    # shellcheck source=../test-services.sh
    source "$ROOT/scripts/test-services.sh"
    install_test_services >&2 || die "could not install the test servers (scripts/test-services.sh)"
    TEST_SERVICES_READY=1
}

ensure_producer() {
    ensure_test_services
    local py="$TEST_SERVICES_VENV/bin/python"
    "$py" -c 'import confluent_kafka' 2>/dev/null && return 0
    log "installing confluent-kafka into $TEST_SERVICES_VENV"
    "$TEST_SERVICES_VENV/bin/pip" install --quiet --disable-pip-version-check confluent-kafka >&2 ||
        die "could not install confluent-kafka into $TEST_SERVICES_VENV"
    "$py" -c 'import confluent_kafka' 2>/dev/null || die "confluent-kafka installed but not importable"
}

# --- background processes --------------------------------------------------------------------

# Every process the benchmark starts, stopped by the EXIT trap if still running.
BG_PIDS=()

# stop_pid PID [NAME]: SIGTERM, up to 5 s to exit, then SIGKILL. Only our own children.
stop_pid() {
    local pid=$1
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# track_pid PID: stopped by the EXIT trap unless stopped before (stop_tracked).
track_pid() { BG_PIDS+=("$1"); }

# stop_tracked PID: stops it now and forgets it (a pid is not signalled after its process is
# gone: the number may belong to someone else by then).
stop_tracked() {
    stop_pid "$1"
    forget_pid "$1"
}

# forget_pid PID: no longer stopped by the EXIT trap (it has exited and been waited for).
forget_pid() {
    local kept=() p
    for p in "${BG_PIDS[@]}"; do [[ "$p" == "$1" ]] || kept+=("$p"); done
    BG_PIDS=("${kept[@]}")
}

# Last started, first stopped: the service before the servers it talks to.
stop_all() {
    local i
    for ((i = ${#BG_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${BG_PIDS[i]}"; done
    BG_PIDS=()
}

# wait_until NAME SECONDS PID LOG COMMAND...: polls COMMAND every 0.1 s until it succeeds; fails
# loudly, with the end of LOG, when PID exits or SECONDS pass.
wait_until() {
    local name=$1 seconds=$2 pid=$3 logfile=$4
    shift 4
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 40 "$logfile" >&2 2>/dev/null || true
            die "$name exited during startup (end of $logfile above)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 40 "$logfile" >&2 2>/dev/null || true
            die "$name did not become ready within ${seconds}s (end of $logfile above)"
        fi
        sleep 0.1
    done
}

# --- CPU time --------------------------------------------------------------------------------

CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"

# cpu_ticks PID: utime+stime of PID and of every live descendant, plus the reaped children
# already accounted in PID's cutime+cstime; clock ticks. Empty PID: prints nothing.
cpu_ticks() {
    [[ -n "${1:-}" ]] || return 0
    # One line per process; those that exit meanwhile are skipped (cat's errors dropped).
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
        {
            # Fields after "pid (comm) ": comm may hold spaces and parentheses.
            close_paren = 0
            for (i = length($0); i > 0; i--) if (substr($0, i, 1) == ")") { close_paren = i; break }
            pid = $1
            n = split(substr($0, close_paren + 2), f, " ")
            parent[pid] = f[2]
            own[pid] = f[12] + f[13]
            reaped[pid] = f[14] + f[15]
        }
        END {
            if (!(root in own)) exit
            total = own[root] + reaped[root]
            for (p in own) {
                q = parent[p]
                while (q != "" && q != 0 && q != root && (q in parent)) q = parent[q]
                if (q == root && p != root) total += own[p]
            }
            print total
        }'
}

# cpu_us_per BEFORE AFTER COUNT: CPU microseconds per unit, or "-" when not measured.
cpu_us_per() {
    [[ -n "$1" && -n "$2" && "${3:-0}" -gt 0 ]] || {
        echo "-"
        return 0
    }
    awk -v a="$1" -v b="$2" -v n="$3" -v hz="$CLK_TCK" 'BEGIN { printf "%.0f", (b - a) * 1e6 / hz / n }'
}
