# The HTTP benchmark on one store: seed users and billings, then for each concurrency measure
# GET /, GET /api/billings/:id, GET /api/billings?limit=50, a user's billings and POST /api/billings with wrk, with
# the CPU time per request of the service and of the database server, the database operations
# per request (MongoDB) and the service's peak memory. Sourced by scripts/bench.sh, after
# common.sh and servers.sh.
#
# Results go to FAILURES and NOTES (shared with the rest of the script) and to
# $WORK/http-<store>.md (one Markdown table and its notes), printed at the end.

LUA="$ROOT/scripts/bench/wrk.lua"

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

# total_count PATH: the X-Total-Count of a `page` listing.
total_count() {
    curl -fsS -D - -o /dev/null "$BASE$1" | tr -d '\r' |
        sed -n 's/^[Xx]-[Tt]otal-[Cc]ount: *\([0-9]*\).*/\1/p'
}

# seed_users DIR [PREFIX]: $USERS users PREFIX-1.. (default bench-user) through the API;
# their userIds in DIR/users.txt.
seed_users() {
    local dir=$1 prefix=${2:-bench-user}
    : >"$dir/users.txt"
    {
        for i in $(seq 1 "$USERS"); do
            ((i == 1)) || echo next
            user="$prefix-$i"
            echo "$user" >>"$dir/users.txt"
            printf 'url = "%s/api/users"\n' "$BASE"
            printf 'header = "Content-Type: application/json"\n'
            printf 'data = "{\\"userId\\":\\"%s\\",\\"name\\":\\"Bench User %d\\",\\"phone\\":{\\"codeNumber\\":\\"+62\\",\\"phoneNumber\\":81200000%03d}}"\n' \
                "$user" "$i" "$i"
            printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
        done
    } >"$dir/users.curl"
    run_curl_config "$dir/users.curl" 201 "users"
}

# seed DIR: $USERS users and $SEED_BILLINGS billings; DIR/users.txt and DIR/ids.txt for wrk.
seed() {
    local dir=$1 start
    start=$(now)
    seed_users "$dir"

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
    } >"$dir/billings.curl"
    run_curl_config "$dir/billings.curl" 201 "billings"

    # The ids as the API lists them (500 a page at most).
    : >"$dir/ids.txt"
    local pages=$(((SEED_BILLINGS + 499) / 500))
    for page in $(seq 1 "$pages"); do
        curl -fsS "$BASE/api/billings?limit=500&page=$page" |
            grep -o '"billingId":"[^"]*"' | cut -d'"' -f4 >>"$dir/ids.txt"
    done
    local count
    count=$(wc -l <"$dir/ids.txt")
    [[ "$count" -eq "$SEED_BILLINGS" ]] || die "seeded $SEED_BILLINGS billings but the list shows $count"
    FIRST_ID="$(head -n1 "$dir/ids.txt")"
    curl -fsS -o /dev/null "$BASE/api/billings/$FIRST_ID" || die "GET /api/billings/$FIRST_ID failed after seeding"
    log "seeded $USERS users and $SEED_BILLINGS billings in $(elapsed "$start")s"
}

field() { sed -n "s/.*[[:space:]]$1=\([0-9][0-9]*\).*/\1/p" <<<"$2" | head -n1; }

