#!/usr/bin/env bash
# `ferry migrate bulk` next to the two ways Redis itself copies a dataset, on
# this machine, in the same run: a SCAN + MIGRATE loop and a replica's full
# sync. Prints Markdown ready to paste into docs/benchmarks.md (progress goes
# to stderr).
#
#   bash bench/migrate.sh                       # defaults below
#   N=200000 bash bench/migrate.sh              # quicker
#   FERRY_ARGS="--max-concurrency 16 --batch-keys 1000" bash bench/migrate.sh
#   FERRY_VARIANTS="; --max-concurrency 16 --batch-keys 1000; --max-concurrency 32 --batch-keys 200" \
#       bash bench/migrate.sh                   # several ferry settings, one load
#   FERRY_VARIANTS="; --method snapshot" bash bench/migrate.sh   # SCAN copy and snapshot copy
#
# Environment:
#   N               keys in the source (default 1000000): 70% strings of 100 bytes,
#                   10% hashes of 20 fields, 10% lists of 20 elements, 5% sets of 20
#                   members, 5% sorted sets of 20 members
#   FERRY_ARGS      extra flags for `ferry migrate bulk` (default none)
#   FERRY_VARIANTS  several FERRY_ARGS values separated by ';' (an empty one means
#                   the defaults); each gets its own fresh target. Overrides FERRY_ARGS.
#   SYNC_MODES      full-sync variants of the source, space separated: diskless
#                   (repl-diskless-sync yes, the 7.0 default) and/or disk (default both)
#   SKIP_MIGRATE=1  skip the SCAN + MIGRATE reference
#   SKIP_SYNC=1     skip the full-sync reference
#   DIGEST=0        skip the DEBUG DIGEST comparison of each copy with the source
#   SKIP_BUILD=1    do not run cargo; use FERRY_BIN (default $CARGO_TARGET_DIR/release/ferry)
#   CARGO_JOBS      cargo build -j (default: cargo's own default)
#   RUN_TIMEOUT     seconds before one copy is abandoned (default 900)
#   KEEP_TMP=1      keep the temporary directory (server logs, load file, ferry logs)
#
# Needs redis-server and redis-cli (7.x), python3, timeout, awk; /usr/bin/time is
# used for client CPU time and peak RSS when present.
#
# Network: only the redis-servers this script starts, on 127.0.0.1, on free
# random ports. Only processes started here are stopped (by pid).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

N="${N:-1000000}"
FERRY_ARGS="${FERRY_ARGS:-}"
SYNC_MODES="${SYNC_MODES:-diskless disk}"
RUN_TIMEOUT="${RUN_TIMEOUT:-900}"
DIGEST="${DIGEST:-1}"
HOST=127.0.0.1

