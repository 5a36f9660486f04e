#!/usr/bin/env bash
# Throughput and memory of `ferry serve` next to a real redis-server, on this
# machine, in the same run. Prints Markdown ready to paste into
# docs/benchmarks.md (progress goes to stderr). Each row also has each server's
# CPU time per request (user + system from /proc/PID/stat during that run): on a
# busy or noisy machine the CPU ratio is steadier than the throughput ratio.
#
#   bash bench/server.sh                      # defaults below
#   N=50000 PIPELINES=1 bash bench/server.sh  # quicker
#   TESTS=set,get,lpush,lpop bash bench/server.sh
#
# Environment:
#   N            requests per test (default 200000)
#   TESTS        redis-benchmark tests, comma separated (default: the strings and
#                data-type tests listed below)
#   CUSTOM       scripting and stream commands, comma separated, from evalsha
#                (EVALSHA of a GET+INCR script), xadd (XADD to one stream),
#                xrange_10 (XRANGE ... COUNT 10 of a 1000-entry stream);
#                default all three, "" skips them
#   PIPELINES    pipeline depths, space separated (default "1 16")
#   CLIENTS      parallel connections (default 50)
#   KEYSPACE     -r keyspace for random keys (default 100000)
#   DURABILITY   ferry --durability (default everysec, ferry's default)
#   REDIS_SERVE_ARGS  flags added to redis-server's (default none: no persistence);
#                "--appendonly yes --appendfsync everysec" makes the reference as
#                durable as ferry's default (an AOF in TMPDIR, fsynced every second)
#   RSS_KEYS     keys loaded for the memory measurement (default 1000000; 0 skips it)
#   RSS_VALUE    value stored under every key of the memory load (default xxx, 3 bytes
#                like redis-benchmark's default -d 3)
#   SKIP_BUILD=1 do not run cargo; use FERRY_BIN (default $CARGO_TARGET_DIR/release/ferry)
#   RUN_TIMEOUT  seconds before one redis-benchmark run is abandoned (default 600)
#   KEEP_TMP=1   keep the temporary directory (server logs, data files)
#
# Network: only the two servers this script starts, on 127.0.0.1, on free
# random ports. Only processes started here are stopped (by pid).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

N="${N:-200000}"
TESTS="${TESTS:-set,get,incr,mset,lpush,lpop,rpop,hset,sadd,spop,zadd,zpopmin,lrange_100}"
PIPELINES="${PIPELINES:-1 16}"
CLIENTS="${CLIENTS:-50}"
KEYSPACE="${KEYSPACE:-100000}"
DURABILITY="${DURABILITY:-everysec}"
RSS_KEYS="${RSS_KEYS:-1000000}"
CUSTOM="${CUSTOM-evalsha,xadd,xrange_10}"
RSS_VALUE="${RSS_VALUE:-xxx}"
RUN_TIMEOUT="${RUN_TIMEOUT:-600}"
HOST=127.0.0.1

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# --- prerequisites ------------------------------------------------------------
missing=()
for tool in redis-server redis-cli redis-benchmark; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
    die "missing: ${missing[*]}. Install them with:
    sudo apt-get update && sudo apt-get install -y redis-server redis-tools
(Debian/Ubuntu: redis-server provides redis-server, redis-tools provides redis-cli and redis-benchmark)"
fi
for tool in timeout awk; do
    command -v "$tool" >/dev/null 2>&1 || die "missing: $tool (coreutils / awk)"
