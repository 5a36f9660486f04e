#!/usr/bin/env bash
# Resident memory of `ferry serve` (and of a redis-server for reference)
# while keys are loaded in steps: after each step, VmRSS split into anonymous
# memory, file pages and shared memory (SQLite's WAL index), and the peak
# (VmHWM) so far. Shows whether memory stays flat as the data grows (issue 13:
# within 10% between 1M and 10M keys). Prints Markdown (progress on stderr).
#
#   bash bench/memory.sh                           # 1M, 2M, 5M, 10M keys of 100 bytes
#   STEPS="1000000 3000000" bash bench/memory.sh   # quicker
#   SERVERS=ferry CACHE_MB=8 bash bench/memory.sh  # only ferry, a smaller page cache
#
# Environment:
#   STEPS        cumulative key counts to measure at (default "1000000 2000000 5000000 10000000")
#   VALUE_BYTES  value size (default 100)
#   SERVERS      which servers, of "redis ferry" (default both)
#   DURABILITY   ferry --durability (default everysec)
#   CACHE_MB     ferry --cache-mb (default: ferry's own default)
#   SKIP_BUILD=1 do not run cargo; use FERRY_BIN (default $CARGO_TARGET_DIR/release/ferry)
#   KEEP_TMP=1   keep the temporary directory
#
# Keys are `key:N`, loaded with `redis-cli --pipe` from a generator (no file
# is written). Network: only the servers this script starts, on 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

STEPS="${STEPS:-1000000 2000000 5000000 10000000}"
VALUE_BYTES="${VALUE_BYTES:-100}"
SERVERS="${SERVERS:-redis ferry}"
DURABILITY="${DURABILITY:-everysec}"
HOST=127.0.0.1
BENCH_NAME=ferry-memory

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

for tool in redis-server redis-cli python3; do
    command -v "$tool" >/dev/null 2>&1 \
        || die "missing $tool; install with: sudo apt-get install -y redis-server redis-tools python3"
done
build_ferry

# gen FROM TO: SET commands for key:FROM .. key:TO-1 on stdout.
gen() {
    python3 - "$1" "$2" "$VALUE_BYTES" <<'EOF'
import sys
lo, hi, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
value = b"v" * size
out = sys.stdout.buffer
buf = []
for i in range(lo, hi):
    k = b"key:%d" % i
    buf.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, size, value))
    if len(buf) == 10000:
        out.write(b"".join(buf))
        buf.clear()
out.write(b"".join(buf))
EOF
}

field_mb() { # field_mb PID FIELD -> "12.3"
    awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo '?'
}

echo "### Memory while loading keys of $VALUE_BYTES bytes"
echo
echo "\`bench/memory.sh\` (STEPS=\"$STEPS\"); keys \`key:N\` loaded with \`redis-cli --pipe\`; each row"
echo "read from /proc/PID/status 2 s after its step (MB). ferry: --durability $DURABILITY${CACHE_MB:+, --cache-mb $CACHE_MB}."
echo
echo "| server | keys | VmRSS | RssAnon | RssFile | RssShmem | VmHWM (peak so far) | step load time |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for server in $SERVERS; do
    FERRY_SERVE_ARGS="${CACHE_MB:+--cache-mb $CACHE_MB}" start_server "$server" "$TMP/$server"
    pid="$SERVER_PID"; port="$SERVER_PORT"
    loaded=0
    for step in $STEPS; do
        [ "$step" -gt "$loaded" ] || continue
        log "$server: loading key:$loaded .. key:$((step - 1))"
        t0="$(date +%s.%N)"
        summary="$(gen "$loaded" "$step" | redis-cli -h "$HOST" -p "$port" --pipe 2>&1 | tr -d '\r' | grep -E '^errors: ' | tail -n 1)"
        t1="$(date +%s.%N)"
        case "$summary" in
            "errors: 0, replies: $((step - loaded))") ;;
            *) die "$server: the load of step $step failed: $summary" ;;
        esac
        loaded="$step"
        sleep 2
        printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$server" "$(cli "$port" dbsize)" \
            "$(field_mb "$pid" VmRSS)" "$(field_mb "$pid" RssAnon)" "$(field_mb "$pid" RssFile)" \
            "$(field_mb "$pid" RssShmem)" "$(field_mb "$pid" VmHWM)" \
            "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }')"
    done
    stop_pid "$pid"
    forget_pid "$pid"
done
echo
echo "Load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)."
log "done"