BENCH_NAME=ferry-migrate-bench
CLI_TIMEOUT=10
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, got '$N'"
[[ "$RUN_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "RUN_TIMEOUT must be a positive integer, got '$RUN_TIMEOUT'"

# --- prerequisites ------------------------------------------------------------
missing=()
for tool in redis-server redis-cli; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
    die "missing: ${missing[*]}. Install them with:
    sudo apt-get update && sudo apt-get install -y redis-server redis-tools"
fi
for tool in timeout awk python3; do
    command -v "$tool" >/dev/null 2>&1 || die "missing: $tool"
done
# The interpreter itself, not a version-manager shim (whose start-up is slow).
PYTHON="$(python3 -c 'import sys; print(sys.executable)')"
TIME_BIN=""
if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then
    TIME_BIN=/usr/bin/time
else
    log "/usr/bin/time -v not available: peak RSS is sampled from /proc/PID/status"
fi

redis_v="$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')"
redis_major="${redis_v%%.*}"
DEBUG_OPT=()
if [ "$DIGEST" = 1 ]; then
    if [[ "$redis_major" =~ ^[0-9]+$ ]] && [ "$redis_major" -ge 7 ]; then
        # Since 7.0 DEBUG is refused unless enabled; allow it from loopback only.
        DEBUG_OPT=(--enable-debug-command local)
    fi
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust (https://rustup.rs) or set SKIP_BUILD=1 FERRY_BIN=/path/to/ferry"
    jobs_opt=()
    [ -z "${CARGO_JOBS:-}" ] || jobs_opt=(-j "$CARGO_JOBS")
    log "cargo build --release -p ferry ${jobs_opt[*]}"
    cargo build --release -p ferry "${jobs_opt[@]+"${jobs_opt[@]}"}" >&2
fi
FERRY_BIN="${FERRY_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ferry}"
[ -x "$FERRY_BIN" ] || die "ferry binary not found at $FERRY_BIN (build it, or set SKIP_BUILD=1 FERRY_BIN=...)"

if [ -n "${FERRY_VARIANTS+x}" ]; then
    IFS=';' read -r -a VARIANTS <<<"$FERRY_VARIANTS"
    [ "${#VARIANTS[@]}" -gt 0 ] || VARIANTS=("")
else
    VARIANTS=("$FERRY_ARGS")
fi

# --- process bookkeeping: bench/lib.sh -------------------------------------

cli_long() { # cli_long PORT ARGS... for commands that walk the dataset (DEBUG DIGEST)
    local port="$1"; shift
    timeout 300 redis-cli -h "$HOST" -p "$port" "$@"
}

# start_redis NAME [EXTRA ARGS...] -> sets SERVER_PID and SERVER_PORT
start_redis() {
    local name="$1" dir attempt port pid logf
    shift
    dir="$TMP/$name"
    mkdir -p "$dir"
    logf="$dir/redis.log"
    for attempt in 1 2 3; do
        port="$(random_free_port)"
        redis-server --bind "$HOST" --port "$port" --save '' --appendonly no \
            --daemonize no --dir "$dir" --logfile "$logf" \
            "${DEBUG_OPT[@]+"${DEBUG_OPT[@]}"}" "$@" &
        pid=$!
        PIDS+=("$pid")
        if wait_ping "$name" "$pid" "$port" "$logf"; then
            SERVER_PID="$pid"
            SERVER_PORT="$port"
            log "$name up: pid $pid, $HOST:$port"
            return 0
        fi
        stop_pid "$pid"
        forget_pid "$pid"
        log "$name failed to start on port $port (attempt $attempt/3)"
    done
    die "could not start redis-server ($name); see the log above"
}

stop_server() { stop_pid "$1"; forget_pid "$1"; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
cpu_secs() { # cpu_secs PID -> user+system seconds so far, with reaped children (fork for a sync)
    awk -v hz="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13 + $14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
info_field() { # info_field PORT SECTION FIELD
    cli "$1" info "$2" 2>/dev/null | tr -d '\r' | awk -F: -v f="$3" '$1 == f { print $2; exit }'
}
dbsize() { cli "$1" dbsize 2>/dev/null | tr -d '\r' || echo '?'; }
digest() { # digest PORT -> DEBUG DIGEST, or "-" when not available
    if [ "$DIGEST" = 1 ]; then
        cli_long "$1" debug digest 2>/dev/null | tr -d '\r' || echo '-'
    else
        echo '-'
    fi
}

# run_client NAME OUTFILE CMD... : runs a client under a timeout, recording
# wall time, CPU time and peak RSS. Sets CLIENT_RC, CLIENT_SECS, CLIENT_CPU,
# CLIENT_RSS_MB.
run_client() {
    local name="$1" out="$2" t0 t1 tv="$TMP/$1.time" pid hwm=0 h
    shift 2
    t0="$(now)"
    set +e
    if [ -n "$TIME_BIN" ]; then
        timeout "$RUN_TIMEOUT" "$TIME_BIN" -v -o "$tv" "$@" >"$out" 2>&1
        CLIENT_RC=$?
    else
        timeout "$RUN_TIMEOUT" "$@" >"$out" 2>&1 &
        pid=$!
        # Sample the deepest child's VmHWM (timeout -> client) until it exits.
        while kill -0 "$pid" 2>/dev/null; do
            for h in $(pgrep -P "$pid" 2>/dev/null); do
                h="$(awk '/^VmHWM/ { print $2 }' "/proc/$h/status" 2>/dev/null || echo 0)"
                [ "${h:-0}" -le "$hwm" ] || hwm="$h"
            done
            sleep 0.1
        done
        wait "$pid"
        CLIENT_RC=$?
    fi
    set -e
    t1="$(now)"
    CLIENT_SECS="$(elapsed "$t0" "$t1")"
    if [ -n "$TIME_BIN" ] && [ -s "$tv" ]; then
        CLIENT_CPU="$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f", u + s }' "$tv")"
        CLIENT_RSS_MB="$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$tv")"
    else
        CLIENT_CPU="-"
        CLIENT_RSS_MB="$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')"
    fi
    if [ "$CLIENT_RC" -eq 124 ]; then
        log "$name: timed out after ${RUN_TIMEOUT}s"
    elif [ "$CLIENT_RC" -ne 0 ]; then
        log "$name: exit $CLIENT_RC; last lines of its output:"
        tail -n 15 "$out" >&2 || true
    fi
}

# --- helpers in python3 -------------------------------------------------------

cat >"$TMP/scan_migrate.py" <<'PY'
# The reference loop: SCAN the source (COUNT 1000) and MIGRATE each page's
# keys to the target in one command (COPY REPLACE KEYS ...). Speaks RESP on
# one socket; prints where the time went.
import socket, sys, time

host, src_port, dst_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
count, mig_timeout = int(sys.argv[4]), sys.argv[5]

s = socket.create_connection((host, src_port), timeout=120)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
r = s.makefile("rb", buffering=1 << 20)

def send(args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    s.sendall(b"".join(parts))

def read():
    line = r.readline()
    if not line:
        raise SystemExit("connection closed by the source")
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest
    if t == b"-":
        raise RuntimeError(rest.decode(errors="replace"))
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = r.read(n + 2)
        return data[:-2]
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [read() for _ in range(n)]
    raise RuntimeError("unexpected reply %r" % line)

cursor = b"0"
keys_total = pages = migrates = nokey = 0
t_scan = t_mig = 0.0
t0 = time.perf_counter()
c0 = time.process_time()
while True:
    a = time.perf_counter()
    send([b"SCAN", cursor, b"COUNT", count])
    cursor, keys = read()
    b = time.perf_counter()
    t_scan += b - a
    pages += 1
    if keys:
        for i in range(0, len(keys), 1000):
            batch = keys[i:i + 1000]
            send([b"MIGRATE", host, dst_port, b"", 0, mig_timeout, b"COPY", b"REPLACE", b"KEYS"] + batch)
            rep = read()
            migrates += 1
            if rep == b"NOKEY":
                nokey += 1
            keys_total += len(batch)
        t_mig += time.perf_counter() - b
    if cursor == b"0":
        break
total = time.perf_counter() - t0
cpu = time.process_time() - c0
print("keys=%d pages=%d migrates=%d nokey=%d total=%.3f scan_wait=%.3f migrate_wait=%.3f loop_other=%.3f loop_cpu=%.3f"
      % (keys_total, pages, migrates, nokey, total, t_scan, t_mig, total - t_scan - t_mig, cpu))
PY

# --- header -------------------------------------------------------------------
cpu_model="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)"
[ -n "$cpu_model" ] || cpu_model="$(uname -m)"
mem_total="$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null || echo '?')"
ferry_rev="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
rustc_v="$(rustc --version 2>/dev/null || echo 'rustc ?')"
if [ -n "${FERRY_VARIANTS+x}" ]; then
    ferry_knob="FERRY_VARIANTS='$FERRY_VARIANTS'"
else
    ferry_knob="FERRY_ARGS='$FERRY_ARGS'"
fi

cat <<EOF
#### Run of $(date -u '+%Y-%m-%d %H:%M UTC')

- Machine: $(nproc) CPUs ($cpu_model), $mem_total RAM, $(uname -srm)
- redis-server $redis_v; ferry $ferry_rev (release build, $rustc_v)
- Every server and client on the same machine, over loopback; load average before the run: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
- Command: \`N=$N SYNC_MODES="$SYNC_MODES" $ferry_knob bash bench/migrate.sh\`
- Servers: \`redis-server --bind $HOST --port PORT --save '' --appendonly no --daemonize no ${DEBUG_OPT[*]}\`

EOF

RESULTS="$TMP/results.tsv" # method \t secs \t ok/fail-note \t client cpu \t client rss \t src cpu \t dst cpu
: >"$RESULTS"
NOTES="$TMP/notes.md"
: >"$NOTES"

# --- 1. source ----------------------------------------------------------------
start_redis source
SRC_PID="$SERVER_PID"; SRC_PORT="$SERVER_PORT"
mem0="$(info_field "$SRC_PORT" memory used_memory)"
LOAD="$TMP/load.resp"
log "generating $N keys into $LOAD"
g0="$(now)"
"$PYTHON" "$ROOT/bench/gen_mix.py" "$N" >"$LOAD" 3>"$TMP/value_bytes"
g1="$(now)"
VALUE_BYTES="$(cat "$TMP/value_bytes")"
log "generated $(du -m "$LOAD" | cut -f1) MB of RESP in $(elapsed "$g0" "$g1") s"
log "loading with redis-cli --pipe"
t0="$(now)"
pipe_out="$(timeout "$RUN_TIMEOUT" redis-cli -h "$HOST" -p "$SRC_PORT" --pipe <"$LOAD" 2>&1 | tr -d '\r')" || true
t1="$(now)"
LOAD_SECS="$(elapsed "$t0" "$t1")"
summary="$(printf '%s\n' "$pipe_out" | grep -E '^errors: ' | tail -n 1 || true)"
log "load: ${summary:-$(printf '%s\n' "$pipe_out" | tail -n 1)} in $LOAD_SECS s"
SRC_KEYS="$(dbsize "$SRC_PORT")"
[ "$SRC_KEYS" = "$N" ] || die "the source holds $SRC_KEYS keys after the load, expected $N (${summary:-no summary})"
rm -f "$LOAD"
mem1="$(info_field "$SRC_PORT" memory used_memory)"
USED_DELTA=$(( mem1 - mem0 ))
SRC_DIGEST="$(digest "$SRC_PORT")"
MB="$(awk -v b="$USED_DELTA" 'BEGIN { printf "%.1f", b / 1e6 }')"
VALUE_MB="$(awk -v b="$VALUE_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }')"
log "source: $SRC_KEYS keys, used_memory +$MB MB, value bytes $VALUE_MB MB, digest $SRC_DIGEST"

# check_target NAME PORT -> "ok" or what is wrong
check_target() {
    local name="$1" port="$2" n d
    n="$(dbsize "$port")"
    if [ "$n" != "$N" ]; then
        echo "DBSIZE $n, expected $N"
        return 0
    fi
    d="$(digest "$port")"
    if [ "$d" != '-' ] && [ "$SRC_DIGEST" != '-' ] && [ "$d" != "$SRC_DIGEST" ]; then
        echo "DBSIZE $n but DEBUG DIGEST differs from the source"
        return 0
    fi
    if [ "$d" != '-' ] && [ "$SRC_DIGEST" != '-' ]; then
        echo "ok (DBSIZE $n, digest equal)"
    else
        echo "ok (DBSIZE $n)"
    fi
}

# --- 2. SCAN + MIGRATE --------------------------------------------------------
if [ "${SKIP_MIGRATE:-0}" != 1 ]; then
    start_redis target-migrate
    dst_pid="$SERVER_PID"; dst_port="$SERVER_PORT"
    log "SCAN + MIGRATE: source $SRC_PORT -> target $dst_port"
    s0="$(cpu_secs "$SRC_PID")"; d0="$(cpu_secs "$dst_pid")"
    run_client scan-migrate "$TMP/scan-migrate.out" \
        "$PYTHON" "$TMP/scan_migrate.py" "$HOST" "$SRC_PORT" "$dst_port" 1000 5000
    d1="$(cpu_secs "$dst_pid")"
    loop_line="$(tail -n 1 "$TMP/scan-migrate.out")"
    # The time is the loop's own (first SCAN to last reply), without the
    # interpreter's start-up; the wall time with it is in the note below.
    secs="$(sed -n 's/.* total=\([0-9.]*\).*/\1/p' <<<"$loop_line")"
    [ -n "$secs" ] || secs="$CLIENT_SECS"
    if [ "$CLIENT_RC" -eq 0 ]; then
        check="$(check_target scan-migrate "$dst_port")"
    else
        check="failed (exit $CLIENT_RC)"
    fi
    s1="$(cpu_secs "$SRC_PID")"
    log "SCAN + MIGRATE: $secs s, $check; $loop_line"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "SCAN + MIGRATE (COUNT 1000, KEYS ≤ 1000, COPY REPLACE)" \
        "$secs" "$check" "$CLIENT_CPU" "$CLIENT_RSS_MB" "$(sub "$s0" "$s1")" "$(sub "$d0" "$d1")" >>"$RESULTS"
    {
        echo "- SCAN + MIGRATE loop (python3, one RESP socket to the source): \`$loop_line\`"
        echo "  (seconds: the loop's total, waiting for SCAN replies, waiting for MIGRATE replies, and the loop's own work; loop_cpu is the python process's CPU seconds in the loop)."
        echo "  The table's time is the loop's total; with the interpreter's start-up it was $CLIENT_SECS s."
    } >>"$NOTES"
    stop_server "$dst_pid"
fi

# --- 3. full sync -------------------------------------------------------------
if [ "${SKIP_SYNC:-0}" != 1 ]; then
    cli "$SRC_PORT" config set repl-diskless-sync-delay 0 >/dev/null
    for mode in $SYNC_MODES; do
        case "$mode" in
            diskless) cli "$SRC_PORT" config set repl-diskless-sync yes >/dev/null ;;
            disk) cli "$SRC_PORT" config set repl-diskless-sync no >/dev/null ;;
            *) die "SYNC_MODES: unknown mode '$mode' (diskless, disk)" ;;
        esac
        start_redis "replica-$mode"
        rep_pid="$SERVER_PID"; rep_port="$SERVER_PORT"
        log "full sync ($mode): replica $rep_port of source $SRC_PORT"
        s0="$(cpu_secs "$SRC_PID")"; d0="$(cpu_secs "$rep_pid")"
        t0="$(now)"
        cli "$rep_port" replicaof "$HOST" "$SRC_PORT" >/dev/null
        synced=0
        deadline=$(( $(date +%s) + RUN_TIMEOUT ))
        while [ "$(date +%s)" -lt "$deadline" ]; do
            info="$(cli "$rep_port" info replication 2>/dev/null | tr -d '\r' || true)"
            if grep -q '^master_link_status:up$' <<<"$info" && grep -q '^master_sync_in_progress:0$' <<<"$info"; then
                if [ "$(dbsize "$rep_port")" = "$N" ]; then
                    synced=1
                    break
                fi
            fi
            kill -0 "$rep_pid" 2>/dev/null || break
            sleep 0.02
        done
        t1="$(now)"
        d1="$(cpu_secs "$rep_pid")"
        secs="$(elapsed "$t0" "$t1")"
        if [ "$synced" = 1 ]; then
            cli "$rep_port" replicaof no one >/dev/null
            check="$(check_target "replica-$mode" "$rep_port")"
        else
            check="failed (not in sync after ${RUN_TIMEOUT}s)"
            tail -n 20 "$TMP/replica-$mode/redis.log" >&2 || true
        fi
        sleep 0.5 # the source reaps its fork (the RDB writer) in its cron
        s1="$(cpu_secs "$SRC_PID")"
        log "full sync ($mode): $secs s, $check"
        case "$mode" in
            diskless) label="full sync, diskless (repl-diskless-sync yes, delay 0)" ;;
            disk) label="full sync, disk (repl-diskless-sync no, delay 0)" ;;
        esac
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$secs" "$check" "-" "-" \
            "$(sub "$s0" "$s1")" "$(sub "$d0" "$d1")" >>"$RESULTS"
        stop_server "$rep_pid"
    done
    cli "$SRC_PORT" config set repl-diskless-sync yes >/dev/null || true
    # A disk sync left an RDB file; the source must not reload it by accident.
    rm -f "$TMP/source/dump.rdb"
fi

# --- 4. ferry migrate bulk ----------------------------------------------------
# A `--method snapshot` variant starts the source's snapshot at once, as the
# full sync above does (Redis 7's default waits 5 s for more replicas).
cli "$SRC_PORT" config set repl-diskless-sync-delay 0 >/dev/null
i=0
for args in "${VARIANTS[@]}"; do
    i=$(( i + 1 ))
    read -r -a extra <<<"$args"
    start_redis "target-ferry-$i"
    dst_pid="$SERVER_PID"; dst_port="$SERVER_PORT"
    shown="ferry migrate bulk${args:+ ${args# }}"
    log "$shown: source $SRC_PORT -> target $dst_port"
    cli "$SRC_PORT" config resetstat >/dev/null
    s0="$(cpu_secs "$SRC_PID")"; d0="$(cpu_secs "$dst_pid")"
    run_client "ferry-$i" "$TMP/ferry-$i.out" \
        "$FERRY_BIN" migrate bulk --run-id bench \
        --from "redis://$HOST:$SRC_PORT" --to "redis://$HOST:$dst_port" \
        --state "$TMP/state-$i.db" "${extra[@]+"${extra[@]}"}"
    d1="$(cpu_secs "$dst_pid")"
    if [ "$CLIENT_RC" -eq 0 ]; then
        check="$(check_target "ferry-$i" "$dst_port")"
    else
        check="failed (exit $CLIENT_RC)"
    fi
    s1="$(cpu_secs "$SRC_PID")"
    log "$shown: $CLIENT_SECS s, $check, peak RSS $CLIENT_RSS_MB MB"
    # What the copy asked of the source: calls per key and µs per call.
    log "$shown: source commands (calls per key, µs per call): $(cli "$SRC_PORT" info commandstats \
        | tr -d '\r' | awk -F'[:=,]' -v n="$N" '/^cmdstat_/ && $1 !~ /^cmdstat_(info|config|command)/ {
            sub(/^cmdstat_/, "", $1); printf "%s %.2f %s; ", $1, $3 / n, $7 }')"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$shown" "$CLIENT_SECS" "$check" "$CLIENT_CPU" \
        "$CLIENT_RSS_MB" "$(sub "$s0" "$s1")" "$(sub "$d0" "$d1")" >>"$RESULTS"
    stop_server "$dst_pid"
done

# --- 5. table -----------------------------------------------------------------
# The ferry row the ratios refer to: the fastest ferry run that copied everything.
best_ferry="$(awk -F'\t' '$1 ~ /^ferry/ && $3 ~ /^ok/ { if (best == "" || $2 < best) { best = $2; name = $1 } } END { print name "\t" best }' "$RESULTS")"
BEST_NAME="${best_ferry%%$'\t'*}"
BEST_SECS="${best_ferry#*$'\t'}"

echo "##### $N keys: $MB MB of source used_memory ($VALUE_MB MB of value bytes), loaded in $LOAD_SECS s"
echo
echo "MB/s is the source's used_memory growth from the load (10^6 bytes) divided by the"
echo "copy's seconds. \"÷ ferry\" is the method's time divided by the time of the fastest"
echo "ferry run (${BEST_NAME:-none}); above 1 means ferry was faster. CPU columns are"
echo "user+system seconds during the copy; client = the python loop or ferry."
echo
echo "| method | seconds | keys/s | MB/s | ÷ ferry | check | client CPU s | client peak RSS MB | source CPU s | target CPU s |"
echo "|--------|--------:|-------:|-----:|--------:|-------|-------------:|-------------------:|-------------:|-------------:|"
while IFS=$'\t' read -r name secs check ccpu crss scpu dcpu; do
    kps="$(awk -v n="$N" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')"
    mbs="$(awk -v m="$MB" -v s="$secs" 'BEGIN { printf "%.1f", m / s }')"
    if [ -n "$BEST_SECS" ]; then
        ratio="$(awk -v a="$secs" -v b="$BEST_SECS" 'BEGIN { printf "%.2f", a / b }')"
    else
        ratio="-"
    fi
    case "$check" in ok*) ;; *) kps="-"; mbs="-"; ratio="-" ;; esac
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "${name//|//}" "$secs" "$kps" "$mbs" "$ratio" "$check" "$ccpu" "$crss" "$scpu" "$dcpu"
done <"$RESULTS"
echo

# verdict LABEL VALUE OP TARGET
verdict() {
    if [ "$2" = "-" ]; then
        printf -- '- %s: not measured\n' "$1"
    elif awk -v a="$2" -v b="$4" -v op="$3" 'BEGIN { exit !((op == ">=") ? a >= b : a <= b) }'; then
        printf -- '- %s: %s — met\n' "$1" "$2"
    else
        printf -- '- %s: %s — **missed**\n' "$1" "$2"
    fi
}
mig_secs="$(awk -F'\t' '$1 ~ /^SCAN/ && $3 ~ /^ok/ { print $2; exit }' "$RESULTS")"
sync_secs="$(awk -F'\t' '$1 ~ /^full sync/ && $3 ~ /^ok/ { if (best == "" || $2 < best) best = $2 } END { print best }' "$RESULTS")"
r1="-"; r2="-"
if [ -n "$BEST_SECS" ] && [ -n "$mig_secs" ]; then
    r1="$(awk -v a="$mig_secs" -v b="$BEST_SECS" 'BEGIN { printf "%.2f", a / b }')"
fi
if [ -n "$BEST_SECS" ] && [ -n "$sync_secs" ]; then
    r2="$(awk -v a="$BEST_SECS" -v b="$sync_secs" 'BEGIN { printf "%.2f", a / b }')"
fi
echo "Targets (fastest ferry run; fastest full sync):"
echo
# Issue 13's targets (they replaced the first migrate issue's 3x and 2x).
verdict "ferry / SCAN+MIGRATE throughput ratio (target >= 1.5)" "$r1" ">=" 1.5
verdict "ferry time / full-sync time (target <= 1.3)" "$r2" "<=" 1.3
echo
if [ -s "$NOTES" ]; then
    cat "$NOTES"
fi
echo "- Load average after the run: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') (well above 1 on 2 CPUs means something else competed for the CPUs)."
echo
log "done"