done

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust (https://rustup.rs) or set SKIP_BUILD=1 FERRY_BIN=/path/to/ferry"
    log "cargo build --release -p ferry"
    cargo build --release -p ferry >&2
fi
FERRY_BIN="${FERRY_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ferry}"
[ -x "$FERRY_BIN" ] || die "ferry binary not found at $FERRY_BIN (build it, or set FERRY_BIN)"

# --- header -------------------------------------------------------------------
cpu_model="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)"
[ -n "$cpu_model" ] || cpu_model="$(uname -m)"
mem_total="$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null || echo '?')"
ferry_rev="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
rustc_v="$(rustc --version 2>/dev/null || echo 'rustc ?')"
redis_v="$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')"

BENCH_CMD="redis-benchmark -h $HOST -p PORT -c $CLIENTS -r $KEYSPACE -n $N -t TEST -P PIPELINE -q --csv"
SCRIPT_BODY_SHOWN="redis.call('get', KEYS[1]) return redis.call('incr', KEYS[1])"

cat <<EOF
## Run of $(date -u '+%Y-%m-%d %H:%M UTC')

- Machine: $(nproc) CPUs ($cpu_model), $mem_total RAM, $(uname -srm)
- redis-server $redis_v; ferry $ferry_rev (release build, $rustc_v)
- Client and both servers on the same machine, over loopback; load average before the run: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
- Commands (\`bench/server.sh\` with N=$N TESTS=$TESTS PIPELINES="$PIPELINES" CLIENTS=$CLIENTS KEYSPACE=$KEYSPACE):

\`\`\`sh
redis-server --bind $HOST --port PORT --save "" --appendonly no${REDIS_SERVE_ARGS:+ $REDIS_SERVE_ARGS}
ferry serve --bind $HOST --port PORT --data TMPDIR/ferry.db --durability $DURABILITY
# for each pipeline depth: FLUSHALL both, then each test in this order, redis then ferry (after both went idle): ${TESTS//,/ }
$BENCH_CMD
# then (CUSTOM=$CUSTOM), after SCRIPT LOAD of "$SCRIPT_BODY_SHOWN" and 1000 XADDs to bench:range:
redis-benchmark -h $HOST -p PORT -c $CLIENTS -r $KEYSPACE -n $N -P PIPELINE -q --csv EVALSHA SHA 1 counter:__rand_int__
redis-benchmark ... XADD bench:stream '*' field value
redis-benchmark ... XRANGE bench:range - + COUNT 10
\`\`\`

EOF

# --- throughput ---------------------------------------------------------------
start_server redis "$TMP/redis"
REDIS_PORT="$SERVER_PORT"; REDIS_PID="$SERVER_PID"
start_server ferry "$TMP/ferry"
FERRY_PORT="$SERVER_PORT"; FERRY_PID="$SERVER_PID"

RESULTS="$TMP/results.tsv" # server \t pipeline \t test-name \t rps-or-error \t server CPU us per request
: >"$RESULTS"

# server_pid SERVER
server_pid() { if [ "$1" = redis ]; then echo "$REDIS_PID"; else echo "$FERRY_PID"; fi; }

# record OUT SERVER PIPELINE TICKS: the rows of a redis-benchmark CSV, with the
# server's CPU microseconds per request when the run measured one command.
record() {
    local out="$1" server="$2" pipeline="$3" ticks="$4" rows us="-"
    rows="$(grep -c '^"[A-Z]' "$out" || true)"
    if [ "$rows" = 1 ]; then
        us="$(us_per_request "$ticks" "$N")"
    fi
    awk -F'","' -v s="$server" -v p="$pipeline" -v us="$us" \
        'NR > 1 && /^"/ { gsub(/"/, "", $1); gsub(/"/, "", $2); print s "\t" p "\t" $1 "\t" $2 "\t" us }' \
        "$out" >>"$RESULTS"
}

# bench_one SERVER PORT PIPELINE TEST
bench_one() {
    local server="$1" port="$2" pipeline="$3" t="$4" out err rc
    out="$TMP/out.csv"; err="$TMP/err.txt"
    log "$server: -P $pipeline -t $t"
    local pid c0
    pid="$(server_pid "$server")"; c0="$(cpu_ticks "$pid")"
    set +e
    timeout "$RUN_TIMEOUT" redis-benchmark -h "$HOST" -p "$port" -c "$CLIENTS" -r "$KEYSPACE" \
        -n "$N" -t "$t" -P "$pipeline" -q --csv >"$out" 2>"$err"
    rc=$?
    set -e
    if [ "$rc" -eq 0 ] && grep -q '^"' "$out"; then
        record "$out" "$server" "$pipeline" "$(( $(cpu_ticks "$pid") - c0 ))"
    else
        local why
        if [ "$rc" -eq 124 ]; then
            why="timeout after ${RUN_TIMEOUT}s"
        else
            why="$(tr -d '\r' <"$err" | grep -v '^$' | head -n 1 | sed 's/^Error from server: //' | cut -c1-70)"
            [ -n "$why" ] || why="redis-benchmark exit $rc"
        fi
        log "$server -t $t -P $pipeline failed: $why"
        printf '%s\t%s\t%s\t%s\n' "$server" "$pipeline" "$(echo "$t" | tr a-z A-Z)" "error: ${why//|//}" >>"$RESULTS"
    fi
}

# The two servers take turns test by test (each server still sees the tests in
# the same order), after both went idle: a VM whose speed drifts between
# minutes then hits both sides of a ratio alike.
IFS=',' read -r -a TEST_LIST <<<"$TESTS"
for pipeline in $PIPELINES; do
    cli "$REDIS_PORT" flushall >/dev/null || log "redis: FLUSHALL failed"
    cli "$FERRY_PORT" flushall >/dev/null || log "ferry: FLUSHALL failed"
    for t in "${TEST_LIST[@]}"; do
        for server in redis ferry; do
            if [ "$server" = redis ]; then port="$REDIS_PORT"; else port="$FERRY_PORT"; fi
            settle "$REDIS_PID" "$FERRY_PID"
            bench_one "$server" "$port" "$pipeline" "$t"
        done
    done
done

# --- scripting and streams: commands redis-benchmark has no test for ----------
SCRIPT_BODY="redis.call('get', KEYS[1]) return redis.call('incr', KEYS[1])"

# bench_custom SERVER PORT PIPELINE NAME COMMAND... (one redis-benchmark run
# of an arbitrary command; the row is recorded under NAME)
bench_custom() {
    local server="$1" port="$2" pipeline="$3" name="$4" out err rc rps
    shift 4
    out="$TMP/out.csv"; err="$TMP/err.txt"
    log "$server: -P $pipeline $name"
    local pid c0 us
    pid="$(server_pid "$server")"; c0="$(cpu_ticks "$pid")"
    set +e
    timeout "$RUN_TIMEOUT" redis-benchmark -h "$HOST" -p "$port" -c "$CLIENTS" -r "$KEYSPACE" \
        -n "$N" -P "$pipeline" -q --csv "$@" >"$out" 2>"$err"
    rc=$?
    set -e
    us="$(us_per_request "$(( $(cpu_ticks "$pid") - c0 ))" "$N")"
    rps="$(awk -F'","' 'NR > 1 && /^"/ { gsub(/"/, "", $2); print $2; exit }' "$out")"
    if [ "$rc" -eq 0 ] && [[ "$rps" =~ ^[0-9.]+$ ]] && ! grep -qi 'error' "$err"; then
        printf '%s\t%s\t%s\t%s\t%s\n' "$server" "$pipeline" "$name" "$rps" "$us" >>"$RESULTS"
    else
        local why
        why="$(tr -d '\r' <"$err" | grep -v '^$' | head -n 1 | cut -c1-70)"
        [ -n "$why" ] || why="redis-benchmark exit $rc"
        log "$server $name -P $pipeline failed: $why"
        printf '%s\t%s\t%s\t%s\n' "$server" "$pipeline" "$name" "error: ${why//|//}" >>"$RESULTS"
    fi
}

if [ -n "$CUSTOM" ]; then
    IFS=',' read -r -a CUSTOM_LIST <<<"$CUSTOM"
    for pipeline in $PIPELINES; do
        for server in redis ferry; do
            if [ "$server" = redis ]; then port="$REDIS_PORT"; else port="$FERRY_PORT"; fi
            cli "$port" flushall >/dev/null || log "$server: FLUSHALL failed"
            sha="$(cli "$port" script load "$SCRIPT_BODY" 2>/dev/null || true)"
            if [ "$server" = redis ]; then REDIS_SHA="$sha"; else FERRY_SHA="$sha"; fi
            # 1000 entries for XRANGE to read from.
            for i in $(seq 1 1000); do printf 'XADD bench:range * field value%s\n' "$i"; done \
                | timeout 60 redis-cli -h "$HOST" -p "$port" >/dev/null 2>&1 || log "$server: stream prefill failed"
        done
        for c in "${CUSTOM_LIST[@]}"; do
            for server in redis ferry; do
                if [ "$server" = redis ]; then port="$REDIS_PORT"; sha="$REDIS_SHA"; else port="$FERRY_PORT"; sha="$FERRY_SHA"; fi
                settle "$REDIS_PID" "$FERRY_PID"
                case "$c" in
                    evalsha) bench_custom "$server" "$port" "$pipeline" EVALSHA \
                        EVALSHA "$sha" 1 counter:__rand_int__ ;;
                    xadd) bench_custom "$server" "$port" "$pipeline" XADD \
                        XADD bench:stream '*' field value ;;
                    xrange_10) bench_custom "$server" "$port" "$pipeline" XRANGE_10 \
                        XRANGE bench:range - + COUNT 10 ;;
                    *) log "unknown CUSTOM test: $c" ;;
                esac
            done
        done
    done
fi

# target TEST PIPELINE -> minimum ferry/redis ratio from the issue, or empty
target_for() {
    case "$1:$2" in
        # Issue 13 (which raised the targets of issues 1 and 3).
        GET:1) echo 0.9 ;;
        SET:1) echo 0.75 ;;
        GET:16) echo 0.6 ;;
        SET:16) echo 0.4 ;;
        # Every issue-3 data-type command at -P 1; the writes at -P 16.
        LPUSH*:1 | LPOP:1 | RPOP:1 | HSET:1 | SADD:1 | SPOP:1 | ZADD:1 | ZPOPMIN:1 | LRANGE_100*:1) echo 0.7 ;;
        LPUSH*:16 | LPOP:16 | RPOP:16 | HSET:16 | SADD:16 | SPOP:16 | ZADD:16 | ZPOPMIN:16) echo 0.35 ;;
        LRANGE_100*:16) echo 0.25 ;;
        # Issue 8: scripting and streams.
        EVALSHA:1 | XADD:1 | XRANGE_10:1) echo 0.5 ;;
        EVALSHA:16 | XADD:16 | XRANGE_10:16) echo 0.25 ;;
        *) echo "" ;;
    esac
}

fmt() { if [[ "$1" =~ ^[0-9.]+$ ]]; then awk -v x="$1" 'BEGIN { printf "%.0f", x }'; else printf '%s' "$1"; fi; }

echo "### Throughput (requests/s, higher is better)"
echo
echo "| test | pipeline | redis-server req/s | ferry req/s | ferry/redis | target | redis CPU µs/req | ferry CPU µs/req | CPU redis/ferry |"
echo "|------|---------:|-------------------:|------------:|------------:|--------|-----:|-----:|-----:|"
# Rows in the order redis-benchmark printed them, per pipeline.
for pipeline in $PIPELINES; do
    awk -F'\t' -v p="$pipeline" '$2 == p && !seen[$3]++ { print $3 }' "$RESULTS" | while IFS= read -r name; do
        r="$(awk -F'\t' -v p="$pipeline" -v n="$name" '$1 == "redis" && $2 == p && $3 == n { print $4; exit }' "$RESULTS")"
        f="$(awk -F'\t' -v p="$pipeline" -v n="$name" '$1 == "ferry" && $2 == p && $3 == n { print $4; exit }' "$RESULTS")"
        [ -n "$r" ] || r="-"
        [ -n "$f" ] || f="-"
        ratio="-"
        if [[ "$r" =~ ^[0-9.]+$ && "$f" =~ ^[0-9.]+$ ]]; then
            ratio="$(awk -v a="$f" -v b="$r" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
        fi
        tgt="$(target_for "$name" "$pipeline")"
        tcell=""
        if [ -n "$tgt" ]; then
            if [ "$ratio" = "-" ]; then
                tcell="≥ $tgt: not measured"
            elif awk -v a="$ratio" -v b="$tgt" 'BEGIN { exit !(a >= b) }'; then
                tcell="≥ $tgt: met"
            else
                tcell="≥ $tgt: **missed**"
            fi
        fi
        rc="$(awk -F'\t' -v p="$pipeline" -v n="$name" '$1 == "redis" && $2 == p && $3 == n { print $5; exit }' "$RESULTS")"
        fc="$(awk -F'\t' -v p="$pipeline" -v n="$name" '$1 == "ferry" && $2 == p && $3 == n { print $5; exit }' "$RESULTS")"
        cratio="-"
        if [[ "$rc" =~ ^[0-9.]+$ && "$fc" =~ ^[0-9.]+$ ]]; then
            cratio="$(awk -v a="$rc" -v b="$fc" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
        fi
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$pipeline" "$(fmt "$r")" "$(fmt "$f")" \
            "$ratio" "$tcell" "${rc:--}" "${fc:--}" "$cratio"
    done
done
echo

# Stop the throughput servers before measuring memory on fresh ones.
for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
PIDS=()

# --- memory -------------------------------------------------------------------
if [ "$RSS_KEYS" -gt 0 ]; then
    LOAD="$TMP/load.resp"
    log "writing $RSS_KEYS SET commands (key:0 .. key:$((RSS_KEYS - 1))) to $LOAD"
    LC_ALL=C awk -v n="$RSS_KEYS" -v v="$RSS_VALUE" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = "key:" i
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
        }
    }' >"$LOAD"

    echo "### Memory after loading $RSS_KEYS keys"
    echo
    echo "Fresh servers; keys \`key:0\` .. \`key:$((RSS_KEYS - 1))\`, value \`$RSS_VALUE\`, loaded with"
    echo "\`redis-cli -h $HOST -p PORT --pipe < load.resp\` (one SET per key); VmRSS / VmHWM read"
    echo "from /proc/PID/status 2 s after the load. Target (issue 13): ferry VmRSS < 120 MB with 100-byte values (RSS_VALUE)."
    echo
    echo "| server | DBSIZE | VmRSS | VmHWM (peak) | load time | data on disk |"
    echo "|--------|-------:|------:|-------------:|----------:|-------------:|"
    for server in redis ferry; do
        start_server "$server" "$TMP/mem-$server"
        pid="$SERVER_PID"; port="$SERVER_PORT"
        log "$server: loading $RSS_KEYS keys with redis-cli --pipe"
        t0="$(date +%s.%N)"
        pipe_out="$(timeout "$RUN_TIMEOUT" redis-cli -h "$HOST" -p "$port" --pipe <"$LOAD" 2>&1 | tr -d '\r')" || true
        t1="$(date +%s.%N)"
        summary="$(printf '%s\n' "$pipe_out" | grep -E '^errors: ' | tail -n 1)"
        [ -n "$summary" ] || summary="$(printf '%s\n' "$pipe_out" | tail -n 1)"
        log "$server: $summary"
        sleep 2
        dbsize="$(cli "$port" dbsize 2>/dev/null || echo '?')"
        rss="$(awk '/^VmRSS/ { printf "%.1f MB", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null || echo '?')"
        hwm="$(awk '/^VmHWM/ { printf "%.1f MB", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null || echo '?')"
        secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }')"
        if [ "$server" = ferry ]; then
            disk="$(du -cm "$TMP/mem-ferry"/ferry.db* 2>/dev/null | awk 'END { print $1 " MB (db + wal)" }')"
            name="ferry"
        else
            if [ -n "${REDIS_SERVE_ARGS:-}" ]; then
                disk="$(du -cm "$TMP/mem-redis" 2>/dev/null | awk 'END { print $1 " MB (" ENVIRON["REDIS_SERVE_ARGS"] ")" }')"
            else
                disk="- (no persistence)"
            fi
            name="redis-server"
        fi
        case "$summary" in
            "errors: 0, replies: $RSS_KEYS") ;;
            *) dbsize="$dbsize (load: $summary)" ;;
        esac
        printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$dbsize" "$rss" "$hwm" "$secs" "$disk"
        stop_pid "$pid"
    done
    echo
fi
echo "Load average after the run: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') (well above 1 on 2 CPUs means something else competed for the CPUs)."
echo
log "done"
