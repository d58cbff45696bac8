# The streamed list on one store: GET /billings (the previous service's route: every billing in
# insertion order, written a page at a time) over $STREAM_BILLINGS billings, fetched whole a few
# times in a row by one client, with the peak memory of a service process started for this row
# alone. Sourced by scripts/bench.sh, after common.sh, servers.sh and http.sh.
#
# Results go to STREAM_ROWS, STREAM_NOTES, FAILURES and NOTES.

STREAM_ROWS=()
STREAM_NOTES=()
# The service's peak RSS while it streams the whole list must stay under this.
STREAM_RSS_LIMIT_MIB=64

# stream_seed_sqlite DIR DB: $USERS users and $STREAM_BILLINGS billings in the SQLite file DB,
# through the service's own API, by a service process of their own (stopped after). wrk makes
# the bulk of the POSTs; it stops a little short (the POSTs in flight when it stops may or may
# not land), and curl makes the rest, counted from the store.
stream_seed_sqlite() {
    local dir=$1 db=$2
    mkdir -p "$(dirname "$db")"
    start_service "stream-sqlite-seed" "" DATABASE_PATH="$db"
    seed_users "$dir" stream-user
    local conns=$((THREADS * 16)) bulk out="$dir/wrk-seed.txt"
    bulk=$((STREAM_BILLINGS - 2 * conns))
    if ((bulk > 0)); then
        # wrk runs for its whole -d even when every thread has stopped: each thread says when
        # it is done (a file), and SIGINT then ends wrk, which prints its result.
        local done_prefix="$dir/wrk-seed.done" wrk_pid wrk_rc=0 deadline=$((SECONDS + 600))
        rm -f "$done_prefix".*
        wrk -t"$THREADS" -c"$conns" -d900s --timeout 10s -s "$ROOT/scripts/bench/seed.lua" \
            "$BASE/api/billings" -- "$bulk" "$THREADS" "$dir/users.txt" "$done_prefix" >"$out" 2>&1 &
        wrk_pid=$!
        track_pid "$wrk_pid"
        until (($(find "$dir" -maxdepth 1 -name 'wrk-seed.done.*' | wc -l) >= THREADS)); do
            kill -0 "$wrk_pid" 2>/dev/null || break
            ((SECONDS < deadline)) || {
                stop_tracked "$wrk_pid"
                die "sqlite stream: seeding $bulk billings with wrk took over 600 s"
            }
            sleep 0.2
        done
        kill -INT "$wrk_pid" 2>/dev/null || true
        wait "$wrk_pid" || wrk_rc=$?
        forget_pid "$wrk_pid"
        ((wrk_rc == 0)) || {
            cat "$out" >&2
            die "sqlite stream: wrk failed while seeding billings (exit $wrk_rc)"
        }
        local result failed
        result="$(grep '^SEED_RESULT ' "$out" || true)"
        [[ -n "$result" ]] || {
            cat "$out" >&2
            die "sqlite stream: wrk printed no result while seeding billings"
        }
        failed=$(field failed "$result")
        ((failed == 0)) ||
            die "sqlite stream: $failed seeding POSTs were not answered 201, e.g. $(sed -n 's/^SEED_SAMPLE //p' "$out" | head -n1)"
        sleep 0.5 # the POSTs in flight when wrk stopped
    fi
    local stored rest
    stored=$(total_count "/api/billings?limit=1&page=1")
    [[ -n "$stored" ]] || die "sqlite stream: no X-Total-Count after seeding"
    ((stored <= STREAM_BILLINGS)) || die "sqlite stream: seeding overshot: $stored billings stored, $STREAM_BILLINGS wanted"
    rest=$((STREAM_BILLINGS - stored))
    if ((rest > 0)); then
        local users=()
        mapfile -t users <"$dir/users.txt"
        {
            for i in $(seq 1 "$rest"); do
                ((i == 1)) || echo next
                printf 'url = "%s/api/billings"\n' "$BASE"
                printf 'header = "Content-Type: application/json"\n'
                printf 'data = "{\\"userId\\":\\"%s\\",\\"dueDate\\":\\"2025-11-%02d\\",\\"serviceId\\":\\"%d\\",\\"totalInvoice\\":%d}"\n' \
                    "${users[$((i % ${#users[@]}))]}" $((i % 28 + 1)) $((i % 5 + 1)) $((100000 + i * 250))
                printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
            done
        } >"$dir/billings.curl"
        run_curl_config "$dir/billings.curl" 201 "the streamed list's last $rest billings"
    fi
    stored=$(total_count "/api/billings?limit=1&page=1")
    [[ "$stored" == "$STREAM_BILLINGS" ]] ||
        die "sqlite stream: seeded $STREAM_BILLINGS billings but the store holds ${stored:-?}"
    STREAM_SEEDED_BY="POST /api/billings (wrk -c$conns, then curl for the last $rest), by a service process of its own"
    stop_service
}

