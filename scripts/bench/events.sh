# The event benchmark on one store: N `Customer.Created` events produced to a fresh topic on the
# Kafka-wire broker, then the service started with a fresh group over a fresh store, and timed
# from its consumer's start until all N are applied, with the CPU time and (MongoDB) the database
# operations per event and the service's peak memory. Sourced by scripts/bench.sh, after
# common.sh, servers.sh and http.sh.
#
# Results go to EVENT_ROWS, EVENT_NOTES, FAILURES and NOTES.

EVENT_ROWS=()
EVENT_NOTES=()

# kafka_counts: "APPLIED OTHER" from /metrics, the Kafka consumer's events applied and those
# with any other outcome (duplicate, skipped, dead-lettered, ...).
kafka_counts() {
    curl -fsS "$BASE/metrics" 2>/dev/null | awk '
        /^billing_events_total\{/ && /source="kafka"/ {
            if ($0 ~ /outcome="applied"/) a += $NF; else o += $NF
        }
        END { printf "%d %d\n", a, o }'
}

# kafka_outcomes: every Kafka outcome with its count, for messages.
kafka_outcomes() {
    curl -fsS "$BASE/metrics" 2>/dev/null | awk '
        /^billing_events_total\{/ && /source="kafka"/ {
            match($0, /outcome="[^"]*"/); o = substr($0, RSTART + 9, RLENGTH - 10); s[o] += $NF
        }
        END { for (o in s) printf "%s=%d ", o, s[o] }'
}

# log_epoch PATTERN: the time (epoch seconds) of the service log's first line matching PATTERN,
# from its RFC 3339 timestamp; nothing when absent.
log_epoch() {
    local stamp
    stamp="$(service_log | grep -m1 -- "$1" | awk '{ print $1 }')"
    [[ -n "$stamp" ]] && date -u -d "$stamp" +%s.%N 2>/dev/null || true
}

# events_bench STORE COUNT
events_bench() {
    local store=$1 count=$2
    local name="events-$store" tag
    tag="$(date +%s)-$$"
    local topic="bench-customers-$store-$tag" group="bench-billing-$store-$tag"
    start_kafka_broker
    ensure_producer
    create_topic "$topic" "$EVENT_PARTITIONS"

    log "$store: producing $count Customer.Created events to $topic ($EVENT_PARTITIONS partitions)"
    local produced
    produced="$("$TEST_SERVICES_VENV/bin/python" "$ROOT/scripts/bench/produce.py" \
        --brokers "127.0.0.1:$KAFKA_PORT" --topic "$topic" --count "$count" --prefix "bench-$store")" ||
        die "$store: producing the events failed"
    local produce_secs
    produce_secs="$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$produced")"
    log "$store: produced $count events in ${produce_secs}s"

    local uri="" db_pid=""
    if [[ "$store" == mongodb ]]; then
        start_mongo_server "$name"
        uri="$(mongo_uri bench_events)"
        db_pid=$MONGO_PID
    fi
    # The short group timeouts the test broker needs (../shared/test-services.md).
    start_service "$name" "$uri" KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" KAFKA_TOPIC="$topic" \
        KAFKA_GROUP_ID="$group" KAFKA_DLQ_TOPIC="$topic.dlq" KAFKA_SESSION_TIMEOUT_MS=6000 \
        KAFKA_MAX_POLL_INTERVAL_MS=7000 KAFKA_HEARTBEAT_INTERVAL_MS=1000
    [[ "$STORE_SEEN" == "$store" ]] || die "asked for the $store store, the service says '${STORE_SEEN:-?}'"

    # The clock starts when the consumer starts: it has reached the brokers and subscribed
    # (its log line), then joins the group and fetches. CPU is sampled from that moment too.
    local t0="" deadline=$((SECONDS + 60))
    until t0="$(log_epoch 'consuming customer events')" && [[ -n "$t0" ]]; do
        kill -0 "$SERVICE_PID" 2>/dev/null || {
            service_log >&2
            die "$store: the service exited before its consumer started (log above)"
        }
        ((SECONDS < deadline)) || {
            service_log >&2
            die "$store: the consumer did not start within 60 s (log above)"
        }
        sleep 0.05
    done
    local svc0 db0 kafka0 counts applied0 ops0
    ops0=$(mongo_ops)
    svc0=$(cpu_ticks "$SERVICE_PID")
    db0=$(cpu_ticks "$db_pid")
    kafka0=$(cpu_ticks "$KAFKA_PID")
    counts="$(kafka_counts)"
    applied0=${counts%% *}

    # Until every event is applied; fails when nothing moves for $EVENT_STALL seconds.
    local applied=0 other=0 last=-1 progress=$SECONDS t_first="" applied_first=0 t_end
    while :; do
        counts="$(kafka_counts)"
        applied=${counts%% *}
        other=${counts##* }
        if [[ -z "$t_first" && "$applied" -gt 0 ]]; then
            t_first=$(now)
            applied_first=$applied
        fi
        ((applied >= count)) && break
        if ((applied + other != last)); then
            last=$((applied + other))
            progress=$SECONDS
        fi
        kill -0 "$SERVICE_PID" 2>/dev/null || {
            service_log | tail -n 40 >&2
            die "$store: the service exited after $applied of $count events (end of log above)"
        }
        if ((applied + other >= count)); then
            FAILURES+=("$store events: $count consumed but only $applied applied ($(kafka_outcomes))")
            break
        fi
        ((SECONDS - progress < EVENT_STALL)) || {
            service_log | tail -n 40 >&2
            die "$store: stuck at $applied of $count events applied for ${EVENT_STALL}s ($(kafka_outcomes); end of log above)"
        }
        sleep 0.1
    done
    t_end=$(now)
    local svc1 db1 kafka1 ops1
    svc1=$(cpu_ticks "$SERVICE_PID")
    db1=$(cpu_ticks "$db_pid")
    kafka1=$(cpu_ticks "$KAFKA_PID")
    ops1=$(mongo_ops)

    # What the events did: one user and one initial billing each.
    local users billings
    users=$(total_count "/api/users?limit=1&page=1" || true)
    billings=$(total_count "/api/billings?limit=1&page=1" || true)
    [[ "$users" == "$count" ]] || FAILURES+=("$store events: $count Customer.Created applied but the API lists ${users:-?} users")
    [[ "$billings" == "$count" ]] || FAILURES+=("$store events: $count Customer.Created applied but the API lists ${billings:-?} billings")

    local svc_peak
    svc_peak=$(peak_rss_mib "$SERVICE_PID")
    stop_service
    stop_mongo_server

    # Events applied before the CPU baseline was taken are not in the CPU figures.
    local measured=$((count - applied0))
    ((applied0 == 0)) || EVENT_NOTES+=("$store: $applied0 events were already applied when CPU was first sampled; CPU per event is over the other $measured")
    local secs rate svc_us db_us kafka_us
    secs=$(elapsed "$t0" "$t_end")
    rate=$(awk -v n="$count" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
    svc_us=$(cpu_us_per "$svc0" "$svc1" "$measured")
    db_us=$(cpu_us_per "$db0" "$db1" "$measured")
    kafka_us=$(cpu_us_per "$kafka0" "$kafka1" "$measured")
    ops_per "$store events" "$ops0" "$ops1" "$measured"
    [[ "$OPS_TOTAL" == - ]] || EVENT_NOTES+=("$store: DB ops/event by kind (serverStatus opcounters over the same interval, less the reading's own): $OPS_KINDS")
    EVENT_ROWS+=("$(printf '| %s | %d | %.1f | %d | %s | %s | %s | %s |' "$store" "$count" "$secs" "$rate" "$svc_us" "$db_us" "$OPS_TOTAL" "$svc_peak")")
    # The rate once events flow: after the first poll that saw some applied (the group join, the
    # first fetch and the first batch before it), when there were more to come.
    local join flowing="all in the first batch(es) seen"
    join=$(elapsed "$t0" "${t_first:-$t_end}")
    if [[ -n "$t_first" ]] && ((applied_first < count)); then
        flowing="$(awk -v n="$((count - applied_first))" -v s="$t_first" -v e="$t_end" \
            'BEGIN { printf "%.0f", n / (e - s) }') events/s over the last $((count - applied_first)) events"
    fi
    EVENT_NOTES+=("$store: the first $applied_first events were seen applied ${join}s after the consumer started (group join, first fetch, first batch); then $flowing; the Kafka broker used $kafka_us µs CPU/event; producing took ${produce_secs}s (before the timer); ${users:-?} users and ${billings:-?} billings stored")
}