# wrk_run name concurrency duration path mode expect [file]; sets RESULT to its BENCH_RESULT line.
wrk_run() {
    local name=$1 conns=$2 duration=$3 path=$4 mode=$5 expect=$6 file=${7:-}
    local out="$RUN_DIR/wrk-$(tr -c 'A-Za-z0-9' '_' <<<"$name")-c$conns-$duration.txt"
    wrk -t"$THREADS" -c"$conns" -d"$duration" --timeout 5s --latency -s "$LUA" \
        "$BASE$path" -- "$mode" "$expect" $file >"$out" 2>&1 ||
        {
            cat "$out" >&2
            die "wrk failed for $name at concurrency $conns ($STORE_NAME)"
        }
    RESULT="$(grep '^BENCH_RESULT ' "$out" || true)"
    [[ -n "$RESULT" ]] || {
        cat "$out" >&2
        die "wrk printed no result for $name at concurrency $conns ($STORE_NAME)"
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
        log "$STORE_NAME  $name  c=$c  ${DURATION}"
        local svc0 db0 svc1 db1 ops0 ops1
        ops0=$(mongo_ops)
        svc0=$(cpu_ticks "$SERVICE_PID")
        db0=$(cpu_ticks "$DB_PID")
        wrk_run "$name" "$c" "$DURATION" "$path" "$mode" "$expect" "$file"
        svc1=$(cpu_ticks "$SERVICE_PID")
        db1=$(cpu_ticks "$DB_PID")
        ops1=$(mongo_ops)
        local n us bad wrong p50 p99 rps ok
        n=$(field requests "$RESULT")
        us=$(field duration_us "$RESULT")
        bad=$(field non2xx "$RESULT")
        wrong=$(field unexpected "$RESULT")
        p50=$(field p50_us "$RESULT")
        p99=$(field p99_us "$RESULT")
        # Only the responses with the expected status count.
        ok=$((n - wrong))
        rps=$(awk -v n="$ok" -v us="$us" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
        local svc_us db_us
        svc_us=$(cpu_us_per "$svc0" "$svc1" "$ok")
        db_us=$(cpu_us_per "$db0" "$db1" "$ok")
        # Database operations per successful request: the server's opcounters before and after.
        ops_per "$STORE_NAME $name c=$c" "$ops0" "$ops1" "$ok"
        [[ "$OPS_TOTAL" == - ]] || OPS_ROWS+=("\`$name\` c=$c: $OPS_KINDS")
        ROWS+=("$(awk -v e="$name" -v c="$c" -v r="$rps" -v a="$p50" -v b="$p99" -v s="$svc_us" -v d="$db_us" -v o="$OPS_TOTAL" -v x="$bad" \
            'BEGIN { printf "| `%s` | %d | %d | %.2f | %.2f | %s | %s | %s | %d |", e, c, r, a / 1000, b / 1000, s, d, o, x }')")
        local sock
        sock=$(awk -v l="$RESULT" 'BEGIN {
            n = split(l, f, " "); s = ""
            for (i = 1; i <= n; i++) { split(f[i], kv, "="); if (kv[1] ~ /^(connect|read|write|timeout)$/ && kv[2] > 0) s = s " " kv[1] "=" kv[2] }
            print s }')
        [[ -z "$sock" ]] || NOTES+=("$STORE_NAME, $name c=$c: socket errors:$sock")
        if ((wrong > 0)); then
            FAILURES+=("$STORE_NAME, $name c=$c: $wrong of $n responses were not $expect ($bad non-2xx); e.g. $(head -n1 <<<"$SAMPLES")")
        fi
        if [[ "$mode" == post && "$c" == 64 ]]; then
            POST_64_RPS=$rps
            if [[ "$STORE_NAME" == sqlite ]] && ((rps < 2000)); then
                NOTES+=("sqlite: POST /api/billings at concurrency 64 made $rps acknowledged/s, below the 2000/s target")
            fi
        fi
    done
}

# http_bench STORE: the whole HTTP benchmark on sqlite or mongodb.
http_bench() {
    STORE_NAME=$1
    RUN_DIR="$WORK/http-$STORE_NAME"
    mkdir -p "$RUN_DIR"
    ROWS=()
    OPS_ROWS=()
    POST_ACKED=0    # 201s counted by wrk, warm-ups included
    POST_INFLIGHT=0 # connections that may have had a POST in flight when wrk stopped
    POST_64_RPS=""
    local uri="" store_text
    DB_PID=""
    case "$STORE_NAME" in
    sqlite)
        store_text="embedded SQLite (WAL, synchronous=FULL, group commit) at a fresh DATABASE_PATH on ${FS_TYPE:-?} (~${SYNCS:-?} synced 4 KiB writes/s by dd oflag=dsync), in the service's process"
        ;;
    mongodb)
        start_mongo_server "http-$STORE_NAME"
        DB_PID=$MONGO_PID
        uri="$(mongo_uri bench)"
        store_text="MongoDB wire, $MONGO_KIND on 127.0.0.1 (pid $MONGO_PID), MONGODB_URI=$uri"
        ;;
    *) die "unknown store '$STORE_NAME' in BENCH_STORES (sqlite, mongodb)" ;;
    esac
    start_service "http-$STORE_NAME" "$uri"
    [[ "$STORE_SEEN" == "$STORE_NAME" ]] ||
        die "asked for the $STORE_NAME store, the service says it runs on '${STORE_SEEN:-?}'"

    seed "$RUN_DIR"
    measure "GET /" "/" static 200
    measure "GET /api/billings/:id" "/api/billings/$FIRST_ID" ids 200 "$RUN_DIR/ids.txt"
    measure "GET /api/billings?limit=50" "/api/billings?limit=50" static 200
    measure "GET /api/users/:userId/billings?limit=10" "/api/users" users 200 "$RUN_DIR/users.txt"
    # Last: the POSTs grow the collection, which the reads above should not see.
    measure "POST /api/billings" "/api/billings" post 201 "$RUN_DIR/users.txt"

    # Every acknowledged POST must be in the store (a few more may have landed after wrk stopped
    # counting: those in flight at the end of each run).
    sleep 0.5
    local stored expected_min expected_max
    stored=$(total_count "/api/billings?limit=1&page=1" || true)
    expected_min=$((SEED_BILLINGS + POST_ACKED))
    expected_max=$((expected_min + POST_INFLIGHT))
    if [[ -z "$stored" ]]; then
        NOTES+=("$STORE_NAME: could not read X-Total-Count to check the stored billings")
    elif ((stored < expected_min)); then
        FAILURES+=("$STORE_NAME: the store holds $stored billings, fewer than the $SEED_BILLINGS seeded + $POST_ACKED acknowledged")
    elif ((stored > expected_max)); then
        NOTES+=("$STORE_NAME: the store holds $stored billings, more than $SEED_BILLINGS seeded + $POST_ACKED acknowledged + $POST_INFLIGHT in flight")
    fi

    local svc_peak db_peak=""
    svc_peak=$(peak_rss_mib "$SERVICE_PID")
    [[ -z "$DB_PID" ]] || db_peak=$(peak_rss_mib "$DB_PID")
    stop_service
    stop_mongo_server

    {
        echo "### HTTP on $STORE_NAME"
        echo
        echo "Store: $store_text; seeded $USERS users, $SEED_BILLINGS billings."
        echo
        echo "| endpoint | concurrency | requests/s | p50 ms | p99 ms | service CPU µs/req | DB server CPU µs/req | DB ops/req | non-2xx |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        printf '%s\n' "${ROWS[@]}"
        echo
        if ((${#OPS_ROWS[@]})); then
            echo "DB ops/req: the server's serverStatus opcounters (insert, query, update, delete, getmore, command) after the run less before it (and less the reading's own serverStatus), over the successful requests (the requests still in flight when wrk stops, at most one a connection, are in the operations but not in the requests: up to concurrency/requests high; \`command\` includes the driver's monitoring, a \`hello\` every 10 s or so on each of its monitoring connections); by kind:"
            echo
            printf -- '- %s\n' "${OPS_ROWS[@]}"
            echo
        fi
        local db_text=""
        [[ -z "$db_peak" ]] || db_text="; the database server's: $db_peak MiB"
        echo "Service peak RSS (VmHWM) at the end of these runs: $svc_peak MiB$db_text."
        [[ -z "$stored" ]] ||
            echo "Store check: $stored billings stored; $SEED_BILLINGS seeded + $POST_ACKED POSTs acknowledged with 201 (warm-ups included)."
        if [[ -n "$POST_64_RPS" ]]; then
            if [[ "$STORE_NAME" == sqlite ]]; then
                echo "POST /api/billings at concurrency 64: $POST_64_RPS acknowledged/s (target: >= 2000)."
            else
                echo "POST /api/billings at concurrency 64: $POST_64_RPS acknowledged/s."
            fi
        fi
    } >"$WORK/http-$STORE_NAME.md"
}