# stream_seed_mongodb URI: $USERS users and $STREAM_BILLINGS billings inserted directly, shaped as
# the previous Node/Mongoose service wrote them (scripts/bench/mongo.py seed).
stream_seed_mongodb() {
    local out
    out="$("$TEST_SERVICES_VENV/bin/python" "$ROOT/scripts/bench/mongo.py" seed --uri "$1" \
        --users "$USERS" --billings "$STREAM_BILLINGS" --prefix stream-user)" ||
        die "mongodb stream: seeding the billings with pymongo failed"
    STREAM_SEEDED_BY="Mongoose-shaped documents inserted directly with pymongo $PYMONGO_VERSION (insert_many, 1,000 a batch) before the service started"
    log "mongodb stream: $out"
}

# fetch_list OUT: GET /billings into OUT; sets FETCH (curl's "status bytes seconds") and
# FETCH_RC (curl's exit code: 18 = the body was cut short).
fetch_list() {
    FETCH_RC=0
    FETCH="$(curl -sS --max-time 900 -o "$1" -w '%{http_code} %{size_download} %{time_total}' \
        "$BASE/billings" 2>>"$WORK/stream-$STORE_NAME/curl.err")" || FETCH_RC=$?
}

# stream_bench STORE
stream_bench() {
    STORE_NAME=$1
    local dir="$WORK/stream-$STORE_NAME" uri="" db_pid="" start
    mkdir -p "$dir"
    start=$(now)
    case "$STORE_NAME" in
    sqlite)
        stream_seed_sqlite "$dir" "$dir/data/billing.db"
        ;;
    mongodb)
        start_mongo_server "stream-$STORE_NAME"
        db_pid=$MONGO_PID
        uri="$(mongo_uri bench_stream)"
        stream_seed_mongodb "$uri"
        ;;
    *) die "unknown store '$STORE_NAME' in BENCH_STORES (sqlite, mongodb)" ;;
    esac
    local seed_secs
    seed_secs=$(elapsed "$start")
    log "$STORE_NAME stream: seeded $STREAM_BILLINGS billings in ${seed_secs}s"

    # A fresh service process (the SQLite one on the seeded file): its peak memory is this row's.
    start_service "stream-$STORE_NAME" "$uri" DATABASE_PATH="$dir/data/billing.db"
    [[ "$STORE_SEEN" == "$STORE_NAME" ]] ||
        die "asked for the $STORE_NAME store, the service says it runs on '${STORE_SEEN:-?}'"
    local rss_start
    rss_start=$(peak_rss_mib "$SERVICE_PID")

    # Once, kept and checked: a JSON array of exactly every billing, in _id order.
    log "$STORE_NAME  GET /billings  (checked fetch, $STREAM_BILLINGS billings)"
    local code bytes secs checked="" ok=1
    fetch_list "$dir/list.json"
    read -r code bytes secs <<<"$FETCH"
    if [[ "$FETCH_RC" != 0 || "$code" != 200 ]]; then
        FAILURES+=("$STORE_NAME, GET /billings: status ${code:-?}, curl exit $FETCH_RC after ${bytes:-?} bytes ($(tail -n1 "$dir/curl.err" 2>/dev/null))")
        ok=0
    elif ! checked="$(python3 "$ROOT/scripts/bench/mongo.py" check-list "$dir/list.json" "$STREAM_BILLINGS" 2>"$dir/check.err")"; then
        FAILURES+=("$STORE_NAME, GET /billings: the body is not the $STREAM_BILLINGS billings in _id order: $(head -c 400 "$dir/check.err")")
        ok=0
    fi
    [[ "${BENCH_KEEP:-0}" == 1 ]] || rm -f "$dir/list.json"
    local size=$bytes

    # Then timed, to /dev/null, one after the other.
    local svc0 db0 ops0 svc1 db1 ops1 total=0 min="" max="" i
    ops0=$(mongo_ops)
    svc0=$(cpu_ticks "$SERVICE_PID")
    db0=$(cpu_ticks "$db_pid")
    for i in $(seq 1 "$STREAM_FETCHES"); do
        log "$STORE_NAME  GET /billings  (timed fetch $i of $STREAM_FETCHES)"
        fetch_list /dev/null
        read -r code bytes secs <<<"$FETCH"
        if [[ "$FETCH_RC" != 0 || "$code" != 200 || "$bytes" != "$size" ]]; then
            FAILURES+=("$STORE_NAME, GET /billings fetch $i: status ${code:-?}, curl exit $FETCH_RC, $bytes bytes (the checked fetch had $size)")
            ok=0
        fi
        total=$(awk -v t="$total" -v s="$secs" 'BEGIN { printf "%.6f", t + s }')
        min=$(awk -v m="$min" -v s="$secs" 'BEGIN { print (m == "" || s < m) ? s : m }')
        max=$(awk -v m="$max" -v s="$secs" 'BEGIN { print (m == "" || s > m) ? s : m }')
    done
    svc1=$(cpu_ticks "$SERVICE_PID")
    db1=$(cpu_ticks "$db_pid")
    ops1=$(mongo_ops)
    local peak
    peak=$(peak_rss_mib "$SERVICE_PID")
    stop_service
    stop_mongo_server

    local per mbs svc_ms db_ms under
    per=$(awk -v t="$total" -v n="$STREAM_FETCHES" 'BEGIN { printf "%.3f", t / n }')
    mbs=$(awk -v b="$size" -v t="$total" -v n="$STREAM_FETCHES" 'BEGIN { printf "%.1f", (t > 0 ? b * n / t / 1e6 : 0) }')
    svc_ms=$(cpu_us_per "$svc0" "$svc1" "$STREAM_FETCHES")
    db_ms=$(cpu_us_per "$db0" "$db1" "$STREAM_FETCHES")
    [[ "$svc_ms" == - ]] || svc_ms=$((svc_ms / 1000))
    [[ "$db_ms" == - ]] || db_ms=$((db_ms / 1000))
    ops_per "$STORE_NAME GET /billings x$STREAM_FETCHES" "$ops0" "$ops1" "$STREAM_FETCHES"
    if [[ "$peak" == "?" ]]; then
        under="unknown"
        FAILURES+=("$STORE_NAME, GET /billings: could not read the service's VmHWM")
    elif awk -v p="$peak" -v l="$STREAM_RSS_LIMIT_MIB" 'BEGIN { exit !(p < l) }'; then
        under="yes"
    else
        under="**no**"
        FAILURES+=("$STORE_NAME, GET /billings over $STREAM_BILLINGS billings: the service's peak RSS was $peak MiB, not under $STREAM_RSS_LIMIT_MIB MiB")
    fi
    ((ok)) || under="$under (the list failed)"
    STREAM_ROWS+=("$(awk -v s="$STORE_NAME" -v n="$STREAM_BILLINGS" -v b="$size" -v f="$STREAM_FETCHES" -v p="$per" -v m="$mbs" \
        -v c="$svc_ms" -v d="$db_ms" -v o="$OPS_TOTAL" -v r="$peak" -v u="$under" \
        'BEGIN { printf "| %s | %d | %.1f | %d | %s | %s | %s | %s | %s | %s | %s |", s, n, b / 1e6, f, p, m, c, d, o, r, u }')")
    STREAM_NOTES+=("$STORE_NAME: seeded in ${seed_secs}s by $STREAM_SEEDED_BY; checked fetch: ${checked:-failed}; timed fetches $(printf '%.2f-%.2f' "$min" "$max") s; service peak RSS ${rss_start} MiB after startup, $peak MiB after the fetches${OPS_KINDS:+; DB ops per full list by kind: $OPS_KINDS}")
}
